"""Numeric IBP systems: the templates instantiated for a box of seeds at a point in GF(p).

Build once per (family, seed set, point, prime, ordering); afterwards choosing a subset of seeds
is a slice of equation ids, never a rebuild ("learn once, evaluate many").  Building is three
steps, each reusable: an :class:`Instantiator` turns seeds into entries keyed by integral, an
:class:`IndexCode` or :class:`OrderCode` maps integrals to int64 keys and back, and
:func:`assemble` numbers the columns; :mod:`ibp_evolve.reducer.rowcache` keeps the entries of
single seeds so that many seed sets share them.

Equation ``seed_id * n_templates + template_id`` is template ``template_id`` applied to seed
``seed_id``; an equation whose coefficients all vanish at this point is simply empty.  Columns
are the integrals that appear, numbered by the ordering: a larger column id is a more complex
integral.  Integrals of zero sectors are dropped from every equation (they vanish).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from ibp_evolve.reducer.family import Family, FamilyError
from ibp_evolve.reducer.templates import TemplateSet, templates
from ibp_evolve.reducer.modular import to_mod
from ibp_evolve.reducer.ordering import Ordering
from ibp_evolve.reducer.sectors import measures, zero_sectors


class PointError(ValueError):
    """A numeric point is missing a symbol or hits a pole modulo the prime."""


def parameter_residues(family: Family, point: dict, prime: int) -> np.ndarray:
    """Values of (dimension, kinematic symbols...) at ``point`` modulo ``prime``."""
    missing = [s for s in family.parameters if s not in point]
    if missing:
        raise PointError(f"point is missing a value for {', '.join(missing)}")
    return np.array([to_mod(Fraction(point[s]), prime) for s in family.parameters],
                    dtype=np.int64)


def _powmod_table(values: np.ndarray, exps: np.ndarray, prime: int) -> np.ndarray:
    """prod_i values[..., i] ** exps[i] mod prime for small exponents, vectorised."""
    out = np.ones(values.shape[:-1], dtype=np.int64)
    for i, e in enumerate(exps):
        for _ in range(int(e)):
            out = out * values[..., i] % prime
    return out


class Instantiator:
    """The templates of a family at one point mod one prime, ready to be applied to seeds.

    What depends only on the point (the monomials' values, grouped by their power pattern in
    the indices a) is computed once here; :meth:`coefficients` then costs one pass of array
    arithmetic per pattern over the seeds.
    """

    def __init__(self, family: Family, point: dict, prime: int,
                 template_set: TemplateSet | None = None):
        self.family = family
        self.prime = prime
        self.ts = ts = template_set or templates(family)
        params = parameter_residues(family, point, prime)
        mono_val = np.array([to_mod(c, prime) for c in ts.mono_coeff], dtype=np.int64)
        for m in range(len(mono_val)):
            mono_val[m] = (mono_val[m] * _powmod_table(params[None, :], ts.mono_pexp[m], prime)[0]
                           % prime)
        # Group by the monomial in the indices a: few distinct patterns (1, a_j, a_j a_k ...).
        patterns, pattern_of = np.unique(ts.mono_aexp, axis=0, return_inverse=True)
        pattern_of = pattern_of.ravel()
        weights = np.zeros((len(patterns), ts.n_terms), dtype=np.int64)
        for m in range(len(mono_val)):
            u, k = pattern_of[m], ts.mono_term[m]
            weights[u, k] = (weights[u, k] + mono_val[m]) % prime
        self.patterns, self.weights = patterns, weights
        n = family.n
        zeros = zero_sectors(family)
        self.zero_table = (np.array([s in zeros for s in range(1 << n)], dtype=bool)
                           if n <= 20 else None)
        self.zero_list = np.fromiter(zeros, dtype=np.int64)
        self.shift_lo = int(ts.term_shift.min(initial=0))
        self.shift_hi = int(ts.term_shift.max(initial=0))

    def coefficients(self, seeds: np.ndarray) -> np.ndarray:
        """Coefficient of every (seed, term) pair mod prime, shape (n_seeds, n_terms)."""
        prime = self.prime
        seeds_mod = np.mod(seeds, prime)
        out = np.zeros((len(seeds), self.ts.n_terms), dtype=np.int64)
        for u, exps in enumerate(self.patterns):
            basis = _powmod_table(seeds_mod, exps, prime)
            out = (out + basis[:, None] * self.weights[u][None, :] % prime) % prime
        return out

    def rows(self, seeds: np.ndarray, code: "IndexCode | OrderCode"):
        """The equations of ``seeds`` as flat entries grouped by equation.

        Returns (keys, vals, counts): ``keys``/``vals`` the integral key and coefficient of each
        entry, ordered by (seed, term) with template-major terms, so that entries come grouped
        by equation ``seed * n_templates + template``; ``counts[e]`` the number of entries of
        equation e.  Zero coefficients and integrals of zero sectors are dropped.
        """
        seeds = np.ascontiguousarray(np.asarray(seeds, dtype=np.int64).reshape(-1, self.family.n))
        n_seeds, n = seeds.shape
        ts = self.ts
        coeffs = self.coefficients(seeds)
        shifts = ts.term_shift
        weights = np.int64(1) << np.arange(n, dtype=np.int64)
        sector = (((seeds[:, None, :] + shifts[None, :, :]) > 0) * weights).sum(axis=2)
        if self.zero_table is not None:
            alive = ~self.zero_table[sector]
        else:
            alive = ~np.isin(sector, self.zero_list)
        keep = ((coeffs != 0) & alive).ravel()
        keys = code.entry_keys(seeds, shifts, keep)
        eq_of_entry = (np.arange(n_seeds, dtype=np.int64)[:, None] * ts.n_templates
                       + ts.term_template[None, :]).ravel()[keep]
        counts = np.bincount(eq_of_entry, minlength=n_seeds * ts.n_templates)
        return keys, coeffs.ravel()[keep], counts


@dataclass(frozen=True)
class IndexCode:
    """Integrals with indices in lo..hi as int64 keys: key = sum_i (a_i - lo) * radix**i."""

    lo: int
    radix: int
    place: np.ndarray

    @classmethod
    def for_range(cls, family: Family, lo: int, hi: int) -> "IndexCode":
        n = family.n
        radix = hi - lo + 1
        if radix ** n >= 2 ** 62:
            raise FamilyError(f"family '{family.name}': index range {lo}..{hi} is too wide for "
                              f"{n} indices in one system")
        return cls(lo, radix, radix ** np.arange(n, dtype=np.int64))

    def encode(self, integrals: np.ndarray) -> np.ndarray:
        return (np.asarray(integrals, dtype=np.int64) - self.lo) @ self.place

    def decode(self, keys: np.ndarray) -> np.ndarray:
        return (np.asarray(keys)[:, None] // self.place[None, :]) % self.radix + self.lo

    sorts_by_ordering = False

    def entry_keys(self, seeds: np.ndarray, shifts: np.ndarray, keep: np.ndarray) -> np.ndarray:
        """Keys of seed + shift for every (seed, term) pair where ``keep`` (flat) holds."""
        return (self.encode(seeds)[:, None] + (shifts @ self.place)[None, :]).ravel()[keep]

    def contains(self, row: np.ndarray) -> bool:
        return bool(row.min() >= self.lo and row.max() < self.lo + self.radix)


@dataclass(frozen=True)
class OrderCode:
    """Integrals as int64 keys that sort like an ordering: sorting keys sorts by complexity.

    The key is a mixed-radix number whose digits are, most significant first, "not a preferred
    master" (when the family has any), each criterion of the ordering (t, sector, r, s, d), then
    the indices a_1..a_N.  Numbering the columns of a system is then one sort of integers
    instead of a lexicographic sort over all criteria per system.  Only for index ranges whose
    digits fit in 62 bits (:meth:`for_range` returns None otherwise).
    """

    index: IndexCode
    criteria: tuple[str, ...]
    spans: tuple[int, ...]
    lex_place: np.ndarray           # radix**(N-1-i): a_1 is the most significant index
    index_span: int                 # radix**N
    preferred: np.ndarray | None    # sorted IndexCode keys of the preferred masters

    sorts_by_ordering = True

    @classmethod
    def for_range(cls, family: Family, ordering: Ordering, lo: int, hi: int):
        index = IndexCode.for_range(family, lo, hi)
        n = family.n
        criteria = []
        for crit in ordering.criteria:
            if crit == "indices":
                break  # the indices make the order total: later criteria never decide
            criteria.append(crit)
        r_span = n * max(hi, 0) + 1
        span_of = {"t": n + 1, "sector": 1 << n, "r": r_span, "s": n * max(-lo, 0) + 1,
                   "d": r_span}
        spans = tuple(span_of[c] for c in criteria)
        preferred = None
        if family.preferred_masters:
            rows = np.array(sorted(family.preferred_masters), dtype=np.int64).reshape(-1, n)
            inside = [r for r in rows if index.contains(r)]
            preferred = np.sort(index.encode(np.array(inside).reshape(-1, n)))
        total = (2 if preferred is not None else 1) * index.radix ** n
        for span in spans:
            total *= span
        if total >= 2 ** 62:
            return None
        lex_place = index.radix ** np.arange(n - 1, -1, -1, dtype=np.int64)
        return cls(index, tuple(criteria), spans, lex_place, int(index.radix ** n), preferred)

    @property
    def lo(self) -> int:
        return self.index.lo

    @property
    def radix(self) -> int:
        return self.index.radix

    def encode(self, integrals: np.ndarray) -> np.ndarray:
        a = np.asarray(integrals, dtype=np.int64).reshape(-1, len(self.lex_place))
        key = np.zeros(len(a), dtype=np.int64)
        if self.preferred is not None and len(self.preferred):
            # a binary search in the few preferred masters (np.isin costs more on small input)
            index_keys = self.index.encode(a)
            at = np.minimum(np.searchsorted(self.preferred, index_keys), len(self.preferred) - 1)
            key += self.preferred[at] != index_keys
        elif self.preferred is not None:
            key += 1
        if self.criteria:
            m = measures(a)
            for crit, span in zip(self.criteria, self.spans):
                key = key * span + m[crit]
        return key * self.index_span + (a - self.index.lo) @ self.lex_place

    def decode(self, keys: np.ndarray) -> np.ndarray:
        low = np.asarray(keys, dtype=np.int64) % self.index_span
        return (low[:, None] // self.lex_place[None, :]) % self.index.radix + self.index.lo

    def entry_keys(self, seeds: np.ndarray, shifts: np.ndarray, keep: np.ndarray) -> np.ndarray:
        n = seeds.shape[1]
        return self.encode((seeds[:, None, :] + shifts[None, :, :]).reshape(-1, n)[keep])

    def contains(self, row: np.ndarray) -> bool:
        return self.index.contains(row)


LEAN_UNIQUE_ENTRIES = 1 << 22  # above this many entries, save memory rather than time


def _unique_inverse(keys: np.ndarray, extra_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct keys of ``keys`` and ``extra_keys``, position of each of ``keys``).

    The few extra keys (targets) are merged afterwards instead of concatenated first, which
    would copy every entry once more.  Small inputs use np.unique(return_inverse), the fastest;
    past LEAN_UNIQUE_ENTRIES a sorted copy and a binary search per entry hold about half as
    many bytes per entry at once (the tens of millions of entries of a large seed set).
    """
    extra_keys = np.unique(np.asarray(extra_keys, dtype=np.int64))
    if len(keys) > LEAN_UNIQUE_ENTRIES:
        ordered = np.sort(keys)
        starts = np.ones(len(ordered), dtype=bool)
        np.not_equal(ordered[1:], ordered[:-1], out=starts[1:])
        unique_keys = np.union1d(ordered[starts], extra_keys)
        del ordered, starts
        return unique_keys, np.searchsorted(unique_keys, keys)
    unique_keys, inverse = np.unique(keys, return_inverse=True)
    inverse = inverse.ravel()
    if len(unique_keys):
        at = np.minimum(np.searchsorted(unique_keys, extra_keys), len(unique_keys) - 1)
        extra_keys = extra_keys[unique_keys[at] != extra_keys]
    if len(extra_keys):  # shift each position by the number of new keys below it
        inverse += np.searchsorted(extra_keys, unique_keys)[inverse]
        unique_keys = np.sort(np.concatenate([unique_keys, extra_keys]))
    return unique_keys, inverse


