"""Counter-based deterministic randomness: every value is a pure function of (seed, stream, index), so a
seeded record can be generated alone, in any order, in O(1) (no shared RNG state to replay)."""

from __future__ import annotations

MASK = (1 << 64) - 1
_ALNUM = "0123456789abcdefghijklmnopqrstuvwxyz"


def mix(x: int) -> int:
    """SplitMix64 finaliser: a well-spread 64-bit hash of an integer."""
    x = (x + 0x9E3779B97F4A7C15) & MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK
    return x ^ (x >> 31)


class Stream:
    """A named stream of 64-bit hashes: ``stream(i)`` is the i-th value, ``stream.pick(i, seq, salt)``."""

    def __init__(self, seed: int, name: str) -> None:
        base = seed & MASK
        for ch in name.encode():
            base = mix(base ^ ch)
        self.base = base

    def __call__(self, i: int, salt: int = 0) -> int:
        return mix(self.base ^ ((i * 0x100000001B3 + salt * 0x9E3779B1) & MASK))

    def pick(self, i: int, seq: tuple | list, salt: int = 0):  # type: ignore[no-untyped-def]
        """A deterministic element of ``seq`` for index ``i``."""
        return seq[self(i, salt) % len(seq)]

    def unit(self, i: int, salt: int = 0) -> float:
        """A deterministic float in [0, 1)."""
        return (self(i, salt) >> 11) / float(1 << 53)

    def guid(self, i: int, salt: int = 0) -> str:
        """A deterministic version-4-shaped GUID string."""
        a = self(i, salt * 2 + 1)
        b = self(i, salt * 2 + 2)
        return (
            f"{a >> 32:08x}-{(a >> 16) & 0xFFFF:04x}-4{a & 0xFFF:03x}-"
            f"{0x8000 | ((b >> 48) & 0x3FFF):04x}-{b & 0xFFFFFFFFFFFF:012x}"
        )

    def file_guid(self, i: int, salt: int = 0) -> str:
        """A deterministic 32-character lower-case alphanumeric id (Dinero's FileGuid shape)."""
        out = []
        for part in range(4):
            x = self(i, salt * 8 + part + 100)
            for _ in range(8):
                out.append(_ALNUM[x % 36])
                x //= 36
        return "".join(out)
