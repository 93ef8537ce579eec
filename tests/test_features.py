"""The one feature vocabulary: each feature's definition, its 1-based display name, and the
parser's one-line error for a misspelt name."""

from fractions import Fraction

import numpy as np
import pytest

from ibp_evolve.language import features as vocabulary
from ibp_evolve.language.compile import compile_rule, reference_value
from ibp_evolve.language.features import (MEASURE_NAMES, PER_INDEX_NAMES, all_display_names,
                                          feature_node, features_from_indices,
                                          parse_display_name)
from ibp_evolve.language.parse import RuleError, load_rule
from ibp_evolve.language.printer import expression_text

TARGET = (1, 1, 1, 1, 1, 1, -3)      # the triangle-box paper target
ISPS = (6,)


def test_offsets_removed_lines_dots_and_numerators_per_index():
    seed = (2, 1, 0, -1, 1, 0, -2)
    f = features_from_indices([seed], TARGET, ISPS)
    assert f.per_index("offset")[0].tolist() == [1, 0, -1, -2, 0, -1, 1]
    assert f.per_index("removed")[0].tolist() == [0, 0, 1, 1, 0, 1, 0]   # lines 3, 4, 6
    assert f.per_index("dots")[0].tolist() == [1, 0, 0, 0, 0, 0, 0]
    assert f.per_index("numerators")[0].tolist() == [0, 0, 0, 1, 0, 0, 2]
    assert f.per_index("lines")[0].tolist() == [1, 1, 0, 0, 1, 0, 0]
    assert f.measure("missing")[0] == f.per_index("removed")[0].sum() == 3
    assert f.measure("distance")[0] == 6      # sum of |offsets|


def test_the_target_reads_zero_for_what_is_measured_from_itself():
    f = features_from_indices([TARGET], (2, 1, 1, 1, 0, 1, -2), ISPS)
    assert f.target_measure("missing") == f.target_measure("distance") == 0
    assert f.target_measure("tube") == 0.0
    assert f.target_per_index("offset").tolist() == [0] * 7
    assert f.target_per_index("removed").tolist() == [0] * 7
    assert f.target_per_index("dots").tolist() == [1, 0, 0, 0, 0, 0, 0]


def test_tube_is_zero_on_the_path_from_the_corner_to_the_target_and_counts_steps_off_it():
    # I(1,1,1,1,1,1,-k): the path runs down the ISP numerator power from k = 3 to the corner
    seeds = [(1, 1, 1, 1, 1, 1, -k) for k in range(4)] + [
        (1, 1, 1, 1, 1, 1, -4),     # one step past the target
        (0, 1, 1, 1, 1, 1, -2),     # one line removed
        (2, 1, 1, 1, 1, 1, -1),     # one dot
        (1, 1, 1, 1, 1, 1, 1),      # the ISP as a line: one step beyond the corner
        (1, 1, -1, 1, 1, 1, -3)]    # a removed line with a numerator: two steps
    tube = features_from_indices(seeds, TARGET, ISPS).measure("tube")
    assert tube.tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 2]


def _tube_by_grid(seed, target):
    """min over lam = k/720 of the L1 distance to corner + lam (target - corner): exact when
    every kink (a_i - C_i)/(T_i - C_i) is a multiple of 1/720, i.e. |T_i - C_i| <= 6."""
    corner = [1 if x > 0 else 0 for x in target]
    return min(sum(abs(a - c - Fraction(k, 720) * (t - c))
                   for a, c, t in zip(seed, corner, target)) for k in range(721))