def assemble(family: Family, seeds: np.ndarray, ordering: Ordering, n_templates: int,
             prime: int, code: IndexCode | OrderCode, keys: np.ndarray, vals: np.ndarray,
             counts: np.ndarray, extra_integrals=(), seconds_before: float = 0.0,
             start: float | None = None) -> "EquationSystem":
    """An EquationSystem from entries grouped by equation (see :meth:`Instantiator.rows`):
    number the integrals that appear (and ``extra_integrals``) by the ordering."""
    start = time.perf_counter() if start is None else start
    extra = np.asarray(list(extra_integrals), dtype=np.int64).reshape(-1, family.n)
    unique_keys, inverse = _unique_inverse(keys, code.encode(extra))
    integrals = code.decode(unique_keys)
    if code.sorts_by_ordering:  # the keys sorted are the integrals ordered: no renumbering
        rank = None
        col_integrals = integrals
    else:
        rank = ordering.ranks(integrals, frozenset(family.preferred_masters))
        col_integrals = np.empty_like(integrals)
        col_integrals[rank] = integrals
    eq_ptr = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=eq_ptr[1:])
    return EquationSystem(
        family=family, seeds=seeds, prime=prime, ordering=ordering,
        n_templates=n_templates, integrals=col_integrals, eq_ptr=eq_ptr,
        eq_cols=inverse if rank is None else rank[inverse], eq_vals=vals,
        seconds=seconds_before + time.perf_counter() - start,
        _code=code, _sorted_keys=unique_keys,
        _key_columns=np.arange(len(unique_keys), dtype=np.int64) if rank is None else rank,
    )


