"""Labels from the solver and minimal complete seed sets (ibp-evolve minimize)."""

import json
import math

import numpy as np
import pytest

from ibp_evolve.cli.main import main
from ibp_evolve.language.library import resolve_rule
from ibp_evolve.judge.minimize import (_judge_solve, _Minimizer, _search, minimize_seeds,
                                       minimize_suite, neighbour_pool, seed_labels)
from ibp_evolve.reducer.reduction import reduce_on_seeds
from ibp_evolve.judge.score import Judge
from ibp_evolve.judge.suites import load_suite, parse_suite
from ibp_evolve.reducer.symmetry_rows import columns_of_rows, seed_images

JOINT_SUITE = """
name = "joint_pair"
family = "triangle_box"
targets = [[1, 1, 1, 1, 1, 1, -1], [1, 1, 1, 1, 1, 1, -2]]
joint = true
symmetries = false
"""


@pytest.fixture(scope="module")
def paper_judge():
    return Judge(load_suite("triangle_box_paper"))


@pytest.fixture(scope="module")
def improved_seeds(paper_judge):
    return np.flatnonzero(paper_judge.masks(resolve_rule("improved_seeding"))[0])


def _reduce(judge, seed_ids, system=0, targets=None):
    return reduce_on_seeds(judge.systems[system], seed_ids, targets or judge.suite.targets,
                           judge.masters)


def test_removing_every_unneeded_seed_keeps_the_paper_target_reduced_with_identical_coefficients(
        paper_judge, improved_seeds):
    labels = seed_labels(paper_judge.systems[0], improved_seeds, paper_judge.suite.targets,
                         paper_judge.masters)
    assert labels.complete
    # mark and sweep really finds seeds the reduction does not need (78 of the 92)
    assert 0 < len(labels.unneeded_ids) < len(improved_seeds)
    full = labels.reduction
    trimmed = _reduce(paper_judge, labels.needed_ids)
    assert trimmed.complete
    for before, after in zip(full.targets, trimmed.targets):
        assert after.reduced
        assert after.coefficients == before.coefficients
        assert len(after.coefficients) > 0


def test_removing_unneeded_seeds_keeps_every_target_of_a_joint_suite_reduced():
    judge = Judge(parse_suite(JOINT_SUITE))
    masks = judge.masks(resolve_rule("laporta"))
    union = np.unique(np.concatenate([judge.joint_index[i][m] for i, m in enumerate(masks)]))
    labels = seed_labels(judge.systems[0], union, judge.suite.targets, judge.masters)
    assert labels.complete and len(labels.unneeded_ids) > 0
    trimmed = _reduce(judge, labels.needed_ids)
    assert trimmed.complete
    assert [t.coefficients for t in trimmed.targets] == \
        [t.coefficients for t in labels.reduction.targets]
    # and minimising the joint set keeps both targets reduced
    report = minimize_suite(judge, masks, rng=1, swaps=20, seconds=math.inf)
    assert report.complete and report.results[0].size <= len(labels.needed_ids)
    assert judge.score_masks(report.masks).complete


def test_minimize_keeps_the_paper_target_reduced_and_is_never_larger_than_its_start(
        paper_judge, improved_seeds):
    for seed in (0, 1):
        result = minimize_seeds(paper_judge.systems[0], improved_seeds,
                                paper_judge.suite.targets, paper_judge.masters, rng=seed,
                                swaps=100, seconds=math.inf)
        assert result.complete
        assert result.size <= result.greedy_size <= result.pruned_size <= result.start_size == 92
        assert set(result.seed_ids) <= set(np.union1d(
            improved_seeds, neighbour_pool(paper_judge.systems[0].seeds, improved_seeds)))
        assert _reduce(paper_judge, result.seed_ids).complete
        assert result.size < 78  # well below what mark and sweep alone leaves


def test_the_greedy_result_is_minimal_no_single_seed_can_be_removed(paper_judge, improved_seeds):
    result = minimize_seeds(paper_judge.systems[0], improved_seeds, paper_judge.suite.targets,
                            paper_judge.masters, randomise=False, swaps=0)
    assert result.complete and result.size == result.greedy_size
    for seed in result.seed_ids:
        assert not _reduce(paper_judge, result.seed_ids[result.seed_ids != seed]).complete


