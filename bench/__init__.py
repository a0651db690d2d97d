"""Benchmarks, run from the repository root as `python bench/NAME.py` or `python -m bench.NAME`;
never imported by what ships."""
