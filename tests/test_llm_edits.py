"""The token edit distance that says whether a completion is a local edit of its prompt's
best program (layout and comments do not count; a changed clause counts its tokens)."""

from llm_mutator.edits import program_tokens, token_edit_distance

IMPROVED = "return seed.d <= target.d and seed.s <= target.s - seed.missing\n"


def test_a_copy_is_zero_tokens_away_whatever_its_layout_and_comments():
    relaid = ("# Kira 3's improved seeding\nreturn (seed.d <= target.d\n"
              "        and seed.s <= target.s - seed.missing)\n")
    assert token_edit_distance(IMPROVED, IMPROVED) == 0
    assert token_edit_distance(IMPROVED, relaid) == 2     # the two parentheses only


def test_dropping_the_missing_lines_term_is_four_tokens():
    # "- seed . missing"
    assert token_edit_distance(IMPROVED, "return seed.d <= target.d and seed.s <= target.s\n") == 4


def test_a_changed_constant_is_one_substitution_and_the_distance_is_symmetric():
    a, b = "return seed.s <= 3\n", "return seed.s <= 4 and seed.d == 0\n"
    assert token_edit_distance("return seed.s <= 3\n", "return seed.s <= 4\n") == 1
    # 3 -> 4, then "and seed . d == 0" inserted
    assert token_edit_distance(a, b) == token_edit_distance(b, a) == 7


def test_text_that_does_not_tokenize_still_has_a_distance():
    assert program_tokens("return (seed.s") == ["return", "(", "seed", ".", "s"] or \
        program_tokens("return (seed.s") == ["return", "(seed.s"]
    assert token_edit_distance("return (seed.s", "return (seed.s") == 0
