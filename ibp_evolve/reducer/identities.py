"""The IBP and Lorentz-invariance identities of a family, derived symbolically (sympy).

Derivation (DESIGN.md §1).  With D_j = sum_{u,v} Q_j[u,v] u.v + m_j over all momenta,
  IBP(k_i, v):  d*delta(v = k_i) I(a) - sum_j a_j (v . dD_j/dk_i) I(a + e_j) = 0,
  LI(p_e < p_f): sum_n [(p_e.p_n)(p_f . d/dp_n) - (p_f.p_n)(p_e . d/dp_n)] I = 0,
where dD_j/dq = 2 sum_w Q_j[q,w] w, and every scalar product that depends on a loop momentum
is rewritten through the propagators, S = A^{-1}(D - C).  A factor D_m multiplying
I(a + e_j) lowers index m: I(a + e_j - e_m).

:mod:`ibp_evolve.reducer.templates` flattens them into numeric tables and caches those, so this
module (and sympy) is loaded only for a family seen for the first time.
"""

from __future__ import annotations

import sympy

from ibp_evolve.reducer.family import Family, loop_scalar_product_basis, loop_scalar_product_matrix


def index_symbols(n: int) -> list[sympy.Symbol]:
    """The indices a_1..a_N as private symbols: a family may name a kinematic symbol or a mass
    ``a1`` (a plain Symbol("a1") would merge with it), and each call makes fresh ones, so the
    caller passes the same list to :func:`symbolic_identities` and to whatever reads its
    coefficients."""
    return [sympy.Dummy(f"a{i + 1}") for i in range(n)]


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


def symbolic_identities(family: Family, a_syms) -> list[tuple[str, dict]]:
    """[(name, {shift: coefficient expression})] for every IBP and LI identity, the indices
    being ``a_syms`` (from :func:`index_symbols`)."""
    sp = _ScalarProducts(family)
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
