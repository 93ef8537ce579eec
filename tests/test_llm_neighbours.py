"""Neighbour examples: a rule's GP mutants, scored by the judge on a training suite, become
examples whose completion is a close edit of the programs shown (train-mutator --neighbours)."""

import numpy as np
import pytest

from ibp_evolve.cli.main import main
from llm_mutator.prompt import as_priority_body
from llm_mutator.run_examples import RunExamplesError
from test_bad_input_lines import _one_line_error

BUBBLE = 'name = "bubble_small"\nfamily = "bubble"\ntargets = [[2, 1], [1, 2], [2, 2]]\n'
IMPROVED = "def keep(seed, target):\n    return seed.d <= target.d and seed.s <= target.s\n"


@pytest.fixture()
def files(tmp_path):
    suite = tmp_path / "bubble_small.toml"
    suite.write_text(BUBBLE)
    rule = tmp_path / "improved.py"
    rule.write_text(IMPROVED)
    return suite, rule


def test_mutants_are_distinct_gp_edits_of_the_rule_printed_as_the_rule_is():
    from llm_mutator.neighbours import rule_mutants
    sources = rule_mutants(IMPROVED, 12, n_indices=2, seed=3)
    assert 2 <= len(sources) <= 13 and len(set(sources)) == len(sources)
    assert "seed.d <= target.d" in sources[0] and "seed.s <= target.s" in sources[0]
    assert all(as_priority_body(s) for s in sources)     # every one a valid rule


def test_neighbour_examples_show_neighbours_worse_first_and_complete_with_a_better_one(files):
    from llm_mutator.neighbours import neighbour_examples, rule_mutants
    suite, rule = files
    examples = neighbour_examples([rule], str(suite), 20, n_mutants=20, seed=0)
    assert examples and all(e.kind == "neighbour" and e.run == str(rule) for e in examples)
    neighbours = {as_priority_body(s) for s in rule_mutants(IMPROVED, 20, 2, seed=0)}
    for e in examples:
        assert set(e.bodies) <= neighbours
        assert list(e.fitness) == sorted(e.fitness, reverse=True)
        assert e.fitness[-1] < e.fitness[-2] and e.complete


def test_the_held_out_suite_cannot_score_the_neighbours(files):
    from llm_mutator.neighbours import neighbour_examples
    suite, rule = files
    with pytest.raises(RunExamplesError, match="held-out suite 'bubble_small'"):
        neighbour_examples([rule], str(suite), 5, n_mutants=5, held_out=[str(suite)])


def test_a_rule_that_is_no_gp_tree_is_refused_in_one_line(files, tmp_path, capsys):
    pytest.importorskip("torch", reason="the llm extra (torch) is not installed")
    pytest.importorskip("transformers", reason="the llm extra (transformers) is not installed")
    suite, _ = files
    loop = tmp_path / "sum.py"
    loop.write_text("def priority(seed, target):\n    return sum(x for x in seed.a) - 3.5\n")
    _one_line_error(capsys, ["train-mutator", "--out", str(tmp_path / "m"), "--neighbours",
                             str(loop), "--neighbour-suite", str(suite), "--steps", "1"],
                    "--neighbours", "not a GP tree")
    _one_line_error(capsys, ["train-mutator", "--out", str(tmp_path / "m"), "--neighbours",
                             str(loop), "--steps", "1"], "--neighbour-suite")
