"""Benchmarks: `make bench` runs them all and prints figures side by side."""
