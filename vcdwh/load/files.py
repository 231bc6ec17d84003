"""One data file: identify it (hash, schema, layout) and load it by its schema."""

from __future__ import annotations

import dataclasses
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vcdwh.datafiles import SourceFile, content_hash, is_dbn, next_file_id, seed_symbol
from vcdwh.load.definitions import DEFINITION, load_definitions
from vcdwh.load.settle import FileResult, add_landed, add_staged
from vcdwh.load.stage import (
    TRADES,
    check_dbn_complete,
    dbn_schema,
    detect_layout,
    land_trades,
    open_dbn,
    stage_csv,
    stage_dbn,
)

if TYPE_CHECKING:
    import duckdb


def identify(path: Path, hashed: bool = True) -> tuple[SourceFile, Any]:
    """Hash (unless ``hashed`` is False) and inspect one file.

    Returns it with its CSV layout or open DBN store.
    """
    digest = content_hash(path) if hashed else ""
    stat = path.stat()
    if is_dbn(path):
        store = open_dbn(path)
        source = SourceFile(
            path, digest, stat.st_size, dbn_schema(store), "dbn", None, stat.st_mtime_ns
        )
        return source, store
    layout = detect_layout(path)
    source = SourceFile(
        path, digest, stat.st_size, layout.schema, layout.name, seed_symbol(path), stat.st_mtime_ns
    )
    return source, layout


def load_file(
    con: duckdb.DuckDBPyConnection,
    source: SourceFile,
    detail: Any,
    on_bad_rows: str = "error",
    replace: bool = False,
    pending_hash: Future[str] | None = None,
) -> FileResult:
    """Load one file; ``pending_hash``: its content hash, still being computed meanwhile."""

    def hashed(source: SourceFile) -> SourceFile:
        if pending_hash is None:
            return source
        return dataclasses.replace(source, content_hash=pending_hash.result())

    if source.layout == "dbn":
        check_dbn_complete(source.path, detail)
    if source.schema == DEFINITION:
        rows, added = load_definitions(con, hashed(source), detail)
        return FileResult(source.path, "loaded", source.schema, source.layout, rows, added)
    if source.schema == TRADES and on_bad_rows == "error":
        # The records go straight into `trades`; a bad file fails the build (rolled back).
        file_id = next_file_id(con)
        land_trades(con, source, detail, file_id)
        return add_landed(con, hashed(source), file_id, on_bad_rows, replace)
    source = hashed(source)
    if source.layout == "dbn":
        stage_dbn(con, source, detail)
    else:
        stage_csv(con, source, detail, on_bad_rows)
    return add_staged(con, source, on_bad_rows, replace)
