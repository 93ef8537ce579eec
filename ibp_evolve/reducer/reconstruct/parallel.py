"""Rays on a process pool or a Dask cluster: the samples of a grid are independent, so its rays
are traced by workers, each holding the learned rows once (inherited when processes fork;
scattered once to every Dask worker).

Each ray gets its own random stream (seeded from the caller's generator), so a pool gives the
same kind of result as one process; the samples a worker spends are added to the caller's
count and budget.
"""

from __future__ import annotations

import multiprocessing
import sys
import threading
import uuid
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from ibp_evolve.reducer.reconstruct.multivariate import Sampler, trace_ray
from ibp_evolve.reducer.reconstruct.sampling import ReductionSampler

_WORKER: dict = {}  # the learned rows of this worker process, set by _init


def _init(model, layout, symbols, fixed, rows) -> None:
    _WORKER.update(model=model, layout=layout, symbols=symbols, fixed=fixed, rows=rows,
                   samplers={})


def _ray(prime: int, z, shift, seed: int, budget: int, worker: dict | None = None):
    worker = _WORKER if worker is None else worker
    samplers = worker["samplers"]
    if prime not in samplers:
        samplers.clear()
        samplers[prime] = ReductionSampler(worker["model"], worker["layout"], worker["symbols"],
                                           worker["fixed"], prime, worker["rows"])
    sampler = Sampler(samplers[prime], prime, np.random.default_rng(seed), budget)
    found = trace_ray(sampler, z, shift, 1)
    return found, sampler.samples, sampler.degenerate


class _Rays:
    """What both pools share: ``rays_for`` hands out rays and charges the caller's sampler."""

    def _submit(self, prime: int, z, shift, seed: int, budget: int):
        """A future whose ``result()`` is ``_ray``'s (found, samples, degenerate)."""
        raise NotImplementedError

    def __enter__(self):
        return self

    def rays_for(self, sampler: Sampler):
        """A ``rays(directions, shift)`` callable for :func:`reconstruct_mod_p` that charges
        ``sampler`` with the samples spent."""
        def rays(directions, shift):
            budget = max(sampler.budget - sampler.samples, 0)
            seeds = [int(x) for x in sampler.rng.integers(0, 2 ** 62, size=len(directions))]
            futures = [self._submit(sampler.p, z, shift, seed, budget)
                       for z, seed in zip(directions, seeds)]
            out = []
            for future in futures:
                found, samples, degenerate = future.result()
                sampler.samples += samples
                sampler.degenerate += degenerate
                out.append(found)
            if sampler.samples > sampler.budget:
                from ibp_evolve.reducer.reconstruct.univariate import SampleBudgetError
                raise SampleBudgetError("the sample budget ran out on the grid", [])
            return out
        return rays


class RayPool(_Rays):
    """``workers`` processes tracing rays of one reduction; use as a context manager."""

    def __init__(self, workers: int, model, layout, symbols, fixed, rows):
        # fork shares the learned rows for free; elsewhere they are pickled once per worker
        method = "fork" if sys.platform.startswith("linux") else "spawn"
        self.executor = ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context(method),
            initializer=_init, initargs=(model, layout, symbols, fixed, rows))

    def __exit__(self, *exc):
        self.executor.shutdown(cancel_futures=True)

    def _submit(self, prime, z, shift, seed, budget):
        return self.executor.submit(_ray, prime, z, shift, seed, budget)


# A Dask worker may run tasks on several threads: each keeps its own samplers.
_DASK_WORKER = threading.local()


def _dask_ray(state, token: str, prime: int, z, shift, seed: int, budget: int):
    """Runs on a Dask worker: ``state`` (the learned rows, scattered once) is set up as a pool
    worker's the first time this thread sees the reduction ``token``."""
    if getattr(_DASK_WORKER, "token", None) != token:
        _DASK_WORKER.token = token
        _DASK_WORKER.state = dict(zip(("model", "layout", "symbols", "fixed", "rows"), state),
                                  samplers={})
    return _ray(prime, z, shift, seed, budget, _DASK_WORKER.state)


class DaskRayPool(_Rays):
    """The rays of one reduction traced on a Dask cluster (``client``: a connected
    ``distributed.Client``, see :mod:`ibp_evolve.runs.dask_cluster`); a context manager."""

    def __init__(self, client, model, layout, symbols, fixed, rows):
        self.client = client
        self.token = uuid.uuid4().hex
        # scattered in a list: a bare tuple would be scattered element by element
        [self.state] = client.scatter([(model, layout, symbols, fixed, rows)], broadcast=True)

    def __exit__(self, *exc):
        self.state.release()

    def _submit(self, prime, z, shift, seed, budget):
        return self.client.submit(_dask_ray, self.state, self.token, prime, z, shift, seed,
                                  budget, pure=False)
