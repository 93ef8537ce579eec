"""Run folders: the durable record of an evolution run, shared by every engine.

A run is a folder (by default under ``runs/``)::

    RUN/config.json        the run's configuration (engine, suite, objective, seed, budgets...)
    RUN/run.sqlite         every evaluated candidate and the per-generation statistics
    RUN/generations.csv    the same statistics as a table (rewritten each generation)
    RUN/checkpoint.pkl     the engine's state after the last finished generation
    RUN/best/rank01.py ... the best rules, valid rule files with their scores in a header

The database schema is engine-neutral: the DEAP GP, the symbolic-regression engines and the
FunSearch-style LLM engine all write ``candidates`` rows (who made the rule and how, from which
parents, in which generation or island, the rule's source and formula, its per-target scores or
why it was rejected, and how long the judge took), and the reports read them the same way.

Durability.  The database runs in WAL mode and every batch of rows is one transaction, so a
process killed at any moment (SIGKILL included) leaves it consistent; ``synchronous=NORMAL``
can only lose the last transactions on a power cut, never corrupt the file.  The checkpoint is
written to a temporary file, flushed and renamed over the old one, so it is always either the
previous or the new one.  The order is: commit the generation's rows, then write the checkpoint
of that generation.  On resume, rows of generations after the checkpoint's (the generation that
was in progress) are deleted and that generation is redone: at most the generation in progress
is lost.
"""

from __future__ import annotations

