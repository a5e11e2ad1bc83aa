"""Benchmarks behind ``guardian bench NAME`` (results recorded in bench/RESULTS.md)."""
