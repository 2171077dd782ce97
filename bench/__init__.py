"""Benchmarks of the coaching library against plain eventsourcing: ``python -m bench``."""
