"""Samples of a reduction: every reduced target's coefficients at one point mod p.

The learned trimmed system (:class:`~ibp_evolve.reducer.replay.TrimmedSystem`) is re-solved at
the sample; the symbols kept analytic take the sample's values, the others their fixed values.
A sample whose elimination does not reproduce the learned pivots (a pivot vanishes there) is
*degenerate*: it gives ``None`` and the reconstruction draws another point, so it can never
feed a wrong value.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from ibp_evolve.reducer.modular import PoleError, to_mod
from ibp_evolve.reducer.reconstruct.rows import CompiledRows
from ibp_evolve.reducer.replay import TrimmedSystem


class ReductionSampler:
    """``f(x) -> residues | None`` for one prime: x are the values of the analytic symbols."""

    def __init__(self, model: TrimmedSystem, layout: list, symbols: list[str],
                 fixed: dict, prime: int, rows: CompiledRows | None = None):
        family = model.family
        self.model, self.layout, self.prime = model, layout, prime
        self.rows = rows
        self.where = [family.parameters.index(s) for s in symbols]
        # A fixed value whose denominator vanishes mod this prime: PoleError, skip the prime.
        self.base = [to_mod(Fraction(fixed[s]), prime) if s in fixed else 0
                     for s in family.parameters]

    def __call__(self, x: list[int]) -> list[int] | None:
        params = list(self.base)
        for i, v in zip(self.where, x):
            params[i] = v % self.prime
        params = np.array(params, dtype=np.int64)
        csr = self.rows.csr(params, self.prime) if self.rows is not None else None
        rows = self.model.sample(params, self.prime, csr)
        if rows is None:
            return None
        return [rows[i].get(integral, 0) for i, integral in self.layout]


def sampler_or_none(model, layout, symbols, fixed, prime, rows=None) -> ReductionSampler | None:
    """The sampler for ``prime``, or None when a fixed value has a pole mod ``prime``."""
    try:
        return ReductionSampler(model, layout, symbols, fixed, prime, rows)
    except PoleError:
        return None
