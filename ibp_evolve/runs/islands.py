"""Several engines in one run, each an *island*: one loop, one pool, one database.

Each generation every island is asked for its candidates; all of them are scored together on
the evaluation pool (an identical seed selection found on two islands is judged once), and each
island is told the scores of its own.  The generation is complete when every island says so (an
LLM island may need several batches, a GP island one).  Records carry the island's engine
name and its index (``candidates.island``); the checkpoint holds every island's state.

Islands of the DEAP engine share Python's global :mod:`random` (DEAP draws from it): a run of
islands is reproducible from its seeds, but a GP island does not repeat the run it would make
alone.
"""

from __future__ import annotations

from ibp_evolve.runs.configs import EngineConfig
from ibp_evolve.runs.loop import Candidate, LoopEngine

__all__ = ["Islands"]


class Islands(LoopEngine):
    """Engines (instances of :class:`LoopEngine`, of any kinds) evolving side by side."""
    name = "islands"

    def __init__(self, islands: list[LoopEngine], config: EngineConfig | None = None):
        if not islands:
            raise ValueError("a run of islands needs at least one engine")
        self.islands = list(islands)
        self.config = config or EngineConfig(
            generations=min(i.config.generations for i in self.islands),
            objective=self.islands[0].config.objective)
        objectives = {i.config.objective for i in self.islands}
        if objectives != {self.config.objective}:
            raise ValueError(f"islands must share one objective, not {sorted(objectives)}")
        self.time_margin = max(i.time_margin for i in self.islands)

    def setup(self, spec, run) -> None:
        for island in self.islands:
            island._deadline = self._deadline
            island.setup(spec, run)
        self.suite = self.islands[0].suite

    def begin(self, resumed: bool) -> None:
        for island in self.islands:
            island.generation_ = self.generation_
            island.logbook_ = self.logbook_   # the run's statistics (e.g. GP stagnation)
            island.begin(resumed)
        self._waiting = []

    def ask(self, generation: int) -> list[Candidate]:
        if not self._waiting:   # a new generation: every island has work to do
            self._waiting = list(range(len(self.islands)))
        out = []
        for k in self._waiting:
            for c in self.islands[k].ask(generation):
                c.island, c.engine = k, self.islands[k].name
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
            if self.islands[k].tell(generation, groups.get(k, []), stopped) and not stopped:
                self._waiting.remove(k)
        return not self._waiting

    def statistics(self, generation: int, candidates: list[Candidate]) -> dict:
        groups = self._by_island(candidates)
        per_island = [island.statistics(generation, groups.get(k, []))
                      for k, island in enumerate(self.islands)]
        records = [c.record for c in candidates if c.record is not None]
        ok = [r for r in records if r.status == "ok"]
        return {"share_complete": sum(1 for r in ok if r.complete) / max(1, len(records)),
                "mean_size": sum(r.size or 0 for r in ok) / len(ok) if ok else 0.0,
                "islands": per_island}

    def commit(self, generation: int, candidates: list[Candidate], run) -> None:
        groups = self._by_island(candidates)
        for k, island in enumerate(self.islands):
            island.commit(generation, groups.get(k, []), run)

    def state(self) -> dict:
        return {"islands": [{"engine": i.name, "state": i.state()} for i in self.islands]}

    def restore(self, state: dict, run) -> None:
        saved = state["islands"]
        names = [s["engine"] for s in saved]
        if names != [i.name for i in self.islands]:
            raise ValueError(f"the checkpoint's islands are {names}, not "
                             f"{[i.name for i in self.islands]}")
        for island, s in zip(self.islands, saved):
            island.generation_ = self.generation_
            island.restore(s["state"], run)

    def polish(self, record) -> tuple[str, str]:
        if record.island is not None and 0 <= record.island < len(self.islands):
            return self.islands[record.island].polish(record)
        return super().polish(record)

    def close(self) -> None:
        for island in self.islands:
            island.close()
