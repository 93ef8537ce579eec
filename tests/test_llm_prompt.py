"""Prompts and completions: what the model sees, and how its text becomes a validated rule."""

from pathlib import Path

import numpy as np
import pytest

from ibp_evolve.runs.evaluation import suite_features
from ibp_evolve.language.compile import compile_rule
from ibp_evolve.language.parse import load_rule
from ibp_evolve.judge.suites import load_suite
from llm_mutator.prompt import (PREAMBLE, CompletionError, as_priority_body, build_prompt,
                                parse_completion, program_formula, training_document)

ROOT = Path(__file__).resolve().parents[1]
RULE_FILES = sorted((ROOT / "rules").glob("*.py")) + sorted((ROOT / "seeds").glob("*.py"))


@pytest.fixture(scope="module")
def features():
    return suite_features(load_suite("triangle_box_paper"))


def masks(source, features):
    rule = compile_rule(load_rule(source))
    return [np.asarray(rule(f), dtype=bool) for f in features]


def test_prompt_shows_preamble_two_programs_and_the_next_header():
    prompt = build_prompt(["return seed.s <= 2\n", "return seed.s <= 1\n"])
    assert prompt.startswith(PREAMBLE)
    for word in ("seed.", "target", "family", "missing", "priority(seed, target) > 0"):
        assert word in PREAMBLE
    v0, v1, v2 = (prompt.index(f"def priority_v{k}(seed, target):") for k in range(3))
    assert v0 < prompt.index("seed.s <= 2") < v1 < prompt.index("seed.s <= 1") < v2
    assert prompt.endswith('def priority_v2(seed, target):\n    """Improved version of '
                           '`priority_v1`."""\n')


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.stem)
def test_library_rule_round_trips_through_prompt_and_parser_with_the_same_seeds(path, features):
    source = path.read_text()
    body = as_priority_body(source)
    prompt = build_prompt(["return 1\n"])
    completion = "".join("    " + line + "\n" for line in body.rstrip("\n").split("\n"))
    completion += "\n\ndef priority_v2(seed, target):\n    return 0\n"   # the model rambles on
    parsed = parse_completion(completion)
    assert parsed.startswith("def priority(seed, target):\n")
    assert load_rule(parsed).kind == "priority"
    for a, b in zip(masks(source, features), masks(parsed, features)):
        assert np.array_equal(a, b)
    assert prompt.count("def ") == 2


def test_keep_rule_with_a_number_becomes_a_priority_with_the_same_truth_value(features):
    source = "def keep(seed, target):\n    return seed.s - 1 + (seed.d / 3)\n"
    body = as_priority_body(source)
    assert "!= 0" in body
    parsed = parse_completion("    " + body)
    for a, b in zip(masks(source, features), masks(parsed, features)):
        assert np.array_equal(a, b)


def test_completion_is_cut_at_the_end_of_the_function_and_renamed():
    completion = ('    """Improved version of `priority_v1`."""\n'
                  "    # fewer numerators\n    x = target.s - seed.missing\n"
                  "    if seed.d > target.d:\n        return -1\n    return x - seed.s + 0.5\n"
                  "\nprint('never part of the rule')\nimport os\n")
    parsed = parse_completion(completion)
    assert parsed == ("def priority(seed, target):\n    # fewer numerators\n"
                      "    x = target.s - seed.missing\n    if seed.d > target.d:\n"
                      "        return -1\n    return x - seed.s + 0.5\n")
    # the one printer inlines the local variable and the early return into one formula
    assert program_formula(parsed) == "(-1 if d > d_target else s_target - missing - s + 0.5) > 0"


@pytest.mark.parametrize("completion, reason", [
    ("", "empty completion"),
    ("\n\n", "empty completion"),
    ("    return seed.s <=\n", "syntax error"),
    ("    import os\n    return 1\n", "import statements are not allowed"),
    ("    while True:\n        pass\n", "while loops are not allowed"),
    ("    return len(open('/etc/passwd').read()) > 0\n", "open"),
    ("    return seed.__class__\n", "__class__"),
    ("    if seed.s > 1:\n        return 1\n", "may finish without returning"),
    ("    return priority_v1(seed, target)\n", "priority"),
])
def test_invalid_completions_are_rejected_with_a_reason(completion, reason):
    with pytest.raises(CompletionError) as err:
        parse_completion(completion)
    assert reason in err.value.reason


def test_training_documents_have_the_prompt_format():
    doc = training_document(["return 1\n", "return seed.s <= 1\n", "return seed.d == 0\n"])
    prompt = build_prompt(["return 1\n", "return seed.s <= 1\n"])
    assert doc.startswith(prompt)
    assert parse_completion(doc[len(prompt):]) == \
        "def priority(seed, target):\n    return seed.d == 0\n"


def test_variation_examples_complete_with_a_valid_edit_of_the_programs_shown():
    from llm_mutator.train import variation_documents
    docs = variation_documents(20, seed=3)
    assert len(docs) == 20 and len(set(docs)) == 20
    for doc in docs:
        head, completion = doc.rsplit('"""Improved version of `priority_v1`."""\n', 1)
        assert head.startswith(PREAMBLE) and "def priority_v1" in head
        assert load_rule(parse_completion(completion)).kind == "priority"
