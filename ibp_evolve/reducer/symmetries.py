"""Sector symmetries: which sectors of a family are the same integrals in other momenta.

A *sector mapping* S -> S' is a line bijection pi together with a linear change of the loop
momenta k = A k' + B p' (|det A| = 1, so the measure d^dk is unchanged) and a map of the
external momenta p = P p' that preserves every kinematic scalar product, such that each line of
S becomes a line of S': D_l(k, p) = D_pi(l)(k', p').  Then every integral of S equals an
integral of S' with its numerators rewritten: a numerator D_j (j not a line of S) becomes a
quadratic form in (k', p'), which is a linear combination of the family's propagators plus a
kinematic constant (the propagators span the loop-dependent scalar products).  Expanding the
numerator powers gives an exact linear relation  I_S(a) = sum_b c_b I(b)  with b in S' and its
subsectors.

Search.  Lines are squares of a momentum, D_l = eps_l (c_l . v)^2 + m_l over v = (k, p), so a
mapping must send the momentum vector c_l to +-c_pi(l), a condition *linear* in (A, B) once the
signs are fixed.  Pick L lines of S whose loop parts are independent; their images and signs fix
(A, B); every other line must then land on a line of S' with the same eps and mass.  Sectors are
first grouped by a permutation-invariant fingerprint of the supports of their U and F polynomials
(equal integrals have equal U and F up to a relabelling of the Feynman parameters), and only
sectors with the same fingerprint are compared.  External maps are the permutations (times an
overall sign) of the legs p_1..p_E, p_{E+1} = -sum p that preserve the kinematics exactly.

Every mapping found is verified symbolically: the image of each line, expressed through the
family's propagators, must be exactly the target line (no constant left over).  A failure raises
SymmetryError naming the sector; ``symmetries=False`` everywhere proceeds without them.

Unique sectors.  Non-zero sectors are visited by (t, sector id); a sector that maps onto an
earlier unique sector is *non-unique* and keeps one mapping to it; otherwise it is unique and its
non-trivial self-mappings (automorphisms) are kept: they relate integrals inside the sector
(the equal-mass sunrise needs them: I(2,1,1) = I(1,2,1) = I(1,1,2)).  Only a generating set of
each automorphism group is kept.

The exact relations at a numeric point, as rows for an equation system, live in
:mod:`ibp_evolve.reducer.symmetry_rows`.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import sympy

from ibp_evolve.reducer.family import (Family, FamilyError, loop_scalar_product_basis,
                                       loop_scalar_product_matrix)
from ibp_evolve.reducer.modular import to_mod
from ibp_evolve.reducer.sectors import (lines_of, nonzero_subsectors, symanzik_polynomials,
                                        top_sector)
from ibp_evolve.reducer.templates import atomic_write_text, cache_dir

SYMMETRY_FORMAT = 1


class SymmetryError(FamilyError):
    """A sector mapping could not be verified; the message names the sector."""


@dataclass(frozen=True)
class SectorMapping:
    """One verified mapping of ``source`` onto ``target``.

    ``images[j]`` is the image of propagator j under the momentum map, as
    (coefficients over the N propagators, kinematic constant as a string): for a line l of
    the source it is exactly D_pi(l); for any other position it is the rewritten numerator.
    """

    source: int
    target: int
    line_map: tuple[tuple[int, int], ...]  # (source line, target line)
    images: tuple[tuple[tuple[Fraction, ...], str], ...]

    def to_json(self) -> dict:
        return {"source": self.source, "target": self.target,
                "line_map": [list(p) for p in self.line_map],
                "images": [[[str(c) for c in coeffs], const] for coeffs, const in self.images]}

    @classmethod
    def from_json(cls, data: dict) -> "SectorMapping":
        return cls(int(data["source"]), int(data["target"]),
                   tuple((int(a), int(b)) for a, b in data["line_map"]),
                   tuple((tuple(Fraction(c) for c in coeffs), str(const))
                         for coeffs, const in data["images"]))


@dataclass(frozen=True)
class Symmetries:
    """The sector symmetries of a family."""

    family_name: str
    unique_sectors: tuple[int, ...]  # non-zero sectors that are kept
    mappings: tuple[SectorMapping, ...]  # one per non-unique sector, onto a unique sector
    automorphisms: tuple[SectorMapping, ...]  # non-trivial self-maps of unique sectors

    @property
    def representative(self) -> dict[int, int]:
        """sector -> the unique sector it maps onto (unique sectors map to themselves)."""
        out = {s: s for s in self.unique_sectors}
        out.update({m.source: m.target for m in self.mappings})
        return out

    def mapping_of(self, sector: int) -> SectorMapping | None:
        for m in self.mappings:
            if m.source == sector:
                return m
        return None

    def to_json(self) -> dict:
        return {"family": self.family_name, "unique_sectors": list(self.unique_sectors),
                "mappings": [m.to_json() for m in self.mappings],
                "automorphisms": [m.to_json() for m in self.automorphisms]}

    @classmethod
    def from_json(cls, data: dict) -> "Symmetries":
        return cls(str(data["family"]), tuple(int(s) for s in data["unique_sectors"]),
                   tuple(SectorMapping.from_json(m) for m in data["mappings"]),
                   tuple(SectorMapping.from_json(m) for m in data["automorphisms"]))


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
                         tuple((c, str(r)) for c, r in images))


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
                      tuple(_generators(family, _distinct_actions(automorphisms))))


def _generators(family: Family, automorphisms) -> list[SectorMapping]:
    """A generating set of each sector's automorphism group.

    Relations from generators imply those of every product (apply one relation to the terms
    of another), so the rest only add redundant rows.  Group elements are compared by their
    action on the propagators, an affine map evaluated mod a prime at a fixed random point
    (a false coincidence has probability ~ 1/p).
    """
    from ibp_evolve.reducer.modular import PRIMES, random_point

    prime = PRIMES[-1]
    point = random_point(family.parameters, np.random.default_rng(SYMMETRY_FORMAT))
    values = {sympy.Symbol(k): sympy.Rational(Fraction(v).numerator, Fraction(v).denominator)
              for k, v in point.items()}
    n = family.n

    def matrix(m: SectorMapping):
        t = [[0] * (n + 1) for _ in range(n + 1)]
        for j, (coeffs, const) in enumerate(m.images):
            for k, c in enumerate(coeffs):
                t[j][k] = to_mod(c, prime)
            value = sympy.sympify(const).subs(values)
            t[j][n] = to_mod(Fraction(int(value.p), int(value.q)), prime)
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


_MEMORY: dict = {}


def family_symmetries(family: Family, use_cache: bool = True) -> Symmetries:
    """The family's sector symmetries, cached on disk per family content."""
    key = family.digest
    if use_cache and key in _MEMORY:
        return _MEMORY[key]
    path = cache_dir() / f"symmetries-{family.name}-{family.digest}-v{SYMMETRY_FORMAT}.json"
    result = None
    if use_cache and path.exists():
        try:
            result = Symmetries.from_json(json.loads(path.read_text()))
        except (ValueError, KeyError, TypeError):
            result = None
    if result is None:
        result = find_symmetries(family)
        if use_cache:
            atomic_write_text(path, json.dumps(result.to_json()))
    if use_cache:
        _MEMORY[key] = result
    return result
