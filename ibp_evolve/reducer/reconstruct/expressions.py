"""Rational functions as strings: sympy-readable (``**``) or Mathematica/FORM (``^``).

Before printing, numerator and denominator are scaled together so that the denominator has
integer coefficients without a common factor and a positive leading term: (3 - d)/s, not
(-1/2 d + 3/2)/(1/2 s).
"""

from __future__ import annotations

import re
from fractions import Fraction
from math import gcd, lcm

from ibp_evolve.reducer.export import polynomial_text


def tidy(num: dict, den: dict) -> tuple[dict, dict]:
    """(num, den) scaled by one rational factor: den primitive over the integers, leading
    (highest-degree, then highest-exponent) coefficient positive."""
    scale = Fraction(lcm(*(Fraction(c).denominator for c in den.values())))
    content = 0
    for c in den.values():
        content = gcd(content, int(Fraction(c) * scale))
    scale /= content
    lead = max(den, key=lambda e: (sum(e), e))
    if den[lead] * scale < 0:
        scale = -scale
    return ({e: Fraction(c) * scale for e, c in num.items()},
            {e: Fraction(c) * scale for e, c in den.items()})


def polynomial(poly: dict, names: list[str], power: str = "**") -> str:
    """Terms from the highest degree down, e.g. ``-d**2*s + 3/2*d - 1`` (the export's printer,
    with Python's power sign unless ``power`` says otherwise)."""
    return polynomial_text(poly, names).replace("^", power)


def rational_function(num: dict, den: dict, names: list[str], power: str = "**") -> str:
    num, den = tidy(num, den)
    top = polynomial(num, names, power)
    if set(den) <= {tuple(0 for _ in names)} and den.get(tuple(0 for _ in names)) == 1:
        return top
    bottom = polynomial(den, names, power)
    # Brackets unless a side is one bare name or number, so the string reads the same in
    # sympy, Mathematica and FORM.
    bare = re.compile(r"\w+")
    top = top if bare.fullmatch(top) else f"({top})"
    bottom = bottom if bare.fullmatch(bottom) else f"({bottom})"
    return f"{top}/{bottom}"


def evaluate_function(num: dict, den: dict, x) -> Fraction:
    from ibp_evolve.reducer.reconstruct.polynomials import evaluate
    d = evaluate(den, x)
    if d == 0:
        raise ZeroDivisionError("the point is a pole of the function")
    return evaluate(num, x) / d
