"""The program database: islands of rules clustered by score signature (FunSearch's design).

* **Islands** (default 10) evolve independently: a prompt is built from one island's programs
  and the completion, if it scores, joins that island.  The start programs join every island.
* Within an island, programs are grouped in **clusters** by their *score signature*: the vector
  of per-target scores over the whole suite (a target's share of the fitness: its objective
  value when reduced, the graded penalty when not).  Programs that behave identically on every
  target share a cluster, so the prompt's two examples are two different behaviours.
* A prompt samples ``functions_per_prompt`` distinct clusters with a **Boltzmann distribution**
  over normalised cluster scores, ``p ∝ exp(score / T)``.  Fitness values span 15 orders of
  magnitude (a complete rule costs ~10^2, an incomplete one ~10^15), so the score is the
  cluster's *rank* among the island's distinct fitness values, scaled to [0, 1] (best = 1).
  The temperature follows a saw-tooth **schedule in samples drawn from the island**:
  ``T = T0 · (1 − (n mod period) / period)`` — never in wall-clock time.  Within a cluster,
  shorter programs are preferred: ``p ∝ exp(−normalised length / T_length)``.
* Every ``reset_period`` samples (over all islands) the **weaker half** of the islands (by their
  best fitness, ties broken at random) is emptied and re-founded with the best program of a
  randomly chosen island of the stronger half.

Only scored programs are registered (the engine never registers a rule that failed, timed out
or did not validate); incomplete reductions are scores and are registered.

Everything is reproducible: all random choices come from one numpy generator seeded with the
run's seed, whose state is saved with the database.  The state lives in the run's SQLite file
(tables prefixed ``llm_``, see :data:`SCHEMA`): island membership is an append-only log with the
round a program joined and left, so a resume can rewind to the last committed round.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import numpy as np

from ibp_evolve.runs.fitness import parse_fitness

__all__ = ["DatabaseConfig", "Program", "Cluster", "Island", "ProgramDatabase", "PromptRequest",
           "SCHEMA", "score_signature", "target_score", "worse_first", "rank_probabilities"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS llm_members (
    island        INTEGER NOT NULL,
    candidate     INTEGER NOT NULL,       -- candidates.id
    signature     TEXT NOT NULL,          -- JSON list of per-target scores
    via           TEXT NOT NULL,          -- start, sample, reset (copied from another island)
    round_added   INTEGER NOT NULL,
    round_removed INTEGER,                -- NULL while the program is on the island
    seq           INTEGER NOT NULL,       -- registration order
    PRIMARY KEY (island, candidate, round_added)
);
CREATE TABLE IF NOT EXISTS llm_resets (
    id                INTEGER PRIMARY KEY,
    round             INTEGER NOT NULL,
    sample_index      INTEGER NOT NULL,   -- samples drawn (all islands) when it happened
    island            INTEGER NOT NULL,   -- the island that was reset
    founder_island    INTEGER NOT NULL,
    founder_candidate INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS llm_samples (
    candidate     INTEGER PRIMARY KEY,    -- candidates.id of the completion
    round         INTEGER NOT NULL,
    island        INTEGER NOT NULL,
    sample_index  INTEGER NOT NULL,       -- which prompt (samples drawn before it)
    temperature   REAL,                   -- cluster-sampling temperature of the prompt
    prompt_parents TEXT NOT NULL,         -- JSON: candidate ids shown as priority_v0, v1...
    completion    TEXT NOT NULL,          -- the raw completion
    valid         INTEGER NOT NULL,       -- 1 when it parsed and validated
    new_mask      INTEGER                 -- 1 when its seed masks were new to the run
);
CREATE TABLE IF NOT EXISTS llm_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


@dataclass
class DatabaseConfig:
    islands: int = 10
    functions_per_prompt: int = 2
    cluster_temperature: float = 0.1     # T0 of the schedule
    temperature_period: int = 1000       # samples of an island per saw-tooth of the schedule
    length_temperature: float = 1.0
    reset_period: int = 200              # samples (all islands) between resets; 0: never

    def __post_init__(self):
        if self.islands < 1:
            raise ValueError("islands must be at least 1")
        if self.functions_per_prompt < 1:
            raise ValueError("functions_per_prompt must be at least 1")
        if not self.cluster_temperature > 0 or not self.length_temperature > 0:
            raise ValueError("sampling temperatures must be positive")
        if self.temperature_period < 1 or self.reset_period < 0:
            raise ValueError("temperature_period must be >= 1 and reset_period >= 0")


def target_score(target: dict, objective: str) -> float:
    """One target's share of the fitness (lower is better), as the judge grades it."""
    from ibp_evolve.judge.score import fitness_of
    key = {"trimmed": "trimmed_equations"}.get(objective, objective)
    value = target.get(key, 0) or 0
    if target.get("reduced"):
        return float(value)
    return float(fitness_of(value, 1, int(target.get("n_survivors") or 0)))


