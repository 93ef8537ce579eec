"""Evaluate many candidate rules fast: in-process, on a pool of long-lived workers, or on Dask.

Every engine hands the evaluator a list of :class:`EvalJob` — a rule's seed masks (already
computed, e.g. by the GP's vectorised tree evaluator) or its source (then the worker computes
the masks in the rule sandbox) — and gets back one :class:`Evaluation` per job, in the same order.

* :class:`LocalEvaluator` scores in the calling process (tests, notebooks, one core).
* :class:`PoolEvaluator` keeps ``workers`` processes of the ``multiprocess`` package alive for
  the whole run; each builds its :class:`~ibp_evolve.judge.score.Judge` (and loads the compiled
  solver) once.  Jobs travel in batches and results come back one by one, so the parent always
  knows which candidate a worker is on: a candidate that crashes its worker or runs past
  ``candidate_timeout`` is scored as failed, the worker is killed and replaced, and the rest of
  its batch goes to another worker.  The run itself never fails because of one candidate.
* :class:`DaskEvaluator` sends the batches to a Dask distributed cluster (``--dask
  tcp://SCHEDULER:8786``) or to a local one it starts (``--dask-local N``).  Each Dask worker
  process builds its judge once (kept in a per-process cache).  A batch whose worker dies is
  scored as failed; Dask cannot interrupt a running task, so the per-candidate timeout is only
  approximated there (the batch's result is abandoned, not the work).

All evaluators honour a ``deadline`` (``time.monotonic()`` value): jobs not finished by then come
back with status ``stopped``, and running work is abandoned (pool workers are killed).

Pool workers never outlive the process that started them (Linux ``PR_SET_PDEATHSIG``: a
SIGKILL of the parent kills them too) and ignore Ctrl-C, which the parent handles alone.

Identical masks are identical for the judge: :class:`MaskCache` keys evaluations by a hash of the
packed masks, so an engine scores each distinct seed selection once.
"""

from __future__ import annotations

import hashlib
import os
import signal
import sys
import threading
import time
import traceback
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ibp_evolve.reducer.ordering import DEFAULT_ORDERING
from ibp_evolve.runs.fitness import FAILED_FITNESS, exact, fitness_text, parse_fitness

__all__ = ["SuiteSpec", "EvalJob", "Evaluation", "MaskCache", "LocalEvaluator",
           "PoolEvaluator", "DaskEvaluator", "make_evaluator", "mask_hash", "score_job",
           "EvaluationError", "EvaluatorUnavailable", "JudgeError", "FAILED_FITNESS",
           "suite_features", "available_cores", "die_with_parent", "raise_judge_errors"]
# Seconds a rule sent as source text may take to select its seeds (per target, in the sandbox).
SOURCE_TIME_LIMIT = 10.0
# What a user reads when a worker ran out of memory: the machine's limit, not the rule's fault,
# and the caps that bound what one worker (and all of them together) may hold.
OUT_OF_MEMORY = ("out of memory, not the rule's fault: lower --max-memory (each worker's cap), "
                 "--max-seeds or --workers")


class EvaluationError(RuntimeError):
    """The evaluator itself cannot work (e.g. a worker cannot build its judge)."""


class EvaluatorUnavailable(EvaluationError):
    """A service the evaluator needs cannot be reached (e.g. a Dask scheduler)."""


class JudgeError(EvaluationError):
    """The judge failed on a candidate through no fault of the candidate (a bad family, a size
    cap, the solver): the run stops with this one-line message.  ``exit_status`` is 2 for bad
    input or a cap, 1 for a failure of the judge itself."""

    def __init__(self, message: str, exit_status: int = 1):
        super().__init__(message)
        self.exit_status = exit_status


def raise_judge_errors(evaluations) -> None:
    """Stop at the first evaluation that failed by the judge's fault (status ``error``): it is
    no verdict on the candidate, so it must reach neither a cache nor the run database."""
    for ev in evaluations:
        if ev.status == "error":
            raise JudgeError(f"the judge failed (not the candidate's fault): {ev.reason}",
                             2 if ev.bad_input else 1)


