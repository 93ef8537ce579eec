"""What a training suite never varied: target features with one value on every target, and
clauses that decide the same for every candidate seed (stated beside a rule's formula)."""

from ibp_evolve.cli.main import main
from ibp_evolve.judge.score import Judge
from ibp_evolve.judge.suites import parse_suite
from ibp_evolve.language.suite_constants import constants_line, suite_constants

UNDOTTED = """
name = "undotted"
family = "box"
targets = [[1, 1, 1, 1], [1, 1, 1, 0]]
symmetries = false
"""
DOTTED = UNDOTTED.replace('"undotted"', '"dotted"').replace("[1, 1, 1, 0]", "[2, 1, 1, 1]")

# keeps no dotted seed on an undotted suite, however it would treat a dotted target
RULE = ("def keep(seed, target):\n"
        "    return seed.d == min(seed.a[0], target.d) and target.d == 0 and seed.d <= 9 "
        "and seed.s <= target.s\n")


def test_on_targets_without_dots_d_target_and_its_clauses_are_named_as_constant():
    constants = {str(c) for c in suite_constants(RULE, Judge(parse_suite(UNDOTTED)).features)}
    assert constants == {"d_target = 0", "s_target = 0",
                         "d_target == 0 (always true)", "d <= 9 (always true)"}


def test_a_dotted_target_makes_d_target_vary_and_its_clause_decide():
    constants = {str(c) for c in suite_constants(RULE, Judge(parse_suite(DOTTED)).features)}
    assert constants == {"s_target = 0", "d <= 9 (always true)"}


def test_nothing_constant_says_nothing():
    assert constants_line([], "undotted") is None


def test_inspect_names_the_suite_constants_under_the_formula(tmp_path, capsys):
    suite = tmp_path / "undotted.toml"
    suite.write_text(UNDOTTED)
    rule = tmp_path / "undotted_rule.py"
    rule.write_text(RULE)
    main(["inspect", str(rule), "--suite", str(suite), "--out", str(tmp_path / "maps"),
          "--formats", "svg", "--quiet"])
    lines = capsys.readouterr().out.splitlines()
    at = next(k for k, line in enumerate(lines) if line.startswith("formula: "))
    assert lines[at + 1].startswith("constant on every target of suite undotted (untested "
                                    "beyond it): d_target = 0; s_target = 0; ")
