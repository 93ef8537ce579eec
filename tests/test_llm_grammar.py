"""Grammar-constrained sampling: the incremental checker follows the rule language as a model
writes, refuses a prefix as soon as no continuation can be a rule, lets every rule of the
library and of the GP's primitive set through character by character, and closes a sequence
whose budget runs short; with it on, a tiny random model's completions all parse."""

import random
import textwrap

import pytest

from llm_mutator.grammar import RuleChecker, opens_rule
from llm_mutator.prompt import CompletionError, as_priority_body, build_prompt, parse_completion

CHECKER = RuleChecker()


def walk(text):
    """Feed ``text`` one character at a time: the state, or the prefix at which it died."""
    state = CHECKER.start()
    for k in range(len(text)):
        state = CHECKER.feed(state, text[k])
        if state is None:
            return text[:k + 1]
    return state


def body(source):
    return textwrap.indent(as_priority_body(source), "    ")


def library_and_random_rules():
    from llm_mutator.train import collect_corpus, random_rules
    sources = [p.body for p in collect_corpus()]
    for src in random_rules(150, seed=3):
        try:
            sources.append(as_priority_body(src))
        except (ValueError, SyntaxError):
            continue
    return [textwrap.indent(s, "    ") for s in sources]


def test_every_rule_of_the_library_and_of_the_gp_primitives_passes_character_by_character():
    completions = library_and_random_rules()
    assert len(completions) > 100
    for text in completions:
        state = walk(text + "\ndef priority_v3")
        assert not isinstance(state, str), f"refused at {state!r}"
        assert state.ended                    # the new top-level def ended the function


def test_improved_seeding_is_accepted_and_may_end_at_any_of_its_returns():
    text = ("    # Kira 3: no more dots than the target, one numerator fewer per missing line\n"
            "    if seed.d > target.d:\n"
            "        return 0\n"
            "    return seed.s <= target.s - (target.t - seed.t)\n")
    state = walk(text)
    assert not isinstance(state, str) and CHECKER.can_end(state)
    assert not CHECKER.can_end(walk(text[:text.index("    return seed.s")]))   # a path open


DEAD = [
    ("an unknown attribute", "    return seed.mass", "    return seed.ma"),
    ("an attribute of a number", "    return (1).r", "    return (1)."),
    ("an undefined name", "    return x + 1", "    return x"),
    ("a name assigned on one path only",
     "    if seed.r > 1:\n        x = 1\n    return x",
     "    if seed.r > 1:\n        x = 1\n    return x"),
    ("a float position", "    return seed.a[1.5]", "    return seed.a[1.5]"),
    ("an exponent beyond 8", "    return seed.r ** 9\n", "    return seed.r ** 9"),
    ("a negative exponent beyond 8", "    return seed.r ** -12\n", "    return seed.r ** -12"),
    ("a float conditional as an index", "    x = seed.a[seed.r / 2 if",
     "    x = seed.a[seed.r / 2 i"),
    ("len of no iterable", "    return len(seed.r)", "    return len(seed.r"),
    ("generators nested too deep",
     "    return sum(min(v for v in seed.a) for i in seed.a for j in seed.a for k in seed.a)",
     "    return sum(min(v for v in seed.a) for i in seed.a for j in seed.a f"),
    ("a sum needing a fourth clause", "    return sum(a + b + c + sum(seed.r",
     "    return sum(a + b + c + sum(seed.r"),
    ("range as a value", "    x = range(3)", "    x = r"),
    ("seed.a as a value", "    return seed.a + 1", "    return seed.a +"),
    ("len of a generator", "    return len(v for v in seed.a)", "    return len(v"),
    ("an import", "    import os", "    import "),
    ("a string", "    return 'a'", "    return '"),
    ("is", "    return seed.r is 1", "    return seed.r is"),
    ("a lambda", "    f = lambda", "    f = la"),
    ("a tuple", "    return 1, 2", "    return 1,"),
    ("assigning to seed", "    seed = 1", "    seed "),
    ("an elif without an if", "    elif seed.r:", "    elif "),
    ("a bitwise operator", "    return seed.r & 1", "    return seed.r &"),
    ("an expression statement", "    x.r\n", "    x."),
    ("a leading zero", "    return 01\n", "    return 01\n"),
    ("a three-space indent", "   return 1", "   r"),
    ("a comment in column 0", "    x = 1\n# note\n", "    x = 1\n#"),
    ("a continuation line left of the body", "    return (1 +\n  2)", "    return (1 +\n  2"),
    ("a blank line inside brackets", "    return (1 +\n\n        2)", "    return (1 +\n\n"),
    ("an if without a body", "    if seed.r:\n    return 1", "    if seed.r:\n    r"),
    ("ending before every path returns", "    x = 1\ndef", "    x = 1\nd"),
    ("the versioned name", "    priority_v3 = 1", "    priority_v3 "),
]