import csv
import io
import json
import os
import pickle
import shutil
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["SCHEMA_VERSION", "BestRule", "CandidateRecord", "RunDatabase", "RunFolder", "RunError",
           "atomic_write_bytes", "score_header"]

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS candidates (
    id              INTEGER PRIMARY KEY,  -- candidate number within the run (engine-assigned)
    engine          TEXT NOT NULL,        -- deap, llm, pysr, ...
    operation       TEXT NOT NULL,        -- random, start, crossover, mutation:..., sample, fit
    parents         TEXT NOT NULL,        -- JSON list of candidate ids
    generation      INTEGER NOT NULL,     -- generation (GP) or round (LLM, SR)
    island          INTEGER,              -- island of an island model, NULL when none
    eval_index      INTEGER,              -- index of the judge evaluation that scored it; equal
                                          -- for candidates with identical seed masks
    source          TEXT NOT NULL,        -- the rule file (rule language)
    formula         TEXT,                 -- readable formula (simplified for the best rules)
    size            INTEGER,              -- rule size (GP: nodes of the tree)
    mask_hash       TEXT,                 -- digest of the seed masks, NULL if never computed
    status          TEXT NOT NULL,        -- ok, rejected, crashed, timeout, stopped
    reject_reason   TEXT,
    fitness         REAL,                 -- the judge's fitness, lower is better
    complete        INTEGER,              -- 1 when every target reduced
    seeds           INTEGER,              -- seeds selected, summed over targets
    objective       TEXT,                 -- which objective the fitness measures
    objective_value REAL,
    scores          TEXT,                 -- JSON list of per-target scores
    cached          INTEGER NOT NULL DEFAULT 0,  -- 1: scores reused from an identical mask
    wall_time       REAL,                 -- seconds the judge spent on it (0 when cached)
    created_at      REAL NOT NULL         -- unix time
);
CREATE INDEX IF NOT EXISTS candidates_by_generation ON candidates(generation);
CREATE INDEX IF NOT EXISTS candidates_by_fitness ON candidates(fitness, size);
CREATE INDEX IF NOT EXISTS candidates_by_mask ON candidates(mask_hash);
CREATE TABLE IF NOT EXISTS generations (
    generation       INTEGER PRIMARY KEY,
    candidates       INTEGER NOT NULL,   -- new candidates this generation
    evaluations      INTEGER NOT NULL,   -- judge evaluations (distinct new masks)
    cache_hits       INTEGER NOT NULL,
    failed           INTEGER NOT NULL,   -- rejected, crashed, timed out
    best_fitness     REAL,
    best_seeds       INTEGER,
    best_complete    INTEGER,
    best_size        INTEGER,
    share_complete   REAL,               -- of this generation's population
    mean_size        REAL,
    evals_per_second REAL,
    seconds          REAL,               -- wall time of the generation
    elapsed          REAL,               -- wall time of the run so far (over all sessions)
    extra            TEXT                -- JSON: engine-specific statistics
);
"""

CANDIDATE_COLUMNS = ("id", "engine", "operation", "parents", "generation", "island",
                     "eval_index", "source", "formula", "size", "mask_hash", "status",
                     "reject_reason", "fitness", "complete", "seeds", "objective",
                     "objective_value", "scores", "cached", "wall_time", "created_at")
GENERATION_COLUMNS = ("generation", "candidates", "evaluations", "cache_hits", "failed",
                      "best_fitness", "best_seeds", "best_complete", "best_size",
                      "share_complete", "mean_size", "evals_per_second", "seconds", "elapsed",
                      "extra")


class RunError(RuntimeError):
    """A run folder that cannot be created, resumed or read."""



@dataclass
class BestRule:
    """One of the best rules of a run, whatever engine found it."""
    source: str
    formula: str
    fitness: float
    complete: bool
    seeds: int
    size: int
    candidate: int
    generation: int
    scores: list = field(default_factory=list)

@dataclass
class CandidateRecord:
    """One row of ``candidates`` (see the schema for the meaning of each field)."""
    id: int
    engine: str
    operation: str
    source: str
    generation: int
    parents: list = field(default_factory=list)
    island: int | None = None
    eval_index: int | None = None
    formula: str | None = None
    size: int | None = None
    mask_hash: str | None = None
    status: str = "ok"
    reject_reason: str | None = None
    fitness: float | None = None
    complete: bool | None = None
    seeds: int | None = None
    objective: str | None = None
    objective_value: float | None = None
    scores: list | None = None
    cached: bool = False
    wall_time: float | None = None
    created_at: float = field(default_factory=time.time)

    def row(self) -> tuple:
        values = dict(self.__dict__)
        values["parents"] = json.dumps(list(self.parents))
        values["scores"] = None if self.scores is None else json.dumps(self.scores)
        values["complete"] = None if self.complete is None else int(bool(self.complete))
        values["cached"] = int(bool(self.cached))
        return tuple(values[c] for c in CANDIDATE_COLUMNS)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> "CandidateRecord":
        values = {c: row[c] for c in CANDIDATE_COLUMNS}
        values["parents"] = json.loads(values["parents"])
        values["scores"] = None if values["scores"] is None else json.loads(values["scores"])
        values["complete"] = None if values["complete"] is None else bool(values["complete"])
        values["cached"] = bool(values["cached"])
        return cls(**values)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a file so that it is always either the old or the new content, even after a kill
    or a crash of the machine (flushed to disk before the rename)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    try:
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:  # some file systems cannot fsync a directory
        pass


class RunDatabase:
    """The run's SQLite database (WAL mode; every write is one transaction)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.conn = sqlite3.connect(str(self.path), timeout=30.0, isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.executescript(SCHEMA)  # idempotent (IF NOT EXISTS)
        with self.transaction():
            version = self.get_meta("schema_version")
            if version is None:
                self._set_meta("schema_version", str(SCHEMA_VERSION))
            elif int(version) != SCHEMA_VERSION:
                raise RunError(f"{self.path}: schema version {version}, this ibp-evolve "
                               f"reads version {SCHEMA_VERSION}")

    # -- transactions ----------------------------------------------------------------------
    class _Transaction:
        def __init__(self, conn):
            self.conn = conn

        def __enter__(self):
            self.conn.execute("BEGIN IMMEDIATE")
            return self.conn

        def __exit__(self, exc_type, *rest):
            self.conn.execute("COMMIT" if exc_type is None else "ROLLBACK")

    def transaction(self):
        return self._Transaction(self.conn)

    def close(self) -> None:
        self.conn.close()

    # -- meta ------------------------------------------------------------------------------
    def get_meta(self, key: str):
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def _set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) "
                          "DO UPDATE SET value = excluded.value", (key, value))

    def set_meta(self, **values) -> None:
        with self.transaction():
            for k, v in values.items():
                self._set_meta(k, v if isinstance(v, str) else json.dumps(v))

    # -- writes ----------------------------------------------------------------------------
    def add_candidates(self, records, generation_stats: dict | None = None) -> None:
        """Insert candidates (and optionally the generation's statistics) in one transaction."""
        marks = ", ".join("?" for _ in CANDIDATE_COLUMNS)
        with self.transaction() as conn:
            conn.executemany(f"INSERT INTO candidates ({', '.join(CANDIDATE_COLUMNS)}) "
                             f"VALUES ({marks})", [r.row() for r in records])
            if generation_stats is not None:
                self._put_generation(conn, generation_stats)

    def add_generation(self, stats: dict) -> None:
        with self.transaction() as conn:
            self._put_generation(conn, stats)

    @staticmethod
    def _put_generation(conn, stats: dict) -> None:
        stats = dict(stats)
        extra = {k: stats.pop(k) for k in list(stats) if k not in GENERATION_COLUMNS}
        if extra or "extra" not in stats:
            stats["extra"] = json.dumps({**json.loads(stats.get("extra") or "{}"), **extra})
        cols = [c for c in GENERATION_COLUMNS if c in stats]
        conn.execute(f"INSERT OR REPLACE INTO generations ({', '.join(cols)}) VALUES "
                     f"({', '.join('?' for _ in cols)})", [stats[c] for c in cols])

    def set_formula(self, candidate_id: int, formula: str) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE candidates SET formula = ? WHERE id = ?",
                         (formula, candidate_id))

    def truncate_after(self, generation: int) -> int:
        """Forget everything after ``generation`` (the generation in progress at a kill)."""
        with self.transaction() as conn:
            n = conn.execute("DELETE FROM candidates WHERE generation > ?",
                             (generation,)).rowcount
            conn.execute("DELETE FROM generations WHERE generation > ?", (generation,))
        return n

    # -- reads -----------------------------------------------------------------------------
    def count(self) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM candidates").fetchone()[0]

    def candidates(self, where: str = "", params=()) -> list[CandidateRecord]:
        rows = self.conn.execute(f"SELECT * FROM candidates {where} ORDER BY id", params)
        return [CandidateRecord.from_row(r) for r in rows]

    def generations(self) -> list[dict]:
        rows = self.conn.execute("SELECT * FROM generations ORDER BY generation")
        return [dict(r) for r in rows]

    def best(self, n: int = 5) -> list[CandidateRecord]:
        """The ``n`` best scored candidates, one per distinct seed selection: lowest fitness,
        then smallest size, then earliest."""
        rows = self.conn.execute(
            "SELECT * FROM candidates WHERE status = 'ok' ORDER BY fitness, "
            "COALESCE(size, 0), id").fetchall()
        out, seen = [], set()
        for row in rows:
            key = row["mask_hash"] or f"id{row['id']}"
            if key in seen:
                continue
            seen.add(key)
            out.append(CandidateRecord.from_row(row))
            if len(out) >= n:
                break
        return out

    def check(self) -> str:
        return self.conn.execute("PRAGMA integrity_check").fetchone()[0]


