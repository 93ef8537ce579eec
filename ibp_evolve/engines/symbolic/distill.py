"""Distil minimal seed sets into closed-form rules.

``Distiller(suite, engine).fit()``:

1. start from a complete seed set per target (a rule's masks; ``improved_seeding_dots`` by
   default, with the Laporta box as fallback for a target the rule does not reduce);
2. label the candidate seeds by how often randomised minimisations keep them
   (:func:`~ibp_evolve.engines.symbolic.labels.label_table`);
3. fit a priority formula with a symbolic-regression engine (:mod:`.backends`) and take its whole
   Pareto front (``fits`` independent fits with different seeds pool their fronts);
4. turn every front formula into a rule file and **calibrate its threshold with the solver**:
   completeness is monotone in the threshold (a lower threshold keeps a superset), so a
   bisection over the formula's distinct values finds the highest threshold (fewest seeds) at
   which every target still reduces; the rule is ``formula - threshold > 0``, with the threshold
   rounded to the shortest number in the gap;
5. score every rule with the :class:`~ibp_evolve.judge.score.Judge` and rank them (complete first,
   then by seeds).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import sympy

from ibp_evolve.reducer.cache import atomic_write_text
from ibp_evolve.language.library import resolve_rule
from ibp_evolve.language.compile import compile_rule
from ibp_evolve.language.parse import RuleError, load_rule
from ibp_evolve.language.suite_constants import constants_line, suite_constants
from ibp_evolve.judge.score import Judge, ScoreReport
from ibp_evolve.engines.symbolic.backends import FrontFormula, make_backend
from ibp_evolve.engines.symbolic.export import (FormulaError, formula_text,
                                                positive_part_equivalent, round_constants,
                                                rule_source, simplest_between, tidy)
from ibp_evolve.engines.symbolic.labels import LabelTable, label_table

__all__ = ["DistilledRule", "Distiller", "start_masks", "rule_masks", "calibrate"]


@dataclass
class DistilledRule:
    """A front formula turned into a calibrated, scored rule."""

    formula: str                # the formula as fitted (constants rounded), before calibration
    expression: str             # the rule's returned expression (calibrated), board names
    source: str                 # the rule file
    complexity: int
    loss: float
    threshold: float
    seeds: int                  # total seeds over the suite's targets
    complete: bool
    fitness: float
    report: ScoreReport = field(repr=False, default=None)
    masks: list = field(repr=False, default=None)  # keep-mask per target

    def to_json(self) -> dict:
        return {"formula": self.formula, "expression": self.expression,
                "complexity": self.complexity, "loss": self.loss, "threshold": self.threshold,
                "seeds": self.seeds, "complete": self.complete, "fitness": self.fitness,
                "seeds_per_target": [t.seeds for t in self.report.targets] if self.report else []}


RULE_TIME_LIMIT = 10.0   # seconds for a rule read from a file to give its masks, per target


def rule_masks(judge: Judge, rule: str, time_limit: float = RULE_TIME_LIMIT) -> list:
    """Keep-masks of a rule read from a file, the library or a run folder.  Such a rule is
    evaluated in the rule sandbox only (a legal rule can still be slow); raises
    :class:`~ibp_evolve.language.sandbox.RuleSandboxError` when the sandbox stops it."""
    return judge.masks(resolve_rule(rule), sandbox=True, time_limit=time_limit)


def start_masks(judge: Judge, start: str = "improved_seeding_dots", fallback: str = "laporta",
                time_limit: float = RULE_TIME_LIMIT):
    """Complete keep-masks per target: ``start``'s where it reduces the target, else the
    ``fallback`` rule's, else the whole candidate universe."""
    masks = rule_masks(judge, start, time_limit)
    report = judge.score_masks(masks)
    if report.complete:
        return masks
    if judge.suite.joint:  # one system: widen every target together
        masks = [m | f for m, f in zip(masks, rule_masks(judge, fallback, time_limit))]
        if judge.score_masks(masks).complete:
            return masks
        return [np.ones(len(u), dtype=bool) for u in judge.universes]
    back = rule_masks(judge, fallback, time_limit)
    out = [m if t.reduced else b for m, b, t in zip(masks, back, report.targets)]
    for i, t in enumerate(judge.score_masks(out).targets):
        if not t.reduced:  # the whole candidate universe as the last resort
            out[i] = np.ones(len(judge.universes[i]), dtype=bool)
    return out


