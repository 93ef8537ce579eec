"""The symbolic-regression evolution engine: ``ibp-evolve evolve --engine operon|pysr``.

Each *generation* is one round of distillation: the best complete seed selection so far (the
start rules', or ``improved_seeding_dots``, in round 0) is minimised several times in random
orders, the labels are fitted by the symbolic-regression engine, every formula of its Pareto
front becomes a calibrated rule, and the rules are scored by the run's evaluator and stored in
the run database like any other engine's candidates.  The best complete rule then seeds the next
round's minimisations, so the labels follow the rules that the fits find, until the generation
or time budget ends.  Same run folder, database, checkpoints, progress lines and ``RUN/best``
as the GP engine (:mod:`ibp_evolve.engines.gp`); the estimator shape is the same:
``SymbolicEngine(SymbolicConfig(...)).evolve(suite, evaluator, run, progress, resume)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ibp_evolve.engines.symbolic.backends import make_backend
from ibp_evolve.engines.symbolic.distill import Distiller, start_masks
from ibp_evolve.judge.score import Judge
from ibp_evolve.language.parse import load_rule
from ibp_evolve.runs.configs import OperonConfig, PySRConfig, SymbolicConfig
from ibp_evolve.runs.evaluation import SuiteSpec
from ibp_evolve.runs.fitness import FAILED_FITNESS, fitness_text, parse_fitness
from ibp_evolve.runs.loop import Candidate, LoopEngine
from ibp_evolve.runs.store import pack_masks, unpack_masks

__all__ = ["SymbolicConfig", "OperonConfig", "PySRConfig", "SymbolicEngine", "engine_entries"]

START_RULE_TIME_LIMIT = 10.0   # seconds for a start rule's masks in the sandbox, per target


@dataclass
class _Best:
    cid: int
    fitness: object
    seeds: int
    complete: bool
    masks: list


class SymbolicEngine(LoopEngine):
    """Rounds of minimise -> fit -> calibrate -> score in the one engine loop
    (:mod:`ibp_evolve.runs.loop`); see the module docstring.

    Results: those of every engine (``best_``, ``generation_``, ``stopped_``,
    ``n_candidates_``, ``n_evaluations_``, ``elapsed_``...) and ``labelled_``, the best
    complete rule whose seed selection labels the next round.
    """
    time_margin = 1.0   # a round with less than a second left cannot fit anything

    def __init__(self, config: SymbolicConfig | None = None, **overrides):
        config = config or SymbolicConfig()
        if overrides:
            config = config.replaced(**overrides)
        # fail at once (e.g. pysr without Julia), before a run folder or a judge exists
        make_backend(config.sr_engine, seconds=max(1.0, config.seconds), seed=config.seed)
        self.config = config
        self.name = config.sr_engine

    def _start(self, judge: Judge):
        """Masks of the best complete start rule.  Start rules come from files (``--start``)
        or a run's config.json: they are evaluated in the rule sandbox only."""
        best = None
        for source in self.config.start_rules:
            masks = judge.masks(load_rule(source), sandbox=True,
                                time_limit=START_RULE_TIME_LIMIT)
            report = judge.score_masks(masks)
            total = sum(t.seeds for t in report.targets)
            if report.complete and (best is None or total < best[0]):
                best = (total, masks)
        return best[1] if best else start_masks(judge)

    def setup(self, spec: SuiteSpec, run=None) -> None:
        self.suite = spec.load()
        self.judge = Judge(self.suite)
        self.labelled_ = None

    def begin(self, resumed: bool) -> None:
        if not resumed:
            self.labelled_ = _Best(-1, FAILED_FITNESS, 0, True, self._start(self.judge))

    def ask(self, generation: int) -> list[Candidate]:
        """The round's rules: the Pareto fronts fitted to the labels of the best complete
        selection so far, each calibrated into a rule with its seed masks."""
        cfg = self.config
        left = self.time_left()
        seconds = cfg.seconds if left is None else max(1.0, min(cfg.seconds, left / 2))
        distiller = Distiller(self.suite, cfg.sr_engine, runs=cfg.runs,
                              seed=cfg.seed + 1000 * generation, seconds=seconds, fits=cfg.fits,
                              judge=self.judge, masks=self.labelled_.masks).fit()
        self._labels = distiller.labels_
        parents = (self.labelled_.cid,) if self.labelled_.cid >= 0 else ()
        return [Candidate(source=rule.source, formula=rule.expression, size=rule.complexity,
                          operation="fit", parents=parents, masks=rule.masks, item=rule.masks)
                for rule in distiller.rules_]

    def tell(self, generation: int, candidates: list[Candidate], stopped: bool = False):
        for c in candidates:
            ev = c.evaluation
            if c.scored and ev.ok and ev.complete and ev.fitness < self.labelled_.fitness:
                self.labelled_ = _Best(c.id, ev.fitness, ev.seeds, True, c.item)
        return True

    def statistics(self, generation: int, candidates: list[Candidate]) -> dict:
        records = [c.record for c in candidates if c.record is not None]
        return {"share_complete": sum(1 for r in records if r.status == "ok" and r.complete)
                / max(1, len(records)),
                "mean_size": float(np.mean([r.size for r in records])) if records else 0.0,
                "positives": int(self._labels.positive.sum()),
                "minimal_sizes": self._labels.minimal_sizes}

    def state(self) -> dict:
        b = self.labelled_
        return {"labelled": {"cid": b.cid, "fitness": fitness_text(b.fitness),
                             "seeds": b.seeds, "complete": b.complete,
                             "masks": pack_masks(b.masks)}}

    def restore(self, state: dict, run) -> None:
        """Continue from a checkpoint's plain data (the best masks as packed bits)."""
        b = state["labelled"]
        self.labelled_ = _Best(int(b["cid"]), parse_fitness(b["fitness"]), int(b["seeds"]),
                               bool(b["complete"]), unpack_masks(b["masks"]))


def engine_entries() -> dict:
    """``--engine`` name -> (engine class, config class), in the shape of
    :func:`ibp_evolve.engines.engines`, for the evolve command to register."""
    return {"operon": (SymbolicEngine, OperonConfig), "pysr": (SymbolicEngine, PySRConfig)}
