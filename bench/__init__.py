"""Benchmarks that print JSON figures: `python -m bench ingest` (see README, "Performance")."""
