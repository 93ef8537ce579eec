"""Several engines in one run, each an *island*: one loop, one pool, one database.

Each generation every island is asked for its candidates; all of them are scored together on
the evaluation pool (an identical seed selection found on two islands is judged once), and each
island is told the scores of its own.  The generation is complete when every island says so (an
LLM island may need several batches, a GP island one).  Records carry the island's engine
name and its index (``candidates.island``); the checkpoint holds every island's state.

Migration: every ``migrate_every`` generations each island's best distinct programs (by seed
selection) go to every other island, as plain rule sources with their scores; an island takes
them through its ``immigrate(records) -> (taken, skipped)`` (a GP island as trees where its
primitive set can express the rule, an LLM island as database entries).  An engine without
``immigrate`` only sends.

Randomness: each island draws from its own state of Python's :mod:`random` (DEAP draws from the
module's functions), swapped in around every call to the island and saved in the checkpoint, so
an island's stream does not depend on how many islands run beside it or in which order.

Stagnation: each island sees its own logbook (its best fitness so far, its restarts, not the
generations it rested), so a GP island restarts when *it* stagnates — from fresh random trees,
its start rules and the last migrants it received.

Budget: every island runs every generation, or (``budget="adaptive"``) an island that has
lately brought few programs into the run's elite rests on some generations
(:mod:`ibp_evolve.runs.island_budget`).  A resting island is not asked, still receives
migrants, and its statistics say ``rested``.
"""

from __future__ import annotations

import json
import random
from contextlib import contextmanager

from ibp_evolve.runs.configs import IslandsConfig
from ibp_evolve.runs.island_budget import BUDGETS, due_islands, island_shares, island_yields
from ibp_evolve.runs.fitness import fitness_text, parse_fitness
from ibp_evolve.runs.loop import Candidate, LoopEngine
from ibp_evolve.runs.store import (distinct_best, random_state_from_json,
                                   random_state_to_json, rank_key)

__all__ = ["Islands", "migration_totals"]


def migration_totals(generations: list[dict]) -> dict[int, dict]:
    """Per island, over a run's generations (``RunDatabase.generations()``, islands'
    statistics in ``extra``): its engine, the migrants it took and skipped, and why it skipped
    them (``{reason: count}``, as a GP island records it)."""
    totals = {}
    for generation in generations:
        islands = json.loads(generation.get("extra") or "{}").get("islands") or []
        for k, island in enumerate(islands):
            t = totals.setdefault(k, {"engine": island.get("engine"), "taken": 0, "skipped": 0,
                                      "because": {}})
            t["taken"] += island.get("immigrants") or 0
            t["skipped"] += island.get("immigrants_skipped") or 0
            for why, n in (island.get("immigrants_skipped_because") or {}).items():
                t["because"][why] = t["because"].get(why, 0) + n
    return totals


