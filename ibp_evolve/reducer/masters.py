"""Master integrals of a family: found by elimination, verified, cached.

Masters are the integrals that stay unreduced however far the seed box around them is enlarged.
Discovery takes the *region* of a sector (at most ``region_dots`` dots and ``region_numerators``
numerator powers), solves the system of the seeds in the region widened by one more dot and
numerator, and keeps the region's integrals that got no pivot; the box is widened again until two
consecutive boxes agree, so an integral that merely sits on the edge of a finite box is never
taken for a master.  The default region (one dot, one numerator) is small on purpose: the seed
boxes grow with the number of numerator positions outside a sector (eight for a three-line
sector of the pentabox), and a master beyond the region is caught by the probe below, which
then grows the region.

Per sector.  When the ordering ranks integrals by lines first (``t`` or ``sector`` leads), every
integral of a sector S is more complex than every integral of its subsectors, and IBP identities
seeded in a subsector never contain an integral of S (a term that would raise a zero index has
the coefficient a_j = 0).  So the pivots on S's integrals are those of S's own seeds projected on
S: each sector is discovered alone, with a small system, and only unique sectors are visited when
symmetries are on.  Other orderings (or preferred masters, which are ranked below everything)
fall back to one system over the whole family box.

Verification.  Each discovery box is checked by a probe: the shell one step beyond the region
(one more dot, one more numerator), in the next wider box, at a second point and prime.  The
region's unreduced integrals there must be the masters found (two consecutive boxes agree, at
two points), and every shell integral must reduce onto them: its back-substituted row may hold
masters only.  A probe integral left over (confirmed one widening further) is a master outside
the region: the region of that sector grows and discovery reruns; if it still does not close,
a FamilyError names the sector.  ``family_masters`` then counts the masters of the sectors
with few lines independently of IBP, by the critical points of the Lee-Pomeransky polynomial
(:mod:`ibp_evolve.reducer.critical_points`); a sector where the counts differ is named.

Caches.  The on-disk list is keyed by the family's content, the ordering, the symmetries setting
and a hash of the source of every module that produces masters (so fixing the derivation never
leaves stale masters behind); it is validated when read (key, checksum, every master a valid
integral of a non-zero, unique sector) and rebuilt when anything is off.
``family_masters(use_cache=False)`` neither reads nor writes the disk or the in-memory memo.

When the family gives ``preferred_masters`` they are ordered least complex, and the discovered
masters must coincide with them (with symmetries: those in unique sectors), otherwise they do not
form a basis and a FamilyError says which integrals are missing or superfluous.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from ibp_evolve.reducer.family import Family, FamilyError
from ibp_evolve.reducer.cache import code_version
from ibp_evolve.reducer.templates import atomic_write_text, cache_dir
from ibp_evolve.reducer.modular import PRIMES, random_point
from ibp_evolve.reducer.ordering import Ordering
from ibp_evolve.reducer.sectors import (measures, nonzero_subsectors, sector_of, top_sector,
                                        zero_sectors)
from ibp_evolve.reducer.seeding import family_box, sector_box
from ibp_evolve.reducer.solver import solve
from ibp_evolve.reducer.system import build_system

MASTERS_FORMAT = 2
DISCOVERY_SEED = 20250207  # fixed point so that discovery is reproducible
PROBE_SEED = 20250208  # the second point of the completeness probe
MAX_REGION_GROWTH = 2  # how often a sector's region may grow before discovery gives up
CROSS_CHECK_LINES = 4  # sectors counted by critical points (Groebner bases grow steeply)


def _code_version() -> str:
    """Hash of the source of every module whose behaviour decides the masters."""
    return code_version("expressions", "family", "templates", "identities", "sectors", "seeding",
                        "ordering", "system", "solver", "modular", "symmetries",
                        "symmetry_search", "symmetry_rows", "critical_points", "masters")


def family_symmetries(family: Family, use_cache: bool = True):
    """:func:`ibp_evolve.reducer.symmetries.family_symmetries`, imported on first use."""
    from ibp_evolve.reducer.symmetries import family_symmetries as cached_symmetries
    return cached_symmetries(family, use_cache)


def _per_sector(ordering: Ordering, family: Family) -> bool:
    return ordering.criteria[0] in ("t", "sector") and not family.preferred_masters


def _columns_of(integrals: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Column of each wanted integral (row c of ``integrals`` is column c), -1 when absent;
    one int64 key per row instead of a dict of tuples (thousands of lookups per system)."""
    wanted = np.asarray(wanted, dtype=np.int64).reshape(-1, integrals.shape[1])
    if not len(wanted) or not len(integrals):
        return np.full(len(wanted), -1, dtype=np.int64)
    lo = min(int(integrals.min()), int(wanted.min()))
    radix = max(int(integrals.max()), int(wanted.max())) - lo + 1
    place = radix ** np.arange(integrals.shape[1], dtype=np.int64)
    keys, wanted_keys = (integrals - lo) @ place, (wanted - lo) @ place
    order = np.argsort(keys)
    at = np.clip(np.searchsorted(keys[order], wanted_keys), 0, len(keys) - 1)
    return np.where(keys[order][at] == wanted_keys, order[at], -1)