def calibrate(judge: Judge, values: list[np.ndarray]) -> tuple[float | None, ScoreReport]:
    """Highest threshold c such that keeping ``values > c`` reduces every target.

    Returns (c, report at c), or (None, report of the widest admissible threshold) when no
    threshold within ``max_seeds`` completes the suite.
    """
    finite = [v[np.isfinite(v)] for v in values]
    levels = np.unique(np.concatenate(finite)) if finite else np.zeros(0)
    levels = levels[::-1]  # descending: index k keeps every value >= levels[k]
    if len(levels) == 0:
        return None, judge.score_masks([np.zeros(len(v), bool) for v in values])
    # the widest admissible level: every target within max_seeds
    cap = judge.suite.max_seeds
    sorted_desc = [np.sort(f)[::-1] for f in finite]

    def kept(k):  # number of seeds per target when keeping values >= levels[k]
        return [int(np.searchsorted(-s, -levels[k], side="right")) for s in sorted_desc]

    lo, hi = 0, len(levels) - 1
    while lo < hi:  # last level with every target <= cap
        mid = (lo + hi + 1) // 2
        if max(kept(mid)) <= cap:
            lo = mid
        else:
            hi = mid - 1
    widest = lo

    def report_at(k):
        return judge.score_masks([v >= levels[k] for v in values])

    rep = report_at(widest)
    if not rep.complete:
        return None, rep
    lo, hi = 0, widest  # smallest k (highest level) that is complete
    best = rep
    while lo < hi:
        mid = (lo + hi) // 2
        r = report_at(mid)
        if r.complete:
            hi, best = mid, r
        else:
            lo = mid + 1
    upper = levels[lo]
    lower = levels[lo + 1] if lo + 1 < len(levels) else upper - 1.0
    return simplest_between(float(lower), float(upper)), best


