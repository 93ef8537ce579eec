"""The LLM engine: FunSearch-style evolution of seeding rules (``evolve --engine llm``).

Estimator-shaped like the GP engine: configuration in :class:`LLMConfig`, the work in
:meth:`LLMEngine.evolve`, results as attributes (``best_``, ``best_rules_``, ``logbook_``,
``n_candidates_``, ``n_evaluations_``, ``generation_``, ``stopped_``, ``elapsed_``).  It writes the
same run folder as ``evolve --engine deap`` (engine-neutral ``candidates`` rows, per-round
statistics in ``generations``, ``best/*.py``) plus its own ``llm_*`` tables (the program
database, every prompt's parents and raw completion; see :mod:`llm_mutator.database`).

The loop, per completion::

    program database ──sample──► prompt ──backend──► completion ──parse + validate──►
    rule source ──mask sandbox──► seed masks ──(new mask?)──► judge workers ──► scores ──►
    registered on the prompt's island when scored (incomplete included), recorded always

* Round 0 scores the start programs (``--start``, default ``seeds/funsearch_*.py``) and puts
  them on every island.  Each later round is ``population`` completions; a round is the unit of
  durability: its candidates, the database changes and the sampling state are committed
  together, and ``--resume`` continues after the last committed round.
* Default (asynchronous) mode: a sampler thread builds prompts and calls the backend while the
  main thread validates, computes masks and scores; a bounded queue (``queue_size`` batches)
  between them means neither side waits for the other beyond it.
* ``deterministic=True``: sampling and evaluation alternate synchronously and every backend
  call gets a sampling seed derived from the run's seed and the prompt index, so a run is
  reproducible from its seed (on the CPU; GPU kernels may still differ in the last bits).
* Safety: a completion is validated before anything executes it; its masks are computed only
  in :class:`~llm_mutator.sandbox.MaskSandbox` (CPU-time and memory limits, killed on timeout);
  the judge's workers only ever see masks.  Invalid, failing, timed-out programs are recorded
  with their reason and never registered.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from dataclasses import asdict, dataclass, fields

from ibp_evolve.runs.evaluation import (FAILED_FITNESS, EvalJob, EvaluationError, LocalEvaluator,
                                   MaskCache, SuiteSpec, mask_hash, suite_features)
from ibp_evolve.language.parse import RuleError, load_rule
from ibp_evolve.resources import seeds_dir
from ibp_evolve.runs.store import BestRule, CandidateRecord, RunError, RunFolder

from .database import DatabaseConfig, Program, ProgramDatabase, score_signature
from .prompt import (CompletionError, as_priority_body, build_prompt,
                     parse_completion, program_formula, program_size)
from .sandbox import MaskSandbox

__all__ = ["ENGINE", "LLMConfig", "LLMEngine", "default_start_rules"]

ENGINE = "llm"
# LLMConfig fields that ``ibp-evolve evolve --engine llm`` takes from its command line.
LLM_OPTIONS = ("backend", "model", "url", "lora", "device", "temperature", "top_p",
               "max_new_tokens", "samples_per_prompt", "prompts_per_batch", "islands",
               "reset_period", "deterministic", "queue_size", "request_timeout")
_SKELETON = "def priority(seed, target):\n    return 1.0\n"


def default_start_rules() -> tuple[str, ...]:
    """The FunSearch skeletons shipped in ``seeds/`` (``funsearch_*.py``)."""
    files = sorted(seeds_dir().glob("funsearch_*.py"))
    return tuple(f.read_text() for f in files) or (_SKELETON,)


@dataclass
class LLMConfig:
    """Settings of an LLM-engine run."""
    population: int = 64            # completions per round
    generations: int = 20           # rounds after round 0 (the start programs)
    seed: int = 0
    objective: str = "seeds"
    start_rules: tuple = ()         # rule sources; empty: seeds/funsearch_*.py
    backend: str = "transformers"   # or "openai"
    model: str | None = None        # model directory or hub name; the server's model name
    url: str | None = None          # OpenAI-compatible server
    lora: str | None = None
    device: str | None = None
    temperature: float = 1.0
    top_p: float = 0.95
    max_new_tokens: int = 160
    request_timeout: float = 120.0
    retries: int = 4
    samples_per_prompt: int = 4
    prompts_per_batch: int = 2      # prompts per backend call
    islands: int = 10
    functions_per_prompt: int = 2
    cluster_temperature: float = 0.1
    temperature_period: int = 1000
    reset_period: int = 200
    deterministic: bool = False
    queue_size: int = 4             # backend batches waiting for evaluation, at most
    mask_time_limit: float = 5.0    # seconds of one rule's mask evaluation in the sandbox
    mask_memory_mb: float = 512.0
    n_best: int = 5
    time_limit: float | None = None
    selection: str | None = None    # GP options: rejected by this engine
    max_height: int | None = None

    def to_json(self) -> dict:
        d = asdict(self)
        d["start_rules"] = list(self.start_rules)
        return d

    @classmethod
    def from_json(cls, data: dict) -> "LLMConfig":
        known = {f.name for f in fields(cls)}
        d = {k: v for k, v in data.items() if k in known}
        d["start_rules"] = tuple(d.get("start_rules", ()))
        return cls(**d)

    @classmethod
    def cli_options(cls, args) -> dict:
        """Settings given on ``evolve``'s command line (registered by :mod:`ibp_evolve.cli.llm`)."""
        return {k: getattr(args, k) for k in LLM_OPTIONS if getattr(args, k, None) is not None}

    def database_config(self) -> DatabaseConfig:
        return DatabaseConfig(self.islands, self.functions_per_prompt, self.cluster_temperature,
                              self.temperature_period, reset_period=self.reset_period)