def _projected(system, sector: int):
    """The system's rows with every integral outside ``sector`` dropped (see the module
    docstring: under a lines-first ordering the pivots on the sector's own integrals, and their
    back-substituted rows restricted to the sector, are those of this projection)."""
    weights = np.int64(1) << np.arange(system.integrals.shape[1], dtype=np.int64)
    col_sector = ((system.integrals > 0) * weights).sum(axis=1)
    keep = col_sector[system.eq_cols] == sector
    kept_before = np.concatenate([[0], np.cumsum(keep, dtype=np.int64)])
    per_equation = kept_before[system.eq_ptr[1:]] - kept_before[system.eq_ptr[:-1]]
    eq_ptr = np.zeros(system.n_equations + 1, dtype=np.int64)
    np.cumsum(per_equation, out=eq_ptr[1:])
    return eq_ptr, system.eq_cols[keep], system.eq_vals[keep]


def _unreduced(family, seeds, region, point, prime, ordering, sym, survivors_of=None,
               project_onto=None):
    """The region's integrals that get no pivot in the system of ``seeds``.

    With ``survivors_of`` (a sector, or -1 for any), the region's integrals are also
    back-substituted, and the second result lists the integrals of that sector left in their
    rows: an integral reduces onto the basis only when those are all masters.
    """
    system = build_system(family, seeds, point, prime, ordering, extra_integrals=region)
    if sym is not None:
        # relations for the integrals of the seed box: the columns beyond it are the box's
        # edge, whose relations would only matter one widening later
        m, s = measures(system.integrals), measures(seeds)
        inside = (m["d"] <= s["d"].max(initial=0)) & (m["s"] <= s["s"].max(initial=0))
        if project_onto is not None:  # the other sectors' relations project to nothing
            inside &= m["sector"] == project_onto
        from ibp_evolve.reducer.symmetry_rows import add_symmetry_rows
        system, _ = add_symmetry_rows(system, sym, point, system.integrals[inside])
    region_cols = _columns_of(system.integrals, region)
    targets = region_cols[region_cols >= 0] if survivors_of is not None else np.zeros(0, np.int64)
    eq_ptr, eq_cols, eq_vals = system.eq_ptr, system.eq_cols, system.eq_vals
    if project_onto is not None:
        eq_ptr, eq_cols, eq_vals = _projected(system, project_onto)
    solution = solve(eq_ptr, eq_cols, eq_vals, np.arange(system.n_equations),
                     system.n_columns, targets, system.prime)
    unreduced = sorted(tuple(int(x) for x in region[i]) for i, c in enumerate(region_cols)
                       if c < 0 or not solution.pivot_mask[c])
    if survivors_of is None:
        return unreduced
    left = set()
    for cols, _ in solution.target_rows:
        for c in cols.tolist():
            integral = system.integral(c)
            if survivors_of < 0 or sector_of(integral) == survivors_of:
                left.add(integral)
    return unreduced, sorted(left)


