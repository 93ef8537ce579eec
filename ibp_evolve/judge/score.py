"""The judge: score a seeding rule on a suite.

For every target the *candidate universe* is the Laporta box r <= r_target + delta_r,
s <= s_target + delta_s over the non-zero subsectors of the target's sector; a rule chooses seeds
inside it.  The judge never instantiates the universe: a rule is evaluated over it chunk by
chunk (:mod:`ibp_evolve.judge.selection`), and equation rows are instantiated only for the seeds
it keeps, through a :class:`~ibp_evolve.reducer.rowcache.RowCache` shared by every rule the judge
scores (fixed point, fixed prime: the judge is deterministic).  Memory follows what a rule keeps.
Sizes are checked before any work (:mod:`ibp_evolve.judge.bounds`).

Fitness (lower is better) is lexicographic in effect, (unreduced targets, survivors, objective):

    complete rule:    sum of the objective over targets (joint suites: of the one joint solve)
    incomplete rule:  PENALTY * unreduced + SURVIVOR_WEIGHT * survivors + min(objective, SURVIVOR_WEIGHT - 1)

so any complete rule beats any incomplete one whatever the objective's scale.  The objective
``relative_trimmed`` normalises per target: the sum over targets of the rule's trimmed equations
divided by those of the reference rule (tube_seeding) on that target, an exact
:class:`~fractions.Fraction` (``ScoreReport.total``), so that on a suite of many targets one
large target cannot dominate; the reference scores exactly one per target.  A target for
which the rule selects more than ``max_seeds`` seeds is failed without solving; its survivor
count is the excess number of seeds, so the penalty still grades by size.

Sector symmetries (the suite's ``symmetries`` key, or the ``symmetries`` argument): a rule's
seeds in non-unique sectors are replaced by their images in the unique sectors
(:func:`~ibp_evolve.reducer.symmetry_rows.unique_seeds`), every integral of the system gets its relation rows, and targets reduce onto the
symmetric master basis.  Equations and trimmed equations count the seeds' IBP equations; the
relation rows are solved too (their work is in the multiply-adds) but owned by no seed.

What "seeds" counts.  ``TargetScore.seeds`` (and the ``seeds`` objective) is the number of seeds
*solved*: with symmetries, the images in unique sectors, each once (the paper target's 92
improved-seeding seeds become 79), because their equations are the work a reduction does and
what a user comparing rules pays for.  ``seeds_selected`` is the rule's own choice in the
candidate universe (92), which is what an engine evolves and ``inspect`` draws; without
symmetries the two are equal.  Both are in ``score --json`` (``seeds_selected`` added beside the
old key, whose meaning is unchanged).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction
from functools import cached_property

import numpy as np

from ibp_evolve.judge.bounds import (candidate_bytes, check_memory, default_max_memory,
                                     rows_bytes)
from ibp_evolve.judge.selection import (DEFAULT_MAX_CANDIDATES, box_limits, check_candidates,
                                        mask_function, select_from_box)
from ibp_evolve.judge.suites import Suite, with_symmetries
from ibp_evolve.language.compile import compile_rule, features_from_indices
from ibp_evolve.language.parse import Rule, load_rule
from ibp_evolve.language.sandbox import evaluate_mask
from ibp_evolve.reducer.masters import family_masters
from ibp_evolve.reducer.modular import PRIMES, random_point
from ibp_evolve.reducer.ordering import Ordering
from ibp_evolve.reducer.plans import merge_seeds
from ibp_evolve.reducer.reduction import reduce_on_seeds
from ibp_evolve.reducer.rowcache import DEFAULT_CACHE_BYTES, RowCache
from ibp_evolve.reducer.seeding import laporta_seeds
from ibp_evolve.reducer.solver import warmup
from ibp_evolve.reducer.symmetry_rows import (RelationCache, RelationRows, columns_of_rows,
                                             family_automorphism_region, first_occurrences,
                                             seed_images, symmetries_at, unique_seeds,
                                             with_symmetry_rows)
from ibp_evolve.reducer.system import build_system
from ibp_evolve.reducer.templates import templates

OBJECTIVES = ("seeds", "equations", "trimmed", "multiply_adds", "seconds",
              "relative_trimmed")
# relative_trimmed: per target, the rule's trimmed equations over this reference rule's (an
# exact Fraction), so that over a suite of many targets one large target cannot dominate.  The
# reference is the best complete library rule (tube_seeding, the `reduce` default), so a rule
# scores below one per target only where it beats the state of the art.
REFERENCE_RULE = "tube_seeding"
PENALTY = 10 ** 15
SURVIVOR_WEIGHT = 10 ** 9
JUDGE_POINT_SEED = 2502  # the fixed numeric point of every judge
DEFAULT_FEATURE_BYTES = 256 << 20  # universes' features kept between rules, at most


@dataclass
class TargetScore:
    target: list
    seeds: int
    equations: int
    trimmed_equations: int
    multiply_adds: int
    seconds: float
    reduced: bool
    survivors: list = field(default_factory=list)
    n_survivors: int = 0
    reason: str = ""  # why it was not solved (e.g. max_seeds exceeded)
    reference_trimmed: int | None = None  # the reference rule's, for relative_trimmed
    # the rule's own seeds (``seeds`` counts those solved: with symmetries, mirror-sector
    # seeds replaced by their images); None in scores stored before the key existed
    seeds_selected: int | None = None

    def objective(self, name: str):
        if name == "relative_trimmed":
            # a reference that keeps no equation (the target is a master) counts as one
            return Fraction(self.trimmed_equations, max(1, self.reference_trimmed or 0))
        key = {"trimmed": "trimmed_equations"}.get(name, name)
        return getattr(self, key)


@dataclass
class ScoreReport:
    rule: str
    suite: str
    objective: str
    fitness: float
    complete: bool
    targets: list
    joint: bool = False
    total: object = None   # the objective summed over targets, exact (int or Fraction)
    symmetries: bool = False  # solved with sector symmetries (relation rows, unique sectors)
    # joint suites: the seeds of the one solve (the targets' choices merged, with symmetries
    # moved to unique sectors), the count ``reduce --targets`` reports; a target's ``seeds``
    # is its own choice there
    joint_seeds: int | None = None

    @property
    def exact_fitness(self):
        """The fitness without rounding: an int, or a Fraction (``relative_trimmed``), from the
        exact objective total (``fitness`` is a float for fractions, and loses integers past
        2^53 wherever it is turned into one)."""
        if self.total is None:
            return self.fitness
        unreduced = [t for t in self.targets if not t.reduced]
        return fitness_of(self.total, len(unreduced), sum(t.n_survivors for t in unreduced))

    def to_json(self) -> dict:
        fitness = self.exact_fitness
        if isinstance(fitness, Fraction):   # exact: "p/q" text (an integer stays a JSON integer)
            fitness = int(fitness) if fitness.denominator == 1 else str(fitness)
        data = {"rule": self.rule, "suite": self.suite, "objective": self.objective,
                "fitness": fitness, "complete": self.complete, "joint": self.joint,
                "symmetries": self.symmetries, "targets": [asdict(t) for t in self.targets]}
        if self.joint_seeds is not None:
            data["joint_seeds"] = self.joint_seeds
        if self.objective == "relative_trimmed":   # the exact sum, and what it divides by
            data["total"] = str(self.total)
        else:
            for t in data["targets"]:
                t.pop("reference_trimmed")
        return data


class SymmetricUniverse:
    """A small universe's equations with symmetries, built once and sliced per rule.

    The images of every candidate seed in the unique sectors
    (:func:`~ibp_evolve.reducer.symmetry_rows.seed_images`) are instantiated together, with the
    relation rows of all their integrals (closed over the non-unique sectors).  A rule's seeds
    then select their images, and the relations of the integrals their equations contain,
    closed the same way (:func:`~ibp_evolve.reducer.symmetry_rows.with_symmetry_rows`), in
    the order the row cache's path and ``reduce`` number them (:meth:`path_order`): the
    solver breaks pivot ties by that order, since in the universe's own numbering a tie
    fell differently (the double box's mirror target: 60,109 multiply-adds sliced, 60,125
    in ``reduce``; the reduction is the same).
    """

    def __init__(self, judge: "Judge", universe: np.ndarray, targets):
        # ``targets``: the integrals the universe's seeds are for (their sectors' mappings
        # carry the seeds, :func:`seed_images`): a suite target's own, or minimize's targets
        images, owner = seed_images(judge.sector_symmetries, judge.family, universe,
                                    judge.point, judge.prime, targets)
        first = first_occurrences(images)
        self.seeds = images[first]
        self.image_seed = columns_of_rows(self.seeds, images)  # image -> its seed id
        self.image_ptr = np.searchsorted(owner, np.arange(len(universe) + 1))
        system = build_system(judge.family, self.seeds, judge.point, judge.prime,
                              judge.ordering, extra_integrals=judge.suite.targets)
        self.system, self.relations = with_symmetry_rows(
            system, judge.sector_symmetries, judge.point, cache=judge._relations)
        self.n_seed_equations = self.relations.first
        sys_ = self.system
        self.target_cols = np.array([sys_.column_of(t) for t in judge.suite.targets])
        self.target_cols = self.target_cols[self.target_cols >= 0]
        self.source_col = columns_of_rows(sys_.integrals, self.relations.sources)
        self.automorphism = np.array([m.source == m.target for m in self.relations.mappings],
                                     dtype=bool)
        weights = np.int64(1) << np.arange(judge.family.n, dtype=np.int64)
        col_sector = ((sys_.integrals > 0) * weights).sum(axis=1)
        self.mapped_col = judge._relations.mapped[col_sector]
        # closure rounds are needed only when some relation has a term in a non-unique sector
        rel = self.relations.ids
        terms = sys_.eq_cols[index_ranges(sys_.eq_ptr[rel], sys_.eq_ptr[rel + 1])]
        self.may_close = bool(self.mapped_col[terms].any())
        # select() reads which columns a rule's equations touch only at relation sources and
        # integrals of non-unique sectors: each seed's hits there, kept per seed, cost a
        # fraction of marking every column its equations touch (the universe's ~10^5)
        watched = self.mapped_col.copy()
        watched[self.source_col] = True
        ends = sys_.eq_ptr[: self.n_seed_equations + 1]
        entry_cols = sys_.eq_cols[: ends[-1]]
        entry_seed = np.repeat(np.arange(self.n_seed_equations, dtype=np.int64)
                               // sys_.n_templates, np.diff(ends))
        keep = watched[entry_cols]
        self.watched_cols = entry_cols[keep]
        self.watched_ptr = np.searchsorted(entry_seed[keep],
                                           np.arange(len(self.seeds) + 1, dtype=np.int64))

    def _selection(self, universe_ids: np.ndarray):
        """(seed ids, [relation positions taken in each round of the closure])."""
        ids = np.asarray(universe_ids, dtype=np.int64)
        chosen = self.image_seed[index_ranges(self.image_ptr[ids], self.image_ptr[ids + 1])]
        _, first = np.unique(chosen, return_index=True)
        seed_ids = chosen[np.sort(first)]  # each image once, where it first comes
        sys_ = self.system
        present = np.zeros(sys_.n_columns, dtype=bool)  # exact on the watched columns only
        present[self.watched_cols[index_ranges(self.watched_ptr[seed_ids],
                                          self.watched_ptr[seed_ids + 1])]] = True
        present[self.target_cols] = True
        taken = present[self.source_col]
        rounds = [np.flatnonzero(taken)]
        frontier = taken if self.may_close else np.zeros(0, dtype=bool)
        while frontier.any():
            rel = np.flatnonzero(frontier) + self.n_seed_equations
            cols = sys_.eq_cols[index_ranges(sys_.eq_ptr[rel], sys_.eq_ptr[rel + 1])]
            new = np.unique(cols[self.mapped_col[cols] & ~present[cols]])
            if not len(new):
                break
            present[new] = True
            # later rounds: the mapping of each new integral (no self-maps, as in the row
            # cache's path)
            frontier = np.isin(self.source_col, new) & ~self.automorphism & ~taken
            taken |= frontier
            rounds.append(np.flatnonzero(frontier))
        return seed_ids, rounds

    def path_order(self, universe_ids: np.ndarray):
        """(seed ids, relation positions) of the rule's universe rows ``universe_ids``, each in
        the order :meth:`Judge.reduce_solved` and ``reduce`` number them: solved with
        ``reduce_on_seeds(self.system, seed_ids, ..., relations=self.relations.subset(
        positions), ties_in_given_order=True)``, every tie in the solver's pivot order falls
        as there, so the figures are theirs and a seed set is needed, complete or minimal
        here exactly when it is there.

        That path numbers the seeds' equations as their images first come, then the relations
        of its system's integrals in column order (the universe's columns keep that order),
        then each round of the closure in the order of ``_unique_rows`` (last index most
        significant)."""
        seed_ids, rounds = self._selection(universe_ids)
        sources = self.relations.sources
        first = rounds[0][np.lexsort((rounds[0], self.source_col[rounds[0]]))]
        later = [r[np.lexsort(sources[r].T)] for r in rounds[1:]]
        return seed_ids, np.concatenate([first] + later)

    def in_path_order(self, universe_ids: np.ndarray):
        """(system, RelationRows): :meth:`path_order`'s equations gathered into a system of
        their own (seeds: the images, each once), numbered in that order (``minimize`` reads
        the needed seeds off its trimmed equations).  Solve with ``reduce_on_seeds(system,
        arange(len(system.seeds)), ...)``."""
        seed_ids, relations = self.path_order(universe_ids)
        sources = self.relations.sources
        sys_ = self.system
        equations = np.concatenate([sys_.equations_of(seed_ids),
                                    self.n_seed_equations + relations])
        starts, stops = sys_.eq_ptr[equations], sys_.eq_ptr[equations + 1]
        entries = index_ranges(starts, stops)
        system = replace(sys_, seeds=self.seeds[seed_ids],
                         eq_ptr=np.concatenate([[0], np.cumsum(stops - starts)]),
                         eq_cols=sys_.eq_cols[entries], eq_vals=sys_.eq_vals[entries])
        n_seed_rows = len(seed_ids) * sys_.n_templates
        return system, RelationRows(n_seed_rows, sources[relations],
                                    [self.relations.mappings[k] for k in relations])

    def solve_needed(self, universe_ids: np.ndarray, targets, masters):
        """``(reduction, needed)``: the universe rows ``universe_ids`` solved as :meth:`Judge
        .score` solves them (:meth:`in_path_order`), and those of the rows whose images the
        trimmed system uses (a seed is needed when one of its images is)."""
        system, relations = self.in_path_order(universe_ids)
        red = reduce_on_seeds(system, np.arange(len(system.seeds)), targets, masters,
                              relations=relations)
        used = system.seeds[np.unique(system.seed_of_equation(red.trimmed_seed_equations))]
        ids = np.asarray(universe_ids, dtype=np.int64)
        counts = self.image_ptr[ids + 1] - self.image_ptr[ids]
        images = self.seeds[self.image_seed[
            index_ranges(self.image_ptr[ids], self.image_ptr[ids + 1])]]
        return red, np.unique(np.repeat(ids, counts)[columns_of_rows(used, images) >= 0])


def index_ranges(starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """The concatenation of arange(start, stop) over the pairs, without a Python loop."""
    counts = stops - starts
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    return offsets + np.arange(int(counts.sum()), dtype=np.int64)


def _check_objective(objective: str) -> None:
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective '{objective}' (choose from {', '.join(OBJECTIVES)})")


def fitness_of(objective_total, n_unreduced: int, n_survivors: int):
    if n_unreduced == 0:
        return objective_total
    return (PENALTY * n_unreduced + SURVIVOR_WEIGHT * n_survivors
            + min(objective_total, SURVIVOR_WEIGHT - 1))


class Judge:
    """Caches what a suite needs (masters, point, a row cache), then scores rules or seed masks.

    ``max_memory`` (bytes; default a share of the machine's RAM) and ``max_candidates`` (seeds
    per target universe) are checked here, from counts, before anything is built.
    ``cache_bytes`` bounds the row cache, and also the universes whose equations are built
    whole and sliced (``sliced``: small universes, many rules); ``feature_bytes`` the features
    kept between rules (``resident``, smallest universes first; the others are enumerated
    chunk by chunk for every rule).

    The universes, their features and the equations of whole universes are built only when
    asked for (``universes``, ``features``, ``systems``: the mask API of the engines and of
    ``inspect``), each checked against ``max_memory`` first.
    """

    def __init__(self, suite: Suite, ordering: Ordering | None = None, prime: int = PRIMES[0],
                 *, max_memory: int | None = None,
                 max_candidates: int = DEFAULT_MAX_CANDIDATES,
                 cache_bytes: int | None = None, feature_bytes: int | None = None,
                 symmetries: bool | None = None):
        self.suite = suite = with_symmetries(suite, symmetries)
        self.symmetries = suite.symmetries
        self.family = family = suite.family
        self.ordering = ordering or Ordering.parse()
        self.prime = prime
        self.max_memory = int(max_memory) if max_memory is not None else default_max_memory()
        where = f"suite '{suite.name}', "
        self.universe_sizes = [check_candidates(family, t, suite.delta_r, suite.delta_s,
                                                max_candidates, where) for t in suite.targets]
        self.n_terms = templates(family).n_terms
        self.cache_bytes = (int(cache_bytes) if cache_bytes is not None
                            else min(DEFAULT_CACHE_BYTES, self.max_memory // 4))
        solved = self._largest_solve()
        check_memory(2 * self.cache_bytes + rows_bytes(solved, self.n_terms), self.max_memory,
                     f"{where}scoring (equations of up to {solved:,} seeds, "
                     f"{self.n_terms} terms each, and twice {self.cache_bytes >> 20} MiB of "
                     f"cached rows)", "lower max_seeds")
        self.masters = family_masters(family, self.ordering, symmetries=self.symmetries)
        warmup()  # load the compiled solver now, not inside the first rule's timing
        self.point = random_point(family.parameters, np.random.default_rng(JUDGE_POINT_SEED))
        self.sector_symmetries = (symmetries_at(family, self.point) if self.symmetries
                                  else None)
        self._relations = (RelationCache(self.sector_symmetries, family, self.point, prime,
                                         family_automorphism_region(family, self.ordering))
                           if self.symmetries else None)
        limits = [box_limits(t, suite.delta_r, suite.delta_s) for t in suite.targets]
        lo = min([-s_max for _, s_max in limits] + [min(t) for t in suite.targets])
        hi = max([r_max for r_max, _ in limits] + [max(t) for t in suite.targets])
        self.rows = RowCache(family, self.point, prime, (lo, hi), self.ordering,
                             max_bytes=self.cache_bytes)
        # Universes small enough keep their features between rules (the engines score
        # thousands of rules on them); the others are enumerated chunk by chunk per rule.
        self.feature_bytes = (int(feature_bytes) if feature_bytes is not None
                              else min(DEFAULT_FEATURE_BYTES, self.max_memory // 4))
        self.resident, used = set(), 0
        for i in sorted(range(len(suite.targets)), key=lambda k: self.universe_sizes[k]):
            size = candidate_bytes(self.universe_sizes[i], family.n)
            if used + size <= self.feature_bytes:
                self.resident.add(i)
                used += size
        # Universes whose equations all fit in a second cache-sized budget are instantiated
        # once and sliced, as rules on them are many and small (the engines' suites); the row
        # cache serves the others.  Both give the same systems for the same seeds.
        self.sliced, used = set(), 0
        for i in sorted(self.resident, key=lambda k: self.universe_sizes[k]):
            size = rows_bytes(self.universe_sizes[i], self.n_terms)
            if not suite.joint and used + size <= self.cache_bytes:
                self.sliced.add(i)
                used += size
        self._universes: dict[int, np.ndarray] = {}
        self._features: dict = {}
        self._systems: dict = {}

    def _largest_solve(self) -> int:
        """The most seeds one solve may get: max_seeds per target (joint: for the union)."""
        cap = self.suite.max_seeds
        if self.suite.joint:
            return min(cap * len(self.universe_sizes), sum(self.universe_sizes))
        return min(cap, max(self.universe_sizes))

    # -- the universes, on demand (the mask API) --------------------------------------------
    def _check_universe_memory(self, what: str, per_seed_bytes: float) -> None:
        total = sum(self.universe_sizes)
        check_memory(int(total * per_seed_bytes), self.max_memory,
                     f"suite '{self.suite.name}', {what} of {total:,} candidate seeds",
                     "lower delta_r/delta_s")

    def universe(self, i: int) -> np.ndarray:
        """Target ``i``'s candidate universe as index rows (built on first use, then kept)."""
        if i not in self._universes:
            t = self.suite.targets[i]
            r_max, s_max = box_limits(t, self.suite.delta_r, self.suite.delta_s)
            self._universes[i] = laporta_seeds(self.family, [t], r_max, s_max)
        return self._universes[i]

    def target_features(self, i: int):
        """The features of target ``i``'s universe (built on first use, then kept)."""
        if i not in self._features:
            self._features[i] = features_from_indices(self.universe(i), self.suite.targets[i],
                                                      self.family.isps)
        return self._features[i]

    @cached_property
    def universes(self) -> list[np.ndarray]:
        """Every target's candidate universe, as index rows (the mask API)."""
        self._check_universe_memory("the universes and their features",
                                    candidate_bytes(1, self.family.n))
        return [self.universe(i) for i in range(len(self.suite.targets))]

    @cached_property
    def features(self):
        """Every target's universe features (the mask API)."""
        return [self.target_features(i) for i in range(len(self.universes))]

    @cached_property
    def joint_universe(self) -> np.ndarray:
        """Joint suites: the union of the universes, each seed where it first comes (target by
        target, each in box order): the order ``reduce --targets`` numbers a joint system's
        seeds in, as :meth:`joint_ids` needs."""
        if not any(len(u) for u in self.universes):
            return np.zeros((0, self.family.n), dtype=np.int64)
        return merge_seeds(*self.universes)

    @cached_property
    def joint_index(self) -> list[np.ndarray]:
        """Joint suites: each target's universe rows as indices into :attr:`joint_universe`."""
        return [columns_of_rows(self.joint_universe, u) for u in self.universes]

    def joint_ids(self, masks) -> np.ndarray:
        """Joint suites: the :attr:`joint_universe` ids of the seeds the keep-``masks`` choose,
        each once, in the order the joint solve numbers them (:meth:`score_seeds`, and
        ``reduce --targets``: :func:`~ibp_evolve.reducer.plans.merge_seeds` of the targets'
        choices).  Not ascending ids: a seed one target keeps may have an early id from
        another's universe, yet come after the seeds the first target keeps."""
        chosen = [self.joint_index[i][np.flatnonzero(m)] for i, m in enumerate(masks)]
        ids = np.concatenate(chosen) if chosen else np.zeros(0, dtype=np.int64)
        _, first = np.unique(ids, return_index=True)
        return ids[np.sort(first)]

    @cached_property
    def systems(self):
        """The equations of the whole universes (joint: of their union), for code that needs a
        neighbourhood of any seed (``minimize``, ``inspect``); checked against max_memory."""
        self._check_universe_memory("the equations", rows_bytes(1, self.n_terms))
        if self.suite.joint:
            return [self._build(self.joint_universe)]
        return [self._universe_system(i) for i in range(len(self.universes))]

    def _universe_system(self, i: int):
        if i not in self._systems:
            self._systems[i] = self._build(self.universe(i))
        return self._systems[i]

    def _build(self, seeds):
        return build_system(self.family, seeds, self.point, self.prime, self.ordering,
                            extra_integrals=self.suite.targets)

    # -- sector symmetries ------------------------------------------------------------------
    def solved_seeds(self, seeds: np.ndarray, targets=()) -> np.ndarray:
        """The seeds a rule's choice for ``targets`` is solved on: itself, or with symmetries
        its seeds moved to unique sectors."""
        if self.sector_symmetries is None:
            return seeds
        return unique_seeds(self.sector_symmetries, self.family, seeds, self.point,
                            self.prime, targets)

    def with_relations(self, system):
        """``(system, relations)``: with symmetries the system with its relation rows (to be
        solved with the seeds' equations), otherwise ``(system, None)``."""
        if self.sector_symmetries is None:
            return system, None
        return with_symmetry_rows(system, self.sector_symmetries, self.point,
                                  cache=self._relations)

    def _symmetric_universe(self, i: int) -> "SymmetricUniverse":
        if ("symmetric", i) not in self._systems:
            self._systems[("symmetric", i)] = SymmetricUniverse(self, self.universe(i),
                                                                 [self.suite.targets[i]])
        return self._systems[("symmetric", i)]

    def reduce(self, seeds: np.ndarray, targets):
        """Reduce ``targets`` on the equations of ``seeds`` (rows from the row cache), with the
        relation rows when the suite uses symmetries: the judge's one solve."""
        return self.reduce_solved(self.solved_seeds(seeds, targets), targets)

    def reduce_solved(self, solved: np.ndarray, targets):
        """:meth:`reduce` on seeds already moved to unique sectors (:meth:`solved_seeds`)."""
        system, relations = self.with_relations(
            self.rows.system(solved, extra_integrals=self.suite.targets))
        return reduce_on_seeds(system, np.arange(len(solved)), targets, self.masters,
                               relations=relations)

    # -- rule -> masks ---------------------------------------------------------------------
    def masks(self, rule: Rule | str, sandbox: bool = False, time_limit: float = 10.0):
        """The rule's keep-mask over each target's universe."""
        rule = rule if isinstance(rule, Rule) else load_rule(rule)
        if sandbox:
            return [evaluate_mask(rule, u, t, self.family.isps, time_limit=time_limit)
                    for u, t in zip(self.universes, self.suite.targets)]
        compiled = compile_rule(rule)
        return [np.asarray(compiled(f), dtype=bool) for f in self.features]

    def select(self, rule: Rule | str, sandbox: bool = False, time_limit: float = 10.0):
        """(seeds, count) per target: the rule's kept seeds in box order, evaluated chunk by
        chunk; past max_seeds (non-joint suites) only the count is kept exact."""
        rule = rule if isinstance(rule, Rule) else load_rule(rule)
        cap = None if self.suite.joint else self.suite.max_seeds
        compiled = None if sandbox else compile_rule(rule)
        out = []
        for i, t in enumerate(self.suite.targets):
            if i in self.resident:  # features kept: a rule costs one vectorised pass
                if sandbox:
                    mask = evaluate_mask(rule, self.universe(i), t, self.family.isps,
                                         time_limit=time_limit)
                else:
                    mask = compiled(self.target_features(i))
                ids = np.flatnonzero(mask)
                out.append((self.universe(i)[ids], len(ids), ids))
                continue
            keep = mask_function(rule, self.family, t, sandbox=sandbox, time_limit=time_limit)
            out.append(select_from_box(keep, self.family, t, delta_r=self.suite.delta_r,
                                       delta_s=self.suite.delta_s, max_seeds=cap))
        return out

    def score(self, rule: Rule | str, objective: str = "seeds", sandbox: bool = False,
              time_limit: float = 10.0) -> ScoreReport:
        rule = rule if isinstance(rule, Rule) else load_rule(rule)
        _check_objective(objective)
        report = self.score_seeds(self.select(rule, sandbox, time_limit), objective)
        report.rule = rule.name
        return report

    # -- masks / seeds -> scores ---------------------------------------------------------------
    def score_masks(self, masks, objective: str = "seeds") -> ScoreReport:
        _check_objective(objective)
        chosen = []
        for universe, mask in zip(self.universes, masks):
            ids = np.flatnonzero(np.asarray(mask, dtype=bool))
            chosen.append((universe[ids], len(ids), ids))
        return self.score_seeds(chosen, objective)

    def score_seeds(self, chosen, objective: str = "seeds") -> ScoreReport:
        """Score per target (seeds in box order, number kept[, their universe row ids]), as
        :meth:`select` gives."""
        _check_objective(objective)
        if self.suite.joint:
            return self._score_joint([c[0] for c in chosen], objective)
        scores = [self._score_target(i, c[0], c[1], c[2] if len(c) > 2 else None)
                  for i, c in enumerate(chosen)]
        if objective == "relative_trimmed":
            for score, reference in zip(scores, self.reference_trimmed):
                score.reference_trimmed = reference
        total = sum(s.objective(objective) for s in scores)
        return self._report(scores, objective, total)

    def _score_target(self, i: int, seeds: np.ndarray, count: int, ids=None) -> TargetScore:
        target = self.suite.targets[i]
        if count > self.suite.max_seeds:
            excess = count - self.suite.max_seeds
            return TargetScore(list(target), count, 0, 0, 0, 0.0, False, [], excess,
                               f"max_seeds exceeded ({count} > {self.suite.max_seeds})",
                               seeds_selected=count)
        if i in self.sliced and ids is not None and self.symmetries:
            # ties broken as reduce numbers the equations (not in the universe's order): only
            # then is the system reduce solves this one, multiply-add for multiply-add
            universe = self._symmetric_universe(i)
            seed_ids, relations = universe.path_order(ids)
            red = reduce_on_seeds(universe.system, seed_ids, [target], self.masters,
                                  relations=universe.relations.subset(relations),
                                  ties_in_given_order=True)
        elif i in self.sliced and ids is not None:
            red = reduce_on_seeds(self._universe_system(i), ids, [target], self.masters)
        else:
            red = self.reduce(seeds, [target])
        t = red.targets[0]
        return TargetScore(list(target), red.seeds, red.equations, red.trimmed_equations,
                           red.multiply_adds, red.seconds, t.reduced,
                           [list(s) for s in t.survivors], len(t.survivors),
                           seeds_selected=count)

    def _score_joint(self, chosen, objective: str) -> ScoreReport:
        start = time.perf_counter()
        nonempty = [c for c in chosen if len(c)]
        # the targets' choices merged as ``reduce --targets`` merges them (each seed where it
        # first comes): the solver breaks pivot ties by seed position, and sorted seeds gave
        # other trimmed systems (triangle box I(1,1,1,1,1,1,-3) with -4, tube_seeding: 578
        # trimmed equations and 53,448 multiply-adds here, 598 and 46,170 in reduce)
        union = (merge_seeds(*nonempty) if nonempty
                 else np.zeros((0, self.family.n), dtype=np.int64))
        cap = self.suite.max_seeds * len(chosen)
        if len(union) > cap:
            excess = len(union) - cap
            scores = [TargetScore(list(t), len(c), 0, 0, 0, 0.0, False, [], excess,
                                  "max_seeds exceeded (joint)", seeds_selected=len(c))
                      for t, c in zip(self.suite.targets, chosen)]
            return self._report(scores, objective, len(union), joint=True)
        red = self.reduce(union, self.suite.targets)
        scores = [TargetScore(list(t.target), len(c), red.equations, red.trimmed_equations,
                              red.multiply_adds, red.seconds, t.reduced,
                              [list(s) for s in t.survivors], len(t.survivors),
                              seeds_selected=len(c))
                  for t, c in zip(red.targets, chosen)]
        totals = {"seeds": red.seeds, "equations": red.equations,
                  "trimmed": red.trimmed_equations, "multiply_adds": red.multiply_adds,
                  "seconds": time.perf_counter() - start}
        if objective == "relative_trimmed":
            # one joint solve: the ratio of the joint trimmed systems
            reference = self.reference_trimmed[0] if self.reference_trimmed else 0
            for s in scores:
                s.reference_trimmed = reference
            totals[objective] = Fraction(red.trimmed_equations, max(1, reference))
        return replace(self._report(scores, objective, totals[objective], joint=True),
                       joint_seeds=red.seeds)

    @cached_property
    def reference_trimmed(self) -> list[int]:
        """The reference rule's trimmed equations per target (joint suites: one number, of the
        joint solve), the denominators of ``relative_trimmed``; computed once per judge."""
        from ibp_evolve.language.library import resolve_rule
        chosen = self.select(resolve_rule(REFERENCE_RULE))
        report = self.score_seeds(chosen, "trimmed")
        if self.suite.joint:
            return [report.targets[0].trimmed_equations] if report.targets else []
        return [t.trimmed_equations for t in report.targets]

    def _report(self, scores, objective, total, joint=False) -> ScoreReport:
        unreduced = [s for s in scores if not s.reduced]
        fitness = fitness_of(total, len(unreduced), sum(s.n_survivors for s in unreduced))
        return ScoreReport(rule="", suite=self.suite.name, objective=objective,
                           fitness=float(fitness) if isinstance(fitness, Fraction) else fitness,
                           complete=not unreduced, targets=scores, joint=joint, total=total,
                           symmetries=self.symmetries)