@dataclass
class _Sample:
    """One completion on its way through the loop."""
    request: object                 # PromptRequest, or None for start programs
    completion: str
    source: str | None = None
    record: CandidateRecord | None = None
    new_mask: bool | None = None


class LLMEngine:
    """FunSearch-style evolution with a code model (see the module docstring).

    ``backend``: a ready :class:`~llm_mutator.backends.Backend` (tests, notebooks); by default
    one is made from the configuration when :meth:`evolve` starts.
    """
    name = ENGINE

    def __init__(self, config: LLMConfig | None = None, backend=None, **overrides):
        config = config or LLMConfig()
        if overrides:
            config = LLMConfig(**{**asdict(config), **overrides})
        if config.selection is not None or config.max_height is not None:
            raise ValueError("--selection and --max-height are options of the GP engine "
                             "(--engine deap)")
        if config.population < 1 or config.generations < 0:
            raise ValueError("population must be positive and generations non-negative")
        if config.samples_per_prompt < 1 or config.prompts_per_batch < 1 \
                or config.queue_size < 1:
            raise ValueError("samples per prompt, prompts per batch and the queue size must "
                             "be positive")
        if backend is None:
            if config.backend not in ("transformers", "openai"):
                raise ValueError(f"unknown backend '{config.backend}' (transformers, openai)")
            if config.backend == "transformers" and not config.model:
                raise ValueError("--engine llm --backend transformers needs --model (a model "
                                 "directory, e.g. one made by ibp-evolve train-mutator)")
            if config.backend == "openai" and not config.url:
                raise ValueError("--engine llm --backend openai needs --url")
        config.database_config()   # validates the database settings
        self.config = config
        self.backend = backend

    # -- set-up ----------------------------------------------------------------------------
    def _make_backend(self):
        from .backends import make_backend
        cfg = self.config
        return make_backend(cfg.backend, model=cfg.model, url=cfg.url, lora=cfg.lora,
                            device=cfg.device, temperature=cfg.temperature, top_p=cfg.top_p,
                            max_new_tokens=cfg.max_new_tokens, timeout=cfg.request_timeout,
                            retries=cfg.retries)

    # -- the run ---------------------------------------------------------------------------
    def evolve(self, suite, evaluator=None, run: RunFolder | None = None, progress=None,
               resume: bool = False):
        """Evolve rules on ``suite`` (a suite name, a path or a
        :class:`~ibp_evolve.runs.evaluation.SuiteSpec`); see :meth:`DeapEngine.evolve` for the
        arguments.  Returns ``self``."""
        cfg = self.config
        spec = suite if isinstance(suite, SuiteSpec) else SuiteSpec.of(str(suite))
        self.spec = spec
        self.suite = spec.load()
        self.run_ = run
        self.cache = MaskCache()
        self.logbook_, self.best_rules_ = [], []
        self.n_candidates_ = self.n_evaluations_ = 0
        self.generation_ = -1
        self.elapsed_ = 0.0
        self.stopped_ = None
        self._best: CandidateRecord | None = None
        self._lock = threading.Lock()
        self._progress = progress
        started = time.monotonic()
        self._deadline = None if cfg.time_limit is None else started + cfg.time_limit
        own_evaluator = evaluator is None
        evaluator = evaluator or LocalEvaluator(spec, cfg.objective)
        self.evaluator = evaluator
        scratch = None
        if run is not None:
            scratch = run.path / "sandbox"
            scratch.mkdir(exist_ok=True)
        self.sandbox = MaskSandbox(suite_features(self.suite), cfg.mask_time_limit,
                                   cfg.mask_memory_mb, scratch_dir=scratch)
        own_backend = self.backend is None
        self.database = ProgramDatabase(cfg.database_config(), cfg.seed)
        if run is not None:
            ProgramDatabase.create_tables(run.db.conn)   # idempotent
        if run is not None:
            run.lock()   # one writer per run folder
        try:
            elapsed_before = self._restore_checked(run) if (run is not None and resume) \
                else 0.0
            if run is not None and not resume:
                run.db.truncate_after(-1)
            if own_backend:
                self.backend = self._make_backend()
            self.backend_description_ = getattr(self.backend, "description", "backend")
            if progress:
                progress.begin(self, done_generations=self.generation_ + 1,
                               total_generations=cfg.generations + 1,
                               time_limit=cfg.time_limit)
            self._elapsed = lambda: elapsed_before + (time.monotonic() - started)
            if self.generation_ < 0:
                self._round_zero(progress)
            if self.stopped_ is None and self.generation_ < cfg.generations:
                if cfg.deterministic:
                    self._run_synchronous(progress)
                else:
                    self._run_asynchronous(progress)
            if self.stopped_ is None:
                self.stopped_ = "generations"
        finally:
            self.elapsed_ = getattr(self, "_elapsed", lambda: 0.0)()
            self.sandbox.close()
            if own_evaluator:
                evaluator.close()
            if own_backend and self.backend is not None:
                self.backend.close()
                self.backend = None
        self._finish(run)
        return self

    # -- resume ----------------------------------------------------------------------------
    def _restore_checked(self, run: RunFolder) -> float:
        """:meth:`_restore`, with malformed saved state as a one-line error naming the file."""
        try:
            return self._restore(run)
        except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as exc:
            if isinstance(exc, RunError):
                raise
            raise RunError(f"{run.db.path}: malformed LLM engine state "
                           f"({type(exc).__name__}: {exc})") from None

    def _restore(self, run: RunFolder) -> float:
        from ibp_evolve.runs.evaluation import Evaluation
        row = run.db.conn.execute("SELECT value FROM llm_state WHERE key = 'engine'").fetchone()
        if row is None:
            run.db.truncate_after(-1)
            return 0.0
        state = json.loads(row[0])
        g = state["round"]
        with run.db.transaction() as conn:
            ProgramDatabase.rewind(conn, g)
        run.db.truncate_after(g)
        self.database = ProgramDatabase.load(run.db.conn, as_priority_body)
        self.generation_ = g
        self.n_candidates_, self.n_evaluations_ = state["n_candidates"], state["n_evaluations"]
        self.logbook_ = [json.loads(r["extra"] or "{}") | {k: r[k] for k in r if k != "extra"}
                         for r in run.db.generations()]
        for rec in run.db.candidates("WHERE mask_hash IS NOT NULL"):
            if rec.status == "ok" and (self._best is None or
                                       (rec.fitness, rec.size or 0) <
                                       (self._best.fitness, self._best.size or 0)):
                self._best = rec
            if not rec.cached and rec.status in ("ok", "rejected") \
                    and rec.eval_index is not None:
                self.cache.put(rec.mask_hash, rec.eval_index, Evaluation(
                    rec.eval_index, rec.status, rec.fitness, bool(rec.complete),
                    rec.seeds or 0, rec.objective_value or 0.0, rec.scores or [],
                    rec.reject_reason or "", rec.wall_time or 0.0))
        return float(state.get("elapsed", 0.0))

    # -- rounds ----------------------------------------------------------------------------
    def _round_zero(self, progress) -> None:
        cfg = self.config
        sources = cfg.start_rules or default_start_rules()
        samples = [_Sample(None, src) for src in sources]
        self._round_start = time.monotonic()
        self._process(samples, 0, progress)
        ok = [s for s in samples if s.record.status == "ok"]
        if not ok and self.stopped_ is None:
            reasons = "; ".join(f"{s.record.reject_reason}" for s in samples)
            raise EvaluationError(f"no start program could be scored: {reasons}")
        self._commit(0, samples)

    def _run_synchronous(self, progress) -> None:
        cfg = self.config
        while self.generation_ < cfg.generations and self.stopped_ is None:
            g = self.generation_ + 1
            self._round_start = time.monotonic()
            samples = []
            while len(samples) < cfg.population:
                if self._late():
                    break
                remaining = cfg.population - len(samples)
                n_prompts = min(cfg.prompts_per_batch,
                                -(-remaining // cfg.samples_per_prompt))
                requests = self._sample_requests(n_prompts)
                seed = cfg.seed * 1_000_003 + requests[0].sample_index
                completions = self.backend.generate([self._prompt(r) for r in requests],
                                                    cfg.samples_per_prompt, seed=seed)
                batch = [_Sample(r, text) for r, group in zip(requests, completions)
                         for text in group][:remaining]
                self._process(batch, g, progress)
                samples.extend(batch)
            self._commit(g, samples)

    def _run_asynchronous(self, progress) -> None:
        cfg = self.config
        pipe: queue.Queue = queue.Queue(maxsize=cfg.queue_size)
        stop = threading.Event()
        counter = [0]

        def sampler():
            try:
                while not stop.is_set():
                    requests = self._sample_requests(cfg.prompts_per_batch)
                    counter[0] += 1
                    completions = self.backend.generate([self._prompt(r) for r in requests],
                                                        cfg.samples_per_prompt,
                                                        seed=cfg.seed * 1_000_003
                                                        + requests[0].sample_index)
                    item = [_Sample(r, text) for r, group in zip(requests, completions)
                            for text in group]
                    while not stop.is_set():
                        try:
                            pipe.put(item, timeout=0.2)
                            break
                        except queue.Full:
                            continue
            except BaseException as exc:  # handed to the main thread
                pipe.put(exc)

        thread = threading.Thread(target=sampler, name="llm-sampler", daemon=True)
        thread.start()
        self.queue_waits_ = 0.0
        try:
            samples: list = []
            self._round_start = time.monotonic()
            while self.generation_ < cfg.generations and self.stopped_ is None:
                if self._late():
                    if samples:
                        self._commit(self.generation_ + 1, samples)
                    break
                waited = time.monotonic()
                try:
                    item = pipe.get(timeout=0.5)
                except queue.Empty:
                    self.queue_waits_ += time.monotonic() - waited
                    continue
                self.queue_waits_ += time.monotonic() - waited
                items = [item]
                # what is already waiting goes to the workers at once, up to the round's end
                room = cfg.population - len(samples)
                while not isinstance(items[-1], BaseException) and \
                        sum(len(it) for it in items) < room:
                    try:
                        items.append(pipe.get_nowait())
                    except queue.Empty:
                        break
                for it in items:
                    if isinstance(it, BaseException):
                        raise it
                batch = [s for it in items for s in it]
                g = self.generation_ + 1
                self._process(batch, g, progress)
                # a batch is never split: a round holds at least ``population`` completions
                samples.extend(batch)
                if len(samples) >= cfg.population:
                    self._commit(g, samples)
                    samples = []
                    self._round_start = time.monotonic()
        finally:
            stop.set()
            thread.join(timeout=10)   # a daemon: a generation in flight is abandoned

    def _late(self) -> bool:
        if self._deadline is not None and time.monotonic() >= self._deadline:
            self.stopped_ = "time_limit"
            return True
        return False

    def _sample_requests(self, n: int) -> list:
        with self._lock:
            requests = []
            for _ in range(n):
                requests.append(self.database.sample())
                if self.database.reset_due():
                    self.database.reset_weaker_half()
            return requests

    @staticmethod
    def _prompt(request) -> str:
        return build_prompt([p.body for p in request.programs])

    # -- one batch of completions ----------------------------------------------------------
    def _process(self, samples: list, generation: int, progress) -> None:
        """Validate, compute masks, score and register a batch of completions (in order)."""
        cfg = self.config
        jobs, waiting = [], {}
        for s in samples:
            request = s.request
            rec = CandidateRecord(
                id=self.n_candidates_, engine=ENGINE,
                operation="start" if request is None else "sample",
                parents=[] if request is None else request.parents, generation=generation,
                island=None if request is None else request.island,
                source=s.completion, objective=cfg.objective)
            self.n_candidates_ += 1
            s.record = rec
            try:
                if request is None:   # a start program: validated as a rule file
                    load_rule(s.completion)
                    s.source = s.completion
                else:
                    s.source = parse_completion(s.completion)
            except (CompletionError, RuleError) as exc:
                rec.status = "rejected"
                rec.reject_reason = getattr(exc, "reason", str(exc))[:500]
                rec.fitness = FAILED_FITNESS
                continue
            rec.source = s.source
            rec.formula = program_formula(s.source)
            rec.size = program_size(s.source)
            result = self.sandbox.masks(s.source)
            if not result.ok:
                rec.status, rec.reject_reason = result.status, result.reason
                rec.fitness = FAILED_FITNESS
                continue
            digest = mask_hash(result.masks)
            rec.mask_hash = digest
            hit = self.cache.get(digest)
            s.new_mask = hit is None and digest not in waiting
            if hit is not None:
                self._score(rec, *hit, cached=True)
            elif digest in waiting:
                waiting[digest][1].append(s)
            else:
                jobs.append(EvalJob(self.n_evaluations_, masks=result.masks))
                waiting[digest] = (self.n_evaluations_, [s])
                self.n_evaluations_ += 1
        if jobs:
            if progress:
                progress.start_batch(len(jobs), len(samples))
            results = self.evaluator.evaluate(jobs, deadline=self._deadline,
                                              on_result=progress.result if progress else None)
            by_index = {ev.key: ev for ev in results}
            for digest, (index, group) in waiting.items():
                ev = by_index[index]
                if ev.status == "stopped":
                    self.stopped_ = "time_limit"
                self.cache.put(digest, index, ev)
                for k, s in enumerate(group):
                    self._score(s.record, index, ev, cached=k > 0)
        with self._lock:
            for s in samples:
                rec = s.record
                if rec.status != "ok":
                    continue
                body = as_priority_body(s.source)
                program = Program(rec.id, s.source, body,
                                  score_signature(rec.scores or [], cfg.objective), rec.fitness)
                self.database.register(program, None if s.request is None
                                       else s.request.island,
                                       via="start" if s.request is None else "sample")
                if self._best is None or (rec.fitness, rec.size or 0) < \
                        (self._best.fitness, self._best.size or 0):
                    self._best = rec

    @staticmethod
    def _score(rec: CandidateRecord, index: int, ev, cached: bool) -> None:
        rec.eval_index = index
        rec.status = ev.status
        rec.reject_reason = ev.reason or None
        rec.fitness, rec.complete, rec.seeds = ev.fitness, ev.complete, ev.seeds
        rec.objective_value = ev.objective_value
        rec.scores = ev.targets if ev.status == "ok" else None
        rec.cached = cached
        rec.wall_time = 0.0 if cached else ev.wall_time

    # -- commit ----------------------------------------------------------------------------
    def _commit(self, g: int, samples: list) -> None:
        records = [s.record for s in samples]
        seconds = time.monotonic() - self._round_start
        stats = self._statistics(g, samples, seconds)
        self.logbook_.append(stats)
        self.generation_ = g
        self.elapsed_ = self._elapsed()
        run = self.run_
        if run is not None:
            with self._lock:
                run.db.add_candidates(records, generation_stats=stats)
                # before the round's state: a kill in between redoes the round, validation too
                run.validate(g)
                with run.db.transaction() as conn:
                    for s in samples:
                        if s.request is None:
                            continue
                        r = s.request
                        conn.execute(
                            "INSERT OR REPLACE INTO llm_samples (candidate, round, island, "
                            "sample_index, temperature, prompt_parents, completion, valid, "
                            "new_mask) VALUES (?,?,?,?,?,?,?,?,?)",
                            (s.record.id, g, r.island, r.sample_index, r.temperature,
                             json.dumps(r.parents), s.completion, int(s.source is not None),
                             None if s.new_mask is None else int(s.new_mask)))
                    self.database.round = g
                    self.database.flush(conn)
                    conn.execute("INSERT OR REPLACE INTO llm_state (key, value) VALUES "
                                 "('engine', ?)", (json.dumps(
                                     {"round": g, "n_candidates": self.n_candidates_,
                                      "n_evaluations": self.n_evaluations_,
                                      "elapsed": self.elapsed_}),))
                    # events after this commit belong to the next round
                    self.database.round = g + 1
            run.write_stats()
        else:
            with self._lock:
                self.database.pending = []
                self.database.round = g + 1
        if self._progress is not None:
            self._progress.generation(stats)

    def _statistics(self, g: int, samples: list, seconds: float) -> dict:
        records = [s.record for s in samples]
        sampled = [s for s in samples if s.request is not None]
        ok = [r for r in records if r.status == "ok"]
        best = self._best
        n_evals = sum(1 for r in ok if not r.cached)
        valid = [s for s in sampled if s.source is not None]
        new = [s for s in sampled if s.new_mask]
        return {"generation": g, "candidates": len(records), "evaluations": n_evals,
                "cache_hits": sum(1 for r in ok if r.cached),
                "failed": sum(1 for r in records if r.status != "ok"),
                "best_fitness": None if best is None else best.fitness,
                "best_seeds": None if best is None else best.seeds,
                "best_complete": None if best is None else int(bool(best.complete)),
                "best_size": None if best is None else best.size,
                "share_complete": sum(1 for r in ok if r.complete) / max(1, len(records)),
                "mean_size": (sum(r.size or 0 for r in ok) / len(ok)) if ok else 0.0,
                "evals_per_second": n_evals / seconds if seconds > 0 else 0.0,
                "seconds": seconds, "elapsed": self._elapsed(),
                "samples": len(sampled),
                "valid_share": len(valid) / len(sampled) if sampled else None,
                "new_mask_share": len(new) / len(sampled) if sampled else None,
                "completions_per_second": len(sampled) / seconds if seconds > 0 else 0.0,
                "resets": self.database.n_resets,
                "complete_best_seeds": min((r.seeds for r in ok if r.complete),
                                           default=None)}

    # -- the end ---------------------------------------------------------------------------
    def _finish(self, run: RunFolder | None) -> None:
        cfg = self.config
        if run is not None:
            records = run.best_records(cfg.n_best)   # by validation with --validate
            for rec in records:
                rec.formula = program_formula(rec.source)
                run.db.set_formula(rec.id, rec.formula)
            run.write_best(records, self.suite.name)
            run.db.set_meta(status="finished" if self.stopped_ == "generations" else "stopped",
                            stopped=self.stopped_ or "", generation=str(self.generation_))
        else:
            records = [self._best] if self._best is not None else []
        self.best_rules_ = [BestRule(r.source, r.formula or program_formula(r.source),
                                     r.fitness, bool(r.complete), r.seeds or 0, r.size or 0,
                                     r.id, r.generation, r.scores or [])
                            for r in records]
        self.best_ = self.best_rules_[0] if self.best_rules_ else None