def _boxes(family, sectors, dots, numerators):
    if sectors is None:
        return family_box(family, dots, numerators)
    boxes = [sector_box(family.n, sec, dots, numerators) for sec in sectors]
    return np.vstack(boxes) if boxes else np.zeros((0, family.n), dtype=np.int64)


def _discover_region(family, sectors, ordering, dots, numerators, max_widening, sym,
                     verify):
    """(masters in the region, integrals beyond it that the probe could not reduce).

    Without ``verify``: widen the seed box until two consecutive boxes agree.  With it, each
    discovery box is checked by the probe (next box, second point and prime), which then is
    the second box of the agreement test as well: one solve fewer per sector.
    """
    region = _boxes(family, sectors, dots, numerators)
    region_set = {tuple(int(x) for x in r) for r in region}
    shell_region = _boxes(family, sectors, dots + 1, numerators + 1)
    point = random_point(family.parameters, np.random.default_rng(DISCOVERY_SEED))
    probe_point = random_point(family.parameters, np.random.default_rng(PROBE_SEED))
    single = sectors is not None and len(sectors) == 1
    own = sectors[0] if single else None
    previous = previous_outside = None
    for widen in range(1, max_widening + 2):
        seeds = _boxes(family, sectors, dots + widen, numerators + widen)
        found = _unreduced(family, seeds, region, point, PRIMES[0], ordering, sym,
                           project_onto=own)
        if not verify:
            if found == previous:
                return found, []
            previous = found
            continue
        # the probe: every shell integral must reduce onto ``found`` (per sector: its row,
        # restricted to the sector, holds masters only; lower sectors have their own probe)
        seeds = _boxes(family, sectors, dots + 1 + widen, numerators + 1 + widen)
        unreduced, left = _unreduced(family, seeds, shell_region, probe_point, PRIMES[1],
                                     ordering, sym, survivors_of=own if single else -1,
                                     project_onto=own)
        if sorted(x for x in unreduced if x in region_set) != found:
            continue  # an integral on the edge of the smaller box: widen
        outside = sorted((set(unreduced) | set(left)) - set(found))
        if not outside or outside == previous_outside or widen > max_widening:
            return found, outside
        previous_outside = outside  # confirm one widening further before growing the region
    where = f"sector {sectors[0]}" if single else "the family"
    raise FamilyError(f"family '{family.name}', {where}: the unreduced integrals did not "
                      f"stabilise when the seed box was widened {max_widening} times")


def _discover_verified(family, sectors, ordering, dots, numerators, max_widening, sym,
                       verify):
    for _ in range(MAX_REGION_GROWTH + 1):
        masters, outside = _discover_region(family, sectors, ordering, dots, numerators,
                                            max_widening, sym, verify)
        if not outside:
            return masters
        m = measures(np.array(outside))
        dots, numerators = max(dots, int(m["d"].max())), max(numerators, int(m["s"].max()))
    where = (f"sector {sectors[0]} ({_sector_text(sectors[0], family.n)})"
             if sectors is not None and len(sectors) == 1 else "the family")
    raise FamilyError(
        f"family '{family.name}', {where}: masters lie outside the discovery region even after "
        f"growing it to d <= {dots}, s <= {numerators} (still unreduced: "
        f"{outside[:3]}); choose an ordering that ranks dots and numerators (e.g. "
        "t,sector,r,s,indices)")


def _sector_text(sector: int, n: int) -> str:
    return ",".join("1" if sector >> i & 1 else "0" for i in range(n))


