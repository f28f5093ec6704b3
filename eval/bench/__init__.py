"""What the benchmark scripts (``scripts/bench_*.py``) share; nothing here serves questions."""
