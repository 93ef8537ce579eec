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

import time
from dataclasses import asdict, dataclass, fields

import numpy as np

from ibp_evolve.runs.evaluation import EvalJob, LocalEvaluator, SuiteSpec, mask_hash
from ibp_evolve.language.parse import load_rule
from ibp_evolve.runs.store import CandidateRecord, RunFolder, pack_masks, unpack_masks
from ibp_evolve.judge.score import Judge
from ibp_evolve.engines.symbolic.backends import make_backend
from ibp_evolve.engines.symbolic.distill import Distiller, start_masks

__all__ = ["SymbolicConfig", "OperonConfig", "PySRConfig", "SymbolicEngine", "engine_entries"]

START_RULE_TIME_LIMIT = 10.0   # seconds for a start rule's masks in the sandbox, per target


@dataclass
class SymbolicConfig:
    """Settings of a symbolic-regression run."""
    sr_engine: str = "operon"            # operon, pysr or deap (the SR backend)
    generations: int = 3                 # rounds after the first
    seed: int = 0
    objective: str = "seeds"
    seconds: float = 30.0                # per fit
    fits: int = 1                        # independent fits per round, fronts pooled
    runs: int = 8                        # randomised minimisations that label each round
    start_rules: tuple = ()              # rule sources; the best complete one starts round 0
    n_best: int = 5
    time_limit: float | None = None
    # accepted for the shared evolve command line; symbolic regression has no use for them
    population: int = 0
    selection: str = ""
    max_height: int = 0

    def to_json(self) -> dict:
        d = asdict(self)
        d["start_rules"] = list(self.start_rules)
        return d

    @classmethod
    def from_json(cls, data: dict) -> "SymbolicConfig":
        known = {f.name for f in fields(cls)}
        d = {k: v for k, v in data.items() if k in known}
        if "start_rules" in d:
            d["start_rules"] = tuple(d["start_rules"])
        return cls(**d)


@dataclass
class _Best:
    cid: int
    fitness: float
    seeds: int
    complete: bool
    masks: list