def discover_masters(family: Family, ordering: Ordering | None = None,
                     region_dots: int = 1, region_numerators: int = 1,
                     max_widening: int = 3, sectors=None, symmetries: bool = False,
                     verify: bool = True) -> list[tuple[int, ...]]:
    """Find the masters in the given sectors (default: all non-zero sectors) by elimination.

    With ``symmetries`` only unique sectors are visited and every integral gets its
    sector-symmetry relations, so masters are counted once per unique sector.  ``verify``
    runs the completeness probe (see the module docstring).
    """
    ordering = ordering or Ordering.parse()
    sym = family_symmetries(family) if symmetries else None
    if family.preferred_masters:
        pm = measures(np.array(family.preferred_masters))
        region_dots = max(region_dots, int(pm["d"].max()))
        region_numerators = max(region_numerators, int(pm["s"].max()))
    chosen = nonzero_subsectors(family, top_sector(family)) if sectors is None else [
        s for s in sectors if s not in zero_sectors(family)]
    if sym is not None:
        unique = set(sym.unique_sectors)
        chosen = [s for s in chosen if s in unique]
    if _per_sector(ordering, family):
        found = []
        for sector in chosen:
            found += _discover_verified(family, [sector], ordering, region_dots,
                                        region_numerators, max_widening, sym, verify)
    else:
        found = _discover_verified(family, chosen, ordering, region_dots, region_numerators,
                                   max_widening, sym, verify)
    return _sort_masters(found, ordering, family)


def _sort_masters(masters, ordering: Ordering, family: Family) -> list[tuple[int, ...]]:
    if not masters:
        return []
    ranks = ordering.ranks(np.array(masters), frozenset(family.preferred_masters))
    return [masters[i] for i in np.argsort(ranks)]


_MEMORY: dict = {}


