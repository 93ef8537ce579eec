"""A rule's seeds chosen from the Laporta box chunk by chunk, without building equations."""

import numpy as np
import pytest

from ibp_evolve.judge import selection
from ibp_evolve.judge.selection import (TooManyCandidates, TooManySeeds, count_candidates,
                                        select_seeds)
from ibp_evolve.language.compile import keep_mask
from ibp_evolve.language.library import resolve_rule
from ibp_evolve.reducer.seeding import count_laporta_seeds, iter_laporta_seeds, laporta_seeds

PAPER = (1, 1, 1, 1, 1, 1, -3)


@pytest.mark.parametrize("target, r_max, s_max", [
    (PAPER, 7, 4), ((2, 1, 1, 1, 1, 1, -2), 8, 3), ((1, 1, 1, 1, 1, 0, -2), 6, 3),
    ((1, 1, 1, 1, 1, 1, 0), 7, 1)])
def test_the_box_in_chunks_is_the_laporta_box_in_the_same_order_and_its_size_is_counted(
        triangle_box, target, r_max, s_max):
    whole = laporta_seeds(triangle_box, [target], r_max, s_max)
    chunks = list(iter_laporta_seeds(triangle_box, [target], r_max, s_max, chunk_size=50))
    assert len(chunks) > 1
    assert np.array_equal(np.vstack(chunks), whole)
    assert count_laporta_seeds(triangle_box, [target], r_max, s_max) == len(whole)


def test_improved_seeding_keeps_the_92_paper_seeds_in_box_order(triangle_box, monkeypatch):
    monkeypatch.setattr(selection, "CHUNK_SEEDS", 1000)  # many chunks on a 26,425-seed box
    rule = resolve_rule("improved_seeding")
    seeds = select_seeds(rule, triangle_box, PAPER, delta_r=1, delta_s=1)
    universe = laporta_seeds(triangle_box, [PAPER], 7, 4)
    expected = universe[keep_mask(rule, universe, PAPER, triangle_box.isps)]
    assert len(seeds) == 92
    assert np.array_equal(seeds, expected)


def test_a_rule_keeping_more_than_max_seeds_is_refused_with_its_count(triangle_box):
    with pytest.raises(TooManySeeds) as info:
        select_seeds(resolve_rule("laporta"), triangle_box, PAPER, max_seeds=100)
    assert (info.value.count, info.value.cap) == (6764, 100)
    assert "max_seeds = 100" in str(info.value)


def test_a_huge_box_is_refused_from_its_count_before_any_candidate_is_enumerated(
        triangle_box, monkeypatch):
    def no_enumeration(*args, **kwargs):
        raise AssertionError("the box was enumerated")
    monkeypatch.setattr(selection, "iter_laporta_seeds", no_enumeration)
    huge = (30, 30, 30, 1, 1, 1, 0)
    assert count_candidates(triangle_box, huge, 1, 1) == 2_765_528_786
    with pytest.raises(TooManyCandidates) as info:
        select_seeds(resolve_rule("improved_seeding"), triangle_box, huge)
    message = str(info.value)
    assert "[30, 30, 30, 1, 1, 1, 0]" in message and "20,000,000" in message
    assert "--max-candidates" in message and "\n" not in message


def test_the_sandbox_selects_the_same_seeds_as_the_compiled_rule(triangle_box):
    rule = resolve_rule("improved_seeding_dots")
    target = (1, 1, 2, 1, 1, 1, -4)
    direct = select_seeds(rule, triangle_box, target)
    assert len(direct) == 1075  # issue 12: improved_seeding_dots on I(1,1,2,1,1,1,-4)
    assert np.array_equal(select_seeds(rule, triangle_box, target, sandbox=True), direct)