# ----------------------------------------------------------------------------- what to judge

@dataclass(frozen=True)
class SuiteSpec:
    """Everything a worker needs to build the same judge as the parent: picklable and small.

    ``suite`` is a built-in suite name or an absolute path; ``max_seeds`` overrides the
    suite's own cap (a cheaper evolution: larger selections are failed without solving);
    ``symmetries`` overrides the suite's sector-symmetries setting (None: the suite's own).
    """
    suite: str
    ordering: str = DEFAULT_ORDERING
    max_seeds: int | None = None
    max_candidates: int | None = None   # the judge's size caps (None: the judge's defaults)
    max_memory: int | None = None
    symmetries: bool | None = None

    @classmethod
    def of(cls, suite: str, ordering: str = DEFAULT_ORDERING, max_seeds: int | None = None):
        path = Path(suite)
        if path.suffix == ".toml" or path.exists():
            suite = str(path.resolve())
        return cls(str(suite), ordering, max_seeds)

    def load(self):
        import dataclasses

        from ibp_evolve.judge.suites import load_suite, with_symmetries
        suite = with_symmetries(load_suite(self.suite), self.symmetries)
        if self.max_seeds is not None:
            suite = dataclasses.replace(suite, max_seeds=int(self.max_seeds))
        return suite

    def judge(self):
        """This process's judge for the spec, built on first use."""
        judge = _JUDGES.get(self)
        if judge is None:
            from ibp_evolve.reducer.ordering import Ordering
            from ibp_evolve.judge.score import Judge
            limits = {k: v for k, v in (("max_candidates", self.max_candidates),
                                        ("max_memory", self.max_memory)) if v is not None}
            judge = Judge(self.load(), Ordering.parse(self.ordering), **limits)
            _JUDGES[self] = judge
        return judge


_JUDGES: dict = {}


def suite_features(suite):
    """The candidate universes' features of a suite without building its equation systems.

    Same universes as :class:`~ibp_evolve.judge.score.Judge` (tested), so that a parent process can
    compute seed masks while the workers solve.
    """
    from ibp_evolve.judge.bounds import candidate_bytes, check_memory, default_max_memory
    from ibp_evolve.judge.selection import check_candidates
    from ibp_evolve.language.compile import features_from_indices
    from ibp_evolve.reducer.seeding import laporta_seeds
    # sizes from counts first: a huge universe is refused here, not by the OOM killer
    where = f"suite '{suite.name}', "
    total = sum(check_candidates(suite.family, t, suite.delta_r, suite.delta_s, where=where)
                for t in suite.targets)
    check_memory(candidate_bytes(total, suite.family.n), default_max_memory(),
                 f"{where}the features of {total:,} candidate seeds", "lower delta_r/delta_s")
    out = []
    for t in suite.targets:
        r_max = sum(x for x in t if x > 0) + suite.delta_r
        s_max = -sum(x for x in t if x < 0) + suite.delta_s
        universe = laporta_seeds(suite.family, [t], r_max, s_max)
        out.append(features_from_indices(universe, t, suite.family.isps))
    return out


@dataclass
class EvalJob:
    """One candidate to score: ``masks`` (one bool array per target) or ``source``."""
    key: int
    masks: list | None = None
    source: str | None = None

    def packed(self) -> "EvalJob":
        """A copy with the masks bit-packed (8x smaller to send)."""
        if self.masks is None or isinstance(self.masks, _Packed):
            return self
        return EvalJob(self.key, _Packed.of(self.masks), self.source)


class _Packed:
    __slots__ = ("bits", "sizes")

    @classmethod
    def of(cls, masks):
        p = cls()
        p.bits = [np.packbits(np.asarray(m, dtype=bool)) for m in masks]
        p.sizes = [len(m) for m in masks]
        return p

    def unpack(self):
        return [np.unpackbits(b, count=n).astype(bool) for b, n in zip(self.bits, self.sizes)]

    def __getstate__(self):
        return (self.bits, self.sizes)

    def __setstate__(self, state):
        self.bits, self.sizes = state


