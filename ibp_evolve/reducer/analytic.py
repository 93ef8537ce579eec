"""Analytic reduction: coefficients as rational functions of d and kinematic symbols.

Learn once (:func:`ibp_evolve.reducer.exact.learn`, the trimmed rows of
:class:`~ibp_evolve.reducer.replay.TrimmedSystem`), then evaluate many: every sample re-solves
only the trimmed rows at a point mod p (:mod:`.reconstruct.sampling`); the samples of one prime
become rational functions mod p (:mod:`.reconstruct.multivariate`); several primes give their
rational coefficients (:mod:`.reconstruct.rationals`).  Before anything is returned, every
function is checked at fresh random points against an exact reduction there (the learned rows
replayed at primes the reconstruction never used, CRT and rational reconstruction).
"""

from __future__ import annotations

import time
from fractions import Fraction
from typing import Callable

import numpy as np

from ibp_evolve.reducer.exact import (DegeneratePointError, learn, master_entry, masters_only,
                                     system_stats, target_entry, targets_to_learn)
from ibp_evolve.reducer.family import Family, FamilyError
from ibp_evolve.reducer.masters import masters_in_sectors
from ibp_evolve.reducer.modular import (PRIMES, PoleError, Reconstructor, format_fraction,
                                        random_point)
from ibp_evolve.reducer.ordering import Ordering
from ibp_evolve.reducer.plans import WideningBox
from ibp_evolve.reducer.reconstruct.expressions import evaluate_function, rational_function
from ibp_evolve.reducer.reconstruct.multivariate import (AllDegenerate, Sampler,
                                                        reconstruct_mod_p)
from ibp_evolve.reducer.reconstruct.rationals import PrimeCombiner
from ibp_evolve.reducer.reconstruct.rows import CompiledRows
from ibp_evolve.reducer.reconstruct.scaling import check_homogeneous, restore
from ibp_evolve.reducer.reconstruct.sampling import sampler_or_none
from ibp_evolve.reducer.reconstruct.univariate import SampleBudgetError, Unlucky
from ibp_evolve.reducer.replay import TrimmedSystem
from ibp_evolve.reducer.sectors import sector_of
from ibp_evolve.reducer.solver import _kernels_loaded as kernels_loaded
from ibp_evolve.reducer.solver import warmup

DEFAULT_MAX_PRIMES = 12
DEFAULT_MAX_SAMPLES = 50_000  # per prime
CHECK_PRIMES = PRIMES[-12:]  # the exact checks use primes from the other end of the list
RETRIES = 3  # fresh random numbers per prime after an unlucky draw
# Sampling that has taken longer than this (with the plain-Python solver) makes loading the
# numba kernels (about 1-3 s from their cache) worth it: a sample then costs ~10x less.
NUMBA_AFTER_S = 2.0


class AnalyticSpecError(FamilyError):
    """``--analytic`` names a symbol the family does not have."""


class NotStableError(RuntimeError):
    """The reconstruction did not stabilise within its sample or prime budget."""


def parse_analytic(spec: str, family: Family) -> list[str]:
    """``d``, ``d,s`` or ``all`` -> the symbols kept analytic, in the family's order."""
    names = [s.strip() for s in spec.split(",") if s.strip()]
    if names == ["all"]:
        return list(family.parameters)
    unknown = [s for s in names if s not in family.parameters]
    if unknown or not names:
        raise AnalyticSpecError(
            f"--analytic '{spec}': {'unknown symbol ' + unknown[0] if unknown else 'no symbol'}"
            f" (family {family.name} has {', '.join(family.parameters)}; or 'all')")
    return [s for s in family.parameters if s in names]


def _name(integral) -> str:
    return "I(" + ",".join(map(str, integral)) + ")"


