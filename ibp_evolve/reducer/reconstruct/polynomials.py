"""Sparse polynomials in n variables: ``{exponents (tuple of n ints): coefficient}``.

Coefficients are residues mod p while a prime is being worked on, and :class:`Fraction` once the
primes have been combined; the functions that need the field take the prime as an argument.
"""

from __future__ import annotations

from fractions import Fraction
from math import comb


def evaluate_mod(poly: dict, x, p: int) -> int:
    """poly(x) mod p."""
    total = 0
    for exps, c in poly.items():
        term = c
        for xi, e in zip(x, exps):
            if e:
                term = term * pow(xi, e, p) % p
        total += term
    return total % p


def evaluate(poly: dict, x) -> Fraction:
    """poly(x) over the rationals."""
    total = Fraction(0)
    for exps, c in poly.items():
        term = Fraction(c)
        for xi, e in zip(x, exps):
            if e:
                term *= Fraction(xi) ** e
        total += term
    return total


def shift_mod(poly: dict, shift, p: int) -> dict:
    """The polynomial q(x) = poly(x + shift) mod p (binomial expansion, variable by variable)."""
    out = dict(poly)
    for i, s in enumerate(shift):
        s %= p
        if s == 0:
            continue
        nxt: dict = {}
        for exps, c in out.items():
            e = exps[i]
            for k in range(e + 1):
                # x_i^e -> sum_k C(e, k) x_i^k s^(e - k)
                key = exps[:i] + (k,) + exps[i + 1:]
                nxt[key] = (nxt.get(key, 0) + c * comb(e, k) * pow(s, e - k, p)) % p
        out = {k: v for k, v in nxt.items() if v}
    return out


def canonical_monomial(poly: dict) -> tuple:
    """The monomial that normalisation sets to 1: lowest total degree, then lowest exponents
    in order (so a constant term wins whenever there is one)."""
    return min(poly, key=lambda e: (sum(e), e))


def scale_mod(poly: dict, factor: int, p: int) -> dict:
    return {e: c * factor % p for e, c in poly.items() if c * factor % p}


def degree(poly: dict, var: int | None = None) -> int:
    """Total degree, or the degree in variable ``var``; -1 for the zero polynomial."""
    if not poly:
        return -1
    return max(sum(e) if var is None else e[var] for e in poly)