def test_tube_is_the_exact_distance_to_the_segment_for_dotted_targets():
    rng = np.random.default_rng(5)
    target = (2, 1, 3, 1, 0, 1, -2)
    seeds = rng.integers(-3, 4, size=(60, 7))
    tube = features_from_indices(seeds, target, ISPS).measure("tube")
    for seed, value in zip(seeds.tolist(), tube):
        assert value == pytest.approx(float(_tube_by_grid(seed, target)), abs=1e-12), seed
    # halfway along a diagonal path: one dot and one numerator power off by half each
    (half,) = features_from_indices([(1, 1, 1, 1, 1, 1, -1)], (2, 1, 1, 1, 1, 1, -2),
                                    ISPS).measure("tube")
    assert half == 0.5


def test_every_feature_evaluates_alike_in_the_compiler_and_the_reference_interpreter():
    rng = np.random.default_rng(11)
    seeds = rng.integers(-3, 4, size=(25, 7))
    target = (2, 1, 1, 1, 1, 0, -3)
    sources = [f"{o}.{m}" for o in ("seed", "target") for m in MEASURE_NAMES]
    sources += [f"{o}.{m}({i})" for o in ("seed", "target") for m in PER_INDEX_NAMES
                if m != "a" for i in (0, 4, -1, 9)]
    features = features_from_indices(seeds, target, ISPS)
    for source in sources:
        rule = load_rule(f"def priority(seed, target):\n    return {source}\n")
        values = compile_rule(rule).values(features)
        expected = [reference_value(rule, s, target, ISPS) for s in seeds.tolist()]
        assert values.tolist() == expected, source


def test_display_names_are_one_based_and_name_exactly_one_feature():
    assert expression_text(feature_node("a3", 7), board=False) == "seed.a[2]"
    assert expression_text(feature_node("a7_target", 7), board=False) == "target.a[6]"
    assert expression_text(feature_node("dots1", 7), board=False) == "seed.dots(0)"
    assert expression_text(feature_node("s_target", 7), board=False) == "target.s"
    assert expression_text(feature_node("N", 7), board=False) == "family.n"
    names = all_display_names(7)
    assert len(names) == len(set(names))
    for name in names:     # printing the feature gives its name back
        assert expression_text(feature_node(name, 7)) == name


@pytest.mark.parametrize("name, hint", [
    ("a0", "(positions are 1-based: a1..a7)"), ("dots8_target", "dots1_target..dots7_target"),
    ("tueb", "did you mean 'tube'?"), ("s_targte", "did you mean 's_target'?"),
    ("ofset3", "did you mean 'offset3'?")])
def test_an_unknown_display_name_says_why_or_suggests_the_closest(name, hint):
    with pytest.raises(ValueError, match=f"unknown feature '{name}'") as info:
        parse_display_name(name, 7)
    assert hint in str(info.value)


@pytest.mark.parametrize("expression, message", [
    ("seed.tueb < 2", "unknown feature 'seed.tueb'; did you mean 'seed.tube'?"),
    ("seed.offest(2) == 0", "unknown feature 'seed.offest'; did you mean 'seed.offset'?"),
    ("target.mising == 0", "unknown feature 'target.mising'; did you mean 'target.missing'?"),
    ("family.nn > 3", "unknown attribute 'family.nn'; did you mean 'family.n'?"),
])
def test_a_misspelt_feature_is_one_line_naming_it_and_the_closest_name(expression, message):
    with pytest.raises(RuleError) as info:
        load_rule(f"def keep(seed, target):\n    return {expression}\n")
    text = str(info.value)
    assert message in text and "\n" not in text


def test_the_parser_knows_exactly_the_vocabulary():
    from ibp_evolve.language import parse
    assert parse.SEED_FEATURES == vocabulary.MEASURE_NAMES
    assert set(parse.SEED_METHODS) == set(PER_INDEX_NAMES) - {"a"}


def test_features_survive_pickling_for_worker_processes():
    import pickle
    f = features_from_indices([(2, 1, 0, -1, 1, 0, -2)], TARGET, ISPS)
    f.measure("tube")
    g = pickle.loads(pickle.dumps(f))
    assert g.measure("tube").tolist() == f.measure("tube").tolist()
    assert g.r.tolist() == [4]
