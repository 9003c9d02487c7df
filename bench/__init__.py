"""Benchmarks: each script measures, prints a table, and rewrites its section of BENCHMARKS.md."""
