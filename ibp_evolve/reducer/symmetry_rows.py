"""Sector symmetries as equations: exact relations mod p, appended to an equation system.

A :class:`~ibp_evolve.reducer.symmetries.SectorMapping` says which propagator becomes which
(numerators included); here it is evaluated at a numeric point modulo a prime and applied to
integrals: I(a) - sum_b c_b I(b) = 0 for every integral of a non-unique sector (onto its unique
sector) and for every integral of a unique sector under each generator of its automorphisms.

Using symmetries in a reduction (reduce, the judge)::

    sym = family_symmetries(family)                      # cached on disk per family
    system = build_system(family, seeds, point, prime, ordering, extra_integrals=targets)
    system, sym_eqs = add_symmetry_rows(system, sym, point)   # relations for every column
    selected = np.concatenate([system.equations_of(seed_ids), sym_eqs])
    masters = family_masters(family, ordering, symmetries=True)
    # solve(system.eq_ptr, system.eq_cols, system.eq_vals, selected, ...) as usual

Seeds are best taken in unique sectors only (``sym.unique_sectors``); a target in a
non-unique sector reduces through its relation row.  ``add_symmetry_rows`` renumbers the
columns, so look integrals up with ``system.column_of`` afterwards; the relation rows are
equations with ids from ``n_seeds * n_templates`` on, which no seed owns (count them apart when
reporting seeds or trimmed equations per seed).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import sympy

from ibp_evolve.reducer.family import Family
from ibp_evolve.reducer.modular import to_mod
from ibp_evolve.reducer.sectors import zero_sectors
from ibp_evolve.reducer.symmetries import SectorMapping, Symmetries


class NumericMapping:
    """A sector mapping evaluated at a point mod p: maps integrals of its source sector.

    The image of I(a) factorises: the lines are relabelled, and the numerator
    prod_j (image of D_j)^(-a_j) is a polynomial in the propagators that depends only on the
    numerator powers.  It is expanded once per numerator pattern and reused for every dotted
    variant, so mapping thousands of integrals is array arithmetic.
    """

    def __init__(self, mapping: SectorMapping, family: Family, values: dict, prime: int):
        self.mapping, self.prime, self.n = mapping, prime, family.n
        self.line_from = np.array([l for l, _ in mapping.line_map], dtype=np.int64)
        self.line_to = np.array([m for _, m in mapping.line_map], dtype=np.int64)
        self.numerator_positions = [j for j in range(self.n)
                                    if not mapping.source >> j & 1]
        self.linear = []  # per position: (exponent rows (k, N), coefficients (k,)) mod p
        for coeffs, const in mapping.images:
            exps, vals = [], []
            for m, c in enumerate(coeffs):
                if c != 0:
                    exps.append(np.eye(self.n, dtype=np.int64)[m])
                    vals.append(to_mod(c, prime))
            value = sympy.sympify(const).subs(values) if const != "0" else sympy.Integer(0)
            cval = to_mod(Fraction(int(value.p), int(value.q)), prime)
            if cval:
                exps.append(np.zeros(self.n, dtype=np.int64))
                vals.append(cval)
            self.linear.append((np.array(exps, dtype=np.int64).reshape(-1, self.n),
                                np.array(vals, dtype=np.int64)))
        self._numerators: dict = {}

    def _multiply(self, left, right):
        (e1, c1), (e2, c2) = left, right
        exps = (e1[:, None, :] + e2[None, :, :]).reshape(-1, self.n)
        vals = (c1[:, None] * c2[None, :] % self.prime).ravel()
        uniq, inverse = _unique_rows(exps)
        summed = np.zeros(len(uniq), dtype=np.int64)
        np.add.at(summed, inverse.ravel(), vals)
        summed %= self.prime
        keep = summed != 0
        return uniq[keep], summed[keep]

    def numerator(self, powers: tuple[int, ...]):
        """prod over numerator positions j of (image of D_j)^powers[j], as (exps, coeffs)."""
        if powers not in self._numerators:
            result = (np.zeros((1, self.n), dtype=np.int64), np.ones(1, dtype=np.int64))
            for j, k in zip(self.numerator_positions, powers):
                for _ in range(k):
                    result = self._multiply(result, self.linear[j])
            self._numerators[powers] = result
        return self._numerators[powers]

    def images(self, integrals: np.ndarray):
        """For integrals (n, N) of the source sector: (row of each term, integral b, coeff)."""
        base = np.zeros_like(integrals)
        base[:, self.line_to] = integrals[:, self.line_from]
        powers = -integrals[:, self.numerator_positions]
        patterns, which = np.unique(powers, axis=0, return_inverse=True)
        which = which.ravel()
        rows, terms, coeffs = [], [], []
        for k, pattern in enumerate(patterns):
            members = np.flatnonzero(which == k)
            exps, vals = self.numerator(tuple(int(x) for x in pattern))
            b = base[members][:, None, :] - exps[None, :, :]
            rows.append(np.repeat(members, len(exps)))
            terms.append(b.reshape(-1, self.n))
            coeffs.append(np.tile(vals, len(members)))
        if not rows:
            empty = np.zeros(0, dtype=np.int64)
            return empty, np.zeros((0, self.n), dtype=np.int64), empty
        return np.concatenate(rows), np.vstack(terms), np.concatenate(coeffs)


_NUMERIC: dict = {}


def numeric_mappings(symmetries: Symmetries, family: Family, point: dict, prime: int):
    """{sector: [NumericMapping...]}: the one mapping of each non-unique sector, and the
    automorphisms of each unique sector (memoised per family, point and prime)."""
    key = (family.digest, id(symmetries), tuple(sorted((k, str(v)) for k, v in point.items())),
           prime)
    if key not in _NUMERIC:
        if len(_NUMERIC) > 64:
            _NUMERIC.clear()
        _NUMERIC[key] = (symmetries, _numeric_mappings(symmetries, family, point, prime))
    return _NUMERIC[key][1]


def _numeric_mappings(symmetries: Symmetries, family: Family, point: dict, prime: int):
    values = {sympy.Symbol(s): sympy.Rational(Fraction(point[s]).numerator,
                                              Fraction(point[s]).denominator)
              for s in family.parameters if s in point}
    out: dict = {}
    for m in symmetries.mappings + symmetries.automorphisms:
        out.setdefault(m.source, []).append(NumericMapping(m, family, values, prime))
    return out


def _unique_rows(rows: np.ndarray):
    """np.unique(rows, axis=0, return_inverse=True), through one int64 key per row (the
    axis=0 form sorts structured rows and is an order of magnitude slower)."""
    if not len(rows):
        return rows, np.zeros(0, dtype=np.int64)
    lo = int(rows.min())
    radix = int(rows.max()) - lo + 1
    if radix ** rows.shape[1] >= 2 ** 62:
        uniq, inverse = np.unique(rows, axis=0, return_inverse=True)
        return uniq, inverse.ravel()
    place = radix ** np.arange(rows.shape[1], dtype=np.int64)
    keys, inverse = np.unique((rows - lo) @ place, return_inverse=True)
    uniq = (keys[:, None] // place[None, :]) % radix + lo
    return uniq, inverse.ravel()


def _sector_ids(integrals: np.ndarray) -> np.ndarray:
    weights = np.int64(1) << np.arange(integrals.shape[1], dtype=np.int64)
    return ((integrals > 0) * weights).sum(axis=1)


def symmetry_relations(symmetries: Symmetries, family: Family, integrals, point: dict,
                       prime: int):
    """Exact relations I(a) - sum_b c_b I(b) = 0 mod ``prime`` for the given integrals.

    Each integral of a non-unique sector gets one relation mapping it onto its unique sector;
    each integral of a unique sector gets one per automorphism (relations that reduce to
    I(a) = I(a) are dropped).  Terms in zero sectors are dropped (they vanish).
    Returns (relation id of each term, integral of each term (m, N), coefficient (m,)),
    relation ids numbered 0.. in order.
    """
    integrals = np.asarray(integrals, dtype=np.int64).reshape(-1, family.n)
    by_sector = numeric_mappings(symmetries, family, point, prime)
    zeros = zero_sectors(family)
    zero_table = np.zeros(1 << family.n, dtype=bool)
    zero_table[list(zeros)] = True
    sectors = _sector_ids(integrals)
    out_rows, out_terms, out_vals = [], [], []
    n_relations = 0
    for sector, mappings in by_sector.items():
        members = integrals[sectors == sector]
        if not len(members):
            continue
        for nm in mappings:
            rows, terms, vals = nm.images(members)
            alive = ~zero_table[_sector_ids(terms)]
            rows, terms, vals = rows[alive], terms[alive], vals[alive]
            # I(a) = 1 * I(a) and nothing else: the mapping fixes this integral
            counts = np.bincount(rows, minlength=len(members))
            single = counts[rows] == 1
            trivial_term = single & (vals == 1) & (terms == members[rows]).all(axis=1)
            trivial = np.zeros(len(members), dtype=bool)
            trivial[rows[trivial_term]] = True
            kept = np.flatnonzero(~trivial)
            renumber = np.full(len(members), -1, dtype=np.int64)
            renumber[kept] = n_relations + np.arange(len(kept))
            take = ~trivial[rows]
            out_rows += [renumber[kept], renumber[rows[take]]]
            out_terms += [members[kept], terms[take]]
            out_vals += [np.ones(len(kept), dtype=np.int64), (-vals[take]) % prime]
            n_relations += len(kept)
    if not out_rows:
        empty = np.zeros(0, dtype=np.int64)
        return empty, np.zeros((0, family.n), dtype=np.int64), empty
    rows = np.concatenate(out_rows)
    order = np.argsort(rows, kind="stable")
    return rows[order], np.vstack(out_terms)[order], np.concatenate(out_vals)[order]


def add_symmetry_rows(system, symmetries: Symmetries, point: dict, integrals=None):
    """The system with symmetry relations appended for ``integrals`` (default: every integral
    the system contains).

    Returns ``(new_system, symmetry_equation_ids)``.  The new system has the same seeds and
    seed equations (ids ``0 .. n_seeds * n_templates - 1`` unchanged); the relations follow as
    extra equations, and integrals that only the relations bring in get columns too.  Columns
    are renumbered by the ordering, so column ids of the old system are not valid in the new
    one (look integrals up with ``column_of``).  To solve a seed subset with symmetries, select
    ``system.equations_of(seed_ids)`` plus ``symmetry_equation_ids``.
    """
    from ibp_evolve.reducer.system import EquationSystem

    family, prime = system.family, system.prime
    if integrals is None:
        integrals = system.integrals
    rel_rows, rel_terms, rel_vals = symmetry_relations(symmetries, family, integrals, point,
                                                       prime)
    n_relations = int(rel_rows.max()) + 1 if len(rel_rows) else 0
    everything = np.vstack([system.integrals, rel_terms])
    unique, inverse = _unique_rows(everything)
    rank = system.ordering.ranks(unique, frozenset(family.preferred_masters))
    col_integrals = np.empty_like(unique)
    col_integrals[rank] = unique
    new_col = rank[inverse]
    old_cols = new_col[: system.n_columns][system.eq_cols]
    rel_cols = new_col[system.n_columns:]
    counts = np.bincount(rel_rows, minlength=n_relations)
    eq_ptr = np.concatenate([system.eq_ptr, system.eq_ptr[-1] + np.cumsum(counts)])
    new = EquationSystem(
        family=family, seeds=system.seeds, prime=prime, ordering=system.ordering,
        n_templates=system.n_templates, integrals=col_integrals, eq_ptr=eq_ptr,
        eq_cols=np.concatenate([old_cols, rel_cols]),
        eq_vals=np.concatenate([system.eq_vals, rel_vals]), seconds=system.seconds)
    first = system.n_equations
    return new, np.arange(first, first + n_relations, dtype=np.int64)
