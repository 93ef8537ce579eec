"""Master counts per sector without IBP: critical points of the Lee-Pomeransky polynomial.

Lee and Pomeransky (arXiv:1308.6676) count master integrals by the critical points of
G = U + F; Bitoun, Bogner, Klausen and Panzer (arXiv:1712.09215) made the count exact: the
masters of a sector *and all its subsectors* (no symmetries, d generic) number as many as the
critical points of the likelihood  sum_i nu_i log x_i + gamma log G  for generic nu and gamma,
on the torus where no x_i and not G vanishes, i.e. the solutions of

    nu_i G + gamma x_i dG/dx_i = 0   (every line i of the sector),   1 - y x_1...x_n G = 0.

Their number is the dimension of the quotient ring, read off a Groebner basis over GF(p) (at
random kinematics, nu and gamma) as the number of standard monomials.  Moebius inversion over
the subsectors turns these cumulative counts into masters per sector.  Groebner bases grow
steeply with the number of lines, so only sectors with few lines are counted (``max_lines``).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import sympy

from ibp_evolve.reducer.family import Family
from ibp_evolve.reducer.sectors import lines_of, nonzero_subsectors, subsectors, \
    symanzik_polynomials, top_sector

PRIME = 32003  # small: sympy's Groebner bases over GF(p) are fastest with machine-size p
COUNT_SEED = 20250209


def cumulative_count(family: Family, sector: int, rng=None) -> int | None:
    """Masters of the sector and its subsectors (no symmetries), None when the system is not
    zero-dimensional (a special point: the count says nothing)."""
    rng = np.random.default_rng(COUNT_SEED if rng is None else rng)
    u, f_poly, xs = symanzik_polynomials(family)
    lines = lines_of(sector)
    values = {sympy.Symbol(s): int(rng.integers(2, PRIME - 1)) for s in family.symbols}
    values.update({xs[i]: 0 for i in range(family.n) if i not in lines})
    gens = [xs[i] for i in lines]
    g = sympy.expand((u + f_poly).subs(values))
    if g == 0:
        return 0
    _, g = sympy.Poly(g, *gens).clear_denoms()  # c*G has the same critical points as G
    g = g.as_expr()
    y = sympy.Symbol("y_lp")
    gamma = int(rng.integers(2, PRIME - 1))
    equations = [sympy.expand(int(rng.integers(2, PRIME - 1)) * g + gamma * x * sympy.diff(g, x))
                 for x in gens]
    equations.append(sympy.expand(1 - y * sympy.Mul(*gens) * g))
    basis = sympy.groebner(equations, *gens, y, modulus=PRIME, order="grevlex")
    if list(basis.exprs) == [1]:
        return 0
    leading = [sympy.Poly(p, *gens, y).monoms(order="grevlex")[0] for p in basis.exprs]
    return _standard_monomials(tuple(leading), len(gens) + 1)


def _standard_monomials(leading: tuple, n: int) -> int | None:
    """How many monomials in n variables no leading monomial divides; None when infinite."""

    @lru_cache(maxsize=None)
    def count(lms: frozenset, k: int) -> int | None:
        if any(not any(lm) for lm in lms):
            return 0  # a constant leading monomial: nothing is standard
        if k == n:
            return 1
        pure = [lm[k] for lm in lms if not any(lm[k + 1:])]
        if not pure:
            return None  # variable k has no bound: infinitely many standard monomials
        total = 0
        for e in range(min(pure)):
            below = count(frozenset(lm for lm in lms if lm[k] <= e), k + 1)
            if below is None:
                return None
            total += below
        return total

    return count(frozenset(leading), 0)


def masters_per_sector(family: Family, max_lines: int) -> dict[int, int | None]:
    """Masters of every non-zero sector with at most ``max_lines`` lines, no symmetries
    (None where the count failed); memoised per family content."""
    key = (family.digest, max_lines)
    if key not in _PER_SECTOR:
        _PER_SECTOR[key] = _masters_per_sector(family, max_lines)
    return dict(_PER_SECTOR[key])


_PER_SECTOR: dict = {}


def _masters_per_sector(family: Family, max_lines: int) -> dict[int, int | None]:
    sectors = [s for s in nonzero_subsectors(family, top_sector(family))
               if bin(s).count("1") <= max_lines]
    nonzero = set(sectors)
    out: dict[int, int | None] = {}
    for sector in sorted(sectors, key=lambda s: bin(s).count("1")):
        total = cumulative_count(family, sector)
        below = [out.get(s) for s in subsectors(sector) if s != sector and s in nonzero]
        if total is None or any(b is None for b in below):
            out[sector] = None
            continue
        out[sector] = total - sum(below)
    return out