def reduce_analytic(family: Family, targets, symbols: list[str], point: dict | None = None,
                    plan=None, ordering: Ordering | None = None, rng_seed: int = 0,
                    max_primes: int = DEFAULT_MAX_PRIMES,
                    max_samples: int = DEFAULT_MAX_SAMPLES, check_points: int = 2,
                    max_memory: int | None = None,
                    progress: Callable[[str], None] | None = None, model=None,
                    keep_model: bool = False, replace_by_one: str | None = None,
                    workers: int = 1, dask=None, symmetries: bool = False) -> dict:
    """Reduce ``targets`` with coefficients as rational functions of ``symbols``; the other
    parameters take their values in ``point`` (random when absent).  Returns the JSON shape of
    :func:`ibp_evolve.reducer.exact.reduce_exact` with expression strings as values, plus
    ``analytic_in``; the functions themselves are under "functions" (popped by the CLI).
    ``model`` (a learned (TrimmedSystem, NumericReduction, label, seeds)) skips learning;
    with ``keep_model`` the TrimmedSystem is returned under "model"; ``max_memory`` (bytes)
    refuses a seed set whose system would need more (estimated, as for exact reductions).  ``replace_by_one`` (a
    kinematic symbol) is set to 1 while sampling and restored by mass dimension
    (:mod:`.reconstruct.scaling`).  ``workers`` > 1 traces the rays of each grid on a process
    pool, ``dask`` (a connected ``distributed.Client``) on a Dask cluster instead
    (:mod:`.reconstruct.parallel`).  ``symmetries``: onto the masters of unique sectors,
    the relation rows learned and replayed with the rest (see
    :func:`~ibp_evolve.reducer.exact.reduce_exact`)."""
    start = time.perf_counter()
    say = progress or (lambda message: None)
    ordering = ordering or Ordering.parse()
    targets = list(dict.fromkeys(family.check_integral(t, "target") for t in targets))
    if not targets:
        raise FamilyError("no target integrals given")
    rng = np.random.default_rng(rng_seed)
    others = [s for s in family.parameters if s not in symbols]
    given = {k: Fraction(v) for k, v in (point or {}).items() if k in others}
    fixed = random_point([s for s in others if s not in given], rng) | given
    fixed = {s: fixed[s] for s in others}
    masters = masters_in_sectors(family, {sector_of(t) for t in targets}, ordering,
                                 symmetries=symmetries)
    # the mappings are checked at the numeric values kept (analytic symbols: a random point)
    sym = None
    if symmetries:
        from ibp_evolve.reducer.symmetry_rows import symmetries_at  # sympy: only when used
        sym = symmetries_at(family, random_point(symbols, rng) | fixed)

    # (a given model was learned for every target)
    asked = targets
    if model is None:
        targets = targets_to_learn(targets, masters, keep_model)
    if not targets:   # every target is a master, its own reduction
        result = masters_only(family, asked, fixed, masters, symmetries, start)
        seconds = result["stats"].pop("seconds")
        result["stats"] |= {"samples": 0, "primes": 0, "checked_points": 0,
                            "seconds_learn": 0.0, "seconds_reconstruct": 0.0,
                            "seconds": seconds}
        return {**result, "analytic_in": list(symbols), "functions": []}
    t0 = time.perf_counter()
    if model is None:
        learn_point = random_point(family.parameters, rng)
        seeds, label, system, learned = learn(family, targets, plan or WideningBox(), ordering,
                                              masters, learn_point, max_memory, sym)
        trimmed = TrimmedSystem.learn(system, learned, learn_point)
    else:
        trimmed, learned, label, seeds = model
    seconds_learn = time.perf_counter() - t0
    layout = [(i, m) for i, t in enumerate(learned.targets) if t.reduced
              for m in sorted(t.coefficients)]

    sampled, sample_fixed, rescale = symbols, fixed, None
    if replace_by_one:
        check_homogeneous(family, replace_by_one, symbols)
        sampled = [s for s in symbols if s != replace_by_one]
        sample_fixed = fixed | {replace_by_one: Fraction(1)}
        dims = [sum(m) - sum(learned.targets[i].target) for i, m in layout]

        def rescale(functions):
            return [restore(num, den, sampled, replace_by_one, family.dimension, k, symbols)
                    for (num, den), k in zip(functions, dims)]

    t0 = time.perf_counter()
    functions, stats = (reconstruct(trimmed, layout, sampled, sample_fixed, rng, max_primes,
                                    max_samples, check_points, say, rescale, (symbols, fixed),
                                    workers, dask)
                        if layout else ([], {"samples": 0, "primes": 0, "checked_points": 0}))
    seconds_reconstruct = time.perf_counter() - t0

    reduced = {}
    for i, t in enumerate(learned.targets):
        reduced[tuple(t.target)] = target_entry(t, [
            {"master": list(m), "value": rational_function(*functions[k], symbols)}
            for k, (j, m) in enumerate(layout) if j == i])
    out_targets = [reduced.get(t) or master_entry(t) for t in asked]
    # the functions' target positions are those of the result's targets
    position = {t: k for k, t in enumerate(asked)}
    layout = [(position[tuple(learned.targets[i].target)], m) for i, m in layout]
    result = {
        "family": family.name,
        "point": {k: format_fraction(v) for k, v in fixed.items()},
        "analytic_in": list(symbols),
        "symmetries": bool(symmetries),
        "masters": [list(m) for m in masters],
        "targets": out_targets,
        "stats": {**system_stats(seeds, learned), **stats,
                  "seconds_learn": round(seconds_learn, 3),
                  "seconds_reconstruct": round(seconds_reconstruct, 3),
                  "seconds": round(time.perf_counter() - start, 3)},
        "seeds_used": label,
        "functions": [(layout[k], f) for k, f in enumerate(functions)],
    }
    if keep_model:
        result["model"] = trimmed
    return result