@dataclass
class EquationSystem:
    """The instantiated equations of a seed box; see the module docstring for the layout."""

    family: Family
    seeds: np.ndarray  # (n_seeds, N)
    prime: int
    ordering: Ordering
    n_templates: int
    integrals: np.ndarray  # (n_cols, N), row c is the integral of column c
    eq_ptr: np.ndarray
    eq_cols: np.ndarray
    eq_vals: np.ndarray
    seconds: float = 0.0
    _lookup: dict = field(default_factory=dict, repr=False)
    # set by assemble(): the integrals' keys sorted, and the column of each, for column_of
    _code: IndexCode | OrderCode | None = field(default=None, repr=False)
    _sorted_keys: np.ndarray | None = field(default=None, repr=False)
    _key_columns: np.ndarray | None = field(default=None, repr=False)

    @property
    def n_columns(self) -> int:
        return len(self.integrals)

    @property
    def n_equations(self) -> int:
        return len(self.eq_ptr) - 1

    def equations_of(self, seed_ids) -> np.ndarray:
        """Equation ids of the given seeds (all templates)."""
        seed_ids = np.asarray(seed_ids, dtype=np.int64)
        return (seed_ids[:, None] * self.n_templates
                + np.arange(self.n_templates, dtype=np.int64)[None, :]).ravel()

    def seed_of_equation(self, eq_ids) -> np.ndarray:
        return np.asarray(eq_ids, dtype=np.int64) // self.n_templates

    def column_of(self, integral) -> int:
        """Column id of an integral, or -1 when it appears in no equation of the box."""
        if self._code is not None:  # a binary search: no dict over every column per system
            row = np.asarray([int(x) for x in integral], dtype=np.int64)
            code = self._code
            if len(row) != self.family.n or not code.contains(row):
                return -1
            key = int(code.encode(row[None, :])[0])
            pos = int(np.searchsorted(self._sorted_keys, key))
            if pos < len(self._sorted_keys) and self._sorted_keys[pos] == key:
                return int(self._key_columns[pos])
            return -1
        if not self._lookup:
            self._lookup = {tuple(row): c for c, row in enumerate(self.integrals.tolist())}
        return self._lookup.get(tuple(int(x) for x in integral), -1)

    def integral(self, column: int) -> tuple[int, ...]:
        return tuple(int(x) for x in self.integrals[column])


def build_system(family: Family, seeds: np.ndarray, point: dict, prime: int,
                 ordering: Ordering | None = None, extra_integrals=(),
                 template_set: TemplateSet | None = None) -> EquationSystem:
    """Instantiate every template on every seed at ``point`` mod ``prime``.

    ``extra_integrals`` (e.g. targets and preferred masters) get columns even when no
    equation contains them, so that they can always be looked up.
    """
    start = time.perf_counter()
    ordering = ordering or Ordering.parse()
    seeds = np.ascontiguousarray(np.asarray(seeds, dtype=np.int64).reshape(-1, family.n))
    inst = Instantiator(family, point, prime, template_set)
    extra = np.asarray(list(extra_integrals), dtype=np.int64).reshape(-1, family.n)
    lo = min(int(seeds.min(initial=0)) + inst.shift_lo, int(extra.min(initial=0)))
    hi = max(int(seeds.max(initial=0)) + inst.shift_hi, int(extra.max(initial=0)))
    code = IndexCode.for_range(family, lo, hi)
    keys, vals, counts = inst.rows(seeds, code)
    return assemble(family, seeds, ordering, inst.ts.n_templates, prime, code, keys, vals,
                    counts, extra, start=start)
