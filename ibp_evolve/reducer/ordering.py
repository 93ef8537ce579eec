"""Total orderings of integrals: which integral counts as more complex.

The solver eliminates the most complex integral of an equation first, so the integrals that
never get a pivot (the masters) are the least complex ones.  An ordering is a list of criteria,
most significant first, each compared ascending (a larger value is more complex):

    t        number of lines
    sector   the sector bitmask read as an integer
    r        sum of positive indices
    s        minus the sum of negative indices
    d        dots, r - t
    indices  the index vector, lexicographically (a_1 first)

Preferred masters (from the family file) always come first, i.e. they are the least complex,
which makes them the masters whenever they form a basis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ibp_evolve.reducer.sectors import measures

CRITERIA = ("t", "sector", "r", "s", "d", "indices")
DEFAULT_ORDERING = "t,sector,r,s,indices"


class OrderingError(ValueError):
    pass


@dataclass(frozen=True)
class Ordering:
    criteria: tuple[str, ...]

    @classmethod
    def parse(cls, spec: str = DEFAULT_ORDERING) -> "Ordering":
        parts = tuple(p.strip() for p in spec.split(",") if p.strip())
        unknown = [p for p in parts if p not in CRITERIA]
        if unknown or not parts:
            raise OrderingError(f"ordering '{spec}': unknown criterion {unknown} "
                                f"(choose from {', '.join(CRITERIA)})")
        if "indices" not in parts:
            parts = parts + ("indices",)  # the index vector makes the order total
        return cls(parts)

    @property
    def name(self) -> str:
        return ",".join(self.criteria)

    def ranks(self, integrals: np.ndarray, preferred: set | frozenset = frozenset()) -> np.ndarray:
        """rank[i] = position of integral i when sorted from least to most complex."""
        integrals = np.asarray(integrals, dtype=np.int64)
        m = measures(integrals)
        keys = []  # np.lexsort: last key is the primary one
        for crit in reversed(self.criteria):
            if crit == "indices":
                keys.extend(integrals[:, i] for i in reversed(range(integrals.shape[1])))
            else:
                keys.append(m[crit])
        if preferred:
            flag = np.array([tuple(row) not in preferred for row in integrals.tolist()])
            keys.append(flag.astype(np.int64))
        order = np.lexsort(keys) if keys else np.arange(len(integrals))
        ranks = np.empty(len(integrals), dtype=np.int64)
        ranks[order] = np.arange(len(integrals), dtype=np.int64)
        return ranks
