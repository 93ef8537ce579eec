"""The one engine loop: every generator of rules (GP, symbolic regression, the LLM) runs in it.

An engine only proposes rules and learns their scores (ask/tell); the loop does the rest, the
same way for all of them::

    ask(g) ──► candidates (rule source, seed masks or the rule's own failure)
           ──► mask cache / judge on the evaluation pool ──► records ──► tell(g, candidates)
    ... until the engine says the generation is complete, then
    commit (rows + statistics, --validate, engine tables, checkpoint: rows.commit_generation)
    ──► progress line ──► next generation, until the generation budget, the time limit or
    Ctrl-C; at the end the best rules are exported to ``RUN/best/``.

What the loop owns: the generation counter, candidate ids and evaluation indices, the mask
cache (an identical seed selection is judged once per run), the best rule so far, the logbook
(one dict of statistics per generation) and the checkpoint document around the engine's state.

Whose fault: only a rule's own fault rejects it (the engine's ``Candidate.failure``, or a
:class:`~ibp_evolve.language.parse.CandidateError` in the judge).  A judge failure stops the run
(:class:`~ibp_evolve.runs.evaluation.JudgeError`) before anything of its generation reaches the
mask cache or the database.

An engine subclasses :class:`LoopEngine` and implements ``setup``, ``ask``, ``tell``, ``state``
and ``restore`` (and, optionally, ``begin``, ``statistics``, ``commit``, ``polish``, ``close``).
Several engines, of any kinds, share one run as islands (:mod:`ibp_evolve.runs.islands`, an
engine made of engines): one loop, one pool, one database.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ibp_evolve.judge.bounds import CapError
from ibp_evolve.language.parse import RuleError
from ibp_evolve.language.suite_constants import constants_line, suite_constants
from ibp_evolve.runs.evaluation import (EvalJob, Evaluation, LocalEvaluator, MaskCache,
                                        SuiteSpec, mask_hash, raise_judge_errors,
                                        suite_features)
from ibp_evolve.runs.fitness import FAILED_FITNESS, fitness_text, parse_fitness
from ibp_evolve.runs.store import BestRule, CandidateRecord, RunFolder

__all__ = ["Candidate", "LoopEngine"]


@dataclass(eq=False)
class Candidate:
    """A proposed rule on its way through the loop.

    The engine fills in the rule (``source``, ``formula``, ``size``), its ancestry and either
    its seed ``masks`` (computed by the engine: compiled trees, or the LLM's mask sandbox) or
    ``failure`` = (status, reason) when the rule itself failed before it could be scored.
    ``item`` is the engine's own object (a GP tree, an LLM sample).  The loop sets ``id``,
    ``generation``, ``evaluation`` and ``record``."""
    source: str
    operation: str
    parents: tuple = ()
    formula: str | None = None
    size: int | None = None
    island: int | None = None
    masks: list | None = None
    digest: str | None = None
    failure: tuple | None = None
    item: object = None
    engine: str | None = None   # the engine that made it, when not the loop's (islands)
    id: int | None = None
    generation: int | None = None
    evaluation: Evaluation | None = None
    record: CandidateRecord | None = None
    new_mask: bool = False   # its seed selection went to the judge (first time in the run)

    @property
    def scored(self) -> bool:
        return self.evaluation is not None and self.evaluation.status != "stopped"

    @property
    def fitness(self):
        ev = self.evaluation
        return ev.fitness if ev is not None and ev.status != "stopped" else FAILED_FITNESS


def _best_key(rec: CandidateRecord):
    return (rec.fitness, rec.size or 0, rec.id)


class LoopEngine:
    """Base class of the engines: the estimator verb :meth:`evolve` runs the one loop.

    Results after :meth:`evolve`: ``best_`` (a :class:`BestRule`), ``best_rules_``,
    ``logbook_``, ``n_candidates_``, ``n_evaluations_``, ``generation_`` (last finished
    generation), ``stopped_`` (``generations``, ``time_limit``, ``interrupted``), ``elapsed_``.
    """
    name = "engine"
    time_margin = 0.0   # seconds a generation needs at least: with less left, the run stops

    # -- what an engine implements -----------------------------------------------------------
    def setup(self, spec: SuiteSpec, run: RunFolder | None) -> None:
        """Load what asking needs (set ``self.suite``)."""
        raise NotImplementedError

    def begin(self, resumed: bool) -> None:
        """Called once before the first ask (after a restore when resumed)."""

    def ask(self, generation: int) -> list[Candidate]:
        raise NotImplementedError

    def tell(self, generation: int, candidates: list[Candidate], stopped: bool = False) -> bool:
        """Learn the scores of a batch; returns whether the generation is complete.
        ``stopped``: the deadline cut the batch (the run ends after this call)."""
        raise NotImplementedError

    def statistics(self, generation: int, candidates: list[Candidate]) -> dict:
        """The engine's part of the generation's statistics."""
        return {}

    def commit(self, generation: int, candidates: list[Candidate], run) -> None:
        """Write the engine's own tables of a finished generation (``run`` may be None);
        runs after the generation's rows and before its checkpoint."""

    def state(self) -> dict:
        raise NotImplementedError

    def restore(self, state: dict, run: RunFolder) -> None:
        raise NotImplementedError

    def polish(self, record: CandidateRecord) -> tuple[str, str]:
        """(formula, source) of an exported best rule."""
        return record.formula or "", record.source

    def _suite_constants(self, records) -> dict:
        """Per exported record id: the header line naming what the training suite never
        varied (target features with one value, clauses that never decided a seed), so that
        a reader does not take ``d <= d_target`` as tested on dotted targets; {} when the
        suite's candidate features are refused by the memory cap."""
        try:
            features = suite_features(self.suite)
        except CapError:
            return {}
        lines = {}
        for rec in records:
            try:
                line = constants_line(suite_constants(rec.source, features), self.suite.name)
            except RuleError:
                continue
            if line:
                lines[rec.id] = line
        return lines

    def close(self) -> None:
        """Release what :meth:`setup`/:meth:`begin` started (always called)."""

    # -- the loop ------------------------------------------------------------------------------
    def time_left(self) -> float | None:
        return None if self._deadline is None else self._deadline - time.monotonic()

    def evolve(self, suite, evaluator=None, run: RunFolder | None = None, progress=None,
               resume: bool = False):
        """Evolve rules on ``suite`` (a suite name, a path or a :class:`SuiteSpec`).

        ``evaluator`` defaults to scoring in this process; ``run`` makes the run durable
        (database, checkpoints, best rules); ``resume`` continues from the run's checkpoint.
        Returns ``self``.
        """
        cfg = self.config
        spec = suite if isinstance(suite, SuiteSpec) else SuiteSpec.of(str(suite))
        self.spec, self.run_ = spec, run
        self.cache = MaskCache(None if run is None else run.db)
        self.logbook_, self.best_rules_, self.best_ = [], [], None
        self.n_candidates_ = self.n_evaluations_ = 0
        self.generation_ = -1
        self.elapsed_ = 0.0
        self.stopped_ = None
        self._best = None   # the best scored record so far
        started = time.monotonic()
        self._deadline = None if cfg.time_limit is None else started + cfg.time_limit
        own_evaluator = evaluator is None
        try:
            self.setup(spec, run)
            evaluator = evaluator or LocalEvaluator(spec, cfg.objective)
            if run is not None:
                run.lock()   # one writer per run folder
            state = run.load_checkpoint() if (run is not None and resume) else None
            if state:
                self._restore_checked(state, run)
            if run is not None:
                # rows of the generation that was in progress when the run stopped are redone
                run.db.truncate_after(state["generation"] if state else -1)
            if state:
                self._rebuild(run)
            self.begin(resumed=bool(state))
            elapsed_before = self.elapsed_
            if progress:
                progress.begin(self, done_generations=self.generation_ + 1,
                               total_generations=None if cfg.generations is None
                               else cfg.generations + 1, time_limit=cfg.time_limit)
            try:
                while cfg.generations is None or self.generation_ < cfg.generations:
                    if self._late():
                        break
                    if not self._generation(self.generation_ + 1, evaluator, run, progress,
                                            started, elapsed_before):
                        break
                if self.stopped_ is None:
                    self.stopped_ = "generations"
            finally:
                self.elapsed_ = elapsed_before + (time.monotonic() - started)
        finally:
            try:
                self.close()
            finally:
                if own_evaluator and evaluator is not None:
                    evaluator.close()
        self.finish(run)
        return self

    def _late(self) -> bool:
        left = self.time_left()
        if left is not None and left <= self.time_margin:
            self.stopped_ = "time_limit"
            return True
        return False

    def _generation(self, g, evaluator, run, progress, started, elapsed_before) -> bool:
        """Ask, score and tell until the generation is complete, then commit it; False when
        the deadline cut it (what was scored is kept for the best rules, no checkpoint: a
        resume redoes the generation)."""
        gen_start = time.monotonic()
        hits_before, evals_before = self.cache.hits, self.n_evaluations_
        records, candidates = [], []
        complete = False
        while not complete:
            if candidates and self._late():
                break
            batch = self.ask(g)
            if not batch:
                continue   # nothing ready yet (an asynchronous sampler): look at the clock
            recs, cut = self._score(batch, g, evaluator, progress)
            records += recs
            candidates += batch
            if cut:
                self.stopped_ = "time_limit"
                self.tell(g, batch, stopped=True)
                break
            complete = self.tell(g, batch)
        if not complete:
            if run is not None and records:
                run.db.add_candidates(records)
            return False
        self.elapsed_ = elapsed_before + (time.monotonic() - started)
        seconds = time.monotonic() - gen_start
        n_evals = self.n_evaluations_ - evals_before
        best = self._best
        stats = {"generation": g, "candidates": len(records), "evaluations": n_evals,
                 "cache_hits": self.cache.hits - hits_before,
                 "failed": sum(1 for r in records if r.status != "ok"),
                 "best_fitness": None if best is None else best.fitness,
                 "best_seeds": None if best is None else best.seeds,
                 "best_complete": None if best is None else int(bool(best.complete)),
                 "best_size": None if best is None else best.size,
                 "evals_per_second": n_evals / seconds if seconds > 0 else 0.0,
                 "seconds": seconds, "elapsed": self.elapsed_,
                 **self.statistics(g, candidates)}
        self.logbook_.append(stats)
        self.generation_ = g
        if run is not None:
            run.commit_generation(records, stats, self._checkpoint(),
                                  engine_tables=lambda: self.commit(g, candidates, run))
            self.cache.committed()
        else:
            self.commit(g, candidates, None)
        if progress:
            progress.generation(stats)
        return True

    # -- scoring -----------------------------------------------------------------------------
    def _score(self, batch, g, evaluator, progress):
        """Score a batch (each distinct seed selection once per run); returns its records
        (in id order) and whether the deadline cut it."""
        jobs, waiting, records = [], {}, []
        for c in batch:
            c.id, c.generation = self.n_candidates_, g
            self.n_candidates_ += 1
            if c.failure is not None or c.masks is None:
                status, reason = c.failure or ("rejected", "the rule selects no seed masks")
                records.append(self._record(c, None, None, status=status, reason=reason))
                continue
            masks, c.masks = c.masks, None   # the masks are the judge's now: free them here
            if c.digest is None:
                c.digest = mask_hash(masks)
            hit = self.cache.get(c.digest)
            if hit is not None:
                c.evaluation = hit[1]
                records.append(self._record(c, *hit, cached=True))
            elif c.digest in waiting:
                waiting[c.digest][1].append(c)
            else:
                jobs.append(EvalJob(self.n_evaluations_, masks=masks))
                waiting[c.digest] = (self.n_evaluations_, [c])
                c.new_mask = True
                self.n_evaluations_ += 1
        if progress:
            progress.start_batch(len(jobs), len(batch))
        results = evaluator.evaluate(jobs, deadline=self._deadline,
                                     on_result=progress.result if progress else None)
        raise_judge_errors(results)   # before anything is cached or recorded
        by_index = {ev.key: ev for ev in results}
        stopped = False
        for digest, (index, group) in waiting.items():
            ev = by_index[index]
            for c in group:
                c.evaluation = ev
            if ev.status == "stopped":
                stopped = True
                continue
            self.cache.put(digest, index, ev)
            for k, c in enumerate(group):
                records.append(self._record(c, index, ev, cached=k > 0))
        records.sort(key=lambda r: r.id)
        for rec in records:
            if rec.status == "ok" and (self._best is None or
                                       _best_key(rec) < _best_key(self._best)):
                self._best = rec
        return records, stopped

    def _record(self, c: Candidate, index, ev, cached=False, status=None, reason=None):
        rec = CandidateRecord(
            id=c.id, engine=c.engine or self.name, operation=c.operation, parents=list(c.parents),
            generation=c.generation, island=c.island, eval_index=index, source=c.source,
            formula=c.formula, size=c.size, mask_hash=c.digest,
            objective=self.config.objective, cached=cached)
        c.record = rec
        if ev is None:
            rec.status, rec.reject_reason, rec.fitness = status, reason, FAILED_FITNESS
            return rec
        rec.status = ev.status
        rec.reject_reason = ev.reason or None
        rec.fitness, rec.complete, rec.seeds = ev.fitness, ev.complete, ev.seeds
        rec.objective_value = ev.objective_value
        rec.scores = ev.targets if ev.ok else None
        rec.wall_time = 0.0 if cached else ev.wall_time
        return rec

    # -- checkpoints ---------------------------------------------------------------------------
    def _checkpoint(self) -> dict:
        return {"engine": self.name, "generation": self.generation_,
                "n_candidates": self.n_candidates_, "n_evaluations": self.n_evaluations_,
                "elapsed": self.elapsed_,
                "logbook": [{**s, "best_fitness": fitness_text(s.get("best_fitness"))}
                            for s in self.logbook_],
                "config": self.config.to_json(), "engine_state": self.state()}

    def _restore_checked(self, state: dict, run: RunFolder) -> None:
        """Continue from a checkpoint; its malformed state is a one-line error naming it."""
        from ibp_evolve.runs.store import RunError
        try:
            if state.get("engine") != self.name:
                raise ValueError(f"the checkpoint is of engine {state.get('engine')!r}")
            self.generation_ = int(state["generation"])
            self.n_candidates_ = int(state["n_candidates"])
            self.n_evaluations_ = int(state["n_evaluations"])
            self.elapsed_ = float(state["elapsed"])
            self.logbook_ = [{**s, "best_fitness": parse_fitness(s.get("best_fitness"))}
                             for s in state["logbook"]]
            self.restore(state["engine_state"], run)
        except RunError:
            raise
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise run.checkpoint_error(exc) from None

    def _rebuild(self, run: RunFolder) -> None:
        """The best rule so far, from the rows the checkpoint covers (the mask cache reads
        them when it needs them)."""
        best = run.db.best(1)
        self._best = best[0] if best else None

    # -- the end -------------------------------------------------------------------------------
    def finish(self, run: RunFolder | None) -> None:
        """Export the best rules (``RUN/best/``, ranked by validation with ``--validate``) and
        set ``best_rules_`` and ``best_``."""
        if run is not None:
            records = run.best_records(self.config.n_best)
            for rec in records:
                rec.formula, rec.source = self.polish(rec)
                run.db.set_formula(rec.id, rec.formula)
            run.write_best(records, self.suite.name, self._suite_constants(records))
            run.db.set_meta(status="finished" if self.stopped_ == "generations" else "stopped",
                            stopped=self.stopped_ or "", generation=str(self.generation_))
        else:
            records = [] if self._best is None else [self._best]
            for rec in records:
                rec.formula, rec.source = self.polish(rec)
        self.best_rules_ = self.best_rules(records)
        self.best_ = self.best_rules_[0] if self.best_rules_ else None

    def best_rules(self, records) -> list[BestRule]:
        return [BestRule(r.source, r.formula or "", r.fitness, bool(r.complete), r.seeds or 0,
                         r.size or 0, r.id, r.generation, r.scores or []) for r in records]

