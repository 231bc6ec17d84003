"""Shared pytest configuration."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--run-live``: allow tests marked ``live`` that call the real Databento API."""
    parser.addoption("--run-live", action="store_true", default=False,
                     help="run tests marked live (needs DATABENTO_API_KEY; may cost money)")
