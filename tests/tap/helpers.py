"""Run TapDinero in-process and collect its Singer messages: the one harness, :mod:`tests.harness`."""

from __future__ import annotations

from tests.harness import CollectingWriter, Killed, TapRun, run_tap

#: The result of :func:`run_tap` (the tap suite's name for :class:`tests.harness.TapRun`).
SyncResult = TapRun

__all__ = ["CollectingWriter", "Killed", "SyncResult", "run_tap"]
