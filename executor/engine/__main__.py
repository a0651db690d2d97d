"""python -m executor.engine IN OUT [options] — see cli.py."""

from executor.engine.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
