"""Symbolic IBP and Lorentz-invariance templates of a family, cached on disk.

A *template* is one identity written for a generic integral I(a_1..a_N):

    sum_k  c_k(a, d, kinematics) * I(a + shift_k) = 0

with polynomial coefficients.  Templates are derived once with sympy and stored as plain
numbers (shift vectors and monomial tables) so that instantiating them for thousands of seeds
at a numeric point is pure array arithmetic (see :mod:`ibp_evolve.reducer.system`).

Derivation (DESIGN.md §1).  With D_j = sum_{u,v} Q_j[u,v] u.v + m_j over all momenta,
  IBP(k_i, v):  d*delta(v = k_i) I(a) - sum_j a_j (v . dD_j/dk_i) I(a + e_j) = 0,
  LI(p_e < p_f): sum_n [(p_e.p_n)(p_f . d/dp_n) - (p_f.p_n)(p_e . d/dp_n)] I = 0,
where dD_j/dq = 2 sum_w Q_j[q,w] w, and every scalar product that depends on a loop momentum
is rewritten through the propagators, S = A^{-1}(D - C).  A factor D_m multiplying
I(a + e_j) lowers index m: I(a + e_j - e_m).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import sympy

from ibp_evolve.reducer.family import Family, loop_scalar_product_basis, loop_scalar_product_matrix

# Bump when the derivation or the stored format changes: it is part of the cache key.
TEMPLATE_FORMAT = 1


class CacheDirError(OSError):
    """The folder for derived data cannot be used (a file, unwritable): bad input, exit 2."""


def cache_dir() -> Path:
    """Where derived data (templates, masters) is cached; IBP_EVOLVE_CACHE overrides."""
    root = os.environ.get("IBP_EVOLVE_CACHE")
    path = Path(root) if root else Path.home() / ".cache" / "ibp-evolve"
    where = f"IBP_EVOLVE_CACHE={root}" if root else str(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise CacheDirError(f"the cache folder {where} is a file, not a folder") from None
    except OSError as exc:
        raise CacheDirError(f"cannot create the cache folder {where}: "
                            f"{exc.strerror or exc}") from None
    if not os.access(path, os.W_OK):
        raise CacheDirError(f"the cache folder {where} is not writable")
    return path


def atomic_write_text(path: Path, text: str) -> None:
    """Write a file so that readers see either the old or the new content, never half."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


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
    start = time.perf_counter()
    identities = symbolic_identities(family)
    n = family.n
    a_syms = index_symbols(n)
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


def index_symbols(n: int) -> list[sympy.Symbol]:
    return [sympy.Symbol(f"a{i + 1}") for i in range(n)]


class _ScalarProducts:
    """Rewrites u.v for any two momenta as (sum_m c_m D_m) + constant."""

    def __init__(self, family: Family):
        self.family = family
        n_loops, n_mom = family.n_loops, len(family.momenta)
        self.basis = {uv: i for i, uv in enumerate(loop_scalar_product_basis(n_loops, n_mom))}
        matrix = loop_scalar_product_matrix(family.quadratic_forms, n_loops, n_mom)
        self.inverse = matrix.inv()
        # C_j: the propagator's momentum-free part, external products replaced by kinematics.
        self.offsets = []
        for q, const in zip(family.quadratic_forms, family.constants):
            c = const
            for e in range(family.n_external):
                for f in range(family.n_external):
                    coeff = q[n_loops + e, n_loops + f]
                    if coeff != 0:
                        c += coeff * family.kinematic_product(e, f)
            self.offsets.append(sympy.expand(c))

    def dot(self, u: int, v: int) -> tuple[dict[int, sympy.Expr], sympy.Expr]:
        """u.v as ({m: coefficient of D_m}, constant)."""
        n_loops = self.family.n_loops
        if u >= n_loops and v >= n_loops:
            return {}, self.family.kinematic_product(u - n_loops, v - n_loops)
        alpha = self.basis[(min(u, v), max(u, v))]
        coeffs = {m: self.inverse[alpha, m] for m in range(self.family.n)
                  if self.inverse[alpha, m] != 0}
        constant = -sum((c * self.offsets[m] for m, c in coeffs.items()), sympy.Integer(0))
        return coeffs, sympy.expand(constant)


def _derivative_dot(family: Family, sp: _ScalarProducts, j: int, q: int, v_coeffs: dict):
    """(v . dD_j/dq) for v = sum_u v_coeffs[u] u, as ({m: coeff}, constant)."""
    form = family.quadratic_forms[j]
    out: dict[int, sympy.Expr] = {}
    constant = sympy.Integer(0)
    for w in range(len(family.momenta)):
        if form[q, w] == 0:
            continue
        for u, cu in v_coeffs.items():
            coeffs, const = sp.dot(u, w)
            factor = 2 * form[q, w] * cu
            constant += factor * const
            for m, c in coeffs.items():
                out[m] = out.get(m, 0) + factor * c
    return out, constant


def _add_derivative_terms(terms: dict, family: Family, a_syms, j: int, weight, lin, const):
    """Add  -a_j * weight * (sum_m lin[m] D_m + const) * I(a + e_j)  to terms."""
    n = family.n
    raise_j = [0] * n
    raise_j[j] = 1
    if const != 0:
        key = tuple(raise_j)
        terms[key] = terms.get(key, 0) - a_syms[j] * weight * const
    for m, c in lin.items():
        if c == 0:
            continue
        shift = list(raise_j)
        shift[m] -= 1
        key = tuple(shift)
        terms[key] = terms.get(key, 0) - a_syms[j] * weight * c


def symbolic_identities(family: Family) -> list[tuple[str, dict]]:
    """[(name, {shift: coefficient expression})] for every IBP and LI identity."""
    sp = _ScalarProducts(family)
    a_syms = index_symbols(family.n)
    dim = sympy.Symbol(family.dimension)
    n_loops = family.n_loops
    momenta = family.momenta
    out = []
    for i in range(n_loops):
        for v in range(len(momenta)):
            terms: dict = {}
            if v == i:
                zero = tuple([0] * family.n)
                terms[zero] = dim
            for j in range(family.n):
                lin, const = _derivative_dot(family, sp, j, i, {v: 1})
                _add_derivative_terms(terms, family, a_syms, j, 1, lin, const)
            out.append((f"IBP({momenta[i]}, {momenta[v]})", _expanded(terms)))
    if family.lorentz_invariance:
        n_ext = family.n_external
        for e in range(n_ext):
            for f in range(e + 1, n_ext):
                terms = {}
                for nn in range(n_ext):
                    q = n_loops + nn
                    w_ef = family.kinematic_product(e, nn)  # p_e . p_n
                    w_fn = family.kinematic_product(f, nn)  # p_f . p_n
                    for j in range(family.n):
                        lin_f, c_f = _derivative_dot(family, sp, j, q, {n_loops + f: 1})
                        _add_derivative_terms(terms, family, a_syms, j, w_ef, lin_f, c_f)
                        lin_e, c_e = _derivative_dot(family, sp, j, q, {n_loops + e: 1})
                        _add_derivative_terms(terms, family, a_syms, j, -w_fn, lin_e, c_e)
                name = f"LI({family.external_momenta[e]}, {family.external_momenta[f]})"
                out.append((name, _expanded(terms)))
    return out


def _expanded(terms: dict) -> dict:
    out = {}
    for shift, expr in terms.items():
        expr = sympy.expand(expr)
        if expr != 0:
            out[shift] = expr
    return out
