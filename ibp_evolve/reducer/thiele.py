"""Univariate rational functions over GF(p): Thiele interpolation, then the value at one point.

Used to decide whether a reduction is *regular* at a point where the elimination itself breaks
down.  At d = 6 the kite's elimination divides by a pivot that vanishes identically (for every
prime), yet the coefficients of I(1,1,1,1,1) are finite there: the pole of one intermediate step
cancels.  Sampling the coefficients at d0 + t for random t, interpolating each as a rational
function of t (Thiele's continued fraction) and reading off its value at t = 0 after cancelling
common powers of t separates the two cases: a finite value, or a genuine pole.
"""

from __future__ import annotations

from typing import Callable, Sequence


class GenuinePoleError(ZeroDivisionError):
    """The interpolated rational function has a pole at t = 0 (its denominator vanishes);
    ``entry`` is its position in the sampled vector (None for a single function)."""

    def __init__(self, message: str, entry: int | None = None):
        super().__init__(message)
        self.entry = entry


class NotConvergedError(RuntimeError):
    """More sample points than allowed were needed (degree too high)."""


class _Thiele:
    """One entry's continued fraction f(t) = a0 + (t - t0)/(a1 + (t - t1)/(a2 + ...))."""

    def __init__(self, p: int):
        self.p = p
        self.points: list[int] = []
        self.coeffs: list[int] = []
        self.confirmations = 0

    def value(self, t: int) -> int | None:
        """f(t) from the current continued fraction; None on an accidental division by 0."""
        p = self.p
        if not self.coeffs:
            return None
        acc = self.coeffs[-1]
        for a, ti in zip(reversed(self.coeffs[:-1]), reversed(self.points[:-1])):
            if acc == 0:
                return None
            acc = (a + (t - ti) * pow(acc, -1, p)) % p
        return acc

    def add(self, t: int, f: int) -> None:
        """Take one more sample; counts a confirmation when the fraction already predicts it."""
        p = self.p
        if self.coeffs and self.value(t) == f % p:
            self.confirmations += 1
            return
        self.confirmations = 0
        r = f % p
        for a, ti in zip(self.coeffs, self.points):
            diff = (r - a) % p
            if diff == 0:
                return  # an accidental coincidence mod p: skip this point
            r = (t - ti) * pow(diff, -1, p) % p
        self.coeffs.append(r)
        self.points.append(t)

    def at_zero(self) -> int:
        """The value at t = 0 of N(t)/D(t), common factors t^k cancelled first."""
        p = self.p
        num, den = [self.coeffs[-1]], [1]
        for a, ti in zip(reversed(self.coeffs[:-1]), reversed(self.points[:-1])):
            # a + (t - ti) * den/num  =  (a*num + (t - ti)*den) / num
            shifted = _poly_add(_poly_scale(num, a, p), _poly_mul(den, [-ti % p, 1], p), p)
            num, den = shifted, num
        while num and den and num[0] == 0 and den[0] == 0:
            num, den = num[1:], den[1:]
        if not den or den[0] == 0:
            raise GenuinePoleError("the rational function has a pole at t = 0")
        return (num[0] if num else 0) * pow(den[0], -1, p) % p


def _poly_scale(a: list, c: int, p: int) -> list:
    return [x * c % p for x in a]


def _poly_add(a: list, b: list, p: int) -> list:
    out = [0] * max(len(a), len(b))
    for i, x in enumerate(a):
        out[i] = x
    for i, x in enumerate(b):
        out[i] = (out[i] + x) % p
    return out


def _poly_mul(a: list, b: list, p: int) -> list:
    out = [0] * (len(a) + len(b) - 1)
    for i, x in enumerate(a):
        if x:
            for j, y in enumerate(b):
                out[i + j] = (out[i + j] + x * y) % p
    return out


def values_at_zero(sample: Callable[[int], Sequence[int]], p: int, points: Sequence[int],
                   confirmations: int = 2) -> list[int]:
    """f_i(0) for a vector of rational functions of t known only through ``sample(t)``.

    ``points`` are the values of t to sample at, in order (random non-zero residues, so that
    an accidental zero of a pivot is unlikely); an entry is done when its continued fraction
    predicted ``confirmations`` samples in a row.  Raises :class:`GenuinePoleError` when an
    entry has a pole at t = 0 and :class:`NotConvergedError` when the points run out.
    """
    entries: list[_Thiele] | None = None
    for t in points:
        t %= p
        values = sample(t)
        if entries is None:
            entries = [_Thiele(p) for _ in values]
        for e, f in zip(entries, values):
            if e.confirmations < confirmations:
                e.add(t, f)
        if all(e.confirmations >= confirmations for e in entries):
            values = []
            for i, e in enumerate(entries):
                try:
                    values.append(e.at_zero())
                except GenuinePoleError as exc:
                    raise GenuinePoleError(str(exc), entry=i) from None
            return values
    raise NotConvergedError(f"no stable rational function after {len(points)} samples")