class Islands(LoopEngine):
    """Engines (instances of :class:`LoopEngine`, of any kinds) evolving side by side."""
    name = "islands"

    def __init__(self, islands: list[LoopEngine], config: IslandsConfig | None = None):
        if not islands:
            raise ValueError("a run of islands needs at least one engine")
        self.islands = list(islands)
        if config is None:
            config = IslandsConfig(
                generations=min((i.config.generations for i in self.islands
                                 if i.config.generations is not None), default=None),
                objective=self.islands[0].config.objective, migrate_every=0)
        if config.migrate_every < 0 or config.migrants < 0:
            raise ValueError("--migrate-every and --migrants must be non-negative")
        if config.budget not in BUDGETS:
            raise ValueError(f"--island-budget '{config.budget}': expected one of "
                             f"{', '.join(BUDGETS)}")
        if not 0 < config.budget_floor <= 1:
            raise ValueError(f"--island-floor {config.budget_floor}: expected a share in "
                             f"(0, 1]")
        if not config.budget_halflife > 0:
            raise ValueError(f"budget_halflife {config.budget_halflife}: expected a positive "
                             f"number of generations")
        self.config = config
        objectives = {i.config.objective for i in self.islands}
        if objectives != {self.config.objective}:
            raise ValueError(f"islands must share one objective, not {sorted(objectives)}")
        self.time_margin = max(i.time_margin for i in self.islands)
        self._random = [random.Random(i.config.seed).getstate() for i in self.islands]
        self._bests = [[] for _ in self.islands]    # each island's best records, distinct masks
        self._moved = [None] * len(self.islands)    # (taken, skipped) of this generation
        self._credits = [0.0] * len(self.islands)   # adaptive budget: see island_budget
        self._running = list(range(len(self.islands)))   # the islands of this generation
        self._entries = [0] * len(self.islands)     # this generation's programs into the elite

    # -- each island in its own world -----------------------------------------------------------
    @contextmanager
    def _on(self, k: int):
        """Island ``k``'s random state and logbook, for the duration of a call to it."""
        outside = random.getstate()
        random.setstate(self._random[k])
        island = self.islands[k]
        island.generation_ = self.generation_
        island.logbook_ = self._logbook(k)
        try:
            yield island
        finally:
            self._random[k] = random.getstate()
            random.setstate(outside)

    def _logbook(self, k: int) -> list[dict]:
        """Island ``k``'s view of the run's logbook: its own best fitness and restarts."""
        out = []
        for stats in self.logbook_:
            mine = (stats.get("islands") or [{}] * (k + 1))[k]
            if not mine.get("rested"):
                out.append({**mine, "best_fitness": parse_fitness(mine.get("best_fitness"))})
        return out

    def _due(self, generation: int) -> list[int]:
        """The islands that run ``generation``: all, or (adaptive budget) those whose credit
        has reached a generation; every island runs generation 0."""
        every = list(range(len(self.islands)))
        if self.config.budget == "equal" or generation == 0 or len(self.islands) == 1:
            return every
        cfg = self.config
        populations = sorted(getattr(i.config, "population", 0) or 0 for i in self.islands)
        yields = island_yields(self.logbook_, len(self.islands), cfg.budget_halflife,
                               prior=populations[len(populations) // 2])
        due, self._credits = due_islands(island_shares(yields, cfg.budget_floor),
                                         self._credits)
        return due

    # -- the engine protocol -----------------------------------------------------------------
    def setup(self, spec, run) -> None:
        for k in range(len(self.islands)):
            with self._on(k) as island:
                island._deadline = self._deadline
                island.setup(spec, run)
        self.suite = self.islands[0].suite

    def begin(self, resumed: bool) -> None:
        for k in range(len(self.islands)):
            with self._on(k) as island:
                island.begin(resumed)
        self._waiting = []

    def ask(self, generation: int) -> list[Candidate]:
        if not self._waiting:   # a new generation: every running island has work to do
            self._running = self._due(generation)
            self._waiting = list(self._running)
            self._entries = [0] * len(self.islands)
        out = []
        for k in self._waiting:
            with self._on(k) as island:
                batch = island.ask(generation)
            for c in batch:
                c.island, c.engine = k, island.name
                out.append(c)
        return out

    def _by_island(self, candidates):
        groups = {}
        for c in candidates:
            groups.setdefault(c.island, []).append(c)
        return groups

    def tell(self, generation: int, candidates: list[Candidate], stopped: bool = False):
        groups = self._by_island(candidates)
        for k in list(self._waiting):
            mine = groups.get(k, [])
            records = [c.record for c in mine if c.record is not None]
            self._entries[k] += self._elite_entries(records)
            self._remember(k, records)
            with self._on(k) as island:
                done = island.tell(generation, mine, stopped)
            if done and not stopped:
                self._waiting.remove(k)
        complete = not self._waiting
        self._moved = [None] * len(self.islands)
        if complete and not stopped and self._migration_due(generation):
            self._migrate()
        return complete

    # -- migration --------------------------------------------------------------------------
    def _remember(self, k: int, records) -> None:
        """Keep island ``k``'s best scored records, one per seed selection."""
        self._bests[k] = distinct_best(self._bests[k] + [r for r in records if r.status == "ok"],
                                        max(self.config.migrants, 1))

    def _elite_entries(self, records) -> int:
        """How many of ``records`` enter the run's elite: the best distinct seed selections
        of all islands (as many as each island remembers), as it stands before them."""
        keep = max(self.config.migrants, 1)
        top = distinct_best([r for best in self._bests for r in best], keep)
        masks = {r.mask_hash for best in self._bests for r in best}
        bar = rank_key(top[-1]) if len(top) >= keep else None
        entries = 0
        for rec in sorted((r for r in records if r.status == "ok"), key=rank_key):
            if rec.mask_hash in masks or (bar is not None and rank_key(rec) >= bar):
                continue
            masks.add(rec.mask_hash)
            entries += 1
        return entries

    def _migration_due(self, generation: int) -> bool:
        every = self.config.migrate_every
        return (len(self.islands) > 1 and every > 0 and self.config.migrants > 0
                and generation > 0 and generation % every == 0)

    def _migrate(self) -> None:
        """Each island's best programs to every other island (not what the receiver already
        holds among its own best)."""
        for k in range(len(self.islands)):
            if not hasattr(self.islands[k], "immigrate"):
                continue
            own = {r.mask_hash for r in self._bests[k]}
            incoming, seen = [], set(own)
            for j, best in enumerate(self._bests):
                for rec in best if j != k else ():
                    if rec.mask_hash not in seen:
                        seen.add(rec.mask_hash)
                        incoming.append(rec)
            if incoming:
                with self._on(k) as island:
                    self._moved[k] = island.immigrate(sorted(incoming, key=rank_key))

    # -- statistics, tables, checkpoints ----------------------------------------------------
    def statistics(self, generation: int, candidates: list[Candidate]) -> dict:
        groups = self._by_island(candidates)
        per_island = []
        for k in range(len(self.islands)):
            with self._on(k) as island:
                if k in self._running:
                    stats = dict(island.statistics(generation, groups.get(k, [])))
                    stats["candidates"] = len(groups.get(k, []))
                    stats["elite_entries"] = self._entries[k]
                else:
                    stats = {"rested": 1, "candidates": 0}
            best = self._bests[k][0] if self._bests[k] else None
            stats["engine"] = island.name
            stats["best_fitness"] = None if best is None else fitness_text(best.fitness)
            stats["best_seeds"] = None if best is None else best.seeds
            stats["best_complete"] = None if best is None else int(bool(best.complete))
            if self._moved[k] is not None:
                stats["immigrants"], stats["immigrants_skipped"] = self._moved[k]
                because = getattr(island, "skipped_because_", None)
                if stats["immigrants_skipped"] and because:
                    stats["immigrants_skipped_because"] = dict(because)
            per_island.append(stats)
        records = [c.record for c in candidates if c.record is not None]
        ok = [r for r in records if r.status == "ok"]
        return {"share_complete": sum(1 for r in ok if r.complete) / max(1, len(records)),
                "mean_size": sum(r.size or 0 for r in ok) / len(ok) if ok else 0.0,
                "islands": per_island}

    def commit(self, generation: int, candidates: list[Candidate], run) -> None:
        groups = self._by_island(candidates)
        for k in range(len(self.islands)):
            with self._on(k) as island:
                island.commit(generation, groups.get(k, []), run)

    def state(self) -> dict:
        saved = []
        for k in range(len(self.islands)):
            with self._on(k) as island:
                inner = island.state()
            saved.append({"engine": island.name, "state": inner,
                          "random_state": random_state_to_json(self._random[k]),
                          "best": [r.id for r in self._bests[k]]})
        return {"islands": saved, "credits": list(self._credits)}

    def restore(self, state: dict, run) -> None:
        saved = state["islands"]
        credits = state.get("credits") or [0.0] * len(self.islands)   # older checkpoints: none
        if len(credits) != len(self.islands):
            raise ValueError(f"the checkpoint holds {len(credits)} island credits, not "
                             f"{len(self.islands)}")
        self._credits = [float(c) for c in credits]
        names = [s["engine"] for s in saved]
        if names != [i.name for i in self.islands]:
            raise ValueError(f"the checkpoint's islands are {names}, not "
                             f"{[i.name for i in self.islands]}")
        for k, s in enumerate(saved):
            if "random_state" in s:   # older checkpoints: the island's seed
                self._random[k] = random_state_from_json(s["random_state"])
            with self._on(k) as island:
                island.restore(s["state"], run)
            ids = [int(i) for i in s.get("best", [])]
            if ids:
                by_id = {r.id: r for r in run.db.candidates(
                    f"WHERE id IN ({', '.join(str(i) for i in ids)})")}
                self._bests[k] = [by_id[i] for i in ids if i in by_id]

    def polish(self, record) -> tuple[str, str]:
        if record.island is not None and 0 <= record.island < len(self.islands):
            return self.islands[record.island].polish(record)
        return super().polish(record)

    def close(self) -> None:
        for island in self.islands:
            island.close()
