"""Rational functions as strings: sympy-readable (``**``) or Mathematica/FORM (``^``).

Before printing, numerator and denominator are scaled together to integer coefficients without
a common factor and a denominator with a positive leading term: (d^2 - 6 d + 8)/(8 msq^2), not
(1/8 d^2 - 3/4 d + 1)/msq^2.
"""

from __future__ import annotations

import re
from fractions import Fraction
from math import gcd, lcm

from ibp_evolve.reducer.export import polynomial_text
from ibp_evolve.reducer.reconstruct.polynomials import evaluate


def tidy(num: dict, den: dict) -> tuple[dict, dict]:
    """(num, den) scaled by one rational factor: integer coefficients without a factor common
    to all of them, the denominator's leading (highest-degree) coefficient positive."""
    values = [Fraction(c) for c in (*num.values(), *den.values())]
    scale = Fraction(lcm(*(v.denominator for v in values)))
    content = 0
    for v in values:
        content = gcd(content, int(v * scale))
    scale /= content or 1
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
    d = evaluate(den, x)
    if d == 0:
        raise ZeroDivisionError("the point is a pole of the function")
    return evaluate(num, x) / d