class Distiller:
    """Labels from the solver -> formulas from an SR engine -> calibrated, scored rules.

    Estimator-style: configure in the constructor, ``fit()``, then read ``labels_``,
    ``front_``, ``rules_`` (ranked) and ``best_``.
    """

    def __init__(self, suite, engine: str = "operon", *, start: str = "improved_seeding_dots",
                 runs: int = 8, seed: int = 0, seconds: float = 30.0, swaps: int = 100,
                 minimize_seconds: float = 30.0, judge: Judge | None = None,
                 digits: int = 3, fits: int = 1, masks=None,
                 rule_time_limit: float = RULE_TIME_LIMIT, **engine_options):
        self.suite = suite
        self.engine = engine
        self.start = start
        self.runs = runs
        self.seed = seed
        self.seconds = seconds
        self.swaps = swaps
        self.minimize_seconds = minimize_seconds
        self.judge = judge
        self.digits = digits
        self.fits = fits
        self.masks = masks  # complete start masks per target; None: from ``start``
        self.rule_time_limit = rule_time_limit
        self.engine_options = engine_options

    def fit(self) -> "Distiller":
        t0 = time.perf_counter()
        # fail early (e.g. no Julia for pysr); one backend per independent fit (own seed)
        backends = [make_backend(self.engine, seconds=self.seconds, seed=self.seed + k,
                                 **self.engine_options) for k in range(max(self.fits, 1))]
        judge = self.judge or Judge(self.suite)
        self.judge = judge
        masks = self.masks if self.masks is not None else start_masks(
            judge, self.start, time_limit=self.rule_time_limit)
        t1 = time.perf_counter()
        self.labels_: LabelTable = label_table(judge, masks, runs=self.runs, seed=self.seed,
                                               swaps=self.swaps, seconds=self.minimize_seconds)
        t2 = time.perf_counter()
        cols = self.labels_.varying()
        names = [self.labels_.names[k] for k in cols]
        self.front_: list[FrontFormula] = []
        for backend in backends:  # pooled fronts: SR results vary a lot from seed to seed
            self.front_ += backend.fit(self.labels_.X[:, cols], self.labels_.y,
                                       self.labels_.weight, names)
        t3 = time.perf_counter()
        rules = []
        seen = set()
        for formula in self.front_:
            rule = self.rule_from_formula(formula)
            if rule is None:
                continue
            rules.append(rule)
        rules.sort(key=lambda r: (not r.complete, r.fitness, r.complexity))
        # one rule per distinct seed selection: the simplest formula that makes it
        unique = []
        for rule in sorted(rules, key=lambda r: r.complexity):
            key = tuple(np.packbits(m).tobytes() for m in rule.masks)
            if key not in seen:
                seen.add(key)
                unique.append(rule)
        rules = sorted(unique, key=lambda r: (not r.complete, r.fitness, r.complexity))
        self.rules_ = rules
        self.best_ = rules[0] if rules else None
        self.timings_ = {"judge": t1 - t0, "labels": t2 - t1, "fit": t3 - t2,
                         "score": time.perf_counter() - t3, "total": time.perf_counter() - t0}
        return self

    def rule_from_formula(self, formula: FrontFormula) -> DistilledRule | None:
        """Round, tidy, calibrate against the solver and score one front formula."""
        judge = self.judge
        expr = tidy(round_constants(sympy.sympify(formula.expression), self.digits))
        if not expr.free_symbols:
            return None  # a constant keeps all or nothing: no rule worth writing
        try:
            raw = load_rule(rule_source(expr))
        except (FormulaError, RuleError):
            return None
        compiled = compile_rule(raw)
        values = [np.asarray(compiled.values(f), dtype=np.float64) for f in judge.features]
        threshold, report = calibrate(judge, values)
        calibrated = tidy(expr - sympy.Float(threshold, 6)) if threshold else expr
        masks = self._masks(calibrated)
        if masks is None:
            return None
        simpler = positive_part_equivalent(calibrated)
        if self._same(self._masks(simpler), masks):
            calibrated = simpler
        calibrated = self._snap_constants(calibrated, masks, report)
        simpler = positive_part_equivalent(calibrated)  # rounding may have freed a clamp
        if self._same(self._masks(simpler), self._masks(calibrated)):
            calibrated = simpler
        if not calibrated.free_symbols:
            return None  # the formula decides the same for every seed: no rule
        header = [f"Distilled by ibp-evolve distill (engine {formula.engine}) on suite "
                  f"{self.suite.name}: priority formula, kept when > 0.",
                  f"Fitted formula: {formula_text(expr)}",
                  f"Threshold calibrated against the solver: {threshold}"]
        source = rule_source(calibrated, header)
        try:
            rule = load_rule(source)
        except (FormulaError, RuleError):
            return None
        final_masks = judge.masks(rule)
        final = judge.score_masks(final_masks)  # score the rule exactly as written
        final.rule = "distilled"
        per_target = ", ".join(str(t.seeds) for t in final.targets)
        constant = constants_line(suite_constants(rule, judge.features), self.suite.name)
        source = rule_source(calibrated, header + [
            f"Measured: {'complete' if final.complete else 'INCOMPLETE'}, seeds per target "
            f"[{per_target}], fitness {final.fitness}"] + ([constant] if constant else []))
        return DistilledRule(formula_text(expr), formula_text(calibrated), source,
                             formula.complexity,
                             formula.loss, float(threshold or 0.0),
                             sum(t.seeds for t in final.targets), final.complete,
                             final.fitness, final, final_masks)

    def _masks(self, expr):
        """Keep-masks of ``priority = expr`` on every target, or None if it is no valid rule."""
        try:
            compiled = compile_rule(load_rule(rule_source(expr)))
        except (FormulaError, RuleError):
            return None
        return [np.asarray(compiled(f), dtype=bool) for f in self.judge.features]

    @staticmethod
    def _same(a, b) -> bool:
        return a is not None and b is not None and all(np.array_equal(x, y) for x, y in zip(a, b))

    def _snap_constants(self, expr, masks, report):
        """Round constants to integers or fewer decimals where the solver does not object:
        kept when the masks are unchanged, or the suite stays complete with no more seeds."""
        seeds = sum(t.seeds for t in report.targets)
        complete = report.complete
        for const in sorted(expr.atoms(sympy.Float), key=lambda c: -abs(float(c))):
            if const not in expr.atoms(sympy.Float):
                continue
            value = float(const)
            for digits in (0, 1, 2):
                snapped = round(value, digits)
                if snapped == value:
                    break
                candidate = sympy.Integer(int(snapped)) if digits == 0 else sympy.Float(
                    snapped, 6)
                trial = expr.xreplace({const: candidate})
                trial_masks = self._masks(trial)
                if trial_masks is None:
                    continue
                if not self._same(trial_masks, masks):
                    if not complete:
                        continue
                    rep = self.judge.score_masks(trial_masks)
                    total = sum(t.seeds for t in rep.targets)
                    if not rep.complete or total > seeds:
                        continue
                    seeds = total
                expr, masks = trial, trial_masks
                break
        return expr

    def write_rules(self, folder) -> list[Path]:
        """Write every distilled rule as ``rule_NN.py`` (rank order) into ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for k, rule in enumerate(self.rules_):
            path = folder / f"rule_{k:02d}.py"
            atomic_write_text(path, rule.source)
            paths.append(path)
        return paths
