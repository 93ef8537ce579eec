"""Exact reduction at a rational point: learn once, then several primes, CRT and rational
reconstruction.

1. *Learn.*  At a random point and the first prime, solve the system of the plan's seeds
   (growing them while a target stays unreduced, :mod:`ibp_evolve.reducer.plans`) and keep the
   trimmed equations the targets need (:class:`~ibp_evolve.reducer.replay.TrimmedSystem`).
2. *Evaluate many.*  At the requested point, prime after prime, only the trimmed rows are
   re-instantiated and solved; their pivot structure must be the learned one.  A prime that
   breaks it is retried with the next one (an unlucky prime).
3. *Regular or pole?*  When two primes in a row break the structure, some pivot vanishes at the
   point itself.  That need not make the result singular: at d = 6 the kite's elimination
   divides by an intermediate pivot that vanishes for every prime, yet I(1,1,1,1,1) is finite.
   So the coefficients are sampled at d0 + t for random t, interpolated in t
   (:mod:`ibp_evolve.reducer.thiele`) and evaluated at t = 0.  Only a genuine pole in d, or a
   breakdown that does not depend on d (special kinematics), is refused as a degenerate point.

With sector symmetries (``symmetries=True``) seeds live in unique sectors only (a seed of a
non-unique sector is replaced by its images, :func:`~ibp_evolve.reducer.symmetry_rows.unique_seeds`),
every integral of the system gets its relation rows, and the result is in terms of the
symmetric master basis; the relation rows are learned and replayed like the seeds' equations.
"""

from __future__ import annotations

import time
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

from ibp_evolve.reducer.family import Family, FamilyError
from ibp_evolve.reducer.masters import masters_in_sectors
from ibp_evolve.reducer.memory import format_bytes, rows_bytes
from ibp_evolve.reducer.modular import (PRIMES, PoleError, Reconstructor, format_fraction,
                                        primes_from, random_point)
from ibp_evolve.reducer.ordering import Ordering
from ibp_evolve.reducer.plans import (LaportaBox, SeedCapError, SeedSpecError,  # noqa: F401
                                      WideningBox)
from ibp_evolve.reducer.reduction import reduce_on_seeds
from ibp_evolve.reducer.replay import TrimmedSystem
from ibp_evolve.reducer.sectors import sector_of
from ibp_evolve.reducer.system import build_system, parameter_residues
from ibp_evolve.reducer.templates import templates
from ibp_evolve.reducer.thiele import GenuinePoleError, NotConvergedError, values_at_zero

if TYPE_CHECKING:   # the symmetry modules load sympy: imported where symmetries are used
    from ibp_evolve.reducer.symmetries import Symmetries

MAX_D_SAMPLES = 80  # samples in d per prime when the point itself breaks the elimination


class DegeneratePointError(ValueError):
    """The requested point is a genuine pole of the reduction, or special kinematics."""


class ReconstructionError(RuntimeError):
    """Rational reconstruction did not converge within the allowed number of primes."""


def _point_text(point: dict) -> str:
    return ", ".join(f"{k}={format_fraction(v)}" for k, v in point.items())


def estimated_bytes(family: Family, n_seeds: int) -> int:
    """Memory a system of ``n_seeds`` seeds needs while it is built and solved (estimate)."""
    return rows_bytes(n_seeds, templates(family).n_terms)


def _fmt(integral) -> str:
    return "I(" + ",".join(map(str, integral)) + ")"


def _fmt_targets(targets) -> str:
    names = [_fmt(t) for t in targets]
    return ("target " if len(names) == 1 else "targets ") + ", ".join(names[:3]) + (
        f" and {len(names) - 3} more" if len(names) > 3 else "")


def learn(family: Family, targets, plan, ordering: Ordering, masters, learn_point: dict,
          max_memory: int | None = None, symmetries: Symmetries | None = None):
    """Solve the plan's seeds at ``learn_point`` (first prime), growing them while a target is
    unreduced.  With ``symmetries`` the seeds are moved to unique sectors and the relation
    rows solved with them.  Returns (seeds, label, system, reduction)."""
    if symmetries is not None:
        # imported here: the symmetry modules load sympy, which a reduction without
        # symmetries (and a warm small reduction) never needs
        from ibp_evolve.reducer.symmetry_rows import (family_automorphism_region,
                                                     unique_seeds, with_symmetry_rows)
        # the judge's region: score and reduce solve the same system for the same seeds
        region = family_automorphism_region(family, ordering)
    chosen, label = plan.first(family, targets)
    step, unreduced = 0, list(targets)
    while True:
        if len(chosen) == 0:
            chosen = np.zeros((0, family.n), dtype=np.int64)
        # the plan grows its own choice: moving seeds already moved is not the identity (a
        # mirror target's sector mapping would carry its image sector's seeds on again)
        seeds = chosen
        if symmetries is not None:
            seeds = unique_seeds(symmetries, family, chosen, learn_point, PRIMES[0],
                                 targets)
        need = estimated_bytes(family, len(seeds))
        if max_memory is not None and need > max_memory:
            raise SeedCapError(f"{_fmt_targets(unreduced)}: {len(seeds)} seeds ({label}) need "
                               f"about {format_bytes(need)}, more than the cap --max-memory "
                               f"{format_bytes(max_memory)}")
        system = build_system(family, seeds, learn_point, PRIMES[0], ordering,
                              extra_integrals=targets)
        relations = None
        if symmetries is not None:
            system, relations = with_symmetry_rows(system, symmetries, learn_point, region)
        reduction = reduce_on_seeds(system, np.arange(len(seeds)), targets, masters,
                                    engine="auto", relations=relations)
        if reduction.complete:
            return seeds, label, system, reduction
        step += 1
        unreduced = [t.target for t in reduction.targets if not t.reduced]
        grown = plan.grow(family, targets, unreduced, chosen, step)
        if grown is None:
            return seeds, label, system, reduction
        chosen, label = grown