def _thousands(x) -> str:
    return f"{x:,}" if isinstance(x, int) else str(x)


def score_header(record: CandidateRecord, suite: str, run_name: str, rank: int) -> str:
    """The comment block of an exported best rule: what it is, where from, its scores."""
    state = "complete" if record.complete else "INCOMPLETE"
    lines = [f"Evolved seeding rule, rank {rank} of run {run_name} (engine {record.engine}, "
             f"candidate {record.id}, generation {record.generation}).",
             f"formula: {record.formula or '-'}",
             f"Measured on suite {suite} (objective {record.objective}; fixed judge point, "
             f"prime 2^31-1): {state}, fitness {_fmt_fitness(record.fitness)}, "
             f"{record.seeds} seeds, size {record.size}"]
    for t in record.scores or []:
        name = "I(" + ",".join(map(str, t["target"])) + ")"
        if t.get("reduced"):
            lines.append(f"  {name}: reduced, {t['seeds']} seeds, {t['equations']} equations, "
                         f"{t['trimmed_equations']} trimmed, {_thousands(t['multiply_adds'])} "
                         f"mult-adds")
        else:
            why = t.get("reason") or f"{t.get('n_survivors', '?')} survivors"
            lines.append(f"  {name}: NOT reduced ({why}), {t['seeds']} seeds")
    return "".join(f"# {line}\n" for line in lines)


def _fmt_fitness(f) -> str:
    if f is None:
        return "-"
    return str(int(f)) if float(f).is_integer() else f"{f:.6g}"


