"""Rays on a process pool: the samples of a grid are independent, so its rays are traced by
worker processes, each holding the learned rows once (inherited when processes fork).

Each ray gets its own random stream (seeded from the caller's generator), so a pool gives the
same kind of result as one process; the samples a worker spends are added to the caller's
count and budget.
"""

from __future__ import annotations

import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from ibp_evolve.reducer.reconstruct.multivariate import Sampler, trace_ray
from ibp_evolve.reducer.reconstruct.sampling import ReductionSampler

_WORKER: dict = {}  # the learned rows of this worker process, set by _init


def _init(model, layout, symbols, fixed, rows) -> None:
    _WORKER.update(model=model, layout=layout, symbols=symbols, fixed=fixed, rows=rows,
                   samplers={})


def _ray(prime: int, z, shift, seed: int, budget: int):
    samplers = _WORKER["samplers"]
    if prime not in samplers:
        samplers.clear()
        samplers[prime] = ReductionSampler(_WORKER["model"], _WORKER["layout"],
                                           _WORKER["symbols"], _WORKER["fixed"], prime,
                                           _WORKER["rows"])
    sampler = Sampler(samplers[prime], prime, np.random.default_rng(seed), budget)
    found = trace_ray(sampler, z, shift, 1)
    return found, sampler.samples, sampler.degenerate


class RayPool:
    """``workers`` processes tracing rays of one reduction; use as a context manager."""

    def __init__(self, workers: int, model, layout, symbols, fixed, rows):
        # fork shares the learned rows for free; elsewhere they are pickled once per worker
        method = "fork" if sys.platform.startswith("linux") else "spawn"
        self.executor = ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context(method),
            initializer=_init, initargs=(model, layout, symbols, fixed, rows))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.executor.shutdown(cancel_futures=True)

    def rays_for(self, sampler: Sampler):
        """A ``rays(directions, shift)`` callable for :func:`reconstruct_mod_p` that charges
        ``sampler`` with the samples spent."""
        def rays(directions, shift):
            budget = max(sampler.budget - sampler.samples, 0)
            seeds = [int(x) for x in sampler.rng.integers(0, 2 ** 62, size=len(directions))]
            futures = [self.executor.submit(_ray, sampler.p, z, shift, seed, budget)
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
