"""Ask the solver which seeds a reduction needs, and shrink a complete seed set to a minimal one.

Two facts make this fast:

* **Mark and sweep labels seeds.**  The solver reports the equations that the targets' rows
  actually depend on (``Solution.trimmed_equations``).  A seed none of whose equations is among
  them is *unneeded*: re-solving without it reproduces the target rows exactly, so every target
  stays reduced with identical coefficients.  One solve therefore drops all unneeded seeds at once.
* **Completeness is monotone.**  If a seed set reduces every target, so does any superset (more
  equations only enlarge the span).  Hence a seed whose removal breaks a complete set S stays
  essential in every subset of S: one greedy pass, testing each seed once, gives a set from which
  no single seed can be removed.  Removals are first tried in blocks (a block that can go as a
  whole costs one solve) and a failing block is bisected down to its essential seeds.

After the greedy pass, randomised *swaps* (drop one seed, add one from a pool of nearby candidate
seeds, prune, greedy again) look for a smaller minimal set under a time and attempt budget.
Minimal sets are not unique; different random orders give different ones, which is what
:mod:`ibp_evolve.engines.symbolic.labels` counts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from ibp_evolve.reducer.reduction import NumericReduction, reduce_on_seeds
from ibp_evolve.judge.score import SymmetricUniverse
from ibp_evolve.reducer.system import EquationSystem

__all__ = ["SeedLabels", "MinimalSeedSet", "MinimizeReport", "seed_labels", "minimize_seeds",
           "minimize_suite", "neighbour_pool"]


@dataclass
class SeedLabels:
    """Mark-and-sweep labels of a seed set: which seeds' equations the targets' rows used."""

    seed_ids: np.ndarray        # the seed set, sorted (ids into the system's seeds)
    needed: np.ndarray          # bool per seed in ``seed_ids``
    reduction: NumericReduction = field(repr=False)

    @property
    def needed_ids(self) -> np.ndarray:
        return self.seed_ids[self.needed]

    @property
    def unneeded_ids(self) -> np.ndarray:
        return self.seed_ids[~self.needed]

    @property
    def complete(self) -> bool:
        return self.reduction.complete


def seed_labels(system: EquationSystem, seed_ids, targets, masters,
                relations=None) -> SeedLabels:
    """Solve on ``seed_ids`` once and label each seed needed / unneeded by mark and sweep.
    ``relations``: the system's symmetry relation rows, solved with every subset."""
    seed_ids = np.unique(np.asarray(seed_ids, dtype=np.int64))
    red = reduce_on_seeds(system, seed_ids, targets, masters, relations=relations)
    used = np.unique(system.seed_of_equation(red.trimmed_seed_equations))
    return SeedLabels(seed_ids, np.isin(seed_ids, used), red)


@dataclass
class MinimalSeedSet:
    """Outcome of :func:`minimize_seeds` on one system (one target, or all targets jointly)."""

    targets: list
    seed_ids: np.ndarray        # the minimal complete set found (sorted system seed ids)
    start_size: int
    pruned_size: int            # after the first mark-and-sweep prune
    greedy_size: int            # after the first greedy pass
    complete: bool              # False only when the start set itself was incomplete
    solves: int = 0
    swaps_tried: int = 0
    swaps_accepted: int = 0
    seconds: float = 0.0

    @property
    def size(self) -> int:
        return len(self.seed_ids)


