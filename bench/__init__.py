"""Benchmarks, run by `make bench`. Each module `bench/bench_*.py` has a `main()` that measures
and prints its figures (ratios within one run, never asserted in tests)."""