@pytest.mark.parametrize("what,text,dies_at", DEAD, ids=[d[0] for d in DEAD])
def test_a_prefix_that_cannot_become_a_rule_is_refused_where_it_goes_wrong(what, text, dies_at):
    assert walk(text) == dies_at


BROKEN_INSIDE_BRACKETS = [
    "    return (seed.s <= target.s\n            and seed.d <= target.d)\n",
    "    x = min(seed.r,\n        target.r)  # the smaller\n    return x > 2\n",
    "    return sum(v  # what the seed carries\n               for v in seed.a) <= target.r\n",
    "    if seed.d > target.d:\n        return 0\n    return (seed.s <=\n        target.s - (target.t\n"
    "                    - seed.t))\n",
]


@pytest.mark.parametrize("text", BROKEN_INSIDE_BRACKETS)
def test_a_line_broken_inside_brackets_is_followed_as_the_rule_parser_reads_it(text):
    """Python joins the lines inside brackets, and so does the rule parser: the checker lets
    such a body through, character by character, and lets it end where the validator does."""
    parse_completion(text)                # the rule parser's own verdict
    state = walk(text)
    assert not isinstance(state, str), f"refused at {state!r}"
    assert CHECKER.can_end(state)
    assert not CHECKER.can_end(walk(text[:text.index("\n") + 1]))   # still inside brackets


def test_a_broken_line_short_of_budget_is_closed_into_a_rule():
    prefix = "    return min(seed.r,\n           target.r"
    closing = CHECKER.closing(CHECKER.start(prefix))
    assert closing is not None
    parse_completion(prefix + closing)


def test_names_a_generator_binds_later_may_be_used_before_its_for_clause():
    state = walk("    return sum(min(x, 3) + sum(1 for j in range(x)) for x in seed.a)\n")
    assert CHECKER.can_end(state)
    assert walk("    return sum(y for x in seed.a)") == "    return sum(y for x in seed.a)"


def test_whatever_the_checker_lets_end_parses():
    """Random edits of valid rules: every prefix the checker accepts and lets end is accepted
    by the validator the engine uses."""
    rng = random.Random(0)
    alphabet = list("()[]+-*/<=>:. 0123456789\nabcdeirstxy") + [
        " seed.", " target.", " if ", " else ", " and ", " return ", " for ", " in "]
    ended = 0
    for text in library_and_random_rules()[:60]:
        chars = list(text)
        for _ in range(3):
            k = rng.randrange(len(chars))
            chars[k:k + rng.randrange(3)] = [rng.choice(alphabet)]
        state = CHECKER.start()
        for c in "".join(chars):
            nxt = CHECKER.feed(state, c)
            if nxt is None:
                break
            state = nxt
            if CHECKER.can_end(state):
                ended += 1
                parse_completion(state.text)    # raises CompletionError if not
    assert ended > 0


CLOSABLE = [
    "    return (seed.r + min(seed.s, target.a[2",
    "    return seed.d <= target.d if seed.t > 2",
    "    x = any(ab + c",
    "    if seed.r > 2:\n        x = seed.lines(abs(any(q",
    "    r",
]


@pytest.mark.parametrize("prefix", CLOSABLE)
def test_a_sequence_short_of_budget_can_be_closed_into_a_rule(prefix):
    state = CHECKER.start(prefix)
    assert state is not None
    closing = CHECKER.closing(state)
    assert closing is not None
    parse_completion(prefix + closing)