class _Minimizer:
    """Bookkeeping of one minimisation: the current complete set and the solve counter.

    ``solve(seed_ids)``: the needed subset of ``seed_ids`` when it reduces every target, else
    None (:func:`_system_solve`, or :func:`_judge_solve` with sector symmetries)."""

    def __init__(self, solve, targets):
        self.solve = solve
        self.targets = [tuple(int(x) for x in t) for t in targets]
        self.solves = 0

    def needed_if_complete(self, seed_ids: np.ndarray):
        """The needed subset of ``seed_ids`` when it reduces every target, else None."""
        self.solves += 1
        return self.solve(seed_ids)

    def greedy(self, current: np.ndarray, rng, block: int | None = None) -> np.ndarray:
        """Remove seeds while every target stays reduced; returns a 1-minimal complete set."""
        order = list(rng.permutation(current)) if rng is not None else list(current[::-1])
        essential: set[int] = set()
        alive = set(int(x) for x in current)
        block = block or max(1, len(order) // 8)
        while True:
            untested = [x for x in order if x in alive and x not in essential]
            if not untested:
                break
            chunk, rest = untested[:block], untested[block:]
            alive, gone = self._remove_block(alive, chunk, essential)
            # adapt the block size: grow while blocks go, shrink when they hold essentials
            block = min(2 * block, max(1, len(rest))) if gone == len(chunk) else max(1, block // 2)
        return np.array(sorted(alive), dtype=np.int64)

    def _remove_block(self, alive: set, chunk: list, essential: set, fails: bool = False):
        """Try to drop ``chunk``; bisect on failure.  Returns (new alive set, seeds dropped).

        ``fails``: already known to fail (no solve needed).  If a block fails and its first
        half goes as a whole, what is left of the second half must fail too: removing it leaves
        a subset of the set that failed without the whole block (monotonicity)."""
        chunk = [x for x in chunk if x in alive]
        if not chunk:
            return alive, 0
        if not fails:
            trial = np.array(sorted(alive.difference(chunk)), dtype=np.int64)
            kept = self.needed_if_complete(trial)
            if kept is not None:
                return set(int(x) for x in kept), len(chunk)
        if len(chunk) == 1:
            essential.add(chunk[0])
            return alive, 0
        half = len(chunk) // 2
        alive, gone_a = self._remove_block(alive, chunk[:half], essential)
        second = [x for x in chunk[half:] if x in alive]
        alive, gone_b = self._remove_block(alive, second, essential, fails=gone_a == half)
        return alive, gone_a + gone_b


def neighbour_pool(seeds: np.ndarray, seed_ids) -> np.ndarray:
    """Ids of the rows of ``seeds`` one unit step (one index +-1) away from the given rows."""
    seeds = np.asarray(seeds, dtype=np.int64)
    n = seeds.shape[1]
    lo, hi = int(seeds.min()) - 1, int(seeds.max()) + 1
    radix = hi - lo + 1
    place = radix ** np.arange(n, dtype=np.int64)
    keys = (seeds - lo) @ place
    order = np.argsort(keys)
    sorted_keys = keys[order]
    base = seeds[np.asarray(seed_ids, dtype=np.int64)]
    steps = np.vstack([np.eye(n, dtype=np.int64), -np.eye(n, dtype=np.int64)])
    near = ((base[:, None, :] + steps[None, :, :]).reshape(-1, n) - lo) @ place
    pos = np.clip(np.searchsorted(sorted_keys, near), 0, len(sorted_keys) - 1)
    hit = sorted_keys[pos] == near
    return np.unique(order[pos[hit]])


def minimize_seeds(system: EquationSystem, seed_ids, targets, masters, *, rng=None,
                   swaps: int = 1000, seconds: float = 5.0, pool=None, restarts: int = 4,
                   randomise: bool = True, relations=None) -> MinimalSeedSet:
    """Shrink a complete seed set to a minimal complete one (``relations``: the system's
    symmetry relation rows, solved with every seed subset).

    1. prune by mark and sweep (drop every unneeded seed);
    2. greedy removal in blocks with bisection (random order when ``randomise``; the best of
       ``restarts`` random orders);
    3. up to ``swaps`` randomised swaps within ``seconds``: drop one seed, add one from ``pool``
       (default: the start set and the candidate seeds one step away from it), prune and run the
       greedy pass again; a swap is kept when the result is not larger (plateau moves let the
       search wander between minimal sets of the same size).

    The result is never larger than the start.  An incomplete start is returned unchanged with
    ``complete=False``.
    """
    work = _Minimizer(_system_solve(system, targets, masters, relations), targets)
    return _search(work, system.seeds, seed_ids, rng=rng, swaps=swaps, seconds=seconds,
                   pool=pool, restarts=restarts, randomise=randomise)


def _system_solve(system, targets, masters, relations):
    """Solve a seed subset on ``system``'s rows as they are (with ``relations``, if any)."""
    def solve(seed_ids):
        labels = seed_labels(system, seed_ids, targets, masters, relations)
        return labels.needed_ids if labels.complete else None
    return solve


def _judge_solve(judge, seeds: np.ndarray, targets):
    """Solve a subset of the rows ``seeds`` as ``judge`` scores a rule's choice: with sector
    symmetries, seeds of non-unique sectors are first moved onto their images (a set that is
    complete when each seed is solved as it is can leave a target unreduced for the judge).
    A seed is needed when one of its images is.

    The images of all of ``seeds`` and their relation rows are built once
    (:class:`~ibp_evolve.judge.score.SymmetricUniverse`); each trial gathers its equations in
    the order :meth:`Judge.reduce_solved` gives them, so its verdict and its needed seeds are
    that path's, tie for tie, without instantiating and closing a system per trial."""
    universe = SymmetricUniverse(judge, seeds, targets)

    def solve(seed_ids):
        red, needed = universe.solve_needed(seed_ids, targets, judge.masters)
        return needed if red.complete else None
    return solve


def _search(work: _Minimizer, seeds: np.ndarray, seed_ids, *, rng, swaps, seconds, pool,
            restarts, randomise) -> MinimalSeedSet:
    """:func:`minimize_seeds`' steps on ``work``'s solves; ``seeds``: the candidates' rows."""
    start_time = time.perf_counter()
    rng = np.random.default_rng(rng) if randomise else None
    start = np.unique(np.asarray(seed_ids, dtype=np.int64))
    current = work.needed_if_complete(start)
    if current is None:
        return MinimalSeedSet(list(work.targets), start, len(start), len(start), len(start),
                              False, work.solves, seconds=time.perf_counter() - start_time)
    pruned = len(current)
    pruned_set = current
    current = work.greedy(pruned_set, rng)
    for _ in range(restarts - 1 if rng is not None else 0):
        if time.perf_counter() > start_time + seconds:
            break
        other = work.greedy(pruned_set, rng)
        if len(other) < len(current):
            current = other
    greedy_size = len(current)
    best = current
    tried = accepted = 0
    if swaps > 0 and len(current) > 0:
        swap_rng = rng if rng is not None else np.random.default_rng(0)
        pool = np.union1d(start, neighbour_pool(seeds, start)) if pool is None else \
            np.unique(np.asarray(pool, dtype=np.int64))
        deadline = start_time + seconds
        while tried < swaps and time.perf_counter() < deadline:
            outside = np.setdiff1d(pool, current, assume_unique=True)
            if len(outside) == 0:
                break
            tried += 1
            drop = current[swap_rng.integers(len(current))]
            add = outside[swap_rng.integers(len(outside))]
            trial = np.union1d(current[current != drop], [add])
            kept = work.needed_if_complete(trial)
            if kept is None:
                continue
            candidate = work.greedy(kept, swap_rng)
            if len(candidate) <= len(current):
                accepted += 1
                current = candidate
                if len(current) < len(best):
                    best = current
    return MinimalSeedSet(list(work.targets), best, len(start), pruned, greedy_size, True,
                          work.solves, tried, accepted, time.perf_counter() - start_time)


@dataclass
class MinimizeReport:
    """Minimal sets for every target of a suite (one entry per system: joint suites have one)."""

    suite: str
    rule: str
    results: list               # MinimalSeedSet per system
    masks: list                 # keep-mask per target over the target's candidate universe

    @property
    def complete(self) -> bool:
        return all(r.complete for r in self.results)

    def to_json(self) -> dict:
        return {"suite": self.suite, "rule": self.rule, "complete": self.complete,
                "results": [{"targets": [list(t) for t in r.targets], "start": r.start_size,
                             "pruned": r.pruned_size, "greedy": r.greedy_size,
                             "minimal": r.size, "complete": r.complete, "solves": r.solves,
                             "swaps_tried": r.swaps_tried, "swaps_accepted": r.swaps_accepted,
                             "seconds": round(r.seconds, 4)} for r in self.results],
                "seeds_per_target": [int(m.sum()) for m in self.masks]}


def _local_system(judge, universe: np.ndarray, seed_ids: np.ndarray):
    """(ids, system): the universe rows ``seed_ids`` and their one-step neighbours (everything
    :func:`minimize_seeds` may try), in universe order, with rows from the judge's row cache.
    The order is the universe's, so every solve and every random choice is the one the
    whole universe's system would give."""
    local = np.union1d(seed_ids, neighbour_pool(universe, seed_ids)) if len(seed_ids) \
        else np.zeros(0, dtype=np.int64)
    return local, judge.rows.system(universe[local], extra_integrals=judge.suite.targets)


def _minimize_in(judge, universe, seed_ids, targets, **options) -> MinimalSeedSet:
    """minimize_seeds on the neighbourhood of ``seed_ids``; seed ids are universe ids."""
    if judge.sector_symmetries is None:
        local, system = _local_system(judge, universe, seed_ids)
        result = minimize_seeds(system, np.searchsorted(local, seed_ids), targets,
                                judge.masters, **options)
    else:
        # solved as the judge solves them, so that a set called minimal and complete here is
        # complete for `score`, `reduce` and `evolve`
        local = np.union1d(seed_ids, neighbour_pool(universe, seed_ids)) if len(seed_ids) \
            else np.zeros(0, dtype=np.int64)
        work = _Minimizer(_judge_solve(judge, universe[local], targets), targets)
        result = _search(work, universe[local], np.searchsorted(local, seed_ids), pool=None,
                         **options)
    return replace(result, seed_ids=local[result.seed_ids])


def minimize_suite(judge, masks, *, rng=0, swaps: int = 1000, seconds: float = 5.0,
                   restarts: int = 4, randomise: bool = True, rule: str = "") -> MinimizeReport:
    """Minimise the seed masks of every target of ``judge``'s suite (jointly for joint suites).

    Only the chosen seeds and their neighbours get equation rows (the judge's row cache)."""
    rng = np.random.default_rng(rng)
    suite = judge.suite
    options = dict(rng=rng, swaps=swaps, seconds=seconds, restarts=restarts,
                   randomise=randomise)
    if suite.joint:
        # trials are solved in joint-universe order (completeness does not depend on the
        # order; a minimal set is rescored by `score` in the order its masks give)
        union = np.sort(judge.joint_ids(masks))
        result = _minimize_in(judge, judge.joint_universe, union, suite.targets, **options)
        out_masks = [np.isin(judge.joint_index[i], result.seed_ids)
                     for i in range(len(suite.targets))]
        return MinimizeReport(suite.name, rule, [result], out_masks)
    results, out_masks = [], []
    for i, mask in enumerate(masks):
        result = _minimize_in(judge, judge.universes[i], np.flatnonzero(mask),
                              [suite.targets[i]], **options)
        results.append(result)
        out = np.zeros(len(judge.universes[i]), dtype=bool)
        out[result.seed_ids] = True
        out_masks.append(out)
    return MinimizeReport(suite.name, rule, results, out_masks)
