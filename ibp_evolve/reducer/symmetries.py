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
SymmetryError naming the sector; ``symmetries=False`` everywhere proceeds without them.  The
search (sympy) lives in :mod:`ibp_evolve.reducer.symmetry_search` and runs once per family; this
module holds what it finds as plain data and the disk cache, so that a reduction with cached
symmetries never imports sympy: mapping constants are text read by our own grammar
(:func:`~ibp_evolve.reducer.expressions.parse_polynomial`), and U and F, which every mapping is
checked against at the point it is used at, are stored as coefficient tables.

Unique sectors.  Non-zero sectors are visited by (t, sector id); a sector that maps onto an
earlier unique sector is *non-unique* and keeps one mapping to it; otherwise it is unique and its
non-trivial self-mappings (automorphisms) are kept: they relate integrals inside the sector
(the equal-mass sunrise needs them: I(2,1,1) = I(1,2,1) = I(1,1,2)).  Only a generating set of
each automorphism group is kept.

The exact relations at a numeric point, as rows for an equation system, live in
:mod:`ibp_evolve.reducer.symmetry_rows`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction

from ibp_evolve.reducer.family import Family, FamilyError
from ibp_evolve.reducer.cache import atomic_write_text, cache_dir, code_version


class SymmetryError(FamilyError):
    """A sector mapping could not be verified; the message names the sector."""


@dataclass(frozen=True)
class SectorMapping:
    """One verified mapping of ``source`` onto ``target``.

    ``images[j]`` is the image of propagator j under the momentum map, as
    (coefficients over the N propagators, kinematic constant as text in the expression
    grammar): for a line l of the source it is exactly D_pi(l); for any other position it is
    the rewritten numerator.
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


# U or F as plain data: ((Feynman-parameter exponents, ((parameter exponents, Fraction), ...)),
# ...), coefficients polynomials over family.parameters
SymanzikTerms = tuple


@dataclass(frozen=True)
class Symmetries:
    """The sector symmetries of a family.

    ``symanzik``: (U, F) as :data:`SymanzikTerms`, what :func:`check_at_point
    <ibp_evolve.reducer.symmetry_rows.check_at_point>` evaluates; None when made by hand
    (then they are derived from the family, with sympy)."""

    family_name: str
    unique_sectors: tuple[int, ...]  # non-zero sectors that are kept
    mappings: tuple[SectorMapping, ...]  # one per non-unique sector, onto a unique sector
    automorphisms: tuple[SectorMapping, ...]  # non-trivial self-maps of unique sectors
    symanzik: tuple[SymanzikTerms, SymanzikTerms] | None = None

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
        out = {"family": self.family_name, "unique_sectors": list(self.unique_sectors),
               "mappings": [m.to_json() for m in self.mappings],
               "automorphisms": [m.to_json() for m in self.automorphisms]}
        if self.symanzik is not None:
            out["symanzik"] = [[[list(x), [[list(e), str(c)] for e, c in coeff]]
                                for x, coeff in poly] for poly in self.symanzik]
        return out

    @classmethod
    def from_json(cls, data: dict) -> "Symmetries":
        symanzik = None
        if data.get("symanzik") is not None:
            u, f = (tuple((tuple(int(a) for a in x),
                           tuple((tuple(int(b) for b in e), Fraction(c)) for e, c in coeff))
                          for x, coeff in poly) for poly in data["symanzik"])
            symanzik = (u, f)
        return cls(str(data["family"]), tuple(int(s) for s in data["unique_sectors"]),
                   tuple(SectorMapping.from_json(m) for m in data["mappings"]),
                   tuple(SectorMapping.from_json(m) for m in data["automorphisms"]), symanzik)


def cached_symmetries(family: Family) -> Symmetries | None:
    """The symmetries on disk (or in memory) for this family, without ever searching: None
    when they have not been found yet (what a cheap listing shows)."""
    if family.digest in _MEMORY:
        return _MEMORY[family.digest]
    return _read(_cache_path(family))


def _cache_path(family: Family):
    # keyed by the code that finds and stores mappings, so other code never reuses an entry
    code = code_version("expressions", "family", "sectors", "symmetries", "symmetry_search")
    return cache_dir() / f"symmetries-{family.name}-{family.digest}-{code}.json"


def _read(path) -> Symmetries | None:
    if not path.exists():
        return None
    try:
        result = Symmetries.from_json(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError):
        return None
    return result if result.symanzik is not None else None


_MEMORY: dict = {}


def family_symmetries(family: Family, use_cache: bool = True) -> Symmetries:
    """The family's sector symmetries, cached on disk per family content (the search, with
    sympy, runs only when nothing valid is cached)."""
    key = family.digest
    if use_cache and key in _MEMORY:
        return _MEMORY[key]
    path = _cache_path(family)
    result = _read(path) if use_cache else None
    if result is None:
        from ibp_evolve.reducer.symmetry_search import find_symmetries  # sympy
        result = find_symmetries(family)
        if use_cache:
            atomic_write_text(path, json.dumps(result.to_json()))
    if use_cache:
        _MEMORY[key] = result
    return result
