"""Shared context of one organization's seed: its clock (anchor, spread of times), random streams and
the arrays of contacts/products that other collections reference."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from .rng import Stream

DAY_MS = 86_400_000


@dataclass
class SeedContext:
    """Everything the collection generators of one organization share."""

    seed: int
    anchor: datetime  # every seeded time is before this (naive UTC)
    start: datetime = field(init=False)
    span_ms: int = field(init=False)
    _day_prefix: dict[int, str] = field(default_factory=dict, repr=False)
    _day_str: dict[int, str] = field(default_factory=dict, repr=False)
    # contacts referenced by documents
    contact_guids: list[str] = field(default_factory=list)
    contact_names: list[str] = field(default_factory=list)
    contact_addresses: list[str] = field(default_factory=list)
    contact_days: list[int] = field(default_factory=list)  # payment condition days
    contact_foreign: list[str | None] = field(default_factory=list)  # None (DK) or country key
    customer_rows: list[int] = field(default_factory=list)
    supplier_rows: list[int] = field(default_factory=list)
    # products referenced by lines
    product_guids: list[str] = field(default_factory=list)
    product_names: list[str] = field(default_factory=list)
    product_units: list[str] = field(default_factory=list)
    product_prices: list[float] = field(default_factory=list)
    product_accounts: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        last_year = (self.anchor - timedelta(seconds=1)).year
        self.start = datetime(last_year - 2, 1, 1)
        self.span_ms = int((self.anchor - self.start).total_seconds() * 1000)

    @property
    def years(self) -> list[int]:
        """The three calendar years the seed covers."""
        first = self.start.year
        return [first, first + 1, first + 2]

    def stream(self, name: str) -> Stream:
        """A named random stream of this organization's seed."""
        return Stream(self.seed, name)

    def spread(self, i: int, n: int, jitter: float, lo: float = 0.0, hi: float = 1.0) -> int:
        """Milliseconds since ``start`` for item ``i`` of ``n`` spread evenly (monotone) over [lo, hi)."""
        frac = lo + (hi - lo) * ((i + jitter) / max(n, 1))
        return int(self.span_ms * frac)

    def clip(self, ms: int) -> int:
        """Keep a time strictly before the anchor."""
        return min(ms, self.span_ms - 1000)

    def tstr(self, ms: int) -> str:
        """A record time string for milliseconds since ``start``."""
        day, rem = divmod(ms, DAY_MS)
        prefix = self._day_prefix.get(day)
        if prefix is None:
            prefix = (self.start + timedelta(days=day)).strftime("%Y-%m-%dT")
            self._day_prefix[day] = prefix
        secs, milli = divmod(rem, 1000)
        hh, rest = divmod(secs, 3600)
        mm, ss = divmod(rest, 60)
        return f"{prefix}{hh:02d}:{mm:02d}:{ss:02d}.{milli:03d}"

    def dstr(self, ms: int) -> str:
        """The ``YYYY-MM-DD`` day of a time."""
        day = ms // DAY_MS
        text = self._day_str.get(day)
        if text is None:
            text = (self.start + timedelta(days=day)).date().isoformat()
            self._day_str[day] = text
        return text

    def day_plus(self, ms: int, days: int) -> str:
        """The day ``days`` after the day of ``ms``."""
        return self.dstr(ms + days * DAY_MS)

    def day_of(self, text: str) -> int:
        """Milliseconds since start of midnight of a ``YYYY-MM-DD`` day."""
        d = date.fromisoformat(text)
        return (d - self.start.date()).days * DAY_MS


def cvr(stream: Stream, i: int) -> str:
    """A valid-looking Danish CVR number (eight digits passing the modulus-11 check)."""
    weights = (2, 7, 6, 5, 4, 3, 2, 1)
    x = stream(i, 77)
    while True:
        digits = [1 + x % 9] + [(x >> (4 * k + 4)) % 10 for k in range(6)]
        s7 = sum(d * w for d, w in zip(digits, weights[:7], strict=True))
        check = (-s7) % 11
        if check < 10:
            return "".join(map(str, digits)) + str(check)
        x += 1
