"""Several primes: the rational numbers in the coefficients by CRT and rational reconstruction.

Each prime's functions arrive normalised (denominator's lowest-degree monomial = 1), so the
same monomial carries the same rational number at every prime.  The images are combined entry
by entry; the result stands when one more prime changes nothing
(:class:`~ibp_evolve.reducer.modular.Reconstructor` marks an entry stable when its candidate
predicts the next prime).
"""

from __future__ import annotations

from ibp_evolve.reducer.modular import Reconstructor
from ibp_evolve.reducer.reconstruct.polynomials import canonical_monomial


class PrimeCombiner:
    """Rational functions with rational coefficients from their images mod several primes."""

    def __init__(self):
        self.images: list[tuple[int, list]] = []  # (prime, [(num, den) per entry])
        self.pending: list[int] = []

    def add(self, prime: int, functions: list) -> None:
        self.images.append((prime, functions))

    @property
    def n_primes(self) -> int:
        return len(self.images)

    def result(self):
        """[(numerator, denominator) with Fraction coefficients] once stable, else None;
        ``pending`` lists the entries still unstable."""
        n_entries = len(self.images[0][1])
        keys = []  # (entry, part, monomial) over the union of every prime's support
        for e in range(n_entries):
            for part in (0, 1):
                support = set()
                for _, functions in self.images:
                    support |= set(functions[e][part])
                keys.extend((e, part, m) for m in sorted(support))
        # A prime where a canonical monomial came out zero (a support smaller than the others')
        # was normalised differently: leave it out.
        canon = {}
        for e in range(n_entries):
            dens = {}
            for _, functions in self.images:
                dens |= functions[e][1]
            canon[e] = canonical_monomial(dens)
        usable = [(p, f) for p, f in self.images
                  if all(f[e][1].get(canon[e], 0) == 1 for e in range(n_entries))]
        rec = Reconstructor(len(keys))
        for p, functions in usable:
            rec.add(p, [functions[e][part].get(m, 0) for e, part, m in keys])
        if len(usable) < 2:
            self.pending = list(range(n_entries))
            return None
        partial = rec.partial()
        self.pending = sorted({keys[i][0] for i, v in enumerate(partial) if v is None})
        if self.pending:
            return None
        out = [({}, {}) for _ in range(n_entries)]
        for (e, part, m), v in zip(keys, partial):
            if v:
                out[e][part][m] = v
        return out