def score_signature(targets: list, objective: str) -> tuple:
    return tuple(target_score(t, objective) for t in targets)


@dataclass
class Program:
    """A registered rule: its candidate id, source, prompt body, signature and fitness."""
    candidate: int
    source: str
    body: str
    signature: tuple
    fitness: float

    @property
    def length(self) -> int:
        return len(self.body)


def worse_first(programs) -> list[Program]:
    """The order in which a prompt shows programs: worse fitness first, then longer, then
    later; the completion that follows them is meant to be better still."""
    return sorted(programs, key=lambda p: (-p.fitness, -p.length, -p.candidate))


def rank_probabilities(fitnesses, temperature: float) -> np.ndarray:
    """Boltzmann probabilities over the *ranks* of ``fitnesses`` among their distinct values
    (best = 1, worst = 0): fitness spans 15 orders of magnitude, its rank does not."""
    levels = sorted(set(fitnesses))
    rank = {f: k for k, f in enumerate(levels)}
    span = max(1, len(levels) - 1)
    return _softmax(np.array([1.0 - rank[f] / span for f in fitnesses]), temperature)


def _softmax(logits: np.ndarray, temperature: float) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64) / max(temperature, 1e-9)
    z = z - z.max()
    p = np.exp(z)
    return p / p.sum()


@dataclass
class Cluster:
    signature: tuple
    fitness: float
    programs: list = field(default_factory=list)

    def sample(self, rng: np.random.Generator, length_temperature: float) -> Program:
        if len(self.programs) == 1:
            return self.programs[0]
        lengths = np.array([p.length for p in self.programs], dtype=np.float64)
        normalised = (lengths - lengths.min()) / (lengths.max() + 1e-6)
        return self.programs[rng.choice(len(self.programs),
                                        p=_softmax(-normalised, length_temperature))]


class Island:
    def __init__(self, index: int):
        self.index = index
        self.clusters: dict[tuple, Cluster] = {}
        self.n_samples = 0

    def __len__(self) -> int:
        return sum(len(c.programs) for c in self.clusters.values())

    def register(self, program: Program) -> bool:
        """Add a program; False when the same source is already here."""
        cluster = self.clusters.get(program.signature)
        if cluster is None:
            cluster = self.clusters[program.signature] = Cluster(program.signature,
                                                                program.fitness)
        if any(p.source == program.source for p in cluster.programs):
            return False
        cluster.programs.append(program)
        return True

    def best(self) -> Program | None:
        programs = [p for c in self.clusters.values() for p in c.programs]
        if not programs:
            return None
        return min(programs, key=lambda p: (p.fitness, p.length, p.candidate))

    def programs(self) -> list[Program]:
        return [p for c in self.clusters.values() for p in c.programs]

    def temperature(self, config: DatabaseConfig) -> float:
        period = config.temperature_period
        return config.cluster_temperature * (1.0 - (self.n_samples % period) / period)

    def cluster_probabilities(self, config: DatabaseConfig) -> tuple[list, np.ndarray]:
        clusters = list(self.clusters.values())
        return clusters, rank_probabilities([c.fitness for c in clusters],
                                            self.temperature(config))


