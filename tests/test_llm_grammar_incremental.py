"""The incremental checker (a line's lexing and parses carried from one state to the next) and
the reference checker (the line re-lexed and re-parsed from its start at every check) agree on
every prefix a sampler can reach: the same viable prefixes, the same states, the same names
awaiting a ``for`` and the same verdict on ending — over the rule library, random GP rules,
generator-heavy and multi-line bodies, and the same texts mutated with garbage, walked as a
sampler walks them (chunks of a few characters from the last state, rejected draws checked from
the same state) — and, end to end, the same closings and the same sampled completions."""

import random
import textwrap

import pytest

from llm_mutator.grammar import RuleChecker
from llm_mutator.prompt import as_priority_body

HAND_WRITTEN = [
    "    return sum(seed.a[i] * (j + 1) for i in range(7) for j in range(i) if i > j)\n",
    "    return all(any(v > w for w in seed.a) for v in seed.a) or max(seed.a) < 2\n",
    "    t = sum(x + y for x in seed.a for y in range(x))\n    return t <= target.s + 2\n",
    "    x = (seed.a[1] +\n         seed.a[2])\n    if x > 0:\n        return 1\n"
    "    elif x < 0:\n        return 2\n    else:\n        return 0\n",
    "    # no dots beyond the target\n    if seed.d > target.d: return 0\n"
    "    y = min(seed.a[3], family.n) if family.is_isp(2) else 1.5\n    y += 2 ** 3\n"
    "    return seed.r - y // 2 >= len(family.isps) and not seed.dots(1)\n",
    "    return sum((x + y) * 2 for x in seed.a for y in range(x)) + max((v - 1) ** 2 for v "
    "in seed.a)\n",
    "    return any(min(w, v + 1) > abs(w - 2) for v in seed.a for w in seed.a if w < v)\n",
    "    return sum(max(abs(u - w) for w in seed.a) + v for v in seed.a for u in seed.a)\n",
    "    return max(sum(v for v in seed.a if v > 0), -1) + abs(-seed.t % 3) "
    "- seed.numerators(2)\n",
]

# deeper than generators may nest (MAX_GENERATOR_DEPTH): refused at the last 'for'
TOO_DEEP = "    return sum(max(min(u for u in seed.a) - w for w in seed.a) + v for v in seed.a " \
    "for x in seed.a)\n"

GARBAGE = [")", "(", "seed.", " for x in ", " if ", " else ", "1e", "**", "9" * 22, "\n",
           "\n    ", "\n        ", "#", ",", "sum(", "x", "[", "]", ":", " and ", "range(",
           "target.a[", " = ", "+=", "not ", "lambda", "\t", "0", ".", "v", " in seed.a)",
           "return ", "    ", "min(", "family.", "'",
           "sum((x + y) ", "(w - 1) for w in seed.a", " for y in range(3))"]


def programs(n_random: int, seed: int) -> list[str]:
    from llm_mutator.train import collect_corpus, random_rules
    bodies = [p.body for p in collect_corpus()]
    for source in random_rules(n_random, seed=seed):
        try:
            bodies.append(as_priority_body(source))
        except (ValueError, SyntaxError):
            continue
    return [textwrap.indent(b, "    ") for b in bodies] + HAND_WRITTEN + [TOO_DEEP]


def mutated(text: str, rng: random.Random) -> str:
    """``text`` with garbage inserted at a few places, sometimes cut short."""
    for _ in range(rng.randint(1, 4)):
        k = rng.randrange(len(text) + 1)
        text = text[:k] + rng.choice(GARBAGE) + text[k:]
    if rng.random() < 0.3:
        text = text[:rng.randrange(len(text) + 1)]
    return text


def same(reference, incremental, ref_state, inc_state, where) -> None:
    assert (ref_state is None) == (inc_state is None), f"viability differs at {where!r}"
    if ref_state is None:
        return
    assert (ref_state.text, ref_state.line, ref_state.ended) == \
        (inc_state.text, inc_state.line, inc_state.ended), where
    assert reference.can_end(ref_state) == incremental.can_end(inc_state), \
        f"ending differs at {where!r}"
    if not ref_state.ended:
        assert reference.unbound(ref_state) == incremental.unbound(inc_state), where


