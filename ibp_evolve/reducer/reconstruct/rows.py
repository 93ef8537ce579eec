"""The trimmed rows compiled for many samples: every entry as a fixed combination of parameter
monomials.

An analytic reduction instantiates the same few hundred rows thousands of times.  Each entry of
a row is an exact polynomial in (d, kinematic symbols) (``TrimmedSystem.exact_equations``), so
it is ``sum_j K[entry, j] * monomial_j(params)`` with a few distinct monomials.  ``K`` is
reduced mod p once per prime; a sample then costs the monomials and one small dense product,
instead of re-deriving every template coefficient from the seeds.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from ibp_evolve.reducer.modular import to_mod
from ibp_evolve.reducer.replay import TrimmedSystem


class CompiledRows:
    """``csr(params, prime)`` of a :class:`TrimmedSystem`, from precomputed monomials."""

    def __init__(self, model: TrimmedSystem):
        col_of = {tuple(x): i for i, x in enumerate(model.integrals.tolist())}
        monomials: dict = {}
        ptr, cols, terms = [0], [], []  # terms: (entry, monomial, Fraction)
        for _, _, row in model.exact_equations():
            entries = sorted((col_of[i], poly) for i, poly in row if i in col_of)
            # An integral outside the learned columns had a coefficient that vanished at the
            # learning point (a measure-zero accident the learned rows already left out).
            for col, poly in entries:
                for exps, c in poly.items():
                    terms.append((len(cols), monomials.setdefault(exps, len(monomials)),
                                  Fraction(c)))
                cols.append(col)
            ptr.append(len(cols))
        self.ptr = np.array(ptr, dtype=np.int64)
        self.cols = np.array(cols, dtype=np.int64)
        self.exponents = np.array(list(monomials), dtype=np.int64).reshape(
            len(monomials), len(model.family.parameters))
        self.terms = terms
        self._k: dict = {}

    def _matrix(self, prime: int) -> np.ndarray:
        k = self._k.get(prime)
        if k is None:
            k = np.zeros((len(self.cols), len(self.exponents)), dtype=np.int64)
            for entry, mono, c in self.terms:
                k[entry, mono] = (k[entry, mono] + to_mod(c, prime)) % prime
            self._k = {prime: k}  # one prime at a time: the samples of a prime come together
        return k

    def csr(self, params, prime: int):
        k = self._matrix(prime)
        mono = np.ones(len(self.exponents), dtype=np.int64)
        for j, exps in enumerate(self.exponents.tolist()):
            v = 1
            for x, e in zip(params, exps):
                if e:
                    v = v * pow(int(x), e, prime) % prime
            mono[j] = v
        # each reduced product is below 2^31, so the sum over the monomials stays far below 2^63
        vals = (k * mono[None, :] % prime).sum(axis=1) % prime
        return self.ptr, self.cols, vals
