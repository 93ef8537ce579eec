"""The judge: score a seeding rule on a suite.

For every target the *candidate universe* is the Laporta box r <= r_target + delta_r,
s <= s_target + delta_s over the non-zero subsectors of the target's sector; a rule chooses seeds
inside it.  The equation system of each universe is instantiated once (fixed point, fixed prime:
the judge is deterministic) and every rule afterwards only selects rows and solves.

Fitness (lower is better) is lexicographic in effect, (unreduced targets, survivors, objective):

    complete rule:    sum of the objective over targets (joint suites: of the one joint solve)
    incomplete rule:  PENALTY * unreduced + SURVIVOR_WEIGHT * survivors + min(objective, SURVIVOR_WEIGHT - 1)

so any complete rule beats any incomplete one whatever the objective's scale.  A target for
which the rule selects more than ``max_seeds`` seeds is failed without solving; its survivor
count is the excess number of seeds, so the penalty still grades by size.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np

from ibp_evolve.reducer.masters import family_masters
from ibp_evolve.reducer.modular import PRIMES, random_point
from ibp_evolve.reducer.ordering import Ordering
from ibp_evolve.reducer.reduction import reduce_on_seeds
from ibp_evolve.language.compile import compile_rule, features_from_indices
from ibp_evolve.language.parse import Rule, load_rule
from ibp_evolve.language.sandbox import evaluate_mask
from ibp_evolve.reducer.seeding import laporta_seeds
from ibp_evolve.judge.suites import Suite
from ibp_evolve.reducer.solver import warmup
from ibp_evolve.reducer.system import build_system

OBJECTIVES = ("seeds", "equations", "trimmed", "multiply_adds", "seconds")
PENALTY = 10 ** 15
SURVIVOR_WEIGHT = 10 ** 9
JUDGE_POINT_SEED = 2502  # the fixed numeric point of every judge


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

    def objective(self, name: str):
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

    def to_json(self) -> dict:
        return {"rule": self.rule, "suite": self.suite, "objective": self.objective,
                "fitness": self.fitness, "complete": self.complete, "joint": self.joint,
                "targets": [asdict(t) for t in self.targets]}


def fitness_of(objective_total, n_unreduced: int, n_survivors: int):
    if n_unreduced == 0:
        return objective_total
    return (PENALTY * n_unreduced + SURVIVOR_WEIGHT * n_survivors
            + min(objective_total, SURVIVOR_WEIGHT - 1))


class Judge:
    """Caches everything a suite needs, then scores rules (or seed masks) against it."""

    def __init__(self, suite: Suite, ordering: Ordering | None = None, prime: int = PRIMES[0]):
        self.suite = suite
        self.family = suite.family
        self.ordering = ordering or Ordering.parse()
        self.prime = prime
        self.masters = family_masters(self.family, self.ordering)
        warmup()  # load the compiled solver now, not inside the first rule's timing
        self.point = random_point(self.family.parameters,
                                  np.random.default_rng(JUDGE_POINT_SEED))
        self.universes = [laporta_seeds(self.family, [t], sum(x for x in t if x > 0)
                                        + suite.delta_r, -sum(x for x in t if x < 0)
                                        + suite.delta_s) for t in suite.targets]
        self.features = [features_from_indices(u, t, self.family.isps)
                         for u, t in zip(self.universes, suite.targets)]
        if suite.joint:
            joint, inverse = np.unique(np.vstack(self.universes), axis=0, return_inverse=True)
            inverse = inverse.ravel()
            bounds = np.cumsum([0] + [len(u) for u in self.universes])
            self.joint_index = [inverse[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
            self.systems = [self._build(joint)]
        else:
            self.systems = [self._build(u) for u in self.universes]

    def _build(self, seeds):
        return build_system(self.family, seeds, self.point, self.prime, self.ordering,
                            extra_integrals=self.suite.targets)

    @property
    def universe_sizes(self) -> list[int]:
        return [len(u) for u in self.universes]

    # -- rule -> masks ---------------------------------------------------------------------
    def masks(self, rule: Rule | str, sandbox: bool = False, time_limit: float = 10.0):
        """The rule's keep-mask over each target's universe."""
        rule = rule if isinstance(rule, Rule) else load_rule(rule)
        if sandbox:
            return [evaluate_mask(rule, u, t, self.family.isps, time_limit=time_limit)
                    for u, t in zip(self.universes, self.suite.targets)]
        compiled = compile_rule(rule)
        return [np.asarray(compiled(f), dtype=bool) for f in self.features]

    def score(self, rule: Rule | str, objective: str = "seeds", sandbox: bool = False,
              time_limit: float = 10.0) -> ScoreReport:
        rule = rule if isinstance(rule, Rule) else load_rule(rule)
        report = self.score_masks(self.masks(rule, sandbox, time_limit), objective)
        report.rule = rule.name
        return report

    # -- masks -> scores -------------------------------------------------------------------
    def score_masks(self, masks, objective: str = "seeds") -> ScoreReport:
        if objective not in OBJECTIVES:
            raise ValueError(f"unknown objective '{objective}' (choose from "
                             f"{', '.join(OBJECTIVES)})")
        if self.suite.joint:
            return self._score_joint(masks, objective)
        scores = [self._score_target(i, np.flatnonzero(m)) for i, m in enumerate(masks)]
        total = sum(s.objective(objective) for s in scores)
        return self._report(scores, objective, total)

    def _score_target(self, i: int, seed_ids: np.ndarray) -> TargetScore:
        target = self.suite.targets[i]
        if len(seed_ids) > self.suite.max_seeds:
            excess = len(seed_ids) - self.suite.max_seeds
            return TargetScore(list(target), len(seed_ids), 0, 0, 0, 0.0, False, [], excess,
                               f"max_seeds exceeded ({len(seed_ids)} > {self.suite.max_seeds})")
        red = reduce_on_seeds(self.systems[i], seed_ids, [target], self.masters)
        t = red.targets[0]
        return TargetScore(list(target), red.seeds, red.equations, red.trimmed_equations,
                           red.multiply_adds, red.seconds, t.reduced,
                           [list(s) for s in t.survivors], len(t.survivors))

    def _score_joint(self, masks, objective: str) -> ScoreReport:
        start = time.perf_counter()
        chosen = [self.joint_index[i][np.flatnonzero(m)] for i, m in enumerate(masks)]
        union = np.unique(np.concatenate(chosen)) if chosen else np.zeros(0, np.int64)
        if len(union) > self.suite.max_seeds * len(masks):
            excess = len(union) - self.suite.max_seeds * len(masks)
            scores = [TargetScore(list(t), len(c), 0, 0, 0, 0.0, False, [], excess,
                                  "max_seeds exceeded (joint)")
                      for t, c in zip(self.suite.targets, chosen)]
            return self._report(scores, objective, len(union), joint=True)
        red = reduce_on_seeds(self.systems[0], union, self.suite.targets, self.masters)
        scores = [TargetScore(list(t.target), len(c), red.equations, red.trimmed_equations,
                              red.multiply_adds, red.seconds, t.reduced,
                              [list(s) for s in t.survivors], len(t.survivors))
                  for t, c in zip(red.targets, chosen)]
        totals = {"seeds": red.seeds, "equations": red.equations,
                  "trimmed": red.trimmed_equations, "multiply_adds": red.multiply_adds,
                  "seconds": time.perf_counter() - start}
        return self._report(scores, objective, totals[objective], joint=True)

    def _report(self, scores, objective, total, joint=False) -> ScoreReport:
        unreduced = [s for s in scores if not s.reduced]
        fitness = fitness_of(total, len(unreduced), sum(s.n_survivors for s in unreduced))
        return ScoreReport(rule="", suite=self.suite.name, objective=objective,
                           fitness=fitness, complete=not unreduced, targets=scores, joint=joint)
