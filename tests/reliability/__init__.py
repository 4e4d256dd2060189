"""Reliability suite: faults, crashes, hostile input, secrets, shared quota (docs/GUARANTEES.md)."""
