"""One scale set to 1 and restored by mass dimension (Kira's ``symbol_to_replace_by_one``).

When every kinematic symbol has mass dimension 2 (each scalar product and each propagator
constant is homogeneous of degree 1 in them), an integral I(a) of an L-loop family has mass
dimension L d - 2 sum(a), so the coefficient c of a master M in the reduction of a target T has
dimension 2 k with k = sum(a_M) - sum(a_T):

    c(d, x_1, ..., sigma) = sigma^k c(d, x_1/sigma, ..., 1).

Reconstructing with sigma = 1 removes a variable; :func:`restore` puts it back.
"""

from __future__ import annotations

import sympy

from ibp_evolve.reducer.family import Family, FamilyError


class ScaleError(FamilyError):
    """The scale symbol cannot be set to one (not analytic, or the family is not homogeneous)."""


def check_homogeneous(family: Family, scale: str, symbols: list[str]) -> None:
    """Refuse ``--replace-by-one scale`` unless every kinematic symbol is analytic and of mass
    dimension 2."""
    kinematic = set(family.symbols)
    if scale not in kinematic:
        raise ScaleError(f"--replace-by-one '{scale}': not a kinematic symbol of family "
                         f"{family.name} ({', '.join(family.symbols) or 'none'})")
    fixed = sorted(kinematic - set(symbols))
    if fixed:
        raise ScaleError(f"--replace-by-one '{scale}' needs every kinematic symbol analytic "
                         f"(restoring {scale} rescales them all); {', '.join(fixed)} would stay "
                         "numeric: add them to --analytic")
    syms = [sympy.Symbol(s) for s in family.symbols]
    for what, expr in [*(("a scalar product", e) for e in family.kinematics.values()),
                       *(("a propagator's constant", e) for e in family.constants)]:
        expr = sympy.expand(sympy.sympify(expr))
        if expr != 0 and any(sum(m) != 1 for m in sympy.Poly(expr, *syms).monoms()):
            raise ScaleError(f"--replace-by-one '{scale}': {what} of family {family.name}, "
                             f"{expr}, is not of mass dimension 2 in its symbols")


def restore(num: dict, den: dict, names: list[str], scale: str, dimension: str,
            k: int, full: list[str]) -> tuple[dict, dict]:
    """The function of ``names`` (scale set to 1) as a function of ``full`` (scale restored),
    for a coefficient of mass dimension 2k."""
    kin = [i for i, n in enumerate(names) if n != dimension]
    degree = lambda e: sum(e[i] for i in kin)  # noqa: E731
    n_num = max((degree(e) for e in num), default=0)
    n_den = max((degree(e) for e in den), default=0)
    power = k - n_num + n_den  # sigma^k N(x/sigma)/D(x/sigma) = sigma^power Nh/Dh

    def homogenise(poly: dict, top: int, extra: int) -> dict:
        out = {}
        for e, c in poly.items():
            exps = dict(zip(names, e))
            exps[scale] = top - degree(e) + extra
            out[tuple(exps.get(n, 0) for n in full)] = c
        return out
    return homogenise(num, n_num, max(power, 0)), homogenise(den, n_den, max(-power, 0))
