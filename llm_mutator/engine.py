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

* The engine runs in the one engine loop (:mod:`ibp_evolve.runs.loop`): it is asked for
  batches of completions, the loop scores them, and it registers the scored ones (tell).
* Round 0 scores the start programs (``--start``, default ``seeds/funsearch_*.py``) and puts
  them on every island.  Each later round is ``population`` completions; a round is the unit of
  durability: its candidates, the database changes and the sampling state are committed
  together (before the checkpoint), and ``--resume`` continues after the last committed round.
* Default (asynchronous) mode: a sampler thread builds prompts and calls the backend while the
  main thread validates, computes masks and scores; a bounded queue (``queue_size`` batches)
  between them means neither side waits for the other beyond it.
* ``deterministic=True``: sampling and evaluation alternate synchronously and every backend
  call gets a sampling seed derived from the run's seed and the prompt index, so a run is
  reproducible from its seed (on the CPU; GPU kernels may still differ in the last bits).
* A completion that copies a program its prompt showed (same body once normalised) is
  rejected before the mask sandbox: it counts as a candidate of the round (a rejected one,
  ``valid`` in ``llm_samples``: it parsed) and the round's next completion replaces it.
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
from dataclasses import dataclass

from ibp_evolve.language.parse import RuleError, load_rule
from ibp_evolve.resources import seeds_dir
from ibp_evolve.runs.configs import LLM_OPTIONS, LLMConfig
from ibp_evolve.runs.evaluation import EvaluationError, SuiteSpec, suite_features
from ibp_evolve.runs.loop import Candidate, LoopEngine
from ibp_evolve.runs.store import RunError, RunFolder

from .database import DatabaseConfig, Program, ProgramDatabase, score_signature
from .edits import program_tokens, token_edit_distance
from .prompt import (CompletionError, as_priority_body, build_prompt, function_body,
                     parse_completion, program_formula, program_size)
from .sandbox import MaskSandbox

__all__ = ["ENGINE", "LLMConfig", "LLMEngine", "default_start_rules", "LLM_OPTIONS"]

ENGINE = "llm"
_SKELETON = "def priority(seed, target):\n    return 1.0\n"


def default_start_rules() -> tuple[str, ...]:
    """The FunSearch skeletons shipped in ``seeds/`` (``funsearch_*.py``)."""
    files = sorted(seeds_dir().glob("funsearch_*.py"))
    return tuple(f.read_text() for f in files) or (_SKELETON,)


COPY_REASON = "an exact copy of a program the prompt showed"


def _copies_a_shown_program(source: str, request) -> bool:
    """Whether the completion's body is, token for token (layout and comments aside), one of
    the programs its prompt showed: the benchmark's "copy" (token edit distance 0)."""
    tokens = program_tokens(as_priority_body(source))
    return any(tokens == program_tokens(p.body) for p in request.programs)


def database_config(config: LLMConfig) -> DatabaseConfig:
    """The program database's settings of an LLM run (validated by DatabaseConfig)."""
    return DatabaseConfig(config.islands, config.functions_per_prompt,
                          config.cluster_temperature, config.temperature_period,
                          reset_period=config.reset_period)


@dataclass
class _Sample:
    """One completion on its way through the loop."""
    request: object                 # PromptRequest, or None for start programs
    completion: str
    source: str | None = None


