"""Where vcdwh keeps its data: the data directory and the warehouse file.

Resolution order for each setting: explicit argument, then environment (``VCDWH_DATA_DIR``,
``VCDWH_DB``, ``VCDWH_STORAGE_VERSION``), then the default (``./Data``,
``<data-dir>/vcdwh.duckdb`` and DuckDB storage version ``v1.4.0`` for a new file).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATA_DIR = "Data"
DB_FILENAME = "vcdwh.duckdb"

# DuckDB storage versions a new warehouse file may be written with (``--storage-version``).
# A file written with DuckDB 2.0's own format cannot be opened by DuckDB 1.x readers, which BI
# tools bundle; ``v1.4.0`` files open in DuckDB 1.4, 1.5 and 2.x.
STORAGE_VERSIONS = ("v1.0.0", "v1.1.0", "v1.2.0", "v1.3.0", "v1.4.0", "v1.5.0", "latest")
DEFAULT_STORAGE_VERSION = "v1.4.0"

# Seconds `vcdwh sql` lets a query run, output included, before it stops it (--timeout; 0: none).
DEFAULT_SQL_TIMEOUT = 300.0


@dataclass(frozen=True)
class Settings:
    """Resolved locations of the data directory and the warehouse file."""

    data_dir: Path
    db_path: Path
    storage_version: str | None = None

    @classmethod
    def resolve(
        cls,
        data_dir: str | os.PathLike[str] | None = None,
        db: str | os.PathLike[str] | None = None,
        storage_version: str | None = None,
    ) -> Settings:
        """Resolve settings from arguments, then environment, then defaults.

        ``storage_version`` (env ``VCDWH_STORAGE_VERSION``) only matters when a build creates
        the warehouse file; ``None`` means :data:`DEFAULT_STORAGE_VERSION`.
        """
        data = Path(data_dir or os.environ.get("VCDWH_DATA_DIR") or DEFAULT_DATA_DIR)
        db_value = db or os.environ.get("VCDWH_DB")
        db_path = Path(db_value) if db_value else data / DB_FILENAME
        version = storage_version or os.environ.get("VCDWH_STORAGE_VERSION") or None
        return cls(data_dir=data, db_path=db_path, storage_version=version)