def system_stats(seeds, learned) -> dict:
    """The size of a learned reduction's system, as point and analytic results report it: the
    relation rows of a reduction with symmetries counted apart from the seeds' equations."""
    stats = {"seeds": int(len(seeds)), "equations": learned.equations,
             "trimmed_equations": learned.trimmed_equations}
    if learned.relations is not None:
        stats |= {"symmetry_equations": learned.symmetry_equations,
                  "trimmed_symmetry_equations": learned.trimmed_symmetry_equations}
    return stats | {"multiply_adds": learned.multiply_adds}


def target_entry(target, coefficients: list) -> dict:
    """One target of a result: its coefficients, and its survivors when it is not reduced."""
    entry = {"target": list(target.target), "reduced": target.reduced,
             "coefficients": coefficients}
    if not target.reduced:
        entry["survivors"] = [list(s) for s in target.survivors]
    return entry


def _d_index(family: Family) -> int | None:
    names = family.parameters
    return names.index("d") if "d" in names else None


def _residue_vector(rows: list, layout: list) -> list[int]:
    return [rows[i].get(integral, 0) for i, integral in layout]


def reduce_exact(family: Family, targets, point: dict | None = None, plan=None,
                 ordering: Ordering | None = None, rng_seed: int = 0, max_primes: int = 400,
                 max_memory: int | None = None, keep_model: bool = False,
                 symmetries: bool = False) -> dict:
    """Reduce ``targets`` exactly at ``point`` (random when None); returns the JSON shape.

    ``plan`` chooses the seeds (:mod:`ibp_evolve.reducer.plans`; default: a widening Laporta
    box); ``max_memory`` (bytes) refuses a seed set whose system would need more (estimated).
    With ``keep_model`` the learned :class:`TrimmedSystem` is returned under "model".
    ``symmetries``: reduce onto the masters of unique sectors, with the sector-symmetry
    relations in the system (checked at ``point``: a SymmetryError names a sector that maps
    onto another only for special kinematics).
    """
    start = time.perf_counter()
    ordering = ordering or Ordering.parse()
    targets = [family.check_integral(t, "target") for t in targets]
    if not targets:
        raise FamilyError("no target integrals given")
    targets = list(dict.fromkeys(targets))
    rng = np.random.default_rng(rng_seed)
    if point is None:
        point = random_point(family.parameters, rng)
    point = {k: Fraction(v) for k, v in point.items()}
    masters = masters_in_sectors(family, {sector_of(t) for t in targets}, ordering,
                                 symmetries=symmetries)
    asked, targets = targets, targets_to_learn(targets, masters, keep_model)
    if not targets:
        return masters_only(family, asked, point, masters, symmetries, start)
    learn_point = random_point(family.parameters, rng)
    if symmetries:
        from ibp_evolve.reducer.symmetry_rows import symmetries_at
    sym = symmetries_at(family, point) if symmetries else None
    plan = plan or WideningBox()

    t_learn = time.perf_counter()
    seeds, label, system, learned = learn(family, targets, plan, ordering, masters,
                                          learn_point, max_memory, sym)
    model = TrimmedSystem.learn(system, learned, learn_point)
    seconds_learn = time.perf_counter() - t_learn

    layout = []  # (target index, integral) in a fixed order: the reconstructed entries
    for i, t in enumerate(learned.targets):
        layout.extend((i, m) for m in sorted(t.coefficients) + sorted(t.survivors))

    t_eval = time.perf_counter()
    values, samples, mode = _reconstruct(family, model, layout, point, rng, max_primes)
    seconds_eval = time.perf_counter() - t_eval

    reduced = {}
    for i, t in enumerate(learned.targets):
        mine = [(m, v) for (j, m), v in zip(layout, values) if j == i]
        reduced[tuple(t.target)] = target_entry(
            t, [{"master": list(m), "value": format_fraction(v)}
                for m, v in mine if m in masters and v != 0])
    out_targets = [reduced.get(t) or master_entry(t) for t in asked]
    result = {
        "family": family.name,
        "point": {k: format_fraction(v) for k, v in point.items()},
        "symmetries": bool(symmetries),
        "masters": [list(m) for m in masters],
        "targets": out_targets,
        "stats": {**system_stats(seeds, learned),
                  "seconds": round(time.perf_counter() - start, 3)},
        # popped by the CLI before printing JSON:
        "seeds_used": label,
        "timing": {"learn": seconds_learn, "evaluate": seconds_eval, "samples": samples,
                   "mode": mode},
    }
    if keep_model:
        result["model"] = model
    return result