def _coefficient(layout, trimmed, k) -> str:
    i, master = layout[k]
    return f"the coefficient of {_name(master)} in {_name(trimmed.targets[i])}"


def reconstruct(trimmed: TrimmedSystem, layout, symbols, fixed, rng, max_primes, max_samples,
                check_points, say, rescale=None, check=None, workers: int = 1, dask=None):
    """The layout's entries as (numerator, denominator) with rational coefficients, sampled in
    ``symbols`` (the others at ``fixed``); ``rescale`` maps them to the functions that are
    checked, in ``check`` = (symbols, fixed) (default: the sampled ones)."""
    check_symbols, check_fixed = check or (symbols, fixed)
    rows = CompiledRows(trimmed)
    if (workers > 1 or dask is not None) and len(symbols) > 1:  # only grids are worth a pool
        from ibp_evolve.reducer.reconstruct.parallel import DaskRayPool, RayPool
        if dask is None and not kernels_loaded():
            warmup()  # before the fork: every worker inherits the compiled solver
        with (DaskRayPool(dask, trimmed, layout, symbols, fixed, rows) if dask is not None
              else RayPool(workers, trimmed, layout, symbols, fixed, rows)) as pool:
            return _reconstruct(trimmed, layout, symbols, fixed, rng, max_primes, max_samples,
                                check_points, say, rescale, check_symbols, check_fixed, rows,
                                pool)
    return _reconstruct(trimmed, layout, symbols, fixed, rng, max_primes, max_samples,
                        check_points, say, rescale, check_symbols, check_fixed, rows, None)