def mask_hash(masks) -> str:
    """A digest that is equal exactly when the seed selections are equal."""
    h = hashlib.blake2b(digest_size=16)
    for m in masks:
        m = np.asarray(m, dtype=bool)
        h.update(len(m).to_bytes(8, "little"))
        h.update(np.packbits(m).tobytes())
    return h.hexdigest()


@dataclass
class Evaluation:
    """The judge's verdict on one candidate (or why there is none).

    ``status``: ``ok`` (scored), ``rejected`` (the rule's own fault: it does not load or does
    not evaluate, a :class:`~ibp_evolve.language.parse.CandidateError`), ``crashed`` (its
    worker died), ``timeout`` (ran past the per-candidate limit), ``stopped`` (the run's
    deadline came first) or ``error`` (the judge failed, not the candidate: the run stops,
    :func:`raise_judge_errors`; ``bad_input`` when it was bad input or a cap).  Only ``ok``
    carries real scores; the others have ``fitness = FAILED_FITNESS``.  The fitness is exact
    (an int, or a Fraction for ``relative_trimmed``: :mod:`ibp_evolve.runs.fitness`).
    """
    key: int
    status: str = "ok"
    fitness: object = FAILED_FITNESS
    complete: bool = False
    seeds: int = 0
    objective_value: float = 0.0
    targets: list = field(default_factory=list)
    reason: str = ""
    wall_time: float = 0.0
    bad_input: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_json(self) -> dict:
        data = asdict(self)
        data["fitness"] = fitness_text(self.fitness)
        return data

    @classmethod
    def from_json(cls, data: dict) -> "Evaluation":
        return cls(**{**data, "fitness": parse_fitness(data["fitness"])})


def _target_summary(t) -> dict:
    return {"target": list(t.target), "seeds": t.seeds, "equations": t.equations,
            "trimmed_equations": t.trimmed_equations, "multiply_adds": t.multiply_adds,
            "seconds": round(t.seconds, 6), "reduced": t.reduced,
            "n_survivors": t.n_survivors, "reason": t.reason}


def score_job(judge, job: EvalJob, objective: str) -> Evaluation:
    """Score one job with a judge; never raises for a bad candidate."""
    start = time.perf_counter()
    try:
        if job.masks is not None:
            masks = job.masks.unpack() if isinstance(job.masks, _Packed) else job.masks
            report = judge.score_masks(masks, objective)
        else:
            # a rule given as text is untrusted: the sandbox selects its seeds, chunk by chunk
            # over the universes (rows only for the kept seeds)
            report = judge.score(job.source, objective, sandbox=True,
                                 time_limit=SOURCE_TIME_LIMIT)
    except MemoryError:
        # the machine's limit, not the rule's fault nor the judge's: failed like a crash, and
        # the run goes on (the worker survives: the failed allocation was never made)
        return Evaluation(job.key, "crashed", reason=f"MemoryError: {OUT_OF_MEMORY}",
                          wall_time=time.perf_counter() - start)
    except Exception as exc:
        # Whose fault?  The rule's own (it does not load, raises, runs too long) rejects the
        # candidate; anything else is the judge's and stops the run (raise_judge_errors).
        from ibp_evolve.language.parse import CandidateError
        reason = f"{type(exc).__name__}: {exc}"[:500]
        if isinstance(exc, CandidateError):
            return Evaluation(job.key, "rejected", reason=reason,
                              wall_time=time.perf_counter() - start)
        return Evaluation(job.key, "error", reason=reason, bad_input=isinstance(exc, ValueError),
                          wall_time=time.perf_counter() - start)
    targets = [_target_summary(t) for t in report.targets]
    objective_value = report.fitness if report.complete else sum(
        t.objective(objective) for t in report.targets)
    return Evaluation(job.key, "ok", exact(report.exact_fitness), bool(report.complete),
                      int(sum(t.seeds for t in report.targets)), float(objective_value),
                      targets, "", time.perf_counter() - start)


