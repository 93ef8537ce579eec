"""How a run of islands shares its candidates between the islands (``evolve --island-budget``).

``equal`` (the default): every island runs every generation, so each spends the same share.

``adaptive``: an island that has lately contributed little to the run runs less often, so a
weak island (a small language model beside GP) costs few candidates while it stays in the run
(its programs still migrate, and it gets its share back when it contributes again).

- *Yield* of island k: the programs it made that entered the run's elite (the best
  ``migrants`` distinct seed selections of the run, when they were scored), per candidate it
  spent, both counted with weights halving every ``halflife`` generations into the past: recent
  generations count most, and a long spell without any entry (late in a run) keeps the islands'
  standing rather than resetting it.  With few candidates a yield says little, so it is shrunk
  towards the pooled yield of all islands: ``(entries + pooled * prior) / (spent + prior)``
  with ``prior`` candidates' worth of weight.  When no island has ever contributed, all get
  equal shares.
- *Share*: the yield relative to the best island's, at least ``floor``: the best island's share
  is 1 (it runs every generation), a weak island's ``floor``.
- *Which islands run*: each island's credit grows by its share every generation and it runs when
  the credit reaches 1 (then spends it) — a share of 0.25 runs every fourth generation,
  deterministically, so that a resumed run makes the same choices (the shares are read from the
  logbook, the credits from the checkpoint).

Generation 0 runs every island (each has its start population to score).
"""

from __future__ import annotations

__all__ = ["BUDGETS", "island_yields", "island_shares", "due_islands", "budget_lines"]

BUDGETS = ("equal", "adaptive")


def island_yields(logbook: list[dict], n_islands: int, halflife: float,
                  prior: float) -> list[float]:
    """Each island's elite entries per candidate over the run's ``logbook`` (islands'
    statistics under ``"islands"``), a generation ``t`` back weighted ``0.5 ** (t / halflife)``,
    shrunk towards the pooled yield with ``prior`` candidates' weight."""
    entries, spent = [0.0] * n_islands, [0.0] * n_islands
    for back, stats in enumerate(reversed(logbook)):
        weight = 0.5 ** (back / halflife)
        for k, island in enumerate((stats.get("islands") or [])[:n_islands]):
            entries[k] += weight * (island.get("elite_entries") or 0)
            spent[k] += weight * (island.get("candidates") or 0)
    pooled = sum(entries) / sum(spent) if sum(spent) else 0.0
    return [(e + pooled * prior) / (c + prior) if c + prior > 0 else pooled
            for e, c in zip(entries, spent)]


def island_shares(yields: list[float], floor: float) -> list[float]:
    """Each island's share of the generations, in [floor, 1]; all 1 when no island yields."""
    top = max(yields, default=0.0)
    if top <= 0:
        return [1.0] * len(yields)
    return [max(floor, y / top) for y in yields]


def due_islands(shares: list[float], credits: list[float]) -> tuple[list[int], list[float]]:
    """The islands that run this generation and the credits after it: each credit grows by the
    island's share; an island runs when its credit reaches 1 (the best island's share is 1, so
    at least one island runs)."""
    credits = [c + s for c, s in zip(credits, shares)]
    due = [k for k, c in enumerate(credits) if c >= 1 - 1e-9]
    if not due:   # shares below 1 everywhere (not produced by island_shares): the largest runs
        due = [max(range(len(credits)), key=credits.__getitem__)]
    for k in due:
        credits[k] = max(0.0, credits[k] - 1)
    return due, credits


def budget_lines(generations: list[dict]) -> list[str]:
    """End-of-run lines of an adaptive run of islands: per island, the generations it ran and
    the candidates it spent (``RunDatabase.generations()`` rows, islands' statistics in
    ``extra``); [] when every island ran every generation."""
    import json
    ran, spent, engines, total = {}, {}, {}, 0
    for generation in generations:
        islands = json.loads(generation.get("extra") or "{}").get("islands") or []
        total += 1
        for k, island in enumerate(islands):
            engines[k] = island.get("engine")
            if not island.get("rested"):
                ran[k] = ran.get(k, 0) + 1
            spent[k] = spent.get(k, 0) + (island.get("candidates") or 0)
    if all(ran.get(k, 0) == total for k in engines):
        return []
    every = sum(spent.values()) or 1
    return [f"island {k} ({engines[k]}) ran {ran.get(k, 0):,} of {total:,} generations: "
            f"{spent.get(k, 0):,} candidates, {100 * spent.get(k, 0) / every:.0f}% of the run's "
            f"(adaptive budget)" for k in sorted(engines)]