class RunFolder:
    """A run's folder: config, database, checkpoint, statistics and best rules."""

    CONFIG = "config.json"
    DATABASE = "run.sqlite"
    CHECKPOINT = "checkpoint.pkl"
    STATS = "generations.csv"
    BEST = "best"

    def __init__(self, path: str | Path, db: RunDatabase, config: dict):
        self.path = Path(path)
        self.db = db
        self.config = config

    @property
    def name(self) -> str:
        return self.path.name

    # -- create / open ---------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | Path, config: dict) -> "RunFolder":
        path = Path(path)
        if (path / cls.CONFIG).exists() or (path / cls.DATABASE).exists():
            raise RunError(f"run folder '{path}' already holds a run: continue it with "
                           f"--resume {path}, or choose another --out")
        path.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path / cls.CONFIG,
                           (json.dumps(config, indent=2, sort_keys=True) + "\n").encode())
        db = RunDatabase(path / cls.DATABASE)
        db.set_meta(engine=config.get("engine", ""), created_at=str(time.time()),
                    status="running")
        return cls(path, db, config)

    @classmethod
    def open(cls, path: str | Path) -> "RunFolder":
        path = Path(path)
        if not (path / cls.CONFIG).is_file():
            raise RunError(f"'{path}' is not a run folder (no {cls.CONFIG})")
        try:
            config = json.loads((path / cls.CONFIG).read_text())
        except json.JSONDecodeError as exc:
            raise RunError(f"{path / cls.CONFIG}: not valid JSON: {exc}") from None
        return cls(path, RunDatabase(path / cls.DATABASE), config)

    def update_config(self, **changes) -> None:
        self.config.update(changes)
        atomic_write_bytes(self.path / self.CONFIG,
                           (json.dumps(self.config, indent=2, sort_keys=True) + "\n").encode())

    def close(self) -> None:
        self.db.close()

    # -- one finished generation -------------------------------------------------------------
    def commit_generation(self, records: list, stats: dict, state: dict) -> None:
        """Record a finished generation in the durable order: its rows and statistics in one
        transaction, then the checkpoint of that generation, then the statistics table."""
        self.db.add_candidates(records, generation_stats=stats)
        self.save_checkpoint(state)
        self.write_stats()

    # -- checkpoint ------------------------------------------------------------------------
    def save_checkpoint(self, state: dict) -> None:
        atomic_write_bytes(self.path / self.CHECKPOINT,
                           pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))

    def load_checkpoint(self) -> dict | None:
        path = self.path / self.CHECKPOINT
        if not path.is_file():
            return None
        with open(path, "rb") as fh:
            return pickle.load(fh)

    # -- statistics ------------------------------------------------------------------------
    def write_stats(self) -> None:
        rows = self.db.generations()
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(GENERATION_COLUMNS[:-1])
        for r in rows:
            writer.writerow([r[c] for c in GENERATION_COLUMNS[:-1]])
        atomic_write_bytes(self.path / self.STATS, buf.getvalue().encode())

    # -- best rules ------------------------------------------------------------------------
    def write_best(self, records: list[CandidateRecord], suite: str) -> list[Path]:
        """Write ``best/rank01.py``... (valid rule files, scores in the header)."""
        folder = self.path / self.BEST
        folder.mkdir(exist_ok=True)
        written = []
        for rank, rec in enumerate(records, 1):
            path = folder / f"rank{rank:02d}.py"
            text = score_header(rec, suite, self.name, rank) + rec.source.lstrip("\n")
            atomic_write_bytes(path, text.encode())
            written.append(path)
        for stale in folder.glob("rank*.py"):
            if stale not in written:
                stale.unlink()
        return written

    def best_files(self) -> list[Path]:
        return sorted((self.path / self.BEST).glob("rank*.py"))

    def export(self, ranks, destination: Path) -> list[Path]:
        """Copy best rules (by rank, 1-based) into the rule library folder ``destination``."""
        files = self.best_files()
        destination.mkdir(parents=True, exist_ok=True)
        out = []
        for rank in ranks:
            if not 1 <= rank <= len(files):
                raise RunError(f"run {self.name} has {len(files)} best rules; no rank {rank}")
            target = destination / f"{_identifier(self.name)}_rank{rank:02d}.py"
            shutil.copyfile(files[rank - 1], target)
            out.append(target)
        return out


def _identifier(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).strip("_") or "run"
