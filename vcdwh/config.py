"""Where vcdwh keeps its data: the data directory and the warehouse file.

Resolution order for each setting: explicit argument, then environment (``VCDWH_DATA_DIR``,
``VCDWH_DB``), then the default (``./Data`` and ``<data-dir>/vcdwh.duckdb``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATA_DIR = "Data"
DB_FILENAME = "vcdwh.duckdb"


@dataclass(frozen=True)
class Settings:
    """Resolved locations of the data directory and the warehouse file."""

    data_dir: Path
    db_path: Path

    @classmethod
    def resolve(
        cls,
        data_dir: str | os.PathLike[str] | None = None,
        db: str | os.PathLike[str] | None = None,
    ) -> Settings:
        """Resolve settings from arguments, then environment, then defaults."""
        data = Path(data_dir or os.environ.get("VCDWH_DATA_DIR") or DEFAULT_DATA_DIR)
        db_value = db or os.environ.get("VCDWH_DB")
        db_path = Path(db_value) if db_value else data / DB_FILENAME
        return cls(data_dir=data, db_path=db_path)
