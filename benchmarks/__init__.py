"""dynio's benchmark suite: scenarios run against a baseline in the same run, as ratios.

Run ``python -m benchmarks --help``. See ``../shared/BENCHMARKS.md`` for what each scenario means.
"""
