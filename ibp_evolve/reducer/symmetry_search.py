"""Finding the sector symmetries of a family (sympy): the search that
:func:`ibp_evolve.reducer.symmetries.family_symmetries` runs once per family and caches.

What a mapping is, how it is searched for and verified: see :mod:`ibp_evolve.reducer.symmetries`.
Only discovery needs sympy; the cache holds everything a reduction needs at a point (mapping
constants as text our own grammar reads, U and F as coefficient tables) as plain data.
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import sympy

from ibp_evolve.reducer.expressions import parse_polynomial
from ibp_evolve.reducer.family import (Family, loop_scalar_product_basis,
                                       loop_scalar_product_matrix)
from ibp_evolve.reducer.modular import to_mod
from ibp_evolve.reducer.sectors import (lines_of, nonzero_subsectors, symanzik_polynomials,
                                        top_sector)
from ibp_evolve.reducer.symmetries import SectorMapping, Symmetries, SymmetryError

_GROUP_POINT_SEED = 1  # the random point at which automorphisms are compared


# -- line momenta and external maps ---------------------------------------------------------

def _line_momentum(q: sympy.Matrix):
    """(eps, c) with q = eps * c c^T and c rational, first non-zero entry positive; or None."""
    n = q.shape[0]
    diag = [u for u in range(n) if q[u, u] != 0]
    if not diag:
        return None
    u = diag[0]
    eps = 1 if q[u, u] > 0 else -1
    root = sympy.sqrt(eps * q[u, u])
    if not root.is_Rational:
        return None
    c = [eps * q[v, u] / root for v in range(n)]
    if any(not x.is_Rational for x in c):
        return None
    if any(q[v, w] != eps * c[v] * c[w] for v in range(n) for w in range(n)):
        return None
    return eps, tuple(Fraction(int(x.p), int(x.q)) for x in c)


def _normalised(vec):
    """The vector and its sign, scaled so that its first non-zero entry is positive."""
    for x in vec:
        if x != 0:
            sign = 1 if x > 0 else -1
            return tuple(sign * y for y in vec), sign
    return tuple(vec), 1


def external_maps(family: Family) -> list[tuple[tuple[Fraction, ...], ...]]:
    """Matrices P (rows: image of p_e over p'_1..p'_E) that preserve the kinematics.

    Candidates are the permutations of the legs p_1..p_E, p_{E+1} = -sum p, times +-1; the
    identity comes first.
    """
    e = family.n_external
    unit = [tuple(Fraction(int(i == j)) for j in range(e)) for i in range(e)]
    legs = unit + [tuple(Fraction(-1) for _ in range(e))]
    out, seen = [], set()
    for perm in itertools.permutations(range(e + 1)):
        for sign in (1, -1):
            rows = tuple(tuple(sign * x for x in legs[perm[i]]) for i in range(e))
            if rows in seen:
                continue
            seen.add(rows)
            if _preserves_kinematics(family, rows):
                out.append(rows)
    out.sort(key=lambda rows: rows != tuple(unit))
    return out


def _preserves_kinematics(family: Family, rows) -> bool:
    e = family.n_external
    for i in range(e):
        for j in range(i, e):
            image = sum((rows[i][a] * rows[j][b] * family.kinematic_product(a, b)
                         for a in range(e) for b in range(e) if rows[i][a] and rows[j][b]),
                        sympy.Integer(0))
            if sympy.expand(sympy.nsimplify(image) - family.kinematic_product(i, j)) != 0:
                return False
    return True


# -- sector fingerprints --------------------------------------------------------------------

def _fingerprints(family: Family, sectors) -> dict[int, tuple]:
    """A fingerprint invariant under relabelling the lines, from the supports of U and F."""
    u, f_poly, xs = symanzik_polynomials(family)
    u_terms = [m for m, c in sympy.Poly(u, *xs).terms() if c != 0] if u != 0 else []
    f_terms = [m for m, c in sympy.Poly(f_poly, *xs).terms() if c != 0] if f_poly != 0 else []
    out = {}
    for sector in sectors:
        lines = lines_of(sector)
        outside = [i for i in range(family.n) if not sector >> i & 1]
        us = [m for m in u_terms if all(m[i] == 0 for i in outside)]
        fs = [m for m in f_terms if all(m[i] == 0 for i in outside)]
        per_line = sorted((str(family.constants[j]),
                           sorted(m[j] for m in us), sorted(m[j] for m in fs)) for j in lines)
        out[sector] = (len(lines), len(us), len(fs), tuple(map(str, per_line)))
    return out


# -- the search -----------------------------------------------------------------------------

class _Search:
    def __init__(self, family: Family):
        self.family = family
        self.L, self.E = family.n_loops, family.n_external
        self.line = {}  # position -> (eps, c, mass)
        for j in family.line_positions:
            lm = _line_momentum(family.quadratic_forms[j])
            if lm is not None:
                self.line[j] = (lm[0], lm[1], sympy.expand(family.constants[j]))
        self.ext_maps = external_maps(family)
        # integer momentum vectors of the lines (the search works on integers)
        self.integral_vec = {j: [int(x) for x in c] for j, (eps, c, mass) in self.line.items()
                             if all(x.denominator == 1 for x in c)}
        self.sp_matrix_inv = loop_scalar_product_matrix(
            family.quadratic_forms, self.L, self.L + self.E).inv()
        self.sp_basis = loop_scalar_product_basis(self.L, self.L + self.E)
        # external part of every propagator: sum_{e,f} Q[e,f] p_e.p_f + constant
        self.ext_part = [self._external_value(q) + c
                         for q, c in zip(family.quadratic_forms, family.constants)]

    def _external_value(self, q):
        L, E = self.L, self.E
        return sympy.expand(sum((q[L + e, L + f] * self.family.kinematic_product(e, f)
                                 for e in range(E) for f in range(E)), sympy.Integer(0)))

    def mappable(self, sector: int) -> bool:
        return all(j in self.line for j in lines_of(sector))

    def basis_lines(self, sector: int):
        """L lines of the sector whose loop parts are linearly independent, or None."""
        chosen, rows = [], []
        for j in lines_of(sector):
            trial = rows + [list(self.line[j][1][:self.L])]
            if sympy.Matrix(trial).rank() == len(trial):
                chosen.append(j)
                rows = trial
            if len(chosen) == self.L:
                return chosen
        return None

    def find(self, source: int, target: int, first_only: bool):
        """Momentum maps of ``source`` onto ``target``: list of (line map, M as sympy Matrix).

        The search runs on integer arrays (it tries thousands of candidate maps; a map with
        fractional coefficients is not looked for); only the maps that carry every line onto
        a line become sympy matrices, to be verified.
        """
        L, E = self.L, self.E
        basis = self.basis_lines(source)
        if basis is None or not all(j in self.integral_vec for j in lines_of(source)) or \
                not all(j in self.integral_vec for j in lines_of(target)):
            return []
        cl = sympy.Matrix([[int(x) for x in self.integral_vec[j][:L]] for j in basis])
        det = int(cl.det())
        adj = np.array(cl.adjugate().tolist(), dtype=np.int64)  # cl^-1 = adj / det
        own_ext = np.array([self.integral_vec[j][L:] for j in basis], dtype=np.int64)
        target_lines = lines_of(target)
        lookup = {(self.line[m][0], tuple(self.integral_vec[m]), self.line[m][2]): m
                  for m in target_lines}
        source_vecs = np.array([self.integral_vec[j] for j in lines_of(source)], dtype=np.int64)
        found, seen = [], set()
        for pmat in self.ext_maps:
            p = np.array([[int(x) for x in row] for row in pmat], dtype=np.int64).reshape(E, E)
            shift = own_ext @ p
            for images in itertools.permutations(target_lines, L):
                if any(self.line[i][0] != self.line[j][0] or self.line[i][2] != self.line[j][2]
                       for i, j in zip(basis, images)):
                    continue
                image_vecs = np.array([self.integral_vec[m] for m in images], dtype=np.int64)
                for signs in itertools.product((1, -1), repeat=L):
                    rhs = image_vecs * np.array(signs, dtype=np.int64)[:, None]
                    rhs[:, L:] -= shift
                    num = adj @ rhs
                    if np.any(num % det):
                        continue
                    ab = num // det  # rows: k_i = sum A k' + sum B p'
                    if abs(round(np.linalg.det(ab[:, :L].astype(float)))) != 1:
                        continue
                    m_full = np.vstack([ab, np.hstack([np.zeros((E, L), np.int64), p])])
                    line_map = self._line_map(source, source_vecs, m_full, lookup)
                    if line_map is None:
                        continue
                    key = (line_map, m_full.tobytes())
                    if key in seen:
                        continue
                    seen.add(key)
                    found.append((line_map, sympy.Matrix(m_full.tolist())))
                    if first_only:
                        return found
        return found

    def _line_map(self, source, source_vecs, m_full, lookup):
        """Where each line of the source goes under the map, or None."""
        images = source_vecs @ m_full
        first = np.argmax(images != 0, axis=1)
        signs = np.sign(images[np.arange(len(images)), first])
        images = images * signs[:, None]
        line_map, used = [], set()
        for j, vec in zip(lines_of(source), images.tolist()):
            m = lookup.get((self.line[j][0], tuple(vec), self.line[j][2]))
            if m is None or m in used:
                return None
            used.add(m)
            line_map.append((j, m))
        return tuple(line_map)

    def images(self, m_full) -> list[tuple[tuple[Fraction, ...], sympy.Expr]]:
        """Each propagator after the momentum map, as propagator coefficients + constant."""
        out = []
        for q, const in zip(self.family.quadratic_forms, self.family.constants):
            qt = m_full.T * q * m_full
            svec = sympy.Matrix([[qt[u, v] if u == v else qt[u, v] + qt[v, u]
                                  for (u, v) in self.sp_basis]])
            coeffs = svec * self.sp_matrix_inv
            rest = self._external_value(qt) + const - sum(
                (coeffs[m] * self.ext_part[m] for m in range(self.family.n)), sympy.Integer(0))
            out.append((tuple(Fraction(int(x.p), int(x.q)) for x in coeffs),
                        sympy.expand(rest)))
        return out


def _verified(search: _Search, source: int, target: int, line_map, m_full) -> SectorMapping:
    images = search.images(m_full)
    n = search.family.n
    for j, m in line_map:
        coeffs, rest = images[j]
        if rest != 0 or any(coeffs[i] != (1 if i == m else 0) for i in range(n)):
            raise SymmetryError(
                f"family '{search.family.name}': the mapping of sector {source} "
                f"{_sector_name(source, n)} onto sector {target} does not verify (line {j + 1} "
                "is not carried onto a line); rerun with symmetries off to proceed")
    return SectorMapping(source, target, tuple(line_map),
                         tuple((c, _constant_text(search.family, r)) for c, r in images))


def _constant_text(family: Family, expr) -> str:
    """A mapping constant as text that :func:`parse_polynomial` reads back exactly (what a
    reduction evaluates at its point without sympy); checked here, once, at discovery."""
    text = str(expr)
    params = [sympy.Symbol(p) for p in family.parameters]
    expected = _terms(expr, params)
    if dict(parse_polynomial(text, family.parameters)) != dict(expected):
        raise SymmetryError(f"family '{family.name}': a mapping constant {text!r} does not "
                            "read back as the same polynomial; rerun with symmetries off")
    return text


def _terms(expr, variables) -> dict:
    """{exponents: Fraction} of a polynomial sympy expression in ``variables``."""
    expr = sympy.expand(expr)
    if expr == 0:
        return {}
    if not variables:
        value = sympy.Rational(expr)
        return {(): Fraction(int(value.p), int(value.q))}
    out = {}
    for exps, c in sympy.Poly(expr, *variables).terms():
        c = sympy.Rational(c)
        if c != 0:
            out[tuple(int(e) for e in exps)] = Fraction(int(c.p), int(c.q))
    return out


def symanzik_terms(family: Family) -> tuple:
    """(U, F) as plain data (:data:`~ibp_evolve.reducer.symmetries.SymanzikTerms`): each a
    tuple of (Feynman-parameter exponents, ((parameter exponents, Fraction), ...))."""
    u, f_poly, xs = symanzik_polynomials(family)
    params = [sympy.Symbol(p) for p in family.parameters]
    out = []
    for poly in (u, f_poly):
        grouped: dict = {}
        for exps, c in _terms(poly, list(xs) + params).items():
            grouped.setdefault(exps[:family.n], []).append((exps[family.n:], c))
        out.append(tuple((x, tuple(sorted(coeff))) for x, coeff in sorted(grouped.items())))
    return tuple(out)


def _sector_name(sector: int, n: int) -> str:
    return "(" + ",".join("1" if sector >> i & 1 else "0" for i in range(n)) + ")"


def _is_identity(line_map, m_full) -> bool:
    return all(a == b for a, b in line_map) and m_full == sympy.eye(m_full.shape[0])


def find_symmetries(family: Family) -> Symmetries:
    """Unique sectors, mappings onto them and their automorphisms (uncached)."""
    search = _Search(family)
    sectors = sorted(nonzero_subsectors(family, top_sector(family)),
                     key=lambda s: (bin(s).count("1"), s))
    fingerprints = _fingerprints(family, sectors)
    unique, mappings, automorphisms = [], [], []
    for sector in sectors:
        mapped = None
        if search.mappable(sector):
            for rep in unique:
                if fingerprints[rep] != fingerprints[sector] or not search.mappable(rep):
                    continue
                found = search.find(sector, rep, first_only=True)
                if found:
                    mapped = _verified(search, sector, rep, *found[0])
                    break
        if mapped is not None:
            mappings.append(mapped)
            continue
        unique.append(sector)
        if search.mappable(sector):
            for line_map, m_full in search.find(sector, sector, first_only=False):
                if not _is_identity(line_map, m_full):
                    automorphisms.append(_verified(search, sector, sector, line_map, m_full))
    return Symmetries(family.name, tuple(sorted(unique)), tuple(mappings),
                      tuple(_generators(family, _distinct_actions(automorphisms))),
                      symanzik_terms(family))


def _generators(family: Family, automorphisms) -> list[SectorMapping]:
    """A generating set of each sector's automorphism group.

    Relations from generators imply those of every product (apply one relation to the terms
    of another), so the rest only add redundant rows.  Group elements are compared by their
    action on the propagators, an affine map evaluated mod a prime at a fixed random point
    (a false coincidence has probability ~ 1/p).
    """
    from ibp_evolve.reducer.modular import PRIMES, random_point

    prime = PRIMES[-1]
    point = random_point(family.parameters, np.random.default_rng(_GROUP_POINT_SEED))
    values = [Fraction(point[k]) for k in family.parameters]
    n = family.n

    def matrix(m: SectorMapping):
        t = [[0] * (n + 1) for _ in range(n + 1)]
        for j, (coeffs, const) in enumerate(m.images):
            for k, c in enumerate(coeffs):
                t[j][k] = to_mod(c, prime)
            t[j][n] = to_mod(parse_polynomial(const, family.parameters).at(values), prime)
        t[n][n] = 1
        return tuple(map(tuple, t))

    def product(x, y):
        return tuple(tuple(sum(x[i][k] * y[k][j] for k in range(n + 1)) % prime
                           for j in range(n + 1)) for i in range(n + 1))

    out = []
    by_sector: dict = {}
    for m in automorphisms:
        by_sector.setdefault(m.source, []).append(m)
    for sector, members in by_sector.items():
        identity = tuple(tuple(int(i == j) for j in range(n + 1)) for i in range(n + 1))
        group, gens = {identity}, []
        for m in members:
            t = matrix(m)
            if t in group:
                continue
            gens.append(t)
            out.append(m)
            frontier = list(group)
            while frontier:  # closure of the group under the generators so far
                new = []
                for x in frontier:
                    for g in gens:
                        y = product(x, g)
                        if y not in group:
                            group.add(y)
                            new.append(y)
                frontier = new
    return out


def _distinct_actions(automorphisms):
    """Drop self-maps that act identically on the propagators (e.g. k -> -k)."""
    out, seen = [], set()
    for m in automorphisms:
        key = (m.source, m.images)
        identity = all(
            const == "0" and all(c == (1 if i == j else 0) for i, c in enumerate(coeffs))
            for j, (coeffs, const) in enumerate(m.images))
        if key in seen or identity:
            continue
        seen.add(key)
        out.append(m)
    return out