class SymbolicEngine:
    """Rounds of minimise -> fit -> calibrate -> score; see the module docstring.

    Results: ``best_`` (source of the best rule), ``generation_``, ``stopped_``
    (``generations`` or ``time_limit``), ``n_candidates_``, ``n_evaluations_``, ``elapsed_``.
    """

    def __init__(self, config: SymbolicConfig | None = None, **overrides):
        config = config or SymbolicConfig()
        if overrides:
            config = SymbolicConfig(**{**asdict(config), **overrides})
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

    def evolve(self, suite, evaluator=None, run: RunFolder | None = None, progress=None,
               resume: bool = False):
        cfg = self.config
        spec = suite if isinstance(suite, SuiteSpec) else SuiteSpec.of(str(suite))
        self.suite = spec.load()
        own_evaluator = evaluator is None
        evaluator = evaluator or LocalEvaluator(spec, cfg.objective)
        started = time.monotonic()
        deadline = None if cfg.time_limit is None else started + cfg.time_limit
        judge = Judge(self.suite)
        if run is not None:
            run.lock()   # one writer per run folder
        state = run.load_checkpoint() if (run is not None and resume) else None
        if state:
            try:
                self._restore(state)
            except (KeyError, TypeError, ValueError) as exc:
                raise run.checkpoint_error(exc) from None
        if run is not None:
            run.db.truncate_after(state["generation"] if state else -1)
        if not state:
            self.generation_ = -1
            self.n_candidates_ = self.n_evaluations_ = 0
            self.elapsed_ = 0.0
            self.best_ = _Best(-1, float("inf"), 0, True, self._start(judge))
            self.best_source_ = None
        elapsed_before = self.elapsed_
        self.stopped_ = None
        if progress:
            progress.begin(self, done_generations=self.generation_ + 1,
                           total_generations=cfg.generations + 1, time_limit=cfg.time_limit)
        try:
            while self.generation_ < cfg.generations:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 1.0:
                    self.stopped_ = "time_limit"
                    break
                g = self.generation_ + 1
                round_start = time.monotonic()
                seconds = cfg.seconds if left is None else max(1.0, min(cfg.seconds, left / 2))
                distiller = Distiller(self.suite, cfg.sr_engine, runs=cfg.runs,
                                      seed=cfg.seed + 1000 * g, seconds=seconds, fits=cfg.fits,
                                      judge=judge, masks=self.best_.masks).fit()
                records, n_new = self._score(distiller.rules_, g, evaluator, deadline, progress)
                complete = [r for r in records if r.status == "ok" and r.complete]
                stats = {"generation": g, "candidates": len(records), "evaluations": n_new,
                         "cache_hits": len(records) - n_new,
                         "failed": sum(r.status != "ok" for r in records),
                         "best_fitness": self.best_.fitness if self.best_.cid >= 0 else None,
                         "best_seeds": self.best_.seeds if self.best_.cid >= 0 else None,
                         "best_complete": int(self.best_.complete),
                         "best_size": None, "share_complete": len(complete) / max(1, len(records)),
                         "mean_size": float(np.mean([r.size for r in records])) if records
                         else 0.0,
                         "evals_per_second": n_new / max(1e-9, time.monotonic() - round_start),
                         "seconds": time.monotonic() - round_start,
                         "elapsed": elapsed_before + time.monotonic() - started,
                         "positives": int(distiller.labels_.positive.sum()),
                         "minimal_sizes": distiller.labels_.minimal_sizes}
                best_record = min((r for r in records if r.status == "ok"),
                                  key=lambda r: (r.fitness, r.size), default=None)
                stats["best_size"] = best_record.size if best_record else None
                self.generation_ = g
                self.elapsed_ = stats["elapsed"]
                if run is not None:
                    run.commit_generation(records, stats, self._state())
                if progress:
                    progress.generation(stats)
            if self.stopped_ is None:
                self.stopped_ = "generations"
        finally:
            self.elapsed_ = elapsed_before + (time.monotonic() - started)
            if own_evaluator:
                evaluator.close()
        if run is not None:
            run.write_best(run.best_records(cfg.n_best), self.suite.name)
            run.db.set_meta(status="finished" if self.stopped_ == "generations" else "stopped",
                            stopped=self.stopped_ or "", generation=str(self.generation_))
        return self

    def _score(self, rules, generation, evaluator, deadline, progress):
        """Score the round's rules with the run's evaluator; update the best complete one."""
        jobs, records = [], []
        for rule in rules:
            rec = CandidateRecord(
                id=self.n_candidates_, engine=self.name, operation="fit",
                parents=[self.best_.cid] if self.best_.cid >= 0 else [],
                generation=generation, source=rule.source, formula=rule.expression,
                size=rule.complexity, mask_hash=mask_hash(rule.masks),
                objective=self.config.objective, eval_index=self.n_evaluations_)
            self.n_candidates_ += 1
            jobs.append(EvalJob(self.n_evaluations_, masks=rule.masks))
            self.n_evaluations_ += 1
            records.append((rec, rule))
        if progress:
            progress.start_batch(len(jobs), len(jobs))
        results = evaluator.evaluate(jobs, deadline=deadline,
                                     on_result=progress.result if progress else None)
        out = []
        for (rec, rule), ev in zip(records, results):
            rec.status, rec.reject_reason = ev.status, ev.reason or None
            rec.fitness, rec.complete, rec.seeds = ev.fitness, ev.complete, ev.seeds
            rec.objective_value, rec.scores, rec.wall_time = ev.objective_value, ev.targets, \
                ev.wall_time
            out.append(rec)
            if ev.ok and ev.complete and ev.fitness < self.best_.fitness:
                self.best_ = _Best(rec.id, ev.fitness, ev.seeds, True, rule.masks)
                self.best_source_ = rule.source
        return out, len(jobs)

    def _state(self) -> dict:
        b = self.best_
        return {"engine": self.name, "generation": self.generation_,
                "n_candidates": self.n_candidates_, "n_evaluations": self.n_evaluations_,
                "elapsed": self.elapsed_, "best_source": self.best_source_,
                "best": {"cid": b.cid, "fitness": b.fitness, "seeds": b.seeds,
                         "complete": b.complete, "masks": pack_masks(b.masks)},
                "config": self.config.to_json()}

    def _restore(self, state: dict) -> None:
        """Continue from a checkpoint's plain data (the best masks as packed bits)."""
        if state.get("engine") != self.name:
            raise ValueError(f"the checkpoint is of engine {state.get('engine')!r}")
        self.generation_ = int(state["generation"])
        self.n_candidates_ = int(state["n_candidates"])
        self.n_evaluations_ = int(state["n_evaluations"])
        self.elapsed_ = float(state["elapsed"])
        b = state["best"]
        self.best_ = _Best(int(b["cid"]), float(b["fitness"]), int(b["seeds"]),
                           bool(b["complete"]), unpack_masks(b["masks"]))
        self.best_source_ = state["best_source"]


@dataclass
class OperonConfig(SymbolicConfig):
    sr_engine: str = "operon"


@dataclass
class PySRConfig(SymbolicConfig):
    sr_engine: str = "pysr"


def engine_entries() -> dict:
    """``--engine`` name -> (engine class, config class), in the shape of
    :func:`ibp_evolve.engines.engines`, for the evolve command to register."""
    return {"operon": (SymbolicEngine, OperonConfig), "pysr": (SymbolicEngine, PySRConfig)}
