"""The trimmed rows compiled for many samples: every entry as a fixed combination of parameter
monomials.

An analytic reduction instantiates the same few hundred rows thousands of times.  Each entry of
a row is an exact polynomial in (d, kinematic symbols) (``TrimmedSystem.exact_equations``), so
it is ``sum_j K[entry, j] * monomial_j(params)`` with a few distinct monomials.  The non-zero
``K`` are reduced mod p once per prime; a sample then costs the monomials and one sparse
product, instead of re-deriving every template coefficient from the seeds.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from typing import TYPE_CHECKING

from ibp_evolve.reducer.modular import to_mod

if TYPE_CHECKING:  # replay compiles its symmetry relations with this class
    from ibp_evolve.reducer.replay import TrimmedSystem


class CompiledRows:
    """``csr(params, prime)`` of a :class:`TrimmedSystem`, from precomputed monomials."""

    def __init__(self, model: "TrimmedSystem"):
        col_of = {tuple(x): i for i, x in enumerate(model.integrals.tolist())}
        # An integral outside the learned columns had a coefficient that vanished at the
        # learning point (a measure-zero accident the learned rows already left out).
        self._compile(([(col_of[i], poly) for i, poly in row if i in col_of]
                       for _, _, row in model.exact_equations()), len(model.family.parameters))

    @classmethod
    def of_rows(cls, rows, n_parameters: int) -> "CompiledRows":
        """Rows given directly, each a list of ``(column, {parameter exponents: Fraction})``."""
        out = cls.__new__(cls)
        out._compile(rows, n_parameters)
        return out

    def _compile(self, rows, n_parameters: int) -> None:
        monomials: dict = {}
        ptr, cols, terms = [0], [], []  # terms: (entry, monomial, Fraction)
        for row in rows:
            for col, poly in sorted(row, key=lambda entry: entry[0]):
                for exps, c in poly.items():
                    if c:
                        terms.append((len(cols), monomials.setdefault(exps, len(monomials)),
                                      Fraction(c)))
                cols.append(col)
            ptr.append(len(cols))
        self.ptr = np.array(ptr, dtype=np.int64)
        self.cols = np.array(cols, dtype=np.int64)
        self.exponents = np.array(list(monomials), dtype=np.int64).reshape(
            len(monomials), n_parameters)
        # terms sorted by entry (they are built in entry order): the sum of each entry's terms
        # is one np.add.reduceat over its run
        self.term_entry = np.array([e for e, _, _ in terms], dtype=np.int64)
        self.term_mono = np.array([m for _, m, _ in terms], dtype=np.int64)
        self.term_coeff = [c for _, _, c in terms]
        self.starts = np.flatnonzero(np.r_[True, self.term_entry[1:] != self.term_entry[:-1]]
                                     ) if terms else np.zeros(0, dtype=np.int64)
        if len(self.starts) != len(self.cols):
            raise AssertionError("an entry of the trimmed rows has no terms")
        self._prime, self._coeffs = None, None

    def _residues(self, prime: int) -> np.ndarray:
        if self._prime != prime:  # one prime at a time: the samples of a prime come together
            self._coeffs = np.array([to_mod(c, prime) for c in self.term_coeff], dtype=np.int64)
            self._prime = prime
        return self._coeffs

    def csr(self, params, prime: int):
        coeffs = self._residues(prime)
        mono = np.ones(len(self.exponents), dtype=np.int64)
        for j, exps in enumerate(self.exponents.tolist()):
            v = 1
            for x, e in zip(params, exps):
                if e:
                    v = v * pow(int(x), e, prime) % prime
            mono[j] = v
        # each reduced product is below 2^31, so an entry's sum stays far below 2^63
        if not len(self.cols):
            return self.ptr, self.cols, np.zeros(0, dtype=np.int64)
        vals = np.add.reduceat(coeffs * mono[self.term_mono] % prime, self.starts) % prime
        return self.ptr, self.cols, vals