def _reconstruct(trimmed, layout, symbols, fixed, rng, max_primes, max_samples, check_points,
                 say, rescale, check_symbols, check_fixed, rows, pool):
    n = len(symbols)
    combiner = PrimeCombiner()
    samples = 0
    t_start = time.perf_counter()
    for prime in PRIMES[1:]:
        if combiner.n_primes >= max_primes:
            break
        f = sampler_or_none(trimmed, layout, symbols, fixed, prime, rows)
        if f is None:
            continue  # a fixed value has a pole mod this prime
        f = _switching_to_numba(f, t_start, say)
        for attempt in range(RETRIES):
            sampler = Sampler(f, prime, rng, max_samples,
                              progress=lambda m, k=combiner.n_primes + 1: say(f"prime {k}: {m}"))
            try:
                functions = reconstruct_mod_p(sampler, n, on_degrees=lambda total, bounds: say(
                    f"total degree {total}" + "".join(
                        f", degree in {s} <= {b}" for s, b in zip(symbols[1:], bounds))),
                    rays=pool.rays_for(sampler) if pool is not None else None)
                samples += sampler.samples
                break
            except Unlucky:
                samples += sampler.samples
                continue
            except AllDegenerate:
                raise DegeneratePointError(
                    "degenerate point: with " + ", ".join(
                        f"{k}={format_fraction(v)}" for k, v in fixed.items())
                    + f" every sample in {', '.join(symbols)} breaks the learned elimination "
                    "(special kinematics); choose other --at values") from None
            except SampleBudgetError as exc:
                raise NotStableError(
                    f"{_coefficient(layout, trimmed, (exc.pending or [0])[0])} did not stabilise "
                    f"within {max_samples} samples at one prime; raise --max-samples") from None
        else:
            continue  # unlucky every time: this prime is skipped
        combiner.add(prime, functions)
        result = combiner.result()
        say(f"prime {combiner.n_primes}: {samples} samples so far, "
            f"{len(combiner.pending)} of {len(layout)} coefficients still changing")
        if result is not None and rescale is not None:
            result = rescale(result)
        if result is not None and _check(trimmed, layout, check_symbols, check_fixed, result,
                                         rng, check_points, say):
            return result, {"samples": samples, "primes": combiner.n_primes,
                            "checked_points": check_points}
    k = combiner.pending[0] if combiner.pending else 0
    raise NotStableError(f"{_coefficient(layout, trimmed, k)} did not stabilise within "
                         f"{max_primes} prime{'s' if max_primes != 1 else ''} (or failed its check at fresh "
                         "points); raise --max-primes")


def _switching_to_numba(f, t_start, say):
    """``f``, which loads the numba kernels once sampling has taken NUMBA_AFTER_S."""
    if kernels_loaded():
        return f

    def sample(x):
        if not kernels_loaded() and time.perf_counter() - t_start > NUMBA_AFTER_S:
            say("many samples: loading the compiled solver")
            warmup()  # from now on the solver's "auto" engine is numba
        return f(x)
    return sample


def exact_at(trimmed: TrimmedSystem, layout, point: dict, primes=CHECK_PRIMES):
    """The layout's entries at a rational ``point`` by replay, CRT and rational
    reconstruction; None when the point breaks the learned elimination."""
    rec = Reconstructor(len(layout))
    failures = 0
    for prime in primes:
        try:
            rows = trimmed.sample_at(point, prime)
        except PoleError:
            continue
        if rows is None:
            failures += 1
            if failures >= 2:
                return None
            continue
        rec.add(prime, [rows[i].get(m, 0) for i, m in layout])
        values = rec.result()
        if values is not None:
            return values
    return None


def _check(trimmed, layout, symbols, fixed, functions, rng, check_points, say) -> bool:
    """Every function agrees with an exact reduction at ``check_points`` fresh points."""
    checked, tries = 0, 0
    while checked < check_points and tries < 10 * check_points:
        tries += 1
        x = [Fraction(int(rng.integers(-97, 98)) or 1, int(rng.integers(1, 98)))
             for _ in symbols]
        try:
            predicted = [evaluate_function(num, den, x) for num, den in functions]
        except ZeroDivisionError:
            continue  # a pole of some coefficient: another point
        exact = exact_at(trimmed, layout, fixed | dict(zip(symbols, x)))
        if exact is None:
            continue
        if predicted != exact:
            say("check at a fresh point failed: taking more primes")
            return False
        checked += 1
    return checked == check_points