def walk_both(text: str, rng: random.Random, draws: int = 2) -> int:
    """Walk ``text`` in chunks of 1-6 characters with both checkers, checking ``draws``
    garbage chunks from each state first; a chunk both refuse is skipped, as a sampler skips
    a refused draw.  Returns the prefixes compared."""
    reference, incremental = RuleChecker(incremental=False), RuleChecker()
    ref, inc = reference.start(), incremental.start()
    compared, k = 0, 0
    while k < len(text) and not ref.ended:
        for _ in range(draws):
            junk = rng.choice(GARBAGE) if rng.random() < 0.5 else \
                text[k:k + rng.randint(1, 8)] + rng.choice(GARBAGE)
            same(reference, incremental, reference.feed(ref, junk), incremental.feed(inc, junk),
                 ref.text + junk)
            compared += 1
        step = rng.randint(1, 6)
        chunk = text[k:k + step]
        k += step
        ref_next, inc_next = reference.feed(ref, chunk), incremental.feed(inc, chunk)
        same(reference, incremental, ref_next, inc_next, ref.text + chunk)
        compared += 1
        if ref_next is not None:
            ref, inc = ref_next, inc_next
    return compared


def run(n_random: int, seed: int, mutations: int) -> int:
    rng = random.Random(seed)
    compared = 0
    for text in programs(n_random, seed):
        compared += walk_both(text, rng)
        for _ in range(mutations):
            compared += walk_both(mutated(text, rng), rng)
    return compared


def test_incremental_and_reference_checkers_agree_on_every_prefix_of_valid_and_mutated_rules():
    assert run(n_random=40, seed=5, mutations=1) > 5000


def test_a_valid_program_walked_by_the_incremental_checker_ends_as_a_rule():
    checker = RuleChecker()
    for text in HAND_WRITTEN:
        state = checker.start()
        for k in range(0, len(text), 3):
            state = checker.feed(state, text[k:k + 3])
            assert state is not None, text[:k + 3]
        assert checker.can_end(state)
    state = checker.feed(checker.start(), TOO_DEEP[:TOO_DEEP.rindex(" for")])
    assert checker.feed(state, " for") is None


@pytest.mark.slow
def test_incremental_and_reference_checkers_agree_on_many_more_rules():
    assert run(n_random=400, seed=11, mutations=4) > 100_000


def test_closings_found_by_both_checkers_are_the_same():
    reference, incremental = RuleChecker(incremental=False), RuleChecker()
    for text in HAND_WRITTEN:
        ref, inc = reference.start(), incremental.start()
        for k in range(0, len(text), 7):
            ref, inc = reference.feed(ref, text[k:k + 7]), incremental.feed(inc, text[k:k + 7])
            assert reference.closing(ref, budget=300) == incremental.closing(inc, budget=300), \
                ref.text


def test_constrained_sampling_writes_the_same_completions_with_either_checker(
        tiny_mutator, monkeypatch):
    """End to end: a tiny model sampled under the constraint, the same seed, the reference
    checker in place of the incremental one: the same completions, token for token."""
    import llm_mutator.constrained as constrained
    from llm_mutator.backends import TransformersBackend
    from llm_mutator.prompt import build_prompt
    backend = TransformersBackend(tiny_mutator, max_new_tokens=64)
    prompts = [build_prompt(["return 1\n", "return seed.s <= 1\n"]),
               build_prompt(["return seed.d == 0\n"])]
    incremental = backend.generate_raw(prompts, 3, seed=5, grammar=True)
    monkeypatch.setattr(constrained, "RuleChecker",
                        lambda: RuleChecker(incremental=False))
    reference = backend.generate_raw(prompts, 3, seed=5, grammar=True)
    assert not backend.last_processor.checker.incremental
    assert reference == incremental
