"""Rule headers state what the judge measures: every "Measured on SUITE" line is re-scored."""

from functools import lru_cache

import pytest

from ibp_evolve.judge.measured import measurement_of, parse_measured, replace_measured
from ibp_evolve.judge.score import Judge
from ibp_evolve.judge.suites import load_suite
from ibp_evolve.language.library import library_dirs, library_rules
from ibp_evolve.language.parse import load_rule

RULES = library_rules()


@lru_cache(maxsize=None)
def _judge(suite: str, symmetries: bool = False) -> Judge:
    """The judge of a header line: its suite, with sector symmetries as the line states."""
    return Judge(load_suite(suite), symmetries=symmetries)


def test_the_library_has_rules_and_each_states_its_measurements():
    assert RULES, f"no rules under {library_dirs()}"
    missing = [p.name for p in RULES if not parse_measured(p.read_text())]
    assert not missing, f"rule files without a 'Measured on SUITE:' line: {missing}"


@pytest.mark.parametrize("path", RULES, ids=[p.stem for p in RULES])
def test_every_measured_line_equals_a_fresh_score(path):
    source = path.read_text()
    rule = load_rule(path)
    for suite, stated in parse_measured(source).items():
        measured = measurement_of(_judge(suite, stated.symmetries).score(rule))
        assert measured == stated, (
            f"{path.name}: the header's figures on {suite} differ from the judge's; "
            f"regenerate with `python benchmarks/rule_scores.py --write`\n"
            f"  header: {stated}\n  judge:  {measured}")


def test_a_header_rewritten_from_its_scores_is_unchanged():
    path = next(p for p in RULES if p.stem == "improved_seeding")
    source = path.read_text()
    rule = load_rule(path)
    reports = [_judge(s, m.symmetries).score(rule) for s, m in parse_measured(source).items()]
    assert replace_measured(source, reports) == source


def test_a_changed_figure_is_read_as_a_different_measurement():
    source = "# Measured on triangle_box_paper: complete (1 target), 92 seeds, 828 equations, 358 trimmed, " \
             "26,711 mult-adds\ndef keep(seed, target):\n    return True\n"
    stated = parse_measured(source)["triangle_box_paper"]
    assert (stated.seeds, stated.multiply_adds) == (92, 26711)
    assert parse_measured(source.replace("92 seeds", "91 seeds"))["triangle_box_paper"] != stated


def test_a_line_measured_with_symmetries_says_so_and_reads_back():
    report = _judge("triangle_box_paper", True).score(load_rule(
        next(p for p in RULES if p.stem == "improved_seeding")))
    source = replace_measured("def keep(seed, target):\n    return True\n", [report])
    assert "# Measured on triangle_box_paper (symmetries on): complete (1 target)" in source
    stated = parse_measured(source)["triangle_box_paper"]
    assert stated.symmetries and stated == measurement_of(report)
    without = parse_measured(source.replace(" (symmetries on)", ""))["triangle_box_paper"]
    assert not without.symmetries and without != stated


def test_a_joint_suite_measures_the_seeds_of_its_one_system():
    # two targets choose many seeds in common: the joint system holds each once
    from ibp_evolve.judge.measured import measurement_of
    from ibp_evolve.judge.score import Judge
    from ibp_evolve.judge.suites import parse_suite
    from ibp_evolve.language.library import resolve_rule
    suite = parse_suite('name = "pair"\nfamily = "triangle_box"\n'
                        'targets = [[1, 1, 1, 1, 1, 1, -3], [1, 1, 1, 1, 1, 1, -4]]\n'
                        'joint = true\nsymmetries = false\n')
    report = Judge(suite).score(resolve_rule("tube_seeding"))
    m = measurement_of(report)
    assert m.complete and m.seeds == report.joint_seeds
    assert m.seeds < sum(t.seeds for t in report.targets)
