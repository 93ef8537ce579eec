"""Memory per equation entry is one number, shared by the reducer and the judge."""

from ibp_evolve.judge import bounds
from ibp_evolve.reducer import exact, memory
from ibp_evolve.reducer.family import load_family
from ibp_evolve.reducer.templates import templates


def test_reduce_and_the_judge_estimate_the_same_seeds_alike_and_follow_one_constant(
        monkeypatch):
    box = load_family("box")
    n_terms = templates(box).n_terms
    assert exact.estimated_bytes(box, 1000) == bounds.rows_bytes(1000, n_terms) \
        == 1000 * n_terms * memory.BYTES_PER_ENTRY
    monkeypatch.setattr(memory, "BYTES_PER_ENTRY", 3 * memory.BYTES_PER_ENTRY)
    assert exact.estimated_bytes(box, 1000) == bounds.rows_bytes(1000, n_terms) \
        == 1000 * n_terms * memory.BYTES_PER_ENTRY
