"""burrow's benchmark: the same workloads on burrow, its peers and a raw-SQL floor.

Run it from the repository root as ``python -m bench`` (see bench/README.md).
"""
