"""Master integrals of a family: found by the judge, cached per family and ordering.

Masters are the integrals that stay unreduced however far the seed box around them is enlarged.
Discovery: take the *region* of every non-zero sector with at most ``region_dots`` dots and
``region_numerators`` numerator powers, solve the system of all seeds in the region widened by
``margin`` (one more dot and numerator), and keep the region's integrals that got no pivot.  The
box is widened again until two consecutive boxes agree, so an integral that merely sits on the
edge of a finite box is never taken for a master.  Masters outside the region (e.g. a master
with two numerators) would be missed; the completeness checks in the tests (targets reduce onto
this basis) guard against that, and the region grows to cover any ``preferred_masters``.

When the family gives ``preferred_masters`` they are ordered least complex, and the discovered
masters must coincide with them, otherwise they do not form a basis and a FamilyError says which
integrals are missing or superfluous.
"""

from __future__ import annotations

import json

import numpy as np

from ibp_evolve.reducer.family import Family, FamilyError
from ibp_evolve.reducer.templates import atomic_write_text, cache_dir
from ibp_evolve.reducer.modular import PRIMES, random_point
from ibp_evolve.reducer.ordering import Ordering
from ibp_evolve.reducer.sectors import measures, nonzero_subsectors, sector_of, top_sector
from ibp_evolve.reducer.seeding import family_box
from ibp_evolve.reducer.solver import solve
from ibp_evolve.reducer.symmetries import add_symmetry_rows, family_symmetries
from ibp_evolve.reducer.system import build_system

MASTERS_FORMAT = 1
DISCOVERY_SEED = 20250207  # fixed point so that discovery is reproducible


def discover_masters(family: Family, ordering: Ordering | None = None,
                     region_dots: int = 1, region_numerators: int = 2,
                     max_widening: int = 3, sectors=None,
                     symmetries: bool = False) -> list[tuple[int, ...]]:
    """Find the masters in the given sectors (default: all non-zero sectors) by elimination.

    With ``symmetries`` only unique sectors are seeded; every integral of the system gets its
    sector-symmetry relations, so masters are counted once per unique sector.
    """
    ordering = ordering or Ordering.parse()
    sym = family_symmetries(family) if symmetries else None
    if family.preferred_masters:
        pm = measures(np.array(family.preferred_masters))
        region_dots = max(region_dots, int(pm["d"].max()))
        region_numerators = max(region_numerators, int(pm["s"].max()))
    chosen = nonzero_subsectors(family, top_sector(family)) if sectors is None else sectors
    if sym is not None:
        chosen = [s for s in chosen if s in set(sym.unique_sectors)]
    region = family_box(family, region_dots, region_numerators, chosen)
    point = random_point(family.parameters, np.random.default_rng(DISCOVERY_SEED))
    previous = None
    for widen in range(1, max_widening + 2):
        seeds = family_box(family, region_dots + widen, region_numerators + widen, chosen)
        system = build_system(family, seeds, point, PRIMES[0], ordering,
                              extra_integrals=region)
        if sym is not None:
            # relations for the integrals of the seed box: the columns beyond it are the
            # box's edge, whose relations would only be needed one widening later
            m = measures(system.integrals)
            inside = (m["d"] <= region_dots + widen) & (m["s"] <= region_numerators + widen)
            system, _ = add_symmetry_rows(system, sym, point, system.integrals[inside])
        region_cols = np.array([system.column_of(r) for r in region], dtype=np.int64)
        solution = solve(system.eq_ptr, system.eq_cols, system.eq_vals,
                         np.arange(system.n_equations), system.n_columns,
                         np.zeros(0, dtype=np.int64), system.prime)
        unreduced = sorted(tuple(int(x) for x in region[i]) for i, c in enumerate(region_cols)
                           if c < 0 or not solution.pivot_mask[c])
        if unreduced == previous:
            return _sort_masters(unreduced, ordering, family)
        previous = unreduced
    raise FamilyError(f"family '{family.name}': the unreduced integrals did not stabilise "
                      f"when the seed box was widened {max_widening} times")


def _sort_masters(masters, ordering: Ordering, family: Family) -> list[tuple[int, ...]]:
    if not masters:
        return []
    ranks = ordering.ranks(np.array(masters), frozenset(family.preferred_masters))
    return [masters[i] for i in np.argsort(ranks)]


_MEMORY: dict = {}


def family_masters(family: Family, ordering: Ordering | None = None,
                   use_cache: bool = True) -> list[tuple[int, ...]]:
    """The family's masters (cached on disk per family content and ordering)."""
    ordering = ordering or Ordering.parse()
    key = (family.digest, ordering.name)
    if key in _MEMORY:
        return _MEMORY[key]
    safe = ordering.name.replace(",", "-")
    path = cache_dir() / f"masters-{family.name}-{family.digest}-{safe}-v{MASTERS_FORMAT}.json"
    masters = None
    if use_cache and path.exists():
        try:
            masters = [tuple(m) for m in json.loads(path.read_text())["masters"]]
        except (ValueError, KeyError, TypeError):
            masters = None
    if masters is None:
        masters = discover_masters(family, ordering)
        check_preferred_basis(family, masters)
        if use_cache:
            atomic_write_text(path, json.dumps({"family": family.name,
                                                "ordering": ordering.name,
                                                "masters": [list(m) for m in masters]}))
    _MEMORY[key] = masters
    return masters


def check_preferred_basis(family: Family, masters) -> None:
    if not family.preferred_masters:
        return
    preferred, found = set(family.preferred_masters), set(masters)
    if preferred != found:
        extra = sorted(preferred - found)
        missing = sorted(found - preferred)
        raise FamilyError(
            f"family '{family.name}', key 'preferred_masters': not a basis of master integrals"
            + (f"; reducible to others: {extra}" if extra else "")
            + (f"; further masters needed: {missing}" if missing else ""))


def masters_in_sectors(family: Family, sectors, ordering: Ordering | None = None):
    """The family's masters whose sector is one of (or below) the given sectors."""
    allowed = set()
    for sec in sectors:
        allowed.update(nonzero_subsectors(family, sec))
    return [m for m in family_masters(family, ordering) if sector_of(m) in allowed]

