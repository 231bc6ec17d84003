"""Find and render the project's templated SQL.

Every relation lives in its own file under ``sql/`` (the file stem is the relation name).
Jinja renders only identifiers and numbers that Python validated against allow-lists, plus
short loops, with ``StrictUndefined``; values such as paths, symbols and thresholds are bound
as DuckDB parameters.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from vcdwh.errors import ConfigError

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def sql_root() -> Path:
    """Return the folder holding the SQL templates.

    An installed wheel carries them as ``vcdwh/sql``; a source checkout (editable install)
    keeps them in the top-level ``sql/`` folder beside the package.
    """
    packaged = Path(str(resources.files("vcdwh"))) / "sql"
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[2] / "sql"
    if checkout.is_dir():
        return checkout
    raise ConfigError("the SQL templates are missing from the vcdwh installation; reinstall vcdwh")


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(sql_root())),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def identifier(name: str) -> str:
    """Validate an identifier that will be rendered into SQL text.

    Parameters
    ----------
    name
        A relation or column name produced by vcdwh itself (never raw user text).

    Raises
    ------
    ConfigError
        If the name is not a plain lowercase identifier.
    """
    if not _IDENTIFIER.match(name):
        raise ConfigError(f"refusing to use {name!r} as an SQL identifier")
    return name


def render(template: str, **context: Any) -> str:
    """Render ``sql/<template>`` with ``context`` (StrictUndefined: every name must be given)."""
    return _environment().get_template(template).render(**context)


def templates(folder: str) -> list[str]:
    """List the ``.sql`` templates of one folder, as paths relative to the SQL root."""
    root = sql_root()
    return sorted(p.relative_to(root).as_posix() for p in (root / folder).glob("*.sql"))
