"""Sector symmetries as equations: exact relations mod p, appended to an equation system.

A :class:`~ibp_evolve.reducer.symmetries.SectorMapping` says which propagator becomes which
(numerators included); here it is evaluated at a numeric point modulo a prime and applied to
integrals: I(a) - sum_b c_b I(b) = 0 for every integral of a non-unique sector (onto its unique
sector) and for every integral of a unique sector under each generator of its automorphisms.

Using symmetries in a reduction (what ``reduce`` and the judge do)::

    sym = symmetries_at(family, point)                   # cached per family, checked at point
    masters = family_masters(family, ordering, symmetries=True)
    seeds = unique_seeds(sym, family, seeds, point, prime)   # mirror-sector seeds -> images
    system = build_system(family, seeds, point, prime, ordering, extra_integrals=targets)
    system, relations = with_symmetry_rows(system, sym, point,
                                           family_automorphism_region(family, ordering))
    reduction = reduce_on_seeds(system, np.arange(len(seeds)), targets, masters,
                                relations=relations)

A target in a non-unique sector reduces through its relation row.  The relations renumber the
columns (look integrals up with ``system.column_of`` afterwards); they are equations with ids
from ``n_seeds * n_templates`` on, which no seed owns (:class:`RelationRows`; counted apart from
the seeds' equations).  :func:`exact_relation` gives a relation with exact polynomial
coefficients: what replay (:mod:`ibp_evolve.reducer.replay`) instantiates at every further
prime or point, and what ``--export-system`` writes.  ``add_symmetry_rows`` (every relation of
the given integrals, no closure) is what master discovery uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ibp_evolve.reducer.expressions import Polynomial, parse_polynomial
from ibp_evolve.reducer.family import Family
from ibp_evolve.reducer.modular import to_mod
from ibp_evolve.reducer.reconstruct.polynomials import evaluate
from ibp_evolve.reducer.sectors import measures, zero_sectors
from ibp_evolve.reducer.symmetries import (SectorMapping, Symmetries, SymmetryError,
                                          family_symmetries)


_CONSTANTS: dict = {}


def mapping_constant(text: str, family: Family) -> Polynomial:
    """A mapping's kinematic constant (text, as cached) as an exact polynomial over
    ``family.parameters``, read by our own grammar: no sympy at reduction time."""
    key = (family.parameters, text)
    if key not in _CONSTANTS:
        if len(_CONSTANTS) > 4096:
            _CONSTANTS.clear()
        _CONSTANTS[key] = parse_polynomial(text, family.parameters)
    return _CONSTANTS[key]


def _values(family: Family, point: dict) -> list:
    """The point's exact value of each of ``family.parameters`` (None where it gives none:
    such a parameter must not occur in what is evaluated)."""
    return [Fraction(point[s]) if s in point else None for s in family.parameters]


class NumericMapping:
    """A sector mapping evaluated at a point mod p: maps integrals of its source sector.

    The image of I(a) factorises: the lines are relabelled, and the numerator
    prod_j (image of D_j)^(-a_j) is a polynomial in the propagators that depends only on the
    numerator powers.  It is expanded once per numerator pattern and reused for every dotted
    variant, so mapping thousands of integrals is array arithmetic.
    """

    def __init__(self, mapping: SectorMapping, family: Family, values: list, prime: int):
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
            cval = to_mod(mapping_constant(const, family).at(values), prime) if const != "0" \
                else 0
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
        """For integrals (n, N) of the source sector: (row of each term, integral b, coeff).

        Vectorised over numerator patterns: each pattern's expansion is looked up once, and
        every integral's terms are gathered from one concatenated table (the judge maps the
        integrals of thousands of systems, a Python loop per pattern would dominate)."""
        base = np.zeros_like(integrals)
        base[:, self.line_to] = integrals[:, self.line_from]
        powers = -integrals[:, self.numerator_positions]
        if not len(integrals):
            empty = np.zeros(0, dtype=np.int64)
            return empty, np.zeros((0, self.n), dtype=np.int64), empty
        if powers.shape[1]:
            patterns, which = _unique_rows(powers)
        else:  # no numerator position: one empty pattern
            patterns, which = powers[:1], np.zeros(len(powers), dtype=np.int64)
        expansions = [self.numerator(tuple(int(x) for x in p)) for p in patterns]
        sizes = np.array([len(e) for e, _ in expansions], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        table_exps = np.vstack([e for e, _ in expansions])
        table_vals = np.concatenate([v for _, v in expansions])
        counts = sizes[which]
        rows = np.repeat(np.arange(len(integrals), dtype=np.int64), counts)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        within = np.arange(len(rows), dtype=np.int64) - np.repeat(starts, counts)
        entry = offsets[which][rows] + within
        return rows, base[rows] - table_exps[entry], table_vals[entry]


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
    values = _values(family, point)
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
    rows, terms, vals, _, _ = _relations(symmetries, family, integrals, point, prime)
    return rows, terms, vals


def _relations(symmetries: Symmetries, family: Family, integrals, point: dict, prime: int,
               automorphisms: bool | tuple = True):
    """:func:`symmetry_relations`, plus each relation's source integral (n_rel, N) and its
    mapping (a list of SectorMapping): what an exact or replayed copy of the row needs.
    ``automorphisms``: False for none, or an :func:`automorphism_region` (d_max, s_max,
    sectors) for those of integrals with at most so many dots and numerator powers in those
    sectors (None: any)."""
    integrals = np.asarray(integrals, dtype=np.int64).reshape(-1, family.n)
    by_sector = numeric_mappings(symmetries, family, point, prime)
    zeros = zero_sectors(family)
    zero_table = np.zeros(1 << family.n, dtype=bool)
    zero_table[list(zeros)] = True
    sectors = _sector_ids(integrals)
    out_rows, out_terms, out_vals, out_sources, out_maps = [], [], [], [], []
    n_relations = 0
    for sector, mappings in by_sector.items():
        members = integrals[sectors == sector]
        if not len(members):
            continue
        for nm in mappings:
            sources = members
            if nm.mapping.source == nm.mapping.target and automorphisms is not True:
                if automorphisms is False or (automorphisms[2] is not None
                                              and sector not in automorphisms[2]):
                    continue
                m = measures(members)
                sources = members[(m["d"] <= automorphisms[0]) & (m["s"] <= automorphisms[1])]
                if not len(sources):
                    continue
            rows, terms, vals = nm.images(sources)
            alive = ~zero_table[_sector_ids(terms)]
            rows, terms, vals = rows[alive], terms[alive], vals[alive]
            # I(a) = 1 * I(a) and nothing else: the mapping fixes this integral
            counts = np.bincount(rows, minlength=len(sources))
            single = counts[rows] == 1
            trivial_term = single & (vals == 1) & (terms == sources[rows]).all(axis=1)
            trivial = np.zeros(len(sources), dtype=bool)
            trivial[rows[trivial_term]] = True
            kept = np.flatnonzero(~trivial)
            renumber = np.full(len(sources), -1, dtype=np.int64)
            renumber[kept] = n_relations + np.arange(len(kept))
            take = ~trivial[rows]
            out_rows += [renumber[kept], renumber[rows[take]]]
            out_terms += [sources[kept], terms[take]]
            out_vals += [np.ones(len(kept), dtype=np.int64), (-vals[take]) % prime]
            out_sources.append(sources[kept])
            out_maps += [nm.mapping] * len(kept)
            n_relations += len(kept)
    if not out_rows:
        empty = np.zeros(0, dtype=np.int64)
        none = np.zeros((0, family.n), dtype=np.int64)
        return empty, none, empty, none, []
    rows = np.concatenate(out_rows)
    order = np.argsort(rows, kind="stable")
    return (rows[order], np.vstack(out_terms)[order], np.concatenate(out_vals)[order],
            np.vstack(out_sources), out_maps)


@dataclass
class RelationRows:
    """The symmetry relations appended to a system: equations ``first .. first + n - 1`` (no
    seed owns them), each with its source integral and its mapping, from which an exact copy
    of the row (:func:`exact_relation`) or one at another prime or point is made."""

    first: int
    sources: np.ndarray  # (n, N)
    mappings: list  # SectorMapping of each relation
    # the relations solved (positions, in the order given), or all of them; the judge's
    # slices of a universe's relations (:class:`~ibp_evolve.judge.score.SymmetricUniverse`)
    selected: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.sources) if self.selected is None else len(self.selected)

    @property
    def ids(self) -> np.ndarray:
        """Equation ids of the relations solved."""
        if self.selected is None:
            return np.arange(self.first, self.first + len(self.sources), dtype=np.int64)
        return self.first + np.asarray(self.selected, dtype=np.int64)

    def subset(self, selected) -> "RelationRows":
        return RelationRows(self.first, self.sources, self.mappings,
                            np.asarray(selected, dtype=np.int64))


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
    family, prime = system.family, system.prime
    if integrals is None:
        integrals = system.integrals
    rel_rows, rel_terms, rel_vals = symmetry_relations(symmetries, family, integrals, point,
                                                       prime)
    new = _appended(system, rel_rows, rel_terms, rel_vals)
    first = system.n_equations
    return new, np.arange(first, new.n_equations, dtype=np.int64)


def with_symmetry_rows(system, symmetries: Symmetries, point: dict,
                       automorphism_region: tuple | None = None, cache=None):
    """``(new_system, RelationRows)``: every integral of a non-unique sector in the system gets
    its mapping, and so does every such integral that a relation brings in, until none is
    left: it has no seed of its own (seeds live in unique sectors), so without its relation it
    would stay in a target's row as a survivor.  The closure ends because a mapping's terms lie
    in a unique sector or in a sector with fewer lines.

    Automorphism rows go to the integrals of unique sectors with at most ``automorphism_region``
    = (d_max, s_max) dots and numerator powers (None: every integral).  An automorphism maps
    IBP relations onto IBP relations, so the relations it implies between reduced integrals
    are combinations of those between the masters without symmetries; those lie in the
    masters' discovery region, and rows for the rest would only add work.

    ``cache``: a :class:`RelationCache` of the same symmetries, point, prime and region, kept
    between systems (the judge's)."""
    cache = cache or RelationCache(symmetries, system.family, point, system.prime,
                                   automorphism_region)
    parts, offset = [], 0
    todo, automorphisms = system.integrals, True
    done = system.integrals
    while len(todo):
        rows, terms, vals, sources, maps = cache.relations(todo, automorphisms)
        parts.append((rows + offset, terms, vals, sources, maps))
        offset += len(sources)
        brought = _unique_rows(terms)[0] if len(terms) else terms
        brought = brought[cache.mapped[_sector_ids(brought)]] if len(brought) else brought
        todo = brought[~_contains(done, brought)] if len(brought) else brought
        done = np.vstack([done, todo])
        automorphisms = False  # a new integral needs its mapping; more self-maps add nothing
    rows = np.concatenate([p[0] for p in parts])
    terms = np.vstack([p[1] for p in parts])
    vals = np.concatenate([p[2] for p in parts])
    new = _appended(system, rows, terms, vals)
    relations = RelationRows(system.n_equations, np.vstack([p[3] for p in parts]),
                             [m for p in parts for m in p[4]])
    return new, relations


class RelationCache:
    """The relation rows of each integral at one point and prime, computed once: the judge
    solves thousands of systems whose integrals mostly coincide, and mapping them anew for
    every rule would cost more than the solve.  Bounded: cleared past ``max_integrals``."""

    def __init__(self, symmetries: Symmetries, family: Family, point: dict, prime: int,
                 automorphism_region: tuple | None = None, max_integrals: int = 400_000):
        self.symmetries, self.family, self.point, self.prime = symmetries, family, point, prime
        self.region = automorphism_region
        self.max_integrals = max_integrals
        self.mapped = np.zeros(1 << family.n, dtype=bool)  # non-unique sectors
        self.mapped[[m.source for m in symmetries.mappings]] = True
        self.self_mapped = np.zeros(1 << family.n, dtype=bool)  # sectors with automorphism rows
        self.self_mapped[[m.source for m in symmetries.automorphisms
                          if automorphism_region is None or automorphism_region[2] is None
                          or m.source in automorphism_region[2]]] = True
        self._store: dict = {}  # integral bytes -> (local rows, terms, vals, mappings)

    def relations(self, integrals: np.ndarray, automorphisms: bool = True):
        """As :func:`_relations` (relations numbered 0.. in the order of ``integrals``)."""
        integrals = np.asarray(integrals, dtype=np.int64).reshape(-1, self.family.n)
        sectors = _sector_ids(integrals)
        want = self.mapped[sectors]
        if automorphisms:
            own = self.self_mapped[sectors]
            if self.region is not None and own.any():
                m = measures(integrals)
                own &= (m["d"] <= self.region[0]) & (m["s"] <= self.region[1])
            want |= own
        chosen = np.ascontiguousarray(integrals[want])
        keys = [row.tobytes() for row in chosen]
        missing = [i for i, k in enumerate(keys) if k not in self._store]
        if missing:
            self._fill(chosen[missing], [keys[i] for i in missing])
        out_rows, out_terms, out_vals, out_sources, out_maps = [], [], [], [], []
        n = 0
        for row, key in zip(chosen, keys):
            local, terms, vals, maps = self._store[key]
            if not maps:
                continue
            out_rows.append(local + n)
            out_terms.append(terms)
            out_vals.append(vals)
            out_sources += [row] * len(maps)
            out_maps += maps
            n += len(maps)
        if not out_rows:
            empty = np.zeros(0, dtype=np.int64)
            none = np.zeros((0, self.family.n), dtype=np.int64)
            return empty, none, empty, none, []
        return (np.concatenate(out_rows), np.vstack(out_terms), np.concatenate(out_vals),
                np.array(out_sources, dtype=np.int64).reshape(-1, self.family.n), out_maps)

    def _fill(self, integrals: np.ndarray, keys: list) -> None:
        if len(self._store) + len(keys) > self.max_integrals:
            self._store.clear()
        rows, terms, vals, sources, maps = _relations(self.symmetries, self.family, integrals,
                                                      self.point, self.prime, True)
        by_key: dict = {k: [] for k in keys}
        source_keys = [np.ascontiguousarray(r).tobytes() for r in sources]
        for r, k in enumerate(source_keys):
            by_key[k].append(r)
        bounds = np.searchsorted(rows, np.arange(len(sources) + 1))
        empty = (np.zeros(0, dtype=np.int64), np.zeros((0, self.family.n), dtype=np.int64),
                 np.zeros(0, dtype=np.int64), [])
        for k, relation_ids in by_key.items():
            if not relation_ids:
                self._store[k] = empty
                continue
            spans = [np.arange(bounds[r], bounds[r + 1]) for r in relation_ids]
            local = np.concatenate([np.full(len(sp), i, dtype=np.int64)
                                    for i, sp in enumerate(spans)])
            take = np.concatenate(spans)
            self._store[k] = (local, terms[take], vals[take], [maps[r] for r in relation_ids])


def automorphism_region(masters, nonsymmetric_masters=None) -> tuple:
    """(d_max, s_max, sectors): where automorphism rows are needed.

    (d_max, s_max) is the masters' discovery region (at least d <= 1, s <= 2, where
    :func:`~ibp_evolve.reducer.masters.discover_masters` starts): the masters without
    symmetries lie there, and their automorphism rows carry every relation a sector's
    self-maps imply (see :func:`with_symmetry_rows`).  With ``nonsymmetric_masters`` (the
    basis without symmetries) only the sectors where they outnumber the symmetric ones need
    rows at all: elsewhere the self-maps relate no masters (triangle-box: none, its one
    relation is the mirror sunset's mapping).  ``sectors`` None: every sector."""
    if not len(masters):
        d_max, s_max = 1, 2
    else:
        m = measures(np.asarray(masters, dtype=np.int64).reshape(len(masters), -1))
        d_max, s_max = max(1, int(m["d"].max())), max(2, int(m["s"].max()))
    if nonsymmetric_masters is None:
        return d_max, s_max, None
    count: dict = {}
    for integral in nonsymmetric_masters:
        key = sum(1 << i for i, a in enumerate(integral) if a > 0)
        count[key] = count.get(key, 0) + 1
    for integral in masters:
        key = sum(1 << i for i, a in enumerate(integral) if a > 0)
        count[key] = count.get(key, 0) - 1
    return d_max, s_max, frozenset(k for k, c in count.items() if c > 0)


def family_automorphism_region(family: Family, ordering=None) -> tuple:
    """:func:`automorphism_region` of the family's masters with and without symmetries: the one
    region of the judge and of ``reduce`` (learn), so that ``score`` and ``reduce`` solve the
    same system for the same seeds.  Why the family's masters and not those of a target's
    sectors: the judge scores many targets with one relation cache.  Why the sectors where the
    bases differ rather than every sector with a self-map (what ``reduce`` did before): the
    same coefficients with fewer multiply-adds on 25 of 26 targets measured, twice fewer on
    the paper target (18,398 against 37,168), 5 % fewer at s = 8; rows everywhere replace
    some IBP equations, so their trimmed system re-solves a little cheaper
    (``benchmarks/automorphism_region.py``)."""
    from ibp_evolve.reducer.masters import family_masters
    return automorphism_region(family_masters(family, ordering, symmetries=True),
                               family_masters(family, ordering, symmetries=False))


def _contains(table: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Which of ``rows`` are rows of ``table``."""
    return columns_of_rows(table, rows) >= 0


def _appended(system, rel_rows, rel_terms, rel_vals):
    """``system`` with the relation rows (relation id of each term, term, value) appended."""
    from ibp_evolve.reducer.system import EquationSystem

    family, prime = system.family, system.prime
    n_relations = int(rel_rows.max()) + 1 if len(rel_rows) else 0
    counts = np.bincount(rel_rows, minlength=n_relations)
    eq_ptr = np.concatenate([system.eq_ptr, system.eq_ptr[-1] + np.cumsum(counts)])
    code = system._code
    if (getattr(code, "sorts_by_ordering", False) and len(rel_terms)
            and code.contains(rel_terms.ravel())):
        # keys that sort like the ordering (the judge's row cache): merge the new integrals
        # into the sorted keys instead of ranking every column again
        term_keys = code.encode(rel_terms)
        keys = np.union1d(system._sorted_keys, term_keys)
        old_cols = np.searchsorted(keys, system._sorted_keys)[system.eq_cols]
        rel_cols = np.searchsorted(keys, term_keys)
        return EquationSystem(
            family=family, seeds=system.seeds, prime=prime, ordering=system.ordering,
            n_templates=system.n_templates, integrals=code.decode(keys), eq_ptr=eq_ptr,
            eq_cols=np.concatenate([old_cols, rel_cols]),
            eq_vals=np.concatenate([system.eq_vals, rel_vals]), seconds=system.seconds,
            _code=code, _sorted_keys=keys,
            _key_columns=np.arange(len(keys), dtype=np.int64))
    everything = np.vstack([system.integrals, rel_terms])
    unique, inverse = _unique_rows(everything)
    rank = system.ordering.ranks(unique, frozenset(family.preferred_masters))
    col_integrals = np.empty_like(unique)
    col_integrals[rank] = unique
    new_col = rank[inverse]
    old_cols = new_col[: system.n_columns][system.eq_cols]
    rel_cols = new_col[system.n_columns:]
    lookup = {}
    if code is not None and code.contains(col_integrals.ravel()):
        # keys for column lookups by binary search (columns_of, column_of)
        keys = code.encode(col_integrals)
        order = np.argsort(keys)
        lookup = {"_code": code, "_sorted_keys": keys[order], "_key_columns": order}
    return EquationSystem(
        family=family, seeds=system.seeds, prime=prime, ordering=system.ordering,
        n_templates=system.n_templates, integrals=col_integrals, eq_ptr=eq_ptr,
        eq_cols=np.concatenate([old_cols, rel_cols]),
        eq_vals=np.concatenate([system.eq_vals, rel_vals]), seconds=system.seconds,
        **lookup)


# -- seeds in unique sectors ----------------------------------------------------------------

def unique_seeds(symmetries: Symmetries, family: Family, seeds, point: dict,
                 prime: int, targets=()) -> np.ndarray:
    """The seeds with every seed of a non-unique sector replaced by its images in the unique
    sector it maps onto (the terms of its relation that lie in that sector), each seed once,
    in order of first appearance (the solver breaks ties by seed position).

    Why map rather than drop: a rule seeds a target's subsectors, and the unique sector a
    subsector maps onto need not be one of them (it is the first of its class, not the
    target's); dropping its seeds would leave the relations' terms there without equations.
    The images have no more dots or numerators than the seed, so the rule's shape is kept.
    Seeding both copies would only solve the same integrals twice, which is what symmetries
    are there to avoid.

    ``targets``: the integrals the seeds are for.  A target in a non-unique sector reduces
    through its relation, onto the image of its sector and *that* sector's subsectors, so the
    seeds of its sector and subsectors move by the same mapping (:func:`seed_images`).
    """
    images, _ = seed_images(symmetries, family, seeds, point, prime, targets)
    return images[first_occurrences(images)]


def columns_of_rows(table: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Position of each of ``rows`` in ``table`` (-1 when absent), one int64 key per row."""
    table = np.asarray(table, dtype=np.int64)
    rows = np.asarray(rows, dtype=np.int64).reshape(-1, table.shape[1])
    if not len(table) or not len(rows):
        return np.full(len(rows), -1, dtype=np.int64)
    both = np.vstack([table, rows])
    lo = int(both.min())
    place = (int(both.max()) - lo + 1) ** np.arange(both.shape[1], dtype=np.int64)
    keys, wanted = (table - lo) @ place, (rows - lo) @ place
    order = np.argsort(keys)
    at = np.clip(np.searchsorted(keys[order], wanted), 0, len(keys) - 1)
    return np.where(keys[order][at] == wanted, order[at], -1)


def first_occurrences(rows: np.ndarray) -> np.ndarray:
    """Positions of the first occurrence of each distinct row, ascending."""
    if not len(rows):
        return np.zeros(0, dtype=np.int64)
    uniq, inverse = _unique_rows(rows)
    first = np.full(len(uniq), len(rows), dtype=np.int64)
    np.minimum.at(first, inverse, np.arange(len(rows), dtype=np.int64))
    return np.sort(first)


def _images_in_line_image(nm: "NumericMapping", integrals: np.ndarray):
    """``(terms, row)``: the terms of each integral's image that keep all its lines (the
    mapping relabels lines exactly; a numerator's expansion can only remove lines)."""
    rows, terms, _ = nm.images(integrals)
    lines = (integrals > 0).sum(axis=1)
    keep = (terms > 0).sum(axis=1) == lines[rows]
    return terms[keep], rows[keep]


def seed_images(symmetries: Symmetries, family: Family, seeds, point: dict, prime: int,
                targets=()):
    """``(images, owner)``: each seed's images in order of the seeds (a seed of a unique sector
    is its own image), ``owner[k]`` the seed that image k comes from (non-decreasing).

    With ``targets``, a seed inside the sector of a target whose sector is non-unique is first
    carried by that sector's mapping (its subsectors with it), then, where it lands in a
    non-unique sector, by that sector's own mapping.  Why: the target reduces through its
    relation onto the image sector and the images of its subsectors, and a subsector's own
    mapping may send its seeds elsewhere (on the double box, I(1,1,-1,1,2,1,1,0,-1)'s dotted
    subsector seeds landed in sectors its relation never reaches, and it stayed unreduced).
    A seed inside the sector of a target in a unique sector, or of no target, maps by its own
    sector's mapping; a seed inside several targets' sectors gets the images of each."""
    seeds = np.asarray(seeds, dtype=np.int64).reshape(-1, family.n)
    own = np.arange(len(seeds), dtype=np.int64)
    if not len(seeds):
        return seeds, own
    rep = symmetries.representative
    by_sector = numeric_mappings(symmetries, family, point, prime)
    sectors = _sector_ids(seeds)
    frames = {int(s) for s in _sector_ids(np.asarray(targets, dtype=np.int64)
                                          .reshape(-1, family.n)).tolist()}
    parts, owners = [], []
    in_some = np.zeros(len(seeds), dtype=bool)
    stays = np.zeros(len(seeds), dtype=bool)  # inside a unique target sector
    for frame in sorted(frames):
        inside = (sectors & ~frame) == 0
        in_some |= inside
        if rep.get(frame, frame) == frame:
            stays |= inside
            continue
        at = np.flatnonzero(inside)
        terms, rows = _images_in_line_image(_mapping_of(by_sector, frame), seeds[at])
        parts.append(terms)
        owners.append(at[rows])
    stays |= ~in_some
    images = np.vstack([seeds[stays]] + parts)
    owner = np.concatenate([own[stays]] + owners)
    images, owner = _onto_unique(rep, by_sector, images, owner)
    order = np.argsort(owner, kind="stable")  # images keep their seed's place and order
    return images[order], owner[order]


def _mapping_of(by_sector: dict, sector: int) -> "NumericMapping":
    """The mapping of a non-unique sector onto its unique sector (not an automorphism)."""
    return next(m for m in by_sector[sector] if m.mapping.source != m.mapping.target)


def _onto_unique(rep: dict, by_sector: dict, integrals: np.ndarray, owner: np.ndarray):
    """Integrals of non-unique sectors replaced by their images in their unique sectors (the
    representative is unique, so one step suffices), with the owner of each image."""
    sectors = _sector_ids(integrals)
    mapped = np.array([rep.get(int(s), int(s)) != int(s) for s in sectors.tolist()],
                      dtype=bool)
    if not mapped.any():
        return integrals, owner
    rows_out, owner_out = [integrals[~mapped]], [owner[~mapped]]
    for sector in np.unique(sectors[mapped]).tolist():
        at = np.flatnonzero(sectors == sector)
        terms, rows = _images_in_line_image(_mapping_of(by_sector, sector), integrals[at])
        rows_out.append(terms)
        owner_out.append(owner[at[rows]])
    return np.vstack(rows_out), np.concatenate(owner_out)


# -- the relations exactly, as polynomials in the parameters -------------------------------

_EXACT: dict = {}


def _numerator_polynomials(mapping: SectorMapping, family: Family, powers: tuple):
    """prod_j (image of D_j)^powers[j] over the numerator positions, expanded exactly:
    {propagator exponents: {parameter exponents: Fraction}}."""
    key = (family.digest, mapping, powers)
    if key not in _EXACT:
        n, n_params = family.n, len(family.parameters)
        positions = [j for j in range(n) if not mapping.source >> j & 1]
        # polynomials over (D_1..D_N, parameters): exponent tuples of length N + n_params
        product = Polynomial({(0,) * (n + n_params): Fraction(1)})
        for j, k in zip(positions, powers):
            if not k:
                continue
            coeffs, const = mapping.images[j]
            linear = Polynomial({tuple(int(i == m) for i in range(n)) + (0,) * n_params: c
                                 for m, c in enumerate(coeffs) if c})
            linear = linear + Polynomial({(0,) * n + e: c for e, c in
                                          mapping_constant(const, family).items()})
            for _ in range(k):
                product = product * linear
        out: dict = {}
        for exps, c in product.items():
            out.setdefault(exps[:n], {})[exps[n:]] = c
        if len(_EXACT) > 4096:
            _EXACT.clear()
        _EXACT[key] = out
    return _EXACT[key]


def exact_relation(mapping: SectorMapping, family: Family, integral) -> list:
    """The relation of ``integral`` under ``mapping`` as ``[(integral, {parameter exponents:
    Fraction})]``: I(a) - sum_b c_b I(b), terms in zero sectors dropped, equal terms merged."""
    a = tuple(int(x) for x in integral)
    n = family.n
    base = [0] * n
    for source_line, target_line in mapping.line_map:
        base[target_line] = a[source_line]
    powers = tuple(-a[j] for j in range(n) if not mapping.source >> j & 1)
    zeros = zero_sectors(family)
    unit = (0,) * len(family.parameters)
    terms: dict = {a: {unit: Fraction(1)}}
    for exps, poly in _numerator_polynomials(mapping, family, powers).items():
        b = tuple(x - e for x, e in zip(base, exps))
        if sum(1 << i for i, x in enumerate(b) if x > 0) in zeros:
            continue
        into = terms.setdefault(b, {})
        for k, v in poly.items():
            into[k] = into.get(k, 0) - v
    return [(b, {k: v for k, v in p.items() if v}) for b, p in terms.items()
            if any(p.values())]


# -- a mapping checked at the point it is used at -------------------------------------------

_VERIFIED: dict = {}


def check_at_point(symmetries: Symmetries, family: Family, point: dict) -> None:
    """Every mapping must carry its sector's U and F onto the target's at ``point`` (equal
    integrals have equal Symanzik polynomials up to relabelling the Feynman parameters).  A
    mapping that holds only for special kinematics fails here, at the values it is used at;
    SymmetryError names the sector and the way to proceed.  Exact arithmetic over Fractions on
    the cached coefficient tables of U and F (sympy only for hand-made symmetries without them)."""
    values = [None if s == family.dimension else v for s, v in zip(family.parameters,
                                                                     _values(family, point))]
    key = (family.digest, symmetries, tuple(values))
    if key in _VERIFIED:
        return
    symanzik = symmetries.symanzik
    if symanzik is None:
        from ibp_evolve.reducer.symmetry_search import symanzik_terms  # sympy
        symanzik = symanzik_terms(family)
    at_point = [{x: evaluate(dict(coeff), values) for x, coeff in poly} for poly in symanzik]
    for m in symmetries.mappings + symmetries.automorphisms:
        relabel = dict(m.line_map)
        for name, poly in zip(("U", "F"), at_point):
            image, target = {}, {}
            for x, c in poly.items():
                if not c:
                    continue
                if all(e == 0 or m.source >> j & 1 for j, e in enumerate(x)):
                    moved = [0] * family.n
                    for j, e in enumerate(x):
                        if e:
                            moved[relabel[j]] = e
                    image[tuple(moved)] = c
                if all(e == 0 or m.target >> j & 1 for j, e in enumerate(x)):
                    target[x] = c
            if image != target:
                bits = lambda s: ",".join("1" if s >> i & 1 else "0"  # noqa: E731
                                          for i in range(family.n))
                shown = ", ".join(f"{k}={v}" for k, v in point.items() if k != "d")
                raise SymmetryError(
                    f"family '{family.name}': sector {m.source} ({bits(m.source)}) maps onto "
                    f"sector {m.target} ({bits(m.target)}) only for special kinematics: their "
                    f"{name} polynomials differ at {shown or 'the point'}; rerun with "
                    "--symmetries off to proceed")
    _VERIFIED[key] = True


def symmetries_at(family: Family, point: dict) -> Symmetries:
    """The family's sector symmetries, checked at ``point``."""
    symmetries = family_symmetries(family)
    check_at_point(symmetries, family, point)
    return symmetries
