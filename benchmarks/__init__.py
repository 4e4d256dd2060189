"""Benchmarks of tap-dinero and target-dinero against the offline sandbox (see ``benchmarks/run.py``)."""
