"""Tube seeding (rules/tube_seeding.py): seeds near the path from the sector's corner to the
target, so their number grows linearly with the numerator power; the default rule of `reduce`."""

from functools import lru_cache

import numpy as np
import pytest

from ibp_evolve.judge.rule_plan import DEFAULT_RULE
from ibp_evolve.judge.score import Judge
from ibp_evolve.judge.suites import load_suite, parse_suite
from ibp_evolve.language.features import features_from_indices
from ibp_evolve.language.library import resolve_rule


def _judge(*targets, family="triangle_box") -> Judge:
    # symmetries off: the figures are the rule's own selection (with symmetries on, the judge
    # counts the seeds left after mirror sectors are mapped onto unique ones)
    listed = ", ".join(str(list(t)) for t in targets)
    return Judge(parse_suite(f'name = "tube"\nfamily = "{family}"\ntargets = [{listed}]\n'
                             "max_seeds = 20000\nsymmetries = false\n"))


@lru_cache(maxsize=None)
def _suite_judge(suite: str) -> Judge:
    return Judge(load_suite(suite))


def test_tube_seeds_of_the_rank_scan_grow_by_the_same_step_for_every_numerator_power():
    # improved seeding grows like a quartic here (92, 205, 396 seeds for s = 3..5)
    judge = _judge(*[(1, 1, 1, 1, 1, 1, -s) for s in (3, 4, 5)])
    tube = judge.score(resolve_rule("tube_seeding")).targets
    improved = judge.score(resolve_rule("improved_seeding")).targets
    assert all(t.reduced for t in tube)
    seeds = [t.seeds for t in tube]
    steps = np.diff(seeds)
    assert len(set(steps)) == 1, f"seeds {seeds} do not grow linearly in s"
    assert all(t.seeds < i.seeds for t, i in zip(tube[1:], improved[1:]))


def test_a_dotted_target_gets_dots_only_on_its_dotted_line_and_seeds_near_its_path():
    target = (2, 1, 1, 1, 1, 1, -2)
    judge = _judge(target)
    seeds = judge.universe(0)[judge.masks(resolve_rule("tube_seeding"))[0]]
    features = features_from_indices(seeds, target, (6,))
    dots = features.per_index("dots")
    assert dots[:, 1:].max() == 0 and dots[:, 0].max() == 1
    # width 1 + min(missing, 2) + min(d_target, 2) = 2 + min(missing, 2)
    assert (features.measure("tube") <= 2 + np.minimum(features.missing, 2)).all()
    assert judge.score_masks(judge.masks(resolve_rule("tube_seeding"))).targets[0].reduced


@pytest.mark.parametrize("suite", ["triangle_box_paper", "triangle_box_train", "box_train",
                                   "box_validation", "kite_train", "kite_validation"])
def test_the_default_rule_of_reduce_is_complete_where_improved_seeding_dots_is_and_cheaper(
        suite):
    judge = _suite_judge(suite)
    default = judge.score(resolve_rule(DEFAULT_RULE)).targets
    dots = judge.score(resolve_rule("improved_seeding_dots")).targets
    for ours, theirs in zip(default, dots):
        assert ours.reduced or not theirs.reduced, f"{ours.target} on {suite}"
        assert ours.seeds <= theirs.seeds, f"{ours.target} on {suite}"


@pytest.mark.slow
def test_tube_seeding_reduces_the_four_sailir_integrals_within_the_suite_cap():
    targets = _suite_judge("triangle_box_sailir").score(resolve_rule("tube_seeding")).targets
    assert all(t.reduced for t in targets)
    assert sum(t.seeds for t in targets) < 10_000   # improved_seeding_dots keeps 1,266,411
