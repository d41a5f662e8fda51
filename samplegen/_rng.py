"""Counter-based random numbers as polars expressions (no numpy needed).

Every random draw is a pure function of (seed, stream name, key): the key is an integer
column (a patient number, an exam key, a row number), the stream names the quantity being
drawn. Draws therefore do not depend on how rows are chunked or ordered, so a frame made
in one piece and the same rows made chunk by chunk are identical, and a seed always
regenerates the same data (on any machine, any polars version: only wrapping 64-bit
integer arithmetic is used, no library RNG and no ``hash()``).

The mixer is SplitMix64's finaliser (Steele, Lea & Flood 2014), applied to
``key * golden + salt(seed, stream)``.
"""

from __future__ import annotations

import math
import zlib

import polars as pl

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB


def _mix_int(x: int) -> int:
    """SplitMix64 finaliser on a Python int (for salts)."""
    x &= _MASK
    x = ((x ^ (x >> 30)) * _M1) & _MASK
    x = ((x ^ (x >> 27)) * _M2) & _MASK
    return x ^ (x >> 31)


def _u64(value: int) -> pl.Expr:
    return pl.lit(value & _MASK, dtype=pl.UInt64)


def _mix(x: pl.Expr) -> pl.Expr:
    """SplitMix64 finaliser on a UInt64 expression (polars integer ops wrap)."""
    x = (x ^ (x // (1 << 30))) * _u64(_M1)
    x = (x ^ (x // (1 << 27))) * _u64(_M2)
    return x ^ (x // (1 << 31))


class Rng:
    """Draws keyed on an integer column, one independent stream per name."""

    def __init__(self, seed: int, key: str | pl.Expr) -> None:
        self.seed = seed
        self.key = (pl.col(key) if isinstance(key, str) else key).cast(pl.UInt64)

    def _salt(self, stream: str) -> int:
        return _mix_int(_mix_int(self.seed * _GOLDEN) ^ zlib.crc32(stream.encode()))

    def bits(self, stream: str) -> pl.Expr:
        """Uniform 64-bit integers."""
        return _mix(self.key * _u64(_GOLDEN) + _u64(self._salt(stream)))

    def uniform(self, stream: str, low: float = 0.0, high: float = 1.0) -> pl.Expr:
        """Uniform floats in [low, high)."""
        u = (self.bits(stream) // (1 << 11)).cast(pl.Float64) * (2.0**-53)
        if low == 0.0 and high == 1.0:
            return u
        return low + (high - low) * u

    def normal(self, stream: str, mean: float = 0.0, sd: float = 1.0) -> pl.Expr:
        """Normal draws (Box-Muller on two uniforms of the stream)."""
        u1 = 1.0 - self.uniform(stream + "#1")  # (0, 1]
        u2 = self.uniform(stream + "#2")
        z = (-2.0 * u1.log()).sqrt() * (2.0 * math.pi * u2).cos()
        return z * sd + mean

    def integers(self, stream: str, low: int, high: int) -> pl.Expr:
        """Uniform integers in [low, high] (inclusive), as Int64."""
        return (low + (self.uniform(stream) * (high - low + 1)).floor()).cast(pl.Int64)

    def choice(self, stream: str, weights: list[float]) -> pl.Expr:
        """Index 0..len(weights)-1 drawn with the given (not necessarily normalised) weights."""
        total = float(sum(weights))
        u = self.uniform(stream)
        expr: pl.Expr = pl.lit(len(weights) - 1, dtype=pl.Int64)
        cumulative = 0.0
        bounds = []
        for w in weights[:-1]:
            cumulative += w / total
            bounds.append(cumulative)
        for index in reversed(range(len(bounds))):
            expr = pl.when(u < bounds[index]).then(pl.lit(index, dtype=pl.Int64)).otherwise(expr)
        return expr
