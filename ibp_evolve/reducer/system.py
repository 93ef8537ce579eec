"""Numeric IBP systems: the templates instantiated for a box of seeds at a point in GF(p).

Build once per (family, seed box, point, prime, ordering); afterwards choosing a subset of seeds
is a slice of equation ids, never a rebuild ("learn once, evaluate many").

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
from ibp_evolve.reducer.sectors import zero_sectors


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


def term_coefficients(ts: TemplateSet, seeds: np.ndarray, params: np.ndarray,
                      prime: int) -> np.ndarray:
    """Coefficient of every (seed, term) pair mod prime, shape (n_seeds, n_terms)."""
    n_seeds = len(seeds)
    # Monomial coefficients at the point: rational coefficient times powers of the parameters.
    mono_val = np.array([to_mod(c, prime) for c in ts.mono_coeff], dtype=np.int64)
    for m in range(len(mono_val)):
        mono_val[m] = mono_val[m] * _powmod_table(params[None, :], ts.mono_pexp[m], prime)[0] % prime
    # Group by the monomial in the indices a: few distinct patterns (1, a_j, a_j a_k ...).
    patterns, pattern_of = np.unique(ts.mono_aexp, axis=0, return_inverse=True)
    pattern_of = pattern_of.ravel()
    weights = np.zeros((len(patterns), ts.n_terms), dtype=np.int64)
    for m in range(len(mono_val)):
        u, k = pattern_of[m], ts.mono_term[m]
        weights[u, k] = (weights[u, k] + mono_val[m]) % prime
    seeds_mod = np.mod(seeds, prime)
    out = np.zeros((n_seeds, ts.n_terms), dtype=np.int64)
    for u, exps in enumerate(patterns):
        basis = _powmod_table(seeds_mod, exps, prime)
        out = (out + basis[:, None] * weights[u][None, :] % prime) % prime
    return out


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
    ts = template_set or templates(family)
    seeds = np.ascontiguousarray(np.asarray(seeds, dtype=np.int64).reshape(-1, family.n))
    n_seeds, n = seeds.shape
    params = parameter_residues(family, point, prime)
    coeffs = term_coefficients(ts, seeds, params, prime)

    # Integral of each (seed, term): seed + shift; drop zero coefficients and zero sectors.
    shifts = ts.term_shift
    weights = np.int64(1) << np.arange(n, dtype=np.int64)
    sector = (((seeds[:, None, :] + shifts[None, :, :]) > 0) * weights).sum(axis=2)
    zeros = zero_sectors(family)
    zero_table = np.array([s in zeros for s in range(1 << n)], dtype=bool) if n <= 20 else None
    if zero_table is not None:
        alive = ~zero_table[sector]
    else:
        alive = ~np.isin(sector, np.fromiter(zeros, dtype=np.int64))
    keep = (coeffs != 0) & alive

    extra = np.asarray(list(extra_integrals), dtype=np.int64).reshape(-1, n)
    lo = min(int(seeds.min(initial=0)) + int(shifts.min(initial=0)), int(extra.min(initial=0)))
    hi = max(int(seeds.max(initial=0)) + int(shifts.max(initial=0)), int(extra.max(initial=0)))
    radix = hi - lo + 1
    if radix ** n >= 2 ** 62:
        raise FamilyError(f"family '{family.name}': index range {lo}..{hi} is too wide for "
                          f"{n} indices in one system")
    place = radix ** np.arange(n, dtype=np.int64)
    seed_keys = (seeds - lo) @ place
    shift_keys = shifts @ place
    keys = seed_keys[:, None] + shift_keys[None, :]

    flat_keep = keep.ravel()
    entry_keys = keys.ravel()[flat_keep]
    extra_keys = (extra - lo) @ place
    unique_keys, inverse = np.unique(np.concatenate([entry_keys, extra_keys]),
                                     return_inverse=True)
    inverse = inverse.ravel()[: len(entry_keys)]
    integrals = (unique_keys[:, None] // place[None, :]) % radix + lo
    preferred = frozenset(family.preferred_masters)
    rank = ordering.ranks(integrals, preferred)
    col_integrals = np.empty_like(integrals)
    col_integrals[rank] = integrals

    eq_of_entry = (np.arange(n_seeds, dtype=np.int64)[:, None] * ts.n_templates
                   + ts.term_template[None, :]).ravel()[flat_keep]
    counts = np.bincount(eq_of_entry, minlength=n_seeds * ts.n_templates)
    eq_ptr = np.zeros(n_seeds * ts.n_templates + 1, dtype=np.int64)
    np.cumsum(counts, out=eq_ptr[1:])
    # entries are already grouped by equation: row-major (seed, term) with template-major terms
    return EquationSystem(
        family=family, seeds=seeds, prime=prime, ordering=ordering,
        n_templates=ts.n_templates, integrals=col_integrals, eq_ptr=eq_ptr,
        eq_cols=rank[inverse], eq_vals=coeffs.ravel()[flat_keep],
        seconds=time.perf_counter() - start,
    )