class LLMEngine(LoopEngine):
    """FunSearch-style evolution with a code model (see the module docstring).

    ``backend``: a ready :class:`~llm_mutator.backends.Backend` (tests, notebooks); by default
    one is made from the configuration when :meth:`evolve` starts.
    """
    name = ENGINE

    def __init__(self, config: LLMConfig | None = None, backend=None, **overrides):
        config = config or LLMConfig()
        if overrides:
            config = config.replaced(**overrides)
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
        database_config(config)   # validates the database settings
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

    def setup(self, spec: SuiteSpec, run: RunFolder | None) -> None:
        cfg = self.config
        self.suite = spec.load()
        self._lock = threading.Lock()
        self._thread = None
        self._own_backend = self.backend is None
        scratch = None
        if run is not None:
            scratch = run.path / "sandbox"
            scratch.mkdir(exist_ok=True)
        self.sandbox = MaskSandbox(suite_features(self.suite), cfg.mask_time_limit,
                                   cfg.mask_memory_mb, scratch_dir=scratch)
        self.database = ProgramDatabase(database_config(cfg), cfg.seed)
        if run is not None:
            ProgramDatabase.create_tables(run.db.conn)   # idempotent
        self._round: list = []   # the round's samples so far

    def begin(self, resumed: bool) -> None:
        if self._own_backend:
            self.backend = self._make_backend()
        self.backend_description_ = getattr(self.backend, "description", "backend")

    def close(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join(timeout=10)   # a daemon: a batch in flight is abandoned
            self._thread = None
        sandbox = getattr(self, "sandbox", None)
        if sandbox is not None:
            sandbox.close()
        if getattr(self, "_own_backend", False) and self.backend is not None:
            self.backend.close()
            self.backend = None

    # -- resume ----------------------------------------------------------------------------
    def restore(self, state: dict, run: RunFolder) -> None:
        """The program database as committed with the checkpoint's round (later changes are
        rewound); malformed saved state is a one-line error naming the database."""
        g = self.generation_
        try:
            row = run.db.conn.execute("SELECT value FROM llm_state WHERE key = 'engine'") \
                .fetchone()
            saved = json.loads(row[0]) if row is not None else {"round": g}
            if not isinstance(saved.get("round"), int):
                raise ValueError(f"no round in the engine state {saved!r}")
            with run.db.transaction() as conn:
                ProgramDatabase.rewind(conn, g)
            self.database = ProgramDatabase.load(run.db.conn, as_priority_body)
        except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as exc:
            if isinstance(exc, RunError):
                raise
            raise RunError(f"{run.db.path}: malformed LLM engine state "
                           f"({type(exc).__name__}: {exc})") from None
        self.database.round = g + 1

    def state(self) -> dict:
        return {}   # the program database lives in the run's llm_* tables (commit)

    # -- ask -------------------------------------------------------------------------------
    def ask(self, generation: int) -> list[Candidate]:
        """A batch of completions, validated and with their seed masks (the mask sandbox)."""
        cfg = self.config
        if not self._round:
            self._round_started = time.monotonic()
        if generation == 0:
            samples = [_Sample(None, src) for src in (cfg.start_rules or default_start_rules())]
        elif cfg.deterministic:
            remaining = cfg.population - len(self._round)
            n_prompts = min(cfg.prompts_per_batch, -(-remaining // cfg.samples_per_prompt))
            requests = self._sample_requests(n_prompts)
            completions = self.backend.generate([self._prompt(r) for r in requests],
                                                cfg.samples_per_prompt,
                                                seed=cfg.seed * 1_000_003
                                                + requests[0].sample_index)
            samples = [_Sample(r, text) for r, group in zip(requests, completions)
                       for text in group][:remaining]
        else:
            if self._thread is None:   # after round 0: the sampler needs scored programs
                self._start_sampler()
            samples = self._from_sampler()
        return [self._candidate(s, generation) for s in samples]

    def _candidate(self, s: _Sample, generation: int) -> Candidate:
        request = s.request
        c = Candidate(source=s.completion, operation="start" if request is None else "sample",
                      parents=() if request is None else tuple(request.parents),
                      island=None if request is None else request.island, item=s)
        try:
            if request is None:   # a start program: validated as a rule file
                load_rule(s.completion)
                s.source = s.completion
            else:
                s.source = parse_completion(s.completion)
        except (CompletionError, RuleError) as exc:
            c.failure = ("rejected", getattr(exc, "reason", str(exc))[:500])
            return c
        c.source, c.formula, c.size = s.source, program_formula(s.source), \
            program_size(s.source)
        if request is not None and _copies_a_shown_program(s.source, request):
            # a copy is not a mutation: it would only be scored again (its mask is the shown
            # program's) and re-registered; the slot it took is spent, and the next completion
            # of the round is the resample (the candidate budget stays the same)
            c.failure = ("rejected", COPY_REASON)
            return c
        try:
            result = self.sandbox.masks(s.source)
        except RuntimeError as exc:   # the sandbox did not start: no rule's fault
            raise EvaluationError(str(exc)) from None
        if result.ok:
            c.masks = result.masks
        else:
            c.failure = (result.status, result.reason)
        return c

    def _start_sampler(self) -> None:
        """The asynchronous mode: a thread builds prompts and calls the backend while the loop
        validates and scores; a bounded queue between them."""
        cfg = self.config
        self._pipe = queue.Queue(maxsize=cfg.queue_size)
        self._stop = threading.Event()
        self.queue_waits_ = 0.0

        def sampler():
            try:
                while not self._stop.is_set():
                    requests = self._sample_requests(cfg.prompts_per_batch)
                    completions = self.backend.generate([self._prompt(r) for r in requests],
                                                        cfg.samples_per_prompt,
                                                        seed=cfg.seed * 1_000_003
                                                        + requests[0].sample_index)
                    item = [_Sample(r, text) for r, group in zip(requests, completions)
                            for text in group]
                    while not self._stop.is_set():
                        try:
                            self._pipe.put(item, timeout=0.2)
                            break
                        except queue.Full:
                            continue
            except BaseException as exc:  # handed to the main thread
                self._pipe.put(exc)

        self._thread = threading.Thread(target=sampler, name="llm-sampler", daemon=True)
        self._thread.start()

    def _from_sampler(self) -> list:
        """What the sampler has ready, up to the round's end (a batch is never split: a round
        holds at least ``population`` completions); [] after half a second of nothing."""
        waited = time.monotonic()
        try:
            items = [self._pipe.get(timeout=0.5)]
        except queue.Empty:
            self.queue_waits_ += time.monotonic() - waited
            return []
        self.queue_waits_ += time.monotonic() - waited
        room = self.config.population - len(self._round)
        while not isinstance(items[-1], BaseException) and \
                sum(len(it) for it in items) < room:
            try:
                items.append(self._pipe.get_nowait())
            except queue.Empty:
                break
        for it in items:
            if isinstance(it, BaseException):
                raise it
        return [s for it in items for s in it]

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

    # -- tell ------------------------------------------------------------------------------
    def tell(self, generation: int, candidates: list[Candidate], stopped: bool = False):
        """Register the scored programs on their islands (incomplete ones too); the round is
        complete after the start programs, or after ``population`` completions."""
        cfg = self.config
        self._round += candidates
        with self._lock:
            for c in candidates:
                rec = c.record
                if rec is None or rec.status != "ok":
                    continue
                s = c.item
                program = Program(rec.id, s.source, as_priority_body(s.source),
                                  score_signature(rec.scores or [], cfg.objective), rec.fitness)
                self.database.register(program, None if s.request is None
                                       else s.request.island,
                                       via="start" if s.request is None else "sample")
        if generation == 0 and not stopped:
            if not any(c.record is not None and c.record.status == "ok" for c in candidates):
                reasons = "; ".join(f"{c.record.reject_reason}" for c in candidates
                                    if c.record is not None)
                raise EvaluationError(f"no start program could be scored: {reasons}")
            return True
        return len(self._round) >= cfg.population

    def immigrate(self, records) -> tuple[int, int]:
        """Programs of other islands (a run of islands, :mod:`ibp_evolve.runs.islands`): every
        scored rule is a rule-language program, so each joins every island of the program
        database as a prompt example (recorded as ``via='migrant'``).  Returns (taken,
        skipped); skipped: already there, or a rule this engine cannot read."""
        taken = skipped = 0
        with self._lock:
            for rec in records:
                try:
                    program = Program(rec.id, rec.source, as_priority_body(rec.source),
                                      score_signature(rec.scores or [], self.config.objective),
                                      rec.fitness)
                except (RuleError, SyntaxError, ValueError):
                    skipped += 1
                    continue
                if self.database.register(program, None, via="migrant"):
                    taken += 1
                else:
                    skipped += 1
        return taken, skipped

    def statistics(self, generation: int, candidates: list[Candidate]) -> dict:
        records = [c.record for c in candidates if c.record is not None]
        sampled = [c for c in candidates if c.item.request is not None]
        ok = [r for r in records if r.status == "ok"]
        valid = [c for c in sampled if c.item.source is not None]
        new = [c for c in sampled if c.new_mask]
        seconds = time.monotonic() - self._round_started
        # a FunSearch mutator succeeds by local edits: how far the valid completions are from
        # the best program their prompt showed (the last one), in tokens
        distances = sorted(token_edit_distance(function_body(c.item.source),
                                               c.item.request.programs[-1].body)
                           for c in valid)
        return {"median_edit_tokens": distances[len(distances) // 2] if distances else None,
                "share_complete": sum(1 for r in ok if r.complete) / max(1, len(records)),
                "mean_size": (sum(r.size or 0 for r in ok) / len(ok)) if ok else 0.0,
                "samples": len(sampled),
                "valid_share": len(valid) / len(sampled) if sampled else None,
                "new_mask_share": len(new) / len(sampled) if sampled else None,
                "completions_per_second": len(sampled) / seconds if seconds > 0 else 0.0,
                "resets": self.database.n_resets,
                "complete_best_seeds": min((r.seeds for r in ok if r.complete),
                                           default=None)}

    # -- commit ----------------------------------------------------------------------------
    def commit(self, generation: int, candidates: list[Candidate], run) -> None:
        """The round's samples, the program database's changes and its sampling state, in one
        transaction (before the loop's checkpoint)."""
        self._round = []
        with self._lock:
            if run is None:
                self.database.pending = []
                self.database.round = generation + 1
                return
            with run.db.transaction() as conn:
                for c in candidates:
                    s = c.item
                    if s.request is None:
                        continue
                    r = s.request
                    conn.execute(
                        "INSERT OR REPLACE INTO llm_samples (candidate, round, island, "
                        "sample_index, temperature, prompt_parents, completion, valid, "
                        "new_mask) VALUES (?,?,?,?,?,?,?,?,?)",
                        (c.id, generation, r.island, r.sample_index, r.temperature,
                         json.dumps(r.parents), s.completion, int(s.source is not None),
                         None if c.failure is not None else int(c.new_mask)))
                self.database.round = generation
                self.database.flush(conn)
                conn.execute("INSERT OR REPLACE INTO llm_state (key, value) VALUES "
                             "('engine', ?)", (json.dumps({"round": generation}),))
                # events after this commit belong to the next round
                self.database.round = generation + 1

    # -- the end ---------------------------------------------------------------------------
    def polish(self, record) -> tuple[str, str]:
        return program_formula(record.source), record.source
