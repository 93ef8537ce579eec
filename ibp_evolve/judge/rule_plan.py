"""A seeding rule as the seed plan of a reduction (``ibp-evolve reduce --rule``).

The rule picks each target's seeds from its candidate universe exactly as the judge does
(:func:`~ibp_evolve.judge.selection.select_seeds`, chunked, no equation built); when a target
stays unreduced the plan adds shells (:class:`~ibp_evolve.reducer.plans.MaskPlan`).  A rule that
keeps nothing for a target of a non-zero sector is refused with a one-line error: a reduction
on no seeds would silently call the target a master.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ibp_evolve.judge.selection import DEFAULT_MAX_CANDIDATES, TooManySeeds, select_seeds
from ibp_evolve.language.parse import Rule
from ibp_evolve.reducer.family import Family
from ibp_evolve.reducer.plans import MaskPlan, SeedCapError
from ibp_evolve.reducer.sectors import sector_of, zero_sectors

# The default rule of `reduce`: complete on the targets of every shipped suite (triangle_box
# paper, train, validation and sailir; box and kite train and validation) with fewer seeds than
# improved_seeding_dots on each (tests/test_tube_seeding.py, the rule's Measured lines).
DEFAULT_RULE = "tube_seeding"


class EmptySelectionError(ValueError):
    """The rule keeps no seed at all for a target that needs some."""


def rule_plan(rule: Rule, family: Family, *, delta_r: int = 1, delta_s: int = 1,
              sandbox: bool = False, time_limit: float = 10.0, max_shells: int = 4,
              max_seeds: int = 400_000, max_candidates: int = DEFAULT_MAX_CANDIDATES,
              notify: Callable[[str], None] | None = None) -> MaskPlan:
    """The plan that seeds each target with ``rule`` (then shells, see MaskPlan)."""
    zeros = zero_sectors(family)

    def seeds_of(target) -> np.ndarray:
        try:
            seeds = select_seeds(rule, family, target, delta_r=delta_r, delta_s=delta_s,
                                 max_seeds=max_seeds, sandbox=sandbox, time_limit=time_limit,
                                 max_candidates=max_candidates)
        except TooManySeeds as exc:
            raise SeedCapError(f"target I({','.join(map(str, target))}): rule {rule.name} keeps "
                               f"{exc.count} seeds, more than the cap --max-seeds "
                               f"{max_seeds}") from None
        if len(seeds) == 0 and sector_of(target) not in zeros and any(x > 0 for x in target):
            raise EmptySelectionError(f"target I({','.join(map(str, target))}): rule "
                                      f"{rule.name} selects no seeds (delta_r = {delta_r}, "
                                      f"delta_s = {delta_s})")
        return seeds

    return MaskPlan(seeds_of, f"rule {rule.name}", max_shells=max_shells, max_seeds=max_seeds,
                    notify=notify)
