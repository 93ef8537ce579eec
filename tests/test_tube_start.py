"""seeds/tube_seeding_start.py: the library's tube rule as one expression a GP run can start from
(benchmarks/generalise.py's default start)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from deap import gp

from ibp_evolve.engines.gp import feature_terminals
from ibp_evolve.engines.gp import PrimitiveSet, tree_from_source
from ibp_evolve.judge.score import Judge
from ibp_evolve.judge.suites import load_suite
from ibp_evolve.language.library import resolve_rule

ROOT = Path(__file__).resolve().parents[1]


def test_the_tube_start_is_a_gp_tree_that_keeps_exactly_the_tube_rules_seeds():
    """Converted with the GP terminals of `--features offset,removed,tube,distance`, the start
    keeps the same seeds as rules/tube_seeding.py on every triangle-box training target (the
    dotted ones too, where 'no dot above the target's' matters): the run starts from the
    state of the art, not from an approximation of it."""
    judge = Judge(load_suite("triangle_box_train"))
    pset = PrimitiveSet(judge.family.n, features=feature_terminals("offset,removed,tube,distance",
                                                             judge.family.n))
    tree = gp.PrimitiveTree(tree_from_source(
        (ROOT / "seeds" / "tube_seeding_start.py").read_text(), pset))
    tube = judge.masks(resolve_rule("tube_seeding"))
    start = pset.masks(tree, judge.features)
    assert [int(m.sum()) for m in tube] == [86, 139, 147, 137, 28]
    assert all(np.array_equal(a, np.asarray(b, dtype=bool)) for a, b in zip(tube, start))