@dataclass
class PromptRequest:
    """What a prompt was built from: the island, the programs shown (worse first), the
    cluster temperature and the prompt's index among all samples drawn."""
    island: int
    programs: list
    temperature: float
    sample_index: int

    @property
    def parents(self) -> list[int]:
        return [p.candidate for p in self.programs]


class ProgramDatabase:
    """Islands of clustered programs; see the module docstring."""

    def __init__(self, config: DatabaseConfig | None = None, seed: int = 0):
        self.config = config or DatabaseConfig()
        self.rng = np.random.default_rng(seed)
        self.islands = [Island(i) for i in range(self.config.islands)]
        self.n_samples = 0
        self.n_resets = 0
        self._seq = 0
        self.pending: list[tuple] = []     # membership changes not yet written to SQLite
        self.round = 0                     # the round new events belong to

    # -- registration ----------------------------------------------------------------------
    def register(self, program: Program, island: int | None = None, via: str = "sample") -> int:
        """Register a scored program on ``island`` (None: on every island, for start
        programs).  Returns on how many islands it was added."""
        targets = range(len(self.islands)) if island is None else [island]
        added = 0
        for i in targets:
            if self.islands[i].register(program):
                self._seq += 1
                self.pending.append(("add", i, program.candidate, list(program.signature),
                                     via, self.round, self._seq))
                added += 1
        return added

    # -- sampling --------------------------------------------------------------------------
    def sample(self, island: int | None = None) -> PromptRequest:
        """Programs for one prompt (worse first) from a random (or the given) island."""
        non_empty = [i for i in self.islands if len(i)]
        if not non_empty:
            raise RuntimeError("the program database is empty: no start program scored")
        if island is None:
            isl = self.islands[int(self.rng.integers(len(self.islands)))]
            if not len(isl):   # only after a reset of an island with no founder
                isl = non_empty[int(self.rng.integers(len(non_empty)))]
        else:
            isl = self.islands[island]
        clusters, probs = isl.cluster_probabilities(self.config)
        k = min(self.config.functions_per_prompt, len(clusters))
        chosen = self.rng.choice(len(clusters), size=k, replace=False, p=probs)
        picked = [clusters[int(c)] for c in chosen]
        programs = [c.sample(self.rng, self.config.length_temperature) for c in picked]
        programs = worse_first(programs)
        request = PromptRequest(isl.index, programs, isl.temperature(self.config),
                                self.n_samples)
        isl.n_samples += 1
        self.n_samples += 1
        return request

    def reset_due(self) -> bool:
        period = self.config.reset_period
        return bool(period) and self.n_samples >= period * (self.n_resets + 1)

    def reset_weaker_half(self) -> list[tuple[int, int, int]]:
        """Empty the weaker half of the islands and found each anew with the best program of
        a random island of the stronger half.  Returns (island, founder island, founder)."""
        self.n_resets += 1
        n = len(self.islands)
        if n < 2:
            return []
        noise = self.rng.random(n)
        keyed = []
        for isl, e in zip(self.islands, noise):
            best = isl.best()
            keyed.append(((float("inf") if best is None else best.fitness), e, isl.index))
        order = [k[2] for k in sorted(keyed)]
        keep, reset = order[: n - n // 2], order[n - n // 2:]
        done = []
        for i in sorted(reset):
            founder_island = keep[int(self.rng.integers(len(keep)))]
            founder = self.islands[founder_island].best()
            for p in self.islands[i].programs():
                self.pending.append(("remove", i, p.candidate, self.round))
            self.islands[i] = Island(i)
            if founder is not None:
                self.register(founder, i, via="reset")
                self.pending.append(("reset", i, founder_island, founder.candidate,
                                     self.round, self.n_samples))
                done.append((i, founder_island, founder.candidate))
        return done

    # -- summaries -------------------------------------------------------------------------
    def best(self) -> Program | None:
        bests = [b for b in (i.best() for i in self.islands) if b is not None]
        return min(bests, key=lambda p: (p.fitness, p.length, p.candidate)) if bests else None

    def summary(self) -> dict:
        return {"islands": [{"programs": len(i), "clusters": len(i.clusters),
                             "best": None if i.best() is None else i.best().fitness,
                             "samples": i.n_samples} for i in self.islands],
                "samples": self.n_samples, "resets": self.n_resets}

    # -- persistence -----------------------------------------------------------------------
    @staticmethod
    def create_tables(conn) -> None:
        conn.executescript(SCHEMA)

    def flush(self, conn) -> None:
        """Write pending membership changes and the sampling state (inside the caller's
        transaction)."""
        for event in self.pending:
            if event[0] == "add":
                _, island, cand, sig, via, rnd, seq = event
                conn.execute("INSERT OR REPLACE INTO llm_members (island, candidate, signature, "
                             "via, round_added, round_removed, seq) VALUES (?,?,?,?,?,NULL,?)",
                             (island, cand, json.dumps(sig), via, rnd, seq))
            elif event[0] == "remove":
                _, island, cand, rnd = event
                conn.execute("UPDATE llm_members SET round_removed = ? WHERE island = ? AND "
                             "candidate = ? AND round_removed IS NULL", (rnd, island, cand))
            else:
                _, island, founder_island, founder, rnd, at = event
                conn.execute("INSERT INTO llm_resets (round, sample_index, island, "
                             "founder_island, founder_candidate) VALUES (?,?,?,?,?)",
                             (rnd, at, island, founder_island, founder))
        self.pending = []
        state = {"rng": self.rng.bit_generator.state, "n_samples": self.n_samples,
                 "n_resets": self.n_resets, "seq": self._seq,
                 "island_samples": [i.n_samples for i in self.islands],
                 "config": asdict(self.config)}
        conn.execute("INSERT OR REPLACE INTO llm_state (key, value) VALUES ('database', ?)",
                     (json.dumps(state),))

    @staticmethod
    def rewind(conn, round_: int) -> None:
        """Forget membership changes, resets and samples after ``round_`` (inside the caller's
        transaction): the round that was in progress when the run stopped."""
        conn.execute("DELETE FROM llm_members WHERE round_added > ?", (round_,))
        conn.execute("UPDATE llm_members SET round_removed = NULL WHERE round_removed > ?",
                     (round_,))
        conn.execute("DELETE FROM llm_resets WHERE round > ?", (round_,))
        conn.execute("DELETE FROM llm_samples WHERE round > ?", (round_,))

    @classmethod
    def load(cls, conn, body_of) -> "ProgramDatabase":
        """The database as last flushed (call :meth:`rewind` first).  ``body_of(source)``
        gives a program's prompt body."""
        row = conn.execute("SELECT value FROM llm_state WHERE key = 'database'").fetchone()
        if row is None:
            raise RuntimeError("the run has no LLM program database")
        state = json.loads(row[0])
        db = cls(DatabaseConfig(**state["config"]))
        db.rng.bit_generator.state = state["rng"]
        db.n_samples, db.n_resets, db._seq = state["n_samples"], state["n_resets"], state["seq"]
        for isl, n in zip(db.islands, state["island_samples"]):
            isl.n_samples = n
        rows = conn.execute(
            "SELECT m.island, m.candidate, m.signature, c.source, c.fitness FROM llm_members m "
            "JOIN candidates c ON c.id = m.candidate WHERE m.round_removed IS NULL "
            "ORDER BY m.seq").fetchall()
        for island, cand, sig, source, fitness in rows:
            db.islands[island].register(Program(cand, source, body_of(source),
                                                tuple(json.loads(sig)),
                                                parse_fitness(fitness)))
        return db