def _failed(job: EvalJob, status: str, reason: str) -> Evaluation:
    return Evaluation(job.key, status, reason=reason)


def _batches(jobs, n_workers: int, batch_size: int | None):
    if batch_size is None:
        batch_size = max(1, min(32, len(jobs) // max(1, 4 * n_workers)))
    return [jobs[i:i + batch_size] for i in range(0, len(jobs), batch_size)]


# ----------------------------------------------------------------------------- the cache

class MaskCache:
    """Evaluations keyed by mask hash: a seed selection is solved once per run.

    With the run's database (``db``), only the evaluations not yet committed to it are held
    here (:meth:`committed` forgets them once their rows are written); an older one is read
    back from the first row of its selection, through the database's index on ``mask_hash``.
    So a run's memory does not grow with its length (a run of days scores millions of
    selections; held in memory, each cost some 600 bytes).  Without a database (a run without
    a folder) every evaluation is held."""

    def __init__(self, db=None):
        self._by_hash: dict[str, tuple[int, Evaluation]] = {}
        self._db = db
        self.hits = 0

    def get(self, digest: str):
        """(evaluation index, evaluation) of the first candidate with these masks, or None."""
        found = self._by_hash.get(digest)
        if found is None and self._db is not None:
            found = self._stored(digest)
        if found is not None:
            self.hits += 1
        return found

    def put(self, digest: str, eval_index: int, evaluation: Evaluation) -> None:
        # Stopped or timed-out evaluations say nothing about the masks: do not remember them.
        if evaluation.status in ("ok", "rejected"):
            self._by_hash.setdefault(digest, (eval_index, evaluation))

    def committed(self) -> None:
        """The held evaluations' rows are in the database now: read them from there."""
        if self._db is not None:
            self._by_hash.clear()

    def _stored(self, digest: str):
        from ibp_evolve.runs.store import CandidateRecord
        row = self._db.conn.execute(
            "SELECT * FROM candidates WHERE mask_hash = ? AND cached = 0 AND eval_index IS NOT "
            "NULL AND status IN ('ok', 'rejected') ORDER BY id LIMIT 1", (digest,)).fetchone()
        return None if row is None else evaluation_of(CandidateRecord.from_row(row))


def evaluation_of(rec) -> tuple[int, Evaluation]:
    """(evaluation index, evaluation) of a scored run-database row (``CandidateRecord``)."""
    return rec.eval_index, Evaluation(
        rec.eval_index, rec.status, rec.fitness, bool(rec.complete), rec.seeds or 0,
        rec.objective_value or 0.0, rec.scores or [], rec.reject_reason or "",
        rec.wall_time or 0.0)


# ----------------------------------------------------------------------------- evaluators

class Evaluator:
    """Base class: ``evaluate(jobs, deadline=None, on_result=None) -> list[Evaluation]``."""
    n_workers = 1
    description = "evaluator"

    def evaluate(self, jobs, deadline: float | None = None, on_result=None) -> list:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class LocalEvaluator(Evaluator):
    """Scores in this process.  The deadline is checked between candidates."""

    def __init__(self, spec: SuiteSpec, objective: str = "seeds"):
        self.spec, self.objective = spec, objective
        self.judge = spec.judge()
        self.description = "in-process"

    def evaluate(self, jobs, deadline=None, on_result=None):
        out = []
        for job in jobs:
            if deadline is not None and time.monotonic() >= deadline:
                ev = _failed(job, "stopped", "the run's time limit was reached")
            else:
                ev = score_job(self.judge, job, self.objective)
            out.append(ev)
            if on_result:
                on_result(ev)
        return out


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, e.g. a container's share)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


_PR_SET_PDEATHSIG = 1   # from <linux/prctl.h>


def die_with_parent(parent_pid: int) -> None:
    """Make this worker die with the process that started it, even by SIGKILL.

    On Linux the kernel sends SIGKILL when the parent goes (``PR_SET_PDEATHSIG``); a parent
    that died before the call is caught by comparing the parent's PID.  Elsewhere an idle
    worker still sees its pipe close, and a busy one fails on its next send.
    """
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:
        os._exit(0)


def _pool_worker(conn, spec, objective, parent_pid=None, deathsig=True):
    """Body of a pool worker: build the judge once, then score batches until told to stop."""
    # Ctrl-C reaches the whole process group: the parent alone decides what stops, and a
    # worker never prints a KeyboardInterrupt traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if parent_pid is not None and deathsig:
        die_with_parent(parent_pid)
    # One solver thread per worker: the pool is the parallelism.
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    try:
        try:
            judge = spec.judge()
        except ValueError as exc:
            # bad input (a suite, a family, a size cap): its own one-line message is the news
            conn.send(("error", str(exc)))
            return
        except BaseException:
            conn.send(("error", traceback.format_exc()))
            return
        conn.send(("ready", os.getpid()))
        while True:
            try:
                batch = conn.recv()
            except (EOFError, OSError):
                return
            if batch is None:
                return
            for job in batch:
                conn.send(("result", score_job(judge, job, objective)))
    except (BrokenPipeError, EOFError, ConnectionResetError):
        return   # the parent is gone or gave up on this worker: nothing left to do


def _start_quietly(proc) -> None:
    """Start a worker process with SIGINT ignored from its first instruction.

    The disposition is inherited across exec and Python keeps an ignored SIGINT ignored, so
    Ctrl-C while a worker is still importing cannot print a traceback either.  Only the main
    thread may change signal handlers; elsewhere the worker ignores SIGINT itself."""
    if threading.current_thread() is not threading.main_thread():
        proc.start()
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        proc.start()
    finally:
        signal.signal(signal.SIGINT, previous)


class _Worker:
    def __init__(self, ctx, spec, objective):
        self.conn, child = ctx.Pipe()
        # PR_SET_PDEATHSIG fires when the *thread* that started the worker ends: only a worker
        # started by the main thread may use it (the others rely on their pipe).
        main_thread = threading.current_thread() is threading.main_thread()
        self.proc = ctx.Process(target=_pool_worker, args=(child, spec, objective, os.getpid(),
                                                           main_thread), daemon=True)
        _start_quietly(self.proc)
        child.close()
        self.ready = False
        self.inflight: deque = deque()   # jobs sent, results not yet back
        self.started = 0.0               # when the job at inflight[0] started

    def kill(self) -> None:
        try:
            self.proc.kill()
        except Exception:
            pass
        self.proc.join(timeout=5)
        self.conn.close()


class PoolEvaluator(Evaluator):
    """A pool of long-lived worker processes (``multiprocess``), each with its own judge."""

    def __init__(self, spec: SuiteSpec, objective: str = "seeds", workers: int = 2,
                 candidate_timeout: float = 60.0, batch_size: int | None = None,
                 start_method: str | None = None, startup_timeout: float = 600.0):
        import multiprocess
        self.spec, self.objective = spec, objective
        self.n_workers = max(1, int(workers))
        self.candidate_timeout = candidate_timeout
        self.batch_size = batch_size
        self.startup_timeout = startup_timeout
        self.ctx = multiprocess.get_context(start_method or "spawn")
        self.workers = [_Worker(self.ctx, spec, objective) for _ in range(self.n_workers)]
        self.replaced = 0
        self.description = f"pool of {self.n_workers} worker processes"

    # -- worker life cycle -----------------------------------------------------------------
    def _replace(self, worker: _Worker) -> _Worker:
        worker.kill()
        fresh = _Worker(self.ctx, self.spec, self.objective)
        self.workers[self.workers.index(worker)] = fresh
        self.replaced += 1
        return fresh

    def wait_ready(self) -> None:
        """Block until every worker has built its judge (raises if one cannot)."""
        from multiprocess.connection import wait
        limit = time.monotonic() + self.startup_timeout
        while not all(w.ready for w in self.workers):
            pending = [w for w in self.workers if not w.ready]
            if time.monotonic() > limit:
                raise EvaluationError("pool workers did not start in time")
            for conn in wait([w.conn for w in pending], timeout=1.0):
                self._receive(next(w for w in pending if w.conn is conn), None, None)

    def _receive(self, worker, results, on_result):
        """Handle one message (or the death) of a worker; returns the jobs to retry."""
        try:
            kind, payload = worker.conn.recv()
        except (EOFError, OSError):
            return self._lost(worker, results, on_result, "crashed",
                              f"the worker died ({_exit_text(worker.proc)})")
        if kind == "error":
            separator = "\n" if "\n" in payload.strip() else " "   # a traceback, or one line
            raise EvaluationError(f"a pool worker could not build its judge:{separator}"
                                  f"{payload.strip()}")
        if kind == "ready":
            worker.ready = True
            worker.started = time.monotonic()
            return []
        job = worker.inflight.popleft()
        results[job.key] = payload
        if on_result:
            on_result(payload)
        worker.started = time.monotonic()
        return []

    def _lost(self, worker, results, on_result, status, reason):
        """The worker is gone: fail the job it was on, hand back the rest, replace it."""
        retry = []
        if not worker.ready:
            raise EvaluationError(f"a pool worker died while starting: {reason}")
        if worker.inflight:
            job = worker.inflight.popleft()
            ev = _failed(job, status, reason)
            results[job.key] = ev
            if on_result:
                on_result(ev)
            retry = list(worker.inflight)
        self._replace(worker)
        return retry

    # -- evaluation --------------------------------------------------------------------------
    def evaluate(self, jobs, deadline=None, on_result=None):
        from multiprocess.connection import wait
        jobs = [j.packed() for j in jobs]
        results: dict[int, Evaluation] = {}
        queue = deque(_batches(jobs, self.n_workers, self.batch_size))
        while queue or any(w.inflight for w in self.workers):
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                self._stop_all()
                break
            for w in self.workers:
                if w.ready and not w.inflight and queue:
                    batch = queue.popleft()
                    try:
                        w.conn.send(batch)
                    except (OSError, ValueError):
                        queue.appendleft(batch)
                        self._replace(w)
                        continue
                    w.inflight.extend(batch)
                    w.started = now
            timeout = 0.5
            if deadline is not None:
                timeout = min(timeout, max(0.0, deadline - now))
            conns = {w.conn: w for w in self.workers}
            for conn in wait(list(conns), timeout=timeout):
                w = conns[conn]
                if w not in self.workers:
                    continue
                retry = self._receive(w, results, on_result)
                for job in reversed(retry):
                    queue.appendleft([job])
            now = time.monotonic()
            for w in list(self.workers):
                if w.inflight and now - w.started > self.candidate_timeout:
                    retry = self._lost(w, results, on_result, "timeout",
                                       f"no result within {self.candidate_timeout:g} s")
                    for job in reversed(retry):
                        queue.appendleft([job])
        out = []
        for job in jobs:
            ev = results.get(job.key)
            if ev is None:
                ev = _failed(job, "stopped", "the run's time limit was reached")
                if on_result:
                    on_result(ev)
            out.append(ev)
        return out

    def _stop_all(self) -> None:
        """The deadline: abandon running work (kill busy workers, start fresh ones)."""
        for w in list(self.workers):
            if w.inflight:
                w.inflight.clear()
                self._replace(w)

    def close(self) -> None:
        for w in self.workers:
            try:
                if not w.inflight:
                    w.conn.send(None)
            except Exception:
                pass
        for w in self.workers:
            w.proc.join(timeout=2)
            if w.proc.is_alive():
                w.kill()
            else:
                w.conn.close()
        self.workers = []


def _exit_text(proc) -> str:
    proc.join(timeout=1)
    code = proc.exitcode
    if code is None:
        return "no exit status"
    if code == -signal.SIGKILL:
        # nothing in the pool sends SIGKILL to a busy worker but the kernel's OOM killer
        return f"killed by SIGKILL, most likely {OUT_OF_MEMORY}"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


# ----------------------------------------------------------------------------- Dask

def _dask_score_batch(spec: SuiteSpec, objective: str, batch: list) -> list:
    """Runs on a Dask worker: its process keeps one judge per spec."""
    judge = spec.judge()
    return [score_job(judge, job, objective) for job in batch]


class DaskEvaluator(Evaluator):
    """Batches of candidates sent to a Dask distributed cluster (remote, or a local one)."""

    def __init__(self, spec: SuiteSpec, objective: str = "seeds", address: str | None = None,
                 local_workers: int | None = None, candidate_timeout: float = 60.0,
                 batch_size: int | None = None, connect_timeout: float = 10.0):
        from ibp_evolve.runs.dask_cluster import DaskCluster, DaskUnavailable
        self.spec, self.objective = spec, objective
        self.candidate_timeout = candidate_timeout
        self.batch_size = batch_size
        try:
            self.dask = DaskCluster(address, local_workers, connect_timeout)
        except DaskUnavailable as exc:  # not installed, or no scheduler there: exit 3
            raise EvaluatorUnavailable(str(exc)) from None
        self.client, self.description = self.dask.client, self.dask.description
        self.n_workers = self.dask.n_workers

    def evaluate(self, jobs, deadline=None, on_result=None):
        from distributed import as_completed
        jobs = [j.packed() for j in jobs]
        batches = _batches(jobs, self.n_workers, self.batch_size)
        futures = {self.client.submit(_dask_score_batch, self.spec, self.objective, b,
                                      pure=False): b for b in batches}
        results: dict[int, Evaluation] = {}
        # Judges are built on first use on each worker: allow for that in the batch time limit.
        limit = self.candidate_timeout * max(len(b) for b in batches) + 120 if batches else 0
        timeout = limit if deadline is None else max(0.0, min(limit, deadline - time.monotonic()))
        pending = set(futures)
        try:
            for fut in as_completed(list(futures), timeout=timeout):
                pending.discard(fut)
                batch = futures[fut]
                try:
                    evs = fut.result()
                except Exception as exc:
                    evs = [_failed(j, "crashed", f"Dask task failed: {type(exc).__name__}: "
                                   f"{exc}"[:500]) for j in batch]
                for ev in evs:
                    results[ev.key] = ev
                    if on_result:
                        on_result(ev)
                if deadline is not None and time.monotonic() >= deadline:
                    break
        except Exception:  # as_completed's timeout (its exception class varies by version)
            pass
        for fut in pending:
            fut.cancel()
        out = []
        for job in jobs:
            ev = results.get(job.key)
            if ev is None:
                late = deadline is not None and time.monotonic() >= deadline - 1e-3
                ev = _failed(job, "stopped" if late else "timeout",
                             "the run's time limit was reached" if late else
                             "no result from the Dask cluster in time")
                if on_result:
                    on_result(ev)
            out.append(ev)
        return out

    def close(self) -> None:
        self.dask.close()


def make_evaluator(spec: SuiteSpec, objective: str = "seeds", workers: int = 0,
                   dask: str | None = None, dask_local: int | None = None,
                   candidate_timeout: float = 60.0) -> Evaluator:
    """The evaluator the CLI asks for: Dask if named, a pool for ``workers >= 1``, else local."""
    if dask or dask_local:
        return DaskEvaluator(spec, objective, address=dask, local_workers=dask_local,
                             candidate_timeout=candidate_timeout)
    if workers and workers >= 1:
        return PoolEvaluator(spec, objective, workers=workers,
                             candidate_timeout=candidate_timeout)
    return LocalEvaluator(spec, objective)
