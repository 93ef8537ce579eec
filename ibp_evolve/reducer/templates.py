"""Symbolic IBP and Lorentz-invariance templates of a family, cached on disk.

A *template* is one identity written for a generic integral I(a_1..a_N):

    sum_k  c_k(a, d, kinematics) * I(a + shift_k) = 0

with polynomial coefficients.  Templates are derived once with sympy and stored as plain
numbers (shift vectors and monomial tables) so that instantiating them for thousands of seeds
at a numeric point is pure array arithmetic (see :mod:`ibp_evolve.reducer.system`).

The identities themselves are derived in :mod:`ibp_evolve.reducer.identities`; sympy is
imported only when a family's templates are not cached yet.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

# Re-exported: the modules that cache derived data import these from here.
from ibp_evolve.reducer.cache import CacheDirError, atomic_write_text, cache_dir  # noqa: F401
from ibp_evolve.reducer.family import Family

# Bump when the derivation or the stored format changes: it is part of the cache key.
TEMPLATE_FORMAT = 1


@dataclass(frozen=True)
class TemplateSet:
    """All identities of a family as numeric tables.

    Terms are flattened template-major: term k belongs to ``term_template[k]`` and shifts the
    seed by ``term_shift[k]``.  Its coefficient is sum over monomials m with ``mono_term[m]
    == k`` of ``mono_coeff[m] * prod(a**mono_aexp[m]) * prod(params**mono_pexp[m])``, params
    being the family's (dimension, kinematic symbols...).
    """

    names: tuple[str, ...]  # e.g. "IBP(k1, p1)", "LI(p1, p2)"
    term_template: np.ndarray  # (K,) int64
    term_shift: np.ndarray  # (K, N) int64
    mono_term: np.ndarray  # (M,) int64
    mono_aexp: np.ndarray  # (M, N) int64
    mono_pexp: np.ndarray  # (M, P) int64
    mono_coeff: tuple[Fraction, ...]  # (M,)
    seconds: float = 0.0  # time spent deriving (0 when loaded from cache)

    @property
    def n_templates(self) -> int:
        return len(self.names)

    @property
    def n_terms(self) -> int:
        return len(self.term_template)

    def to_json(self) -> str:
        return json.dumps({
            "format": TEMPLATE_FORMAT, "names": list(self.names),
            "term_template": self.term_template.tolist(), "term_shift": self.term_shift.tolist(),
            "mono_term": self.mono_term.tolist(), "mono_aexp": self.mono_aexp.tolist(),
            "mono_pexp": self.mono_pexp.tolist(),
            "mono_coeff": [[c.numerator, c.denominator] for c in self.mono_coeff],
        })

    @classmethod
    def from_json(cls, text: str, n: int, n_params: int) -> "TemplateSet":
        data = json.loads(text)
        if data.get("format") != TEMPLATE_FORMAT:
            raise ValueError("stale template cache")
        return cls(
            names=tuple(data["names"]),
            term_template=np.asarray(data["term_template"], dtype=np.int64),
            term_shift=np.asarray(data["term_shift"], dtype=np.int64).reshape(-1, n),
            mono_term=np.asarray(data["mono_term"], dtype=np.int64),
            mono_aexp=np.asarray(data["mono_aexp"], dtype=np.int64).reshape(-1, n),
            mono_pexp=np.asarray(data["mono_pexp"], dtype=np.int64).reshape(-1, n_params),
            mono_coeff=tuple(Fraction(a, b) for a, b in data["mono_coeff"]),
        )


def templates(family: Family, use_cache: bool = True) -> TemplateSet:
    """The family's IBP (+ LI) templates, from the on-disk cache when possible."""
    path = cache_dir() / f"templates-{family.name}-{family.digest}-v{TEMPLATE_FORMAT}.json"
    if use_cache and path.exists():
        try:
            return TemplateSet.from_json(path.read_text(), family.n, len(family.parameters))
        except (ValueError, KeyError, json.JSONDecodeError):
            pass  # a stale or damaged cache entry is simply rebuilt
    result = derive_templates(family)
    if use_cache:
        atomic_write_text(path, result.to_json())
    return result


def derive_templates(family: Family) -> TemplateSet:
    """Derive the identities symbolically (sympy) and flatten them into tables."""
    import sympy

    from ibp_evolve.reducer.identities import index_symbols, symbolic_identities
    start = time.perf_counter()
    n = family.n
    a_syms = index_symbols(n)
    identities = symbolic_identities(family, a_syms)
    p_syms = [sympy.Symbol(s) for s in family.parameters]
    gens = a_syms + p_syms
    names, term_template, term_shift = [], [], []
    mono_term, mono_aexp, mono_pexp, mono_coeff = [], [], [], []
    for name, terms in identities:
        names.append(name)
        for shift in sorted(terms):
            poly = sympy.Poly(terms[shift], *gens)
            if poly.is_zero:
                continue
            k = len(term_template)
            term_template.append(len(names) - 1)
            term_shift.append(shift)
            for exps, coeff in poly.terms():
                mono_term.append(k)
                mono_aexp.append(exps[:n])
                mono_pexp.append(exps[n:])
                mono_coeff.append(Fraction(int(coeff.p), int(coeff.q)))
    n_params = len(p_syms)
    return TemplateSet(
        names=tuple(names),
        term_template=np.asarray(term_template, dtype=np.int64),
        term_shift=np.asarray(term_shift, dtype=np.int64).reshape(-1, n),
        mono_term=np.asarray(mono_term, dtype=np.int64),
        mono_aexp=np.asarray(mono_aexp, dtype=np.int64).reshape(-1, n),
        mono_pexp=np.asarray(mono_pexp, dtype=np.int64).reshape(-1, n_params),
        mono_coeff=tuple(mono_coeff),
        seconds=time.perf_counter() - start,
    )