def targets_to_learn(targets, masters, keep_model: bool) -> list:
    """The targets a system is learned for: those that are not masters, since a master is its
    own reduction and needs no seed (the pentabox's top-sector corner built 4,043 seeds'
    equations, 1.5 s with warm caches); all of them when the system is kept (an exported
    system holds every target asked for)."""
    if keep_model:
        return list(targets)
    is_master = set(masters)
    return [t for t in targets if t not in is_master]


def master_entry(master) -> dict:
    """A result's entry for a target that is a master: itself."""
    return {"target": list(master), "reduced": True,
            "coefficients": [{"master": list(master), "value": "1"}]}


def masters_only(family: Family, targets, point: dict, masters, symmetries: bool,
                  start: float) -> dict:
    """:func:`reduce_exact`'s result when every target is a master: each is itself."""
    stats = {"seeds": 0, "equations": 0, "trimmed_equations": 0}
    if symmetries:
        stats |= {"symmetry_equations": 0, "trimmed_symmetry_equations": 0}
    return {"family": family.name,
            "point": {k: format_fraction(v) for k, v in point.items()},
            "symmetries": bool(symmetries), "masters": [list(m) for m in masters],
            "targets": [master_entry(t) for t in targets],
            "stats": stats | {"multiply_adds": 0,
                              "seconds": round(time.perf_counter() - start, 3)},
            "seeds_used": "none: every target is a master",
            "timing": {"learn": 0.0, "evaluate": 0.0, "samples": 0, "mode": "masters"}}


def _reconstruct(family, model: TrimmedSystem, layout, point, rng, max_primes):
    """Rational values of the ``layout`` entries at ``point``; returns (values, samples, mode)."""
    reconstructor = Reconstructor(len(layout))
    samples, mismatches = 0, 0
    for prime in primes_from(1, max_primes + 1):
        try:
            params = parameter_residues(family, point, prime)
        except PoleError:
            continue  # the point's own denominators vanish mod this prime: skip it
        rows = model.sample(params, prime)
        samples += 1
        if rows is None:
            mismatches += 1
            if mismatches >= 2:
                return _reconstruct_in_d(family, model, layout, point, rng, max_primes,
                                         samples)
            continue
        mismatches = 0
        reconstructor.add(prime, _residue_vector(rows, layout))
        values = reconstructor.result()
        if values is not None:
            return values, samples, "point"
    raise ReconstructionError(f"rational reconstruction did not converge with {max_primes} "
                              "primes")


def _reconstruct_in_d(family, model, layout, point, rng, max_primes, samples):
    """The point breaks the learned elimination: approach it along d and decide regularity."""
    where = _d_index(family)
    degenerate = DegeneratePointError(
        f"degenerate point {_point_text(point)}: a pivot of the elimination vanishes there "
        "whatever the dimension d (special kinematics); choose another point")
    if where is None:
        raise degenerate
    reconstructor = Reconstructor(len(layout))
    for prime in primes_from(1, max_primes + 1):
        try:
            base = parameter_residues(family, point, prime)
        except PoleError:
            continue
        shifts = [int(x) for x in rng.integers(1, prime - 1, size=MAX_D_SAMPLES)]

        def sample(t, base=base, prime=prime):
            nonlocal samples
            params = base.copy()
            params[where] = (params[where] + t) % prime
            rows = model.sample(params, prime)
            samples += 1
            if rows is None:  # breaks away from d0 too: not a matter of d
                raise degenerate
            return _residue_vector(rows, layout)

        try:
            residues = values_at_zero(sample, prime, shifts)
        except GenuinePoleError as exc:
            target, integral = layout[exc.entry]
            raise DegeneratePointError(
                f"degenerate point {_point_text(point)}: the coefficient of "
                f"{_fmt(integral)} in {_fmt(model.targets[target])} has a pole in d at "
                f"d={format_fraction(point['d'])}; choose another point") from None
        except NotConvergedError:
            raise ReconstructionError(f"the coefficients near {_point_text(point)} need more "
                                      f"than {MAX_D_SAMPLES} samples in d") from None
        reconstructor.add(prime, residues)
        values = reconstructor.result()
        if values is not None:
            return values, samples, "limit in d"
    raise ReconstructionError(f"rational reconstruction did not converge with {max_primes} "
                              "primes")


__all__ = ["DegeneratePointError", "LaportaBox", "ReconstructionError", "SeedCapError",
           "SeedSpecError", "WideningBox", "learn", "reduce_exact"]
