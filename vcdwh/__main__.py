"""``python -m vcdwh`` runs the command line."""

from vcdwh.cli import cli

if __name__ == "__main__":
    cli()
