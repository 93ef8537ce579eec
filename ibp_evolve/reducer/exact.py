"""Exact reduction at a rational point: several primes, CRT and rational reconstruction.

The elimination structure (which integrals get pivots, i.e. which are masters) is learned at a
random point.  At the requested point every prime must reproduce that structure; a prime that
does not is retried with the next one (an unlucky prime), and a point where two primes in a row
disagree with the learned structure is a *degenerate point*: some pivot vanishes there, and
reducing anyway would silently land on another basis.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ibp_evolve.reducer.family import Family, FamilyError
from ibp_evolve.reducer.masters import masters_in_sectors
from ibp_evolve.reducer.modular import PRIMES, PoleError, Reconstructor, format_fraction, random_point
from ibp_evolve.reducer.ordering import Ordering
from ibp_evolve.reducer.reduction import NumericReduction, reduce_on_seeds
from ibp_evolve.reducer.sectors import sector_of
from ibp_evolve.reducer.seeding import laporta_seeds
from ibp_evolve.reducer.system import build_system

MAX_AUTO_WIDENING = 6


class DegeneratePointError(ValueError):
    """The requested point makes a pivot of the learned elimination vanish."""


class SeedSpecError(ValueError):
    pass


@dataclass(frozen=True)
class LaportaBox:
    r_max: int
    s_max: int

    @classmethod
    def parse(cls, spec: str) -> "LaportaBox":
        m = re.fullmatch(r"\s*laporta\s*:\s*r\s*=\s*(\d+)\s*,\s*s\s*=\s*(\d+)\s*", spec)
        if not m:
            raise SeedSpecError(f"--seeds '{spec}': expected the form laporta:r=R,s=S "
                                "(e.g. laporta:r=6,s=3)")
        return cls(int(m.group(1)), int(m.group(2)))

    def seeds(self, family: Family, targets) -> np.ndarray:
        return laporta_seeds(family, targets, self.r_max, self.s_max)


def default_box(targets) -> LaportaBox:
    """The smallest Laporta box that contains every target."""
    arr = np.array(targets)
    r = int(np.where(arr > 0, arr, 0).sum(axis=1).max())
    s = int(-np.where(arr < 0, arr, 0).sum(axis=1).min())
    return LaportaBox(r, s)


def _structure(system, reduction: NumericReduction) -> frozenset:
    """The learned elimination structure: the set of integrals that received a pivot."""
    return frozenset(map(tuple, system.integrals[reduction.solution.pivot_columns].tolist()))


def reduce_exact(family: Family, targets, point: dict | None = None,
                 box: LaportaBox | None = None, ordering: Ordering | None = None,
                 rng_seed: int = 0, max_primes: int = 30) -> dict:
    """Reduce ``targets`` exactly at ``point`` (random when None); returns the JSON shape."""
    start = time.perf_counter()
    ordering = ordering or Ordering.parse()
    targets = [family.check_integral(t, "target") for t in targets]
    if not targets:
        raise FamilyError("no target integrals given")
    rng = np.random.default_rng(rng_seed)
    if point is None:
        point = random_point(family.parameters, rng)
    point = {k: Fraction(v) for k, v in point.items()}
    masters = masters_in_sectors(family, {sector_of(t) for t in targets}, ordering)
    learn_point = random_point(family.parameters, rng)

    # Learn the structure; without an explicit box, widen until every target reduces.
    auto = box is None
    box = box or default_box(targets)
    for attempt in range(MAX_AUTO_WIDENING + 1):
        seeds = box.seeds(family, targets)
        learned_system = build_system(family, seeds, learn_point, PRIMES[0], ordering,
                                      extra_integrals=targets)
        learned = reduce_on_seeds(learned_system, np.arange(len(seeds)), targets, masters)
        if learned.complete or not auto:
            break
        box = LaportaBox(box.r_max + 1, box.s_max + 1) if attempt % 2 else LaportaBox(
            box.r_max, box.s_max + 1)
    structure = _structure(learned_system, learned)

    # Residues of every (target, integral) coefficient at the requested point, prime by prime.
    layout = []  # (target index, integral) in a fixed order
    for i, t in enumerate(learned.targets):
        layout.extend((i, m) for m in sorted(t.coefficients) + sorted(t.survivors))
    reconstructor = Reconstructor(len(layout))
    mismatches, first_numeric = 0, None
    for prime in PRIMES[1:max_primes + 1]:
        try:
            system = build_system(family, seeds, point, prime, ordering,
                                  extra_integrals=targets)
        except PoleError:
            continue  # the point's own denominators vanish mod this prime: skip it
        numeric = reduce_on_seeds(system, np.arange(len(seeds)), targets, masters)
        if _structure(system, numeric) != structure or any(
                set(a.survivors) != set(b.survivors)
                for a, b in zip(numeric.targets, learned.targets)):
            mismatches += 1
            if mismatches >= 2:
                raise DegeneratePointError(
                    "degenerate point " + ", ".join(f"{k}={format_fraction(v)}"
                                                     for k, v in point.items())
                    + ": a pivot of the elimination vanishes there (pole or special "
                    "kinematics); choose another point")
            continue
        mismatches = 0
        first_numeric = first_numeric or numeric
        residues = []
        for i, integral in layout:
            row = numeric.targets[i]
            residues.append(row.coefficients.get(integral, 0) if integral in masters
                            else row.survivor_coefficients.get(integral, 0))
        reconstructor.add(prime, residues)
        values = reconstructor.result()
        if values is not None:
            break
    else:
        raise RuntimeError(f"rational reconstruction did not converge with {max_primes} primes")

    out_targets = []
    for i, t in enumerate(learned.targets):
        coefficients = [{"master": list(m), "value": format_fraction(v)}
                        for (j, m), v in zip(layout, values) if j == i and m in masters
                        and v != 0]
        entry = {"target": list(t.target), "reduced": t.reduced, "coefficients": coefficients}
        if not t.reduced:
            entry["survivors"] = [list(s) for s in t.survivors]
        out_targets.append(entry)
    stats = first_numeric.stats()
    return {
        "family": family.name,
        "point": {k: format_fraction(v) for k, v in point.items()},
        "masters": [list(m) for m in masters],
        "targets": out_targets,
        "stats": {"seeds": stats["seeds"], "equations": stats["equations"],
                  "trimmed_equations": stats["trimmed_equations"],
                  "multiply_adds": stats["multiply_adds"],
                  "seconds": round(time.perf_counter() - start, 3)},
        "seeds_used": f"laporta:r={box.r_max},s={box.s_max}",  # popped by the CLI's JSON
    }

