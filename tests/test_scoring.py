"""The judge on suites: baselines, penalties, the score command and suite files."""

import json

import numpy as np
import pytest

from ibp_evolve.cli.main import main
from ibp_evolve.language.library import library_rules, resolve_rule
from ibp_evolve.language.compile import reference_keep
from ibp_evolve.judge.score import OBJECTIVES, PENALTY, Judge, fitness_of
from ibp_evolve.judge.suites import SuiteError, load_suite, parse_suite

DROP_T4 = "def keep(seed, target):\n    return seed.t > 4 and seed.r <= target.r and seed.s <= target.s\n"


@pytest.fixture(scope="module")
def paper_judge():
    return Judge(load_suite("triangle_box_paper"))


def test_improved_seeding_on_the_paper_target_needs_92_seeds_and_828_equations(paper_judge):
    report = paper_judge.score(resolve_rule("improved_seeding"))
    (target,) = report.targets
    assert (target.seeds, target.equations, target.reduced) == (92, 828, True)
    assert report.complete and report.fitness == 92


def test_laporta_reduces_the_paper_target(paper_judge):
    report = paper_judge.score(resolve_rule("laporta"))
    print("laporta seeds on triangle_box_paper:", report.targets[0].seeds)
    assert report.complete and report.targets[0].seeds > 92


def test_dropping_every_seed_with_four_or_fewer_lines_is_incomplete(paper_judge):
    report = paper_judge.score(DROP_T4)
    assert not report.complete
    target = report.targets[0]
    assert target.n_survivors > 0 and len(target.survivors) == target.n_survivors
    assert report.fitness >= PENALTY
    assert report.fitness > paper_judge.score(resolve_rule("laporta")).fitness


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_any_complete_rule_beats_any_incomplete_one(paper_judge, objective):
    complete = paper_judge.score(resolve_rule("laporta"), objective)
    incomplete = paper_judge.score(DROP_T4, objective)
    assert complete.fitness < incomplete.fitness


def test_fitness_is_lexicographic_in_unreduced_survivors_objective():
    ranked = [fitness_of(10 ** 12, 0, 0), fitness_of(0, 1, 1), fitness_of(10 ** 12, 1, 1),
              fitness_of(0, 1, 2), fitness_of(0, 2, 0)]
    assert ranked == sorted(ranked) and len(set(ranked)) == len(ranked)


def test_max_seeds_fails_a_target_without_solving_with_a_graded_penalty(paper_judge):
    everything = "def keep(seed, target):\n    return True\n"
    report = paper_judge.score(everything)
    target = report.targets[0]
    assert not target.reduced and "max_seeds exceeded" in target.reason
    assert target.equations == 0
    assert target.n_survivors == target.seeds - paper_judge.suite.max_seeds


def test_vectorised_and_reference_evaluation_agree_on_every_candidate_seed(paper_judge):
    universe = paper_judge.universes[0]
    target = paper_judge.suite.targets[0]
    isps = paper_judge.family.isps
    for path in library_rules():
        rule = resolve_rule(str(path))
        fast = paper_judge.masks(rule)[0]
        slow = np.array([reference_keep(rule, tuple(s), target, isps) for s in universe.tolist()])
        assert np.array_equal(fast, slow), path.name


def test_sandboxed_and_in_process_masks_agree(paper_judge):
    rule = resolve_rule("improved_seeding")
    assert np.array_equal(paper_judge.masks(rule, sandbox=True)[0], paper_judge.masks(rule)[0])


def test_joint_suite_solves_all_targets_in_one_system():
    suite = parse_suite('family = "triangle_box"\njoint = true\ntargets = '
                        '[[1, 1, 1, 1, 1, 1, -3], [1, 1, 1, 1, 1, 0, -2]]\n', origin="joint")
    report = Judge(suite).score(resolve_rule("improved_seeding"))
    assert report.joint and report.complete
    assert report.targets[0].equations == report.targets[1].equations  # one shared system


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_score_json_carries_the_documented_fields(capsys):
    code, out, _ = run(capsys, "score", "improved_seeding", "--suite", "triangle_box_paper",
                       "--json")
    assert code == 0
    data = json.loads(out)
    assert data["fitness"] == 92 and data["complete"] is True
    (target,) = data["targets"]
    assert set(target) >= {"target", "seeds", "equations", "trimmed_equations",
                           "multiply_adds", "seconds", "reduced", "survivors", "n_survivors"}


def test_score_exits_one_for_an_incomplete_rule(tmp_path, capsys):
    # exit status 1: the command ran, but the rule leaves a target unreduced (README table)
    path = tmp_path / "drop_t4.py"
    path.write_text(DROP_T4)
    code, out, _ = run(capsys, "score", str(path), "--objective", "trimmed")
    assert code == 1 and "\nincomplete: 1 target not reduced, " in out   # not a raw penalty


def test_score_rejects_a_forbidden_rule_with_a_message(tmp_path, capsys):
    path = tmp_path / "evil.py"
    path.write_text("def keep(seed, target):\n    return open('/etc/passwd')\n")
    code, _, err = run(capsys, "score", str(path))
    assert code != 0 and "rule rejected" in err and "line 2" in err


def test_score_stops_a_rule_that_runs_too_long(tmp_path, capsys):
    path = tmp_path / "slow.py"
    path.write_text("def keep(seed, target):\n    return sum(i * j * k for i in range(10000) "
                    "for j in range(10000) for k in range(10000)) > 0\n")
    code, _, err = run(capsys, "score", str(path), "--time-limit", "1")
    assert code != 0 and "rule stopped" in err


def test_rules_lists_the_library(capsys):
    code, out, _ = run(capsys, "rules")
    assert code == 0 and "laporta" in out and "improved_seeding" in out


@pytest.mark.parametrize("text, words", [
    ('targets = [[1, 1]]\n', "key 'family': missing"),
    ('family = "nope"\ntargets = [[1, 1]]\n', "unknown family 'nope'"),
    ('family = "bubble"\ntargets = [[1, 1, 1]]\n', "key 'targets[0]'"),
    ('family = "bubble"\ntargets = [[1, 1], [1, 1]]\n', "listed twice"),
    ('family = "bubble"\ntargets = [[0, -1]]\n', "no line"),
    ('family = "bubble"\ntargets = [[1, 1]]\ndelta_r = -1\n', "key 'delta_r'"),
    ('family = "bubble"\ntargets = [[1, 1]]\nmax_seeds = 0\n', "key 'max_seeds'"),
    ('family = "bubble"\ntargets = [[1, 1]]\njoint = 1\n', "key 'joint'"),
    ('family = "bubble"\ntargets = [[1, 1]]\nspeed = 1\n', "unknown key"),
])
def test_bad_suite_files_name_the_key(text, words):
    with pytest.raises(SuiteError, match=words.replace("[", r"\[").replace("]", r"\]")):
        parse_suite(text, origin="bad.toml")