def test_a_closing_is_searched_once_per_prefix_and_its_rest_is_known_after_its_start():
    checker = RuleChecker()
    prefix = "    return (seed.r + min(seed.s, target.a[2"
    closing = checker.closing(checker.start(prefix))
    assert checker.closing(checker.start(prefix)) == closing and checker.searches == 1
    ahead = checker.start(prefix + closing[:2])
    checker.remember(ahead, closing[2:])
    assert checker.closing(ahead) == closing[2:] and checker.searches == 1
    parse_completion(prefix + closing)


def test_only_prompts_that_open_a_rule_are_constrained():
    assert opens_rule(build_prompt(["return 1\n"]))
    assert opens_rule("def priority_v2(seed, target):\n")
    assert not opens_rule("Write a poem about integrals.\n")
    assert not opens_rule(build_prompt(["return 1\n"]) + "    return")


# ----------------------------------------------------------------------------- with a model

def test_with_the_constraint_a_tiny_random_models_completions_all_parse(tiny_mutator):
    from llm_mutator.backends import TransformersBackend
    backend = TransformersBackend(tiny_mutator, max_new_tokens=96)
    prompts = [build_prompt(["return 1\n", "return seed.s <= 1\n"]),
               build_prompt(["return seed.d == 0\n"])]

    def share_valid(grammar):
        groups = backend.generate_raw(prompts, 4, seed=11, grammar=grammar)
        valid = 0
        for group in groups:
            for text, _, _ in group:
                try:
                    parse_completion(text)
                    valid += 1
                except CompletionError:
                    pass
        return valid / 8

    assert share_valid(False) < 0.5          # an untrained model writes noise
    assert share_valid(True) == 1.0
    assert backend.last_processor.released == 0


def test_the_samplers_draws_are_the_models_nucleus_without_replacement_in_its_proportions():
    torch = pytest.importorskip("torch", reason="the llm extra (torch) is not installed")
    from llm_mutator.constrained import NUCLEUS_TOP, RuleLogitsProcessor

    class Vocabulary:
        texts, eos_ids, size = [None] * 600, set(), 600

    processor = RuleLogitsProcessor(Vocabulary(), ["", ""], prompt_length=0, coverage=0.9)
    sure = torch.full((600,), 1e-9)
    sure[:4] = torch.tensor([0.5, 0.3, 0.15, 0.05])      # nucleus: the first three
    flat = torch.ones(600)                               # nucleus: 540 tokens, past a top-k
    assert 0.9 * 600 > 4 * 64 and 0.9 * 600 > NUCLEUS_TOP
    logp = torch.log(torch.stack([sure / sure.sum(), flat / flat.sum()]))
    torch.manual_seed(0)
    first, pairs = [0, 0, 0], 0
    for _ in range(4000):
        narrow, wide = processor._nucleus_draws(logp, 64)
        assert sorted(narrow) == [0, 1, 2]                # all of the nucleus, once each
        assert len(wide) == 64 == len(set(wide))         # (any 540 of equal weight)
        first[narrow[0]] += 1
        pairs += narrow[:2] == [0, 1]
    # first draw in proportion 0.5 : 0.3 : 0.15; 0 then 1 with 0.5/0.95 * 0.3/0.45
    assert [round(n / 4000, 2) for n in first] == pytest.approx([0.53, 0.32, 0.16], abs=0.03)
    assert pairs / 4000 == pytest.approx(0.5 / 0.95 * 0.3 / 0.45, abs=0.03)


@pytest.mark.parametrize("after", ["atdef priority_v3(seed, target):\n    return 1\n", "x\n",
                                   "# a comment in column 0\n", "\n\n"])
def test_a_text_fed_whole_stands_where_it_does_fed_a_character_at_a_time(after):
    """A sequence continued over several slices is re-read from its text in one go: a line in
    column 0 ends the function there too, before it is read as a statement."""
    text = "    x = sum(v for v in seed.a)\n    return x\n" + after
    state = CHECKER.start()
    for ch in text:
        state = CHECKER.feed(state, ch)
        if state is None or state.ended:
            break
    whole = CHECKER.start(text)
    assert (whole is None) == (state is None)
    if whole is not None:
        assert (whole.ended, whole.text) == (state.ended, state.text)