def test_an_incomplete_start_is_returned_unchanged_and_flagged(paper_judge, improved_seeds):
    start = improved_seeds[: len(improved_seeds) // 2]
    result = minimize_seeds(paper_judge.systems[0], start, paper_judge.suite.targets,
                            paper_judge.masters, rng=0)
    assert not result.complete
    assert np.array_equal(result.seed_ids, np.unique(start))


def test_neighbour_pool_finds_unit_steps():
    seeds = np.array([[1, 1, 0], [1, 1, -1], [2, 1, 0], [1, 0, 0], [3, 3, 3]])
    assert list(neighbour_pool(seeds, [0])) == [1, 2, 3]
    assert list(neighbour_pool(seeds, [4])) == []


def test_minimize_command_prints_and_stores_the_minimal_set(tmp_path, capsys):
    out = tmp_path / "minimal.json"
    status = main(["minimize", "improved_seeding", "--suite", "triangle_box_paper",
                   "--swaps", "50", "--seconds", "inf", "--out", str(out)])   # swaps bound it
    text = capsys.readouterr().out
    assert status == 0
    assert "I(1,1,1,1,1,1,-3)" in text and str(out) in text
    data = json.loads(out.read_text())
    assert data["complete"] and data["results"][0]["start"] == 92
    minimal = data["minimal_sets"][0]
    assert len(minimal) == data["results"][0]["minimal"] == data["seeds_per_target"][0] < 78
    judge = Judge(load_suite("triangle_box_paper"))
    rows = {tuple(r): k for k, r in enumerate(judge.universes[0].tolist())}
    assert _reduce(judge, sorted(rows[tuple(r)] for r in minimal)).complete


def test_minimize_command_reports_an_incomplete_rule_with_exit_1(tmp_path, capsys):
    rule = tmp_path / "half.py"
    rule.write_text("def keep(seed, target):\n    return seed.t >= 5 and seed.s <= 1\n")
    status = main(["minimize", str(rule), "--out", str(tmp_path / "m.json")])
    assert status == 1
    assert "does not reduce every target" in capsys.readouterr().out


SYMMETRIC_RANK3 = """
name = "rank3_symmetric"
family = "triangle_box"
targets = [[1, 1, 1, 1, 1, 1, -3]]
symmetries = true
"""


@pytest.mark.parametrize("rng", [1, 2])
def test_with_symmetries_a_minimal_set_is_complete_for_the_judge(rng):
    # the judge moves seeds of mirror sectors onto their images before solving; minimize once
    # solved each seed as it is, and its "complete" sets left I(0,1,1,2,-1,0,0) unreduced
    judge = Judge(parse_suite(SYMMETRIC_RANK3))
    report = minimize_suite(judge, judge.masks(resolve_rule("tube_seeding")), rng=rng,
                            swaps=20, restarts=1)
    assert report.complete
    assert report.results[0].size < report.results[0].start_size
    assert judge.score_masks(report.masks).complete


def _solve_as_the_judge_scores(judge, seeds, targets):
    """Reference: each trial moves its seeds onto their images and builds, closes and solves
    its own system through Judge.reduce_solved (the row cache's path of score and reduce)."""
    images, owner = seed_images(judge.sector_symmetries, judge.family, seeds, judge.point,
                                judge.prime, targets)

    def solve(seed_ids):
        chosen, chosen_owner = images[np.isin(owner, seed_ids)], owner[np.isin(owner, seed_ids)]
        solved = judge.solved_seeds(seeds[seed_ids], targets)
        red = judge.reduce_solved(solved, targets)
        if not red.complete:
            return None
        used = solved[np.unique(red.trimmed_seed_equations // judge.rows.n_templates)]
        return np.unique(chosen_owner[columns_of_rows(used, chosen) >= 0])
    return solve


@pytest.fixture(scope="module")
def symmetric_rank3():
    judge = Judge(parse_suite(SYMMETRIC_RANK3))
    start = np.flatnonzero(judge.masks(resolve_rule("improved_seeding_dots"))[0])
    local = np.union1d(start, neighbour_pool(judge.universes[0], start))
    return judge, judge.universes[0][local], np.searchsorted(local, start)


def test_with_symmetries_each_trial_keeps_the_judges_verdict_and_needed_seeds(symmetric_rank3):
    # minimize builds the images' rows and relations once and gathers each trial's equations
    # from them; a trial must still be complete, and need the same seeds, exactly when the
    # judge's own solve (a system built and closed per trial) says so
    judge, seeds, start = symmetric_rank3
    target = judge.suite.targets
    fast, reference = _judge_solve(judge, seeds, target), _solve_as_the_judge_scores(
        judge, seeds, target)
    rng = np.random.default_rng(7)
    verdicts = []
    for size in [len(start)] + [int(len(start) * f) for f in (0.95, 0.9, 0.8, 0.7)] * 3:
        trial = np.sort(rng.choice(start, size=size, replace=False))
        want, got = reference(trial), fast(trial)
        verdicts.append(want is not None)
        assert (got is None) == (want is None)
        if want is not None:
            np.testing.assert_array_equal(got, want)
    assert any(verdicts) and not all(verdicts)  # both verdicts were tried


def test_with_symmetries_minimize_keeps_the_same_set_as_solving_each_trial_afresh(
        symmetric_rank3):
    judge, seeds, start = symmetric_rank3
    target = judge.suite.targets
    options = dict(swaps=15, seconds=60.0, pool=None, restarts=2, randomise=True)
    fast = _search(_Minimizer(_judge_solve(judge, seeds, target), target), seeds, start,
                   rng=3, **options)
    reference = _search(_Minimizer(_solve_as_the_judge_scores(judge, seeds, target), target),
                        seeds, start, rng=3, **options)
    np.testing.assert_array_equal(fast.seed_ids, reference.seed_ids)
    assert (fast.solves, fast.swaps_accepted) == (reference.solves, reference.swaps_accepted)
    assert fast.complete and fast.size < fast.start_size
