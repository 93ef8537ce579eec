"""Rank path (rules/rank_path.py, rank_path_symmetric.py): seeds for I(1,1,1,1,1,1,-s) of the
triangle-box on the straight path of every sector plus a few steps off it, so that their number
grows by the same step for every unit of s; tube seeding for every other target."""

import sys
from pathlib import Path

import numpy as np
import pytest

from ibp_evolve.language.features import features_from_indices
from ibp_evolve.language.library import resolve_rule

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from rank_scan import judge_for  # noqa: E402


def _scores(rule: str, s: int, symmetries: bool):
    return judge_for(s, 0, symmetries).score(resolve_rule(rule)).targets[0]


@pytest.mark.parametrize("symmetries", [False, True], ids=["ibp_li", "symmetries"])
def test_rank_path_reduces_the_rank_scan_targets_with_35_more_seeds_per_numerator_power(
        symmetries):
    s3, s4 = (_scores("rank_path", s, symmetries) for s in (3, 4))
    assert s3.reduced and s4.reduced
    # one path seed per sector (22 per unit of s) and 13 off-path classes: 35 s - 40 selected
    assert (s3.seeds_selected, s4.seeds_selected) == (65, 100)
    tube = _scores("tube_seeding", 4, symmetries)
    assert s4.seeds_selected < tube.seeds_selected and s4.seeds <= tube.seeds


def test_rank_path_seeds_carry_at_most_one_numerator_off_the_isp_and_none_on_line_3():
    judge = judge_for(5, 0, False)
    seeds = judge.universe(0)[judge.masks(resolve_rule("rank_path"))[0]]
    numerators = features_from_indices(seeds, (1, 1, 1, 1, 1, 1, -5), (6,)).per_index(
        "numerators")
    assert numerators[:, :6].sum(axis=1).max() == 1
    assert numerators[:, 2].max() == 0            # line 3 joins the two loops
    assert (seeds[:, :6] <= 1).all()              # no dots


def test_the_symmetric_rank_path_needs_the_symmetries_and_stays_under_30_s():
    with_symmetries = _scores("rank_path_symmetric", 4, True)
    assert with_symmetries.reduced and with_symmetries.seeds_selected <= 30 * 4
    # without relation rows the mirror sectors' own integrals stay unreduced
    assert not _scores("rank_path_symmetric", 4, False).reduced


@pytest.mark.parametrize("target", [(2, 1, 1, 1, 1, 1, -2), (1, 1, 1, 0, 1, 1, -2),
                                    (1, 1, 1, 1, 1, 1, -2)])
def test_every_other_target_gets_the_tube(target):
    from ibp_evolve.judge.score import Judge
    from ibp_evolve.judge.suites import parse_suite
    judge = Judge(parse_suite(f'name = "x"\nfamily = "triangle_box"\ntargets = [{list(target)}]'
                              "\nsymmetries = false\n"))
    assert np.array_equal(judge.masks(resolve_rule("rank_path"))[0],
                          judge.masks(resolve_rule("tube_seeding"))[0])
