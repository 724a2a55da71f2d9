"""``python -m analysis.loaders.table``: see :func:`analysis.loaders.table.cli.main`."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