def _checksum(key: dict, masters) -> str:
    text = json.dumps({"key": key, "masters": [list(m) for m in masters]}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _read_cached(path: Path, key: dict, family: Family, allowed_sectors) -> list | None:
    """The cached list when its key and checksum match and every entry is plausible."""
    try:
        data = json.loads(path.read_text())
        masters = [family.check_integral(m, "cached master") for m in data["masters"]]
        if data["key"] != key or data["checksum"] != _checksum(key, masters):
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if len(set(masters)) != len(masters) or any(sector_of(m) not in allowed_sectors
                                                 for m in masters):
        return None
    return masters


def _cache_entry(family: Family, ordering: Ordering, symmetries: bool) -> tuple[dict, Path]:
    """(key, path) of the on-disk masters list."""
    key = {"family": family.name, "digest": family.digest, "ordering": ordering.name,
           "symmetries": bool(symmetries), "code": _code_version(), "format": MASTERS_FORMAT}
    safe = ordering.name.replace(",", "-")
    return key, cache_dir() / (f"masters-{family.name}-{family.digest}-{safe}"
                               f"-{'sym' if symmetries else 'nosym'}-{key['code']}.json")


def cached_family_masters(family: Family, ordering: Ordering | None = None,
                          symmetries: bool = False) -> list[tuple[int, ...]] | None:
    """The masters already on disk (validated like :func:`family_masters`'s), or None: never
    discovers anything (a listing of families shows what is known, cheaply)."""
    key, path = _cache_entry(family, ordering or Ordering.parse(), symmetries)
    if tuple(sorted(key.items())) in _MEMORY:
        return _MEMORY[tuple(sorted(key.items()))]
    if not path.exists():  # before anything that might derive (zero sectors, symmetries)
        return None
    allowed = set(nonzero_subsectors(family, top_sector(family)))  # cached with the masters
    if symmetries:
        from ibp_evolve.reducer.symmetries import cached_symmetries
        sym = cached_symmetries(family)
        if sym is None:
            return None
        allowed &= set(sym.unique_sectors)
    return _read_cached(path, key, family, allowed)


def family_masters(family: Family, ordering: Ordering | None = None,
                   use_cache: bool = True, symmetries: bool = False) -> list[tuple[int, ...]]:
    """The family's masters, verified, cached per family, ordering, symmetries and code.

    ``symmetries=True`` counts masters per unique sector: the equation systems that reduce
    onto this basis must then carry the symmetry rows too (see
    :func:`ibp_evolve.reducer.symmetries.add_symmetry_rows`).
    """
    ordering = ordering or Ordering.parse()
    key, path = _cache_entry(family, ordering, symmetries)
    memo_key = tuple(sorted(key.items()))
    if use_cache and memo_key in _MEMORY:
        return _MEMORY[memo_key]
    allowed = set(nonzero_subsectors(family, top_sector(family)))
    if symmetries:
        allowed &= set(family_symmetries(family, use_cache).unique_sectors)
    masters = _read_cached(path, key, family, allowed) if use_cache and path.exists() else None
    if masters is None:
        masters = discover_masters(family, ordering, symmetries=symmetries)
        check_preferred_basis(family, masters, symmetries)
        if _per_sector(ordering, family):  # else masters may sit in other sectors
            check_master_counts(family, masters, symmetries)
        if use_cache:
            atomic_write_text(path, json.dumps({
                "key": key, "checksum": _checksum(key, masters),
                "masters": [list(m) for m in masters]}))
    if use_cache:
        _MEMORY[memo_key] = masters
    return masters


def check_master_counts(family: Family, masters, symmetries: bool = False,
                        max_lines: int = CROSS_CHECK_LINES) -> None:
    """Masters per sector against the count of critical points (no IBP involved), in every
    sector with at most ``max_lines`` lines; with symmetries only in unique sectors without
    automorphisms (their self-relations lower the count, the critical points do not see them).

    The count per sector is an invariant only under a lines-first ordering without preferred
    masters: other orderings may trade a master of one sector for one of another.
    """
    # imported here: it loads sympy, which a reduction from cached masters never needs
    from ibp_evolve.reducer.critical_points import masters_per_sector
    expected = masters_per_sector(family, max_lines)
    if symmetries:
        sym = family_symmetries(family)
        skip = {m.source for m in sym.automorphisms}
        expected = {s: n for s, n in expected.items()
                    if s in set(sym.unique_sectors) and s not in skip}
    found: dict = {}
    for m in masters:
        found[sector_of(m)] = found.get(sector_of(m), 0) + 1
    for sector, count in sorted(expected.items()):
        if count is not None and found.get(sector, 0) != count:
            raise FamilyError(
                f"family '{family.name}', sector {sector} ({_sector_text(sector, family.n)}): "
                f"elimination found {found.get(sector, 0)} masters, the critical points of the "
                f"Lee-Pomeransky polynomial count {count} (arXiv:1308.6676, 1712.09215)")


def check_preferred_basis(family: Family, masters, symmetries: bool = False) -> None:
    if not family.preferred_masters:
        return
    preferred, found = set(family.preferred_masters), set(masters)
    if symmetries:  # a preferred master of a non-unique sector is reducible by a mapping
        unique = set(family_symmetries(family).unique_sectors)
        preferred = {m for m in preferred if sector_of(m) in unique}
    if preferred != found:
        extra = sorted(preferred - found)
        missing = sorted(found - preferred)
        raise FamilyError(
            f"family '{family.name}', key 'preferred_masters': not a basis of master integrals"
            # a reduction with symmetries needs the basis without them too (one per mirror
            # sector): a list valid only under symmetries read as missing a master there
            + ("" if symmetries else " without sector symmetries (list a master of every "
               "mirror sector too)")
            + (f"; reducible to others: {extra}" if extra else "")
            + (f"; further masters needed: {missing}" if missing else ""))


def masters_in_sectors(family: Family, sectors, ordering: Ordering | None = None,
                       symmetries: bool = False):
    """The family's masters whose sector is one of (or below) the given sectors.

    With symmetries the sectors below are replaced by the unique sectors they map onto.
    """
    allowed = set()
    for sec in sectors:
        allowed.update(nonzero_subsectors(family, sec))
    if symmetries:  # the unique sectors that these map onto, and everything below them
        rep = family_symmetries(family).representative
        todo, allowed = set(allowed), set()
        while todo:
            unique = rep.get(todo.pop(), None)
            if unique is not None and unique not in allowed:
                allowed.add(unique)
                todo.update(nonzero_subsectors(family, unique))
    return [m for m in family_masters(family, ordering, symmetries=symmetries)
            if sector_of(m) in allowed]
