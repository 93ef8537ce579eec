"""Sector bookkeeping and zero-sector detection.

Measures of an integral I(a) (DESIGN.md §1): t = number of positive indices, sector = bitmask of
positive indices (bit i for position i, 0-based), r = sum of positive indices, s = minus the sum
of negative indices, d = r - t (dots).

A sector is *zero* (scaleless) when Lee's criterion holds for the Lee-Pomeransky polynomial
G = U + F restricted to the sector's lines: sum_i k_i x_i dG/dx_i = G has a constant solution k.
For a polynomial that is a sum of monomials x^m this means k.m = 1 for every monomial m in the
support, a linear system over the rationals.  A sector in which some loop momentum flows through
no line has U = 0 and is scaleless as well.
"""

from __future__ import annotations

import json
import numpy as np

from ibp_evolve.reducer.family import Family
from ibp_evolve.reducer.templates import atomic_write_text, cache_dir

SECTOR_FORMAT = 1


def measures(a: np.ndarray) -> dict[str, np.ndarray]:
    """t, r, s, d and sector of each row of an (n, N) index array, vectorised."""
    a = np.asarray(a, dtype=np.int64)
    positive = a > 0
    t = positive.sum(axis=1)
    r = np.where(positive, a, 0).sum(axis=1)
    s = -np.where(a < 0, a, 0).sum(axis=1)
    weights = np.int64(1) << np.arange(a.shape[1], dtype=np.int64)
    sector = (positive * weights).sum(axis=1)
    return {"t": t, "r": r, "s": s, "d": r - t, "sector": sector}


def sector_of(indices) -> int:
    return sum(1 << i for i, x in enumerate(indices) if x > 0)


def lines_of(sector: int) -> list[int]:
    return [i for i in range(sector.bit_length()) if sector >> i & 1]


def subsectors(sector: int) -> list[int]:
    """Every sector whose lines are a subset of ``sector``'s (itself included), ascending."""
    out = []
    sub = sector
    while True:
        out.append(sub)
        if sub == 0:
            break
        sub = (sub - 1) & sector
    return sorted(out)


def symanzik_polynomials(family: Family) -> tuple:
    """(U, F, [x1..xN]): U and F (up to an overall sign convention) in Feynman parameters,
    private sympy symbols so that a family's own symbol x1 (a mass, say) stays a constant.

    Memoised per family content: zero sectors and the symmetry fingerprints both need them,
    and expanding F takes seconds for a five-point family.
    """
    if family.digest not in _SYMANZIK:
        _SYMANZIK[family.digest] = _symanzik_polynomials(family)
    return _SYMANZIK[family.digest]


_SYMANZIK: dict = {}


def _symanzik_polynomials(family: Family):
    import sympy  # only when zero sectors or symmetries are derived, not when cached
    n_loops, n_ext = family.n_loops, family.n_external
    xs = [sympy.Dummy(f"x{j + 1}") for j in range(family.n)]
    m = sympy.zeros(n_loops, n_loops)
    # B[l][e]: coefficient of k_l . p_e in sum_j x_j D_j
    b = [[sympy.Integer(0)] * n_ext for _ in range(n_loops)]
    j_const = sympy.Integer(0)
    for x, q, const in zip(xs, family.quadratic_forms, family.constants):
        for l1 in range(n_loops):
            for l2 in range(n_loops):
                m[l1, l2] += x * q[l1, l2]
            for e in range(n_ext):
                b[l1][e] += x * (q[l1, n_loops + e] + q[n_loops + e, l1])
        ext_part = const
        for e in range(n_ext):
            for f in range(n_ext):
                ext_part += q[n_loops + e, n_loops + f] * family.kinematic_product(e, f)
        j_const += x * ext_part
    u = sympy.expand(m.det())
    adj = m.adjugate()
    # sum_j x_j D_j = k.M.k + 2 k.Q + J with Q_l = (1/2) sum_e B[l][e] p_e
    qq = sympy.Integer(0)
    for l1 in range(n_loops):
        for l2 in range(n_loops):
            if adj[l1, l2] == 0:
                continue
            dotq = sum((b[l1][e] * b[l2][f] * family.kinematic_product(e, f)
                        for e in range(n_ext) for f in range(n_ext)), sympy.Integer(0)) / 4
            qq += adj[l1, l2] * dotq
    f_poly = sympy.expand(qq - u * j_const)
    return u, f_poly, xs


def _support(poly, xs) -> list[tuple[int, ...]]:
    import sympy
    if poly == 0:
        return []
    return [m for m, c in sympy.Poly(poly, *xs).terms() if c != 0]


def _lee_zero(monomials: list[tuple[int, ...]], lines: list[int]) -> bool:
    """True when k.m = 1 has a solution for every monomial m (restricted to the lines)."""
    import sympy
    if not monomials:
        return True
    a = sympy.Matrix([[m[i] for i in lines] for m in monomials])
    ones = sympy.ones(len(monomials), 1)
    return a.rank() == a.row_join(ones).rank()


def zero_sectors(family: Family, use_cache: bool = True) -> frozenset[int]:
    """All zero sectors among the sectors of the family's line positions."""
    key = (family.digest, use_cache)
    if key not in _ZERO_SECTORS:
        _ZERO_SECTORS[key] = _compute_zero_sectors(family, use_cache)
    return _ZERO_SECTORS[key]


_ZERO_SECTORS: dict = {}


def _compute_zero_sectors(family: Family, use_cache: bool) -> frozenset[int]:
    path = cache_dir() / f"zero-sectors-{family.name}-{family.digest}-v{SECTOR_FORMAT}.json"
    if use_cache and path.exists():
        try:
            return frozenset(json.loads(path.read_text())["zero_sectors"])
        except (ValueError, KeyError):
            pass
    u, f_poly, xs = symanzik_polynomials(family)
    u_support = _support(u, xs)
    f_support = _support(f_poly, xs)
    full = sum(1 << i for i in family.line_positions)
    zeros = set()
    # Top down: a subsector of a zero sector is zero (setting x_j = 0 keeps k.m = 1 on the
    # remaining monomials), so one zero sector among the sectors with one more line settles
    # it without a rank computation; most sectors of a large family are decided that way.
    for sector in sorted(subsectors(full), key=lambda s: -bin(s).count("1")):
        if any(sector | 1 << j in zeros for j in lines_of(full & ~sector)):
            zeros.add(sector)
            continue
        lines = lines_of(sector)
        outside = [i for i in range(family.n) if not sector >> i & 1]
        keep = [m for m in u_support if all(m[i] == 0 for i in outside)]
        if not keep:  # a loop momentum runs through no line: scaleless
            zeros.add(sector)
            continue
        keep += [m for m in f_support if all(m[i] == 0 for i in outside)]
        if _lee_zero(keep, lines):
            zeros.add(sector)
    result = frozenset(zeros)
    if use_cache:
        atomic_write_text(path, json.dumps({"zero_sectors": sorted(result)}))
    return result


def nonzero_subsectors(family: Family, sector: int) -> list[int]:
    zeros = zero_sectors(family)
    return [s for s in subsectors(sector) if s not in zeros]


def top_sector(family: Family) -> int:
    return sum(1 << i for i in family.line_positions)
