"""The version of vcdwh (the newest CHANGELOG heading matches it)."""

__version__ = "0.2.0"
