"""Does what Dinero holds already match what we would send? (decides between "unchanged" and an update)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from target_dinero.remote_index import field_ci

__all__ = ["differences"]


def _same(wanted: Any, current: Any) -> bool:
    if isinstance(wanted, bool) or isinstance(current, bool):
        return bool(wanted) == bool(current)
    if isinstance(wanted, int | float | Decimal) and not isinstance(wanted, bool):
        try:
            return abs(Decimal(str(wanted)) - Decimal(str(current))) < Decimal("0.005")
        except (InvalidOperation, TypeError):
            return False
    if isinstance(wanted, str):
        if current is None:
            return wanted == ""
        text = str(current)
        if len(wanted) == 10 and len(text) > 10 and text[10] == "T":  # date vs date-time
            text = text[:10]
        return wanted.strip() == text.strip()
    return wanted == current


def differences(
    wanted: Mapping[str, Any],
    current: Mapping[str, Any],
    *,
    ignore: Sequence[str] = (),
    lines_field: str | None = None,
) -> list[str]:
    """Names of the fields of ``wanted`` whose value ``current`` does not hold (None values ignored)."""
    changed: list[str] = []
    for name, value in wanted.items():
        if value is None or name in ignore:
            continue
        if name == lines_field:
            current_lines = field_ci(current, name) or []
            if len(current_lines) != len(value):
                changed.append(name)
                continue
            for index, (want_line, have_line) in enumerate(zip(value, current_lines, strict=True)):
                sub = differences(want_line, have_line)
                changed.extend(f"{name}[{index}].{s}" for s in sub)
            continue
        if not _same(value, field_ci(current, name)):
            changed.append(name)
    return changed
