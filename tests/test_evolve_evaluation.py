"""Evaluators: pool workers that crash or hang are replaced, and Dask scores like the pool."""

from __future__ import annotations

import os
import threading
import time
import types

import numpy as np
import pytest

from ibp_evolve.runs import evaluation
from ibp_evolve.runs.evaluation import (EvalJob, LocalEvaluator, MaskCache, PoolEvaluator,
                                   SuiteSpec, _Packed, mask_hash, suite_features)

PAPER = SuiteSpec("triangle_box_paper", max_seeds=2000)


class Crash(_Packed):
    """Masks whose unpacking kills the worker scoring them (a candidate that crashes)."""

    def unpack(self):
        os._exit(13)


class Hang(_Packed):
    """Masks whose unpacking blocks the worker scoring them (a candidate that hangs)."""

    def unpack(self):
        threading.Event().wait()   # never set: the pool has to kill this worker


def bomb(kind, key):
    masks = kind()
    masks.bits, masks.sizes = [], []
    return EvalJob(key, masks=masks)


@pytest.fixture(scope="module")
def features():
    return suite_features(PAPER.load())


def jobs_of(features, count=6, start=0):
    f = features[0]
    rules = [(f.d <= 0) & (f.s <= 3 - f.missing), (f.d <= 0) & (f.s <= 3), f.d <= 0,
             (f.d <= 0) & (f.t >= 4) & (f.s <= 3 - f.missing), f.t >= 99, (f.s <= 1)]
    return [EvalJob(start + k, masks=[rules[k % len(rules)]]) for k in range(count)]


def comparable(evaluations):
    return [(e.key, e.status, e.fitness, e.complete, e.seeds,
             [{k: v for k, v in t.items() if k != "seconds"} for t in e.targets])
            for e in evaluations]


def test_suite_features_are_the_judges_universes(features):
    judge = PAPER.judge()
    assert [f.n_seeds for f in features] == judge.universe_sizes
    assert np.array_equal(features[0].a, judge.features[0].a)


def test_mask_cache_keys_by_selection():
    a, b = np.array([True, False, True]), np.array([True, False, False])
    assert mask_hash([a]) == mask_hash([a.copy()]) != mask_hash([b])
    assert mask_hash([a, b]) != mask_hash([b, a])
    cache = MaskCache()
    local = LocalEvaluator(PAPER)
    (ev,) = local.evaluate([EvalJob(0, masks=[np.zeros(local.judge.universe_sizes[0], bool)])])
    cache.put("x", 0, ev)
    assert cache.get("x")[1] is ev and cache.hits == 1 and cache.get("y") is None


def test_local_evaluation_matches_the_judge(features):
    jobs = jobs_of(features)
    evs = LocalEvaluator(PAPER).evaluate(jobs)
    assert evs[0].complete and evs[0].seeds == 92 and evs[3].seeds == 88
    assert not evs[4].complete and evs[4].fitness > 1e15
    report = PAPER.judge().score_masks(jobs[1].masks)
    assert evs[1].fitness == report.fitness


def forked_pool(workers=1, **kw):
    """A pool whose workers fork from this process, which already holds the judge: the tests
    then do not pay a judge build per (re)started worker.  The CLI's pools use spawn."""
    PAPER.judge()
    return PoolEvaluator(PAPER, workers=workers, start_method="fork", **kw)


class HangClock:
    """The pool's clock: real time, except that while the hung candidate is the only work in
    flight it reads as far past any candidate timeout.  The timeout then fires on the hang as
    soon as it is alone, and never on a good candidate, however loaded the machine."""

    def __init__(self, pool, hung_key: int):
        self.pool, self.hung_key = pool, hung_key

    def monotonic(self) -> float:
        busy = [w for w in self.pool.workers if w.inflight]
        alone = len(busy) == 1 and busy[0].inflight[0].key == self.hung_key
        return time.monotonic() + (10 * self.pool.candidate_timeout if alone else 0.0)


def test_pool_replaces_crashed_and_hung_workers_and_stops_at_the_deadline(features,
                                                                           monkeypatch):
    good = jobs_of(features, 6)
    with forked_pool(2, candidate_timeout=600.0, batch_size=3) as pool:
        clock = vars(time) | {"monotonic": HangClock(pool, 101).monotonic}
        monkeypatch.setattr(evaluation, "time", types.SimpleNamespace(**clock))
        pool.wait_ready()
        pids = {w.proc.pid for w in pool.workers}
        evs = pool.evaluate(good[:2] + [bomb(Crash, 100)] + good[2:5] + [bomb(Hang, 101)]
                            + good[5:])
        by_key = {e.key: e for e in evs}
        assert by_key[100].status == "crashed" and "died" in by_key[100].reason
        assert by_key[101].status == "timeout"
        assert pool.replaced == 2 and len(pool.workers) == 2
        # fresh processes in place of the dead one and the hung one (which worker drew the
        # hang after the crash depends on who was free first: either may be replaced twice)
        assert pids - {w.proc.pid for w in pool.workers}
        assert all(w.proc.is_alive() for w in pool.workers)
        # every other candidate was scored, exactly as in-process
        assert comparable([e for e in evs if e.key < 100]) == comparable(
            LocalEvaluator(PAPER).evaluate(good))
        # the deadline stops the work in flight and everything queued behind it
        evs = pool.evaluate([bomb(Hang, 1), bomb(Hang, 2)] + jobs_of(features, 6, start=3),
                            deadline=time.monotonic() + 1.0)
        assert [e.status for e in evs[:2]] == ["stopped", "stopped"]
        assert {e.status for e in evs[2:]} <= {"ok", "stopped"}
        # and the pool keeps working
        again = pool.evaluate(jobs_of(features, 2, start=200))
        assert all(e.ok for e in again)


def test_dask_local_cluster_scores_like_the_pool(features):
    pytest.importorskip("distributed")
    from ibp_evolve.runs.evaluation import DaskEvaluator
    jobs = jobs_of(features, 6)
    with DaskEvaluator(PAPER, local_workers=1) as dask:
        on_dask = dask.evaluate(jobs)
    with forked_pool(1) as pool:
        on_pool = pool.evaluate(jobs)
    assert all(e.ok for e in on_dask)
    assert comparable(on_dask) == comparable(on_pool)


class OomKilled(_Packed):
    """Masks whose unpacking gets the worker SIGKILLed, as the kernel's OOM killer does."""

    def unpack(self):
        os.kill(os.getpid(), 9)


class NoMemory(_Packed):
    """Masks whose unpacking runs out of memory inside the worker."""

    def unpack(self):
        raise MemoryError


def test_a_worker_out_of_memory_is_a_crash_that_names_the_caps_and_the_run_goes_on(features,
                                                                                   capsys):
    from ibp_evolve.runs.progress import Progress
    progress = Progress(live=False)
    with forked_pool(1, batch_size=1) as pool:
        pool.wait_ready()
        evs = pool.evaluate([bomb(OomKilled, 100), bomb(NoMemory, 101)] + jobs_of(features, 2),
                            on_result=progress.result)
    by_key = {e.key: e for e in evs}
    for key in (100, 101):
        assert by_key[key].status == "crashed"
        assert "out of memory" in by_key[key].reason and "--max-memory" in by_key[key].reason
    assert "SIGKILL" in by_key[100].reason and "MemoryError" in by_key[101].reason
    assert by_key[0].ok and by_key[1].ok
    log = capsys.readouterr().err
    assert log.count("crashed its worker") == 2 and "the run goes on" in log
