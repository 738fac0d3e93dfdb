"""Benchmarks: scripts that print figures and ratios against a baseline measured in the same run.

`python -m bench` runs every `bench_*.py` module here; `python -m bench.bench_generate` runs one.
"""
