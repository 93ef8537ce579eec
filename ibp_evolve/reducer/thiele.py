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

from ibp_evolve.reducer.reconstruct.univariate import Thiele, Unlucky, fit


class GenuinePoleError(ZeroDivisionError):
    """The interpolated rational function has a pole at t = 0 (its denominator vanishes);
    ``entry`` is its position in the sampled vector (None for a single function)."""

    def __init__(self, message: str, entry: int | None = None):
        super().__init__(message)
        self.entry = entry


class NotConvergedError(RuntimeError):
    """More sample points than allowed were needed (degree too high)."""


def _at_zero(fraction: Thiele) -> int:
    """The value at t = 0 of the reconstructed N(t)/D(t) (common factors, powers of t
    included, are cancelled by ``to_fraction``)."""
    try:
        num, den = fraction.to_fraction()
    except Unlucky:
        raise GenuinePoleError("the rational function has a vanishing denominator") from None
    if not den or den[0] == 0:
        raise GenuinePoleError("the rational function has a pole at t = 0")
    return (num[0] if num else 0) * pow(den[0], -1, fraction.p) % fraction.p


def values_at_zero(sample: Callable[[int], Sequence[int]], p: int, points: Sequence[int],
                   confirmations: int = 2) -> list[int]:
    """f_i(0) for a vector of rational functions of t known only through ``sample(t)``.

    ``points`` are the values of t to sample at, in order (random non-zero residues, so that
    an accidental zero of a pivot is unlikely); an entry is done when its continued fraction
    predicted ``confirmations`` samples in a row.  Raises :class:`GenuinePoleError` when an
    entry has a pole at t = 0 and :class:`NotConvergedError` when the points run out.
    """
    entries = fit(sample, p, (t % p for t in points), confirmations)
    if entries is None or not all(e.done for e in entries):
        raise NotConvergedError(f"no stable rational function after {len(points)} samples")
    values = []
    for i, e in enumerate(entries):
        try:
            values.append(_at_zero(e))
        except GenuinePoleError as exc:
            raise GenuinePoleError(str(exc), entry=i) from None
    return values
