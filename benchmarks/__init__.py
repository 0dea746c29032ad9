"""Benchmarks: `make bench` runs every bench_*.py here (see __main__.py)."""
