"""Run folders: the durable record of an evolution run, shared by every engine.

A run is a folder (by default under ``runs/``)::

    RUN/config.json        the run's configuration (engine, suite, objective, seed, budgets...)
    RUN/run.sqlite         every evaluated candidate and the per-generation statistics
    RUN/generations.csv    the same statistics as a table (rewritten each generation)
    RUN/checkpoint.json    the engine's state after the last finished generation (JSON)
    RUN/writer.lock        the advisory lock of the process writing the run (holds its PID)
    RUN/best/rank01.py ... the best rules, valid rule files with their scores in a header
                           (with ``--validate``: ranked by validation, its scores added)

A run folder is data.  Opening one (report, inspect, resume, compare, distill --from) executes
nothing from it: the checkpoint is JSON (populations as node names or rule sources, random
states as lists of integers), never a pickle, and the rules in it are only ever evaluated by
the rule sandbox or converted into GP trees.  A corrupt, empty or foreign checkpoint or
database is refused with a one-line :class:`RunError` naming the file.

One writer at a time.  A process that writes a run (a new run, or ``--resume``) holds an
advisory ``flock`` on ``RUN/writer.lock`` for as long as the folder is open; a second writer
is refused with the holder's PID.  Readers take no lock.

The database schema is engine-neutral: the DEAP GP, the symbolic-regression engines and the
FunSearch-style LLM engine all write ``candidates`` rows (who made the rule and how, from which
parents, in which generation or island, the rule's source and formula, its per-target scores or
why it was rejected, and how long the judge took), and the reports read them the same way.
Runs made with ``evolve --validate`` add a ``validations`` table (the best rules' scores on the
validation suite, :mod:`ibp_evolve.runs.validation`); runs made before it lack the table and
read as runs without validation (same schema version: the table is only added).

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

import contextlib
import csv
import fcntl
import io
import json
import os
import shutil
import signal
import sqlite3
import threading
import time
from dataclasses import dataclass, field, fields
from fractions import Fraction
from pathlib import Path

from ibp_evolve.reducer.cache import atomic_write_bytes
from ibp_evolve.judge.measured import measured_lines
from ibp_evolve.judge.score import ScoreReport, TargetScore
from ibp_evolve.runs.fitness import fitness_text, parse_fitness

__all__ = ["SCHEMA_VERSION", "CHECKPOINT_VERSION", "BestRule", "CandidateRecord", "RunDatabase",
           "RunFolder", "RunError", "RunLocked", "atomic_write_bytes", "score_header",
           "random_state_to_json", "random_state_from_json", "pack_masks", "unpack_masks",
           "interrupts_deferred"]

# 2: fitness stored exactly, as text (runs/fitness.py); version 1 stored it as REAL, which
# rounds past 2^53: such runs are still read (reports, inspect) but not resumed.
SCHEMA_VERSION = 2
READABLE_SCHEMA_VERSIONS = ("1", "2")
CHECKPOINT_FORMAT = "ibp-evolve checkpoint"
CHECKPOINT_VERSION = 2   # 2: fitness as exact text, the engine loop's counters beside the state

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
    fitness         TEXT,                 -- the judge's fitness, lower is better, exact:
                                          -- an integer or p/q (runs/fitness.py)
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
CREATE INDEX IF NOT EXISTS candidates_by_mask ON candidates(mask_hash);
CREATE TABLE IF NOT EXISTS generations (
    generation       INTEGER PRIMARY KEY,
    candidates       INTEGER NOT NULL,   -- new candidates this generation
    evaluations      INTEGER NOT NULL,   -- judge evaluations (distinct new masks)
    cache_hits       INTEGER NOT NULL,
    failed           INTEGER NOT NULL,   -- rejected, crashed, timed out
    best_fitness     TEXT,               -- exact, as candidates.fitness
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

# evolve --validate (ibp_evolve/runs/validation.py); added later: runs without it lack the table
VALIDATION_SCHEMA = """
CREATE TABLE IF NOT EXISTS validations (
    candidate         INTEGER PRIMARY KEY,  -- candidates.id of the validated rule
    generation        INTEGER NOT NULL,     -- validated after this generation
    suite             TEXT NOT NULL,        -- the validation suite
    objective         TEXT NOT NULL,
    status            TEXT NOT NULL,        -- ok, or rejected (failed on the validation suite)
    fitness           TEXT,                 -- the judge's fitness on the validation suite
    complete          INTEGER,              -- 1 when every validation target reduced
    seeds             INTEGER,
    trimmed_equations INTEGER,
    total             TEXT,                 -- exact objective total (integer or fraction p/q)
    scores            TEXT,                 -- JSON list of per-target scores
    wall_time         REAL,
    reason            TEXT
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


class RunLocked(RunError):
    """Another process is writing the run."""


@dataclass
class BestRule:
    """One of the best rules of a run, whatever engine found it."""
    source: str
    formula: str
    fitness: int | Fraction | float   # exact (runs/fitness.py)
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
    fitness: int | Fraction | float | None = None   # exact (runs/fitness.py)
    complete: bool | None = None
    seeds: int | None = None
    objective: str | None = None
    objective_value: float | None = None
    scores: list | None = None
    cached: bool = False
    wall_time: float | None = None
    created_at: float = field(default_factory=time.time)
    validation: dict | None = None   # its row of ``validations``, when ranked by validation

    def row(self) -> tuple:
        values = dict(self.__dict__)
        values["parents"] = json.dumps(list(self.parents))
        values["scores"] = None if self.scores is None else json.dumps(self.scores)
        values["complete"] = None if self.complete is None else int(bool(self.complete))
        values["cached"] = int(bool(self.cached))
        values["fitness"] = fitness_text(self.fitness)
        return tuple(values[c] for c in CANDIDATE_COLUMNS)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> "CandidateRecord":
        values = {c: row[c] for c in CANDIDATE_COLUMNS}
        values["parents"] = json.loads(values["parents"])
        values["scores"] = None if values["scores"] is None else json.loads(values["scores"])
        values["complete"] = None if values["complete"] is None else bool(values["complete"])
        values["cached"] = bool(values["cached"])
        values["fitness"] = parse_fitness(values["fitness"])
        return cls(**values)


def generation_from_row(row) -> dict:
    """A row of ``generations`` as a dict, its best fitness exact again."""
    d = dict(row)
    d["best_fitness"] = parse_fitness(d["best_fitness"])
    return d


def validation_from_row(row) -> dict:
    """A row of ``validations`` as a dict: scores as a list, the fitness exact again."""
    d = dict(row)
    d["scores"] = None if d["scores"] is None else json.loads(d["scores"])
    d["complete"] = None if d["complete"] is None else bool(d["complete"])
    d["fitness"] = parse_fitness(d["fitness"])
    return d


class RunDatabase:
    """The run's SQLite database (WAL mode; every write is one transaction)."""

    def __init__(self, path: Path, create: bool = True):
        """Open (``create``: or make) the database; a file that is not one of our run
        databases is refused with a :class:`RunError` naming it, and never modified."""
        self.path = Path(path)
        if not create:
            if not self.path.is_file():
                raise RunError(f"{self.path}: no run database (the run folder is incomplete)")
            if self.path.stat().st_size == 0:
                raise RunError(f"{self.path}: the run database is empty")
        try:
            self.conn = sqlite3.connect(str(self.path), timeout=30.0, isolation_level=None)
        except sqlite3.Error as exc:
            raise RunError(f"{self.path}: cannot open the run database: {exc}") from None
        self.conn.row_factory = sqlite3.Row
        try:
            self._prepare(create)
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            raise RunError(f"{self.path}: not a readable run database: {exc}") from None
        except RunError:
            self.conn.close()
            raise

    def _prepare(self, create: bool) -> None:
        if not create:
            # An existing run is only read here (no write lock, nothing written): a foreign
            # database stays untouched, and a reader never waits for a running writer.
            tables = {r[0] for r in self.conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()}
            if not {"meta", "candidates", "generations"} <= tables:
                raise RunError(f"{self.path}: not an ibp-evolve run database (tables "
                               f"{', '.join(sorted(tables)) or 'none'})")
            self._check_version(self.get_meta("schema_version"), READABLE_SCHEMA_VERSIONS)
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute("PRAGMA foreign_keys=ON")
            return
        self.conn.execute("PRAGMA journal_mode=WAL")   # persistent: stored in the file
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.executescript(SCHEMA)  # idempotent (IF NOT EXISTS)
        self.conn.executescript(VALIDATION_SCHEMA)
        with self.transaction():
            version = self.get_meta("schema_version")
            if version is None:
                self._set_meta("schema_version", str(SCHEMA_VERSION))
            else:
                self._check_version(version)

    def _check_version(self, version, readable=(str(SCHEMA_VERSION),)) -> None:
        if version not in readable:
            raise RunError(f"{self.path}: schema version {version}, this ibp-evolve "
                           f"reads version {SCHEMA_VERSION}")

    def check_writable(self) -> None:
        """Refuse to continue a run written by an older ibp-evolve (its rows would mix two
        encodings of the fitness); reading it stays possible."""
        version = self.get_meta("schema_version")
        if version != str(SCHEMA_VERSION):
            raise RunError(f"{self.path}: a run of an older ibp-evolve (schema version "
                           f"{version}, fitness stored as floating point): it can be read "
                           f"(report, inspect, compare) but not resumed; start a new run")

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
    def last_generation(self) -> int | None:
        """The last generation committed (None before the first)."""
        return self.conn.execute("SELECT MAX(generation) FROM generations").fetchone()[0]

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
        if "best_fitness" in stats:
            stats["best_fitness"] = fitness_text(stats["best_fitness"])
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
            if self.has_validations():
                conn.execute("DELETE FROM validations WHERE generation > ?", (generation,))
        return n

    # -- validation (evolve --validate) ------------------------------------------------------
    def has_validations(self) -> bool:
        return self.conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                                 "name = 'validations'").fetchone() is not None

    def add_validations(self, records) -> None:
        from ibp_evolve.runs.validation import validation_json
        with self.transaction() as conn:
            conn.execute(VALIDATION_SCHEMA.strip().rstrip(";"))   # a run made before it
            conn.executemany("INSERT OR REPLACE INTO validations VALUES "
                             "(?,?,?,?,?,?,?,?,?,?,?,?,?)",
                             [validation_json(r) for r in records])

    def validated_ids(self) -> set[int]:
        if not self.has_validations():
            return set()
        return {r[0] for r in self.conn.execute("SELECT candidate FROM validations")}

    def validations(self) -> list[dict]:
        """Every validation row (old runs: none), in the order they were made."""
        if not self.has_validations():
            return []
        return [validation_from_row(r) for r in self.conn.execute(
            "SELECT * FROM validations ORDER BY generation, candidate")]

    def best_validated(self, n: int = 5) -> list[CandidateRecord]:
        """The ``n`` best rules ranked by validation: validated ones first (complete on the
        validation suite, then its fitness, then the training fitness, size, age), then the
        best unvalidated ones by training fitness; one per distinct seed selection."""
        validated = {v["candidate"]: v for v in self.validations() if v["status"] == "ok"}
        ranked = sorted(
            (rec for rec in self.candidates("WHERE status = 'ok' AND id IN (SELECT candidate "
                                             "FROM validations WHERE status = 'ok')")
             if rec.id in validated),
            key=lambda rec: (not validated[rec.id]["complete"], validated[rec.id]["fitness"],
                             rec.fitness, rec.size or 0, rec.id))
        out, seen = [], set()
        for rec in ranked + self.best(n + len(ranked)):
            key = rec.mask_hash or f"id{rec.id}"
            if key in seen:
                continue
            seen.add(key)
            rec.validation = validated.get(rec.id)
            out.append(rec)
            if len(out) >= n:
                break
        return out

    # -- reads -----------------------------------------------------------------------------
    def count(self) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM candidates").fetchone()[0]

    def candidates(self, where: str = "", params=()) -> list[CandidateRecord]:
        rows = self.conn.execute(f"SELECT * FROM candidates {where} ORDER BY id", params)
        return [CandidateRecord.from_row(r) for r in rows]

    def generations(self) -> list[dict]:
        return [generation_from_row(r) for r in
                self.conn.execute("SELECT * FROM generations ORDER BY generation")]

    def best(self, n: int = 5) -> list[CandidateRecord]:
        """The ``n`` best scored candidates, one per distinct seed selection: lowest fitness,
        then smallest size, then earliest.  Ranked here, not by SQLite (the fitness is exact
        text, which SQL would order as strings), over a cursor that keeps only the ``n`` best
        selections so far: a long run's half a million rows are never all in memory."""
        top = {}   # selection -> (fitness, size, id) of its best row, the n best selections
        rows = self.conn.execute("SELECT id, fitness, size, mask_hash FROM candidates "
                                 "WHERE status = 'ok'")
        for cid, fitness, size, mask in rows:
            key = (parse_fitness(fitness), size or 0, cid)
            selection = mask or f"id{cid}"
            if selection in top:
                top[selection] = min(top[selection], key)
            elif len(top) < n:
                top[selection] = key
            else:
                worst = max(top, key=top.__getitem__)
                if key < top[worst]:
                    del top[worst]
                    top[selection] = key
        ids = [key[2] for key in sorted(top.values())]
        if not ids:
            return []
        by_id = {rec.id: rec for rec in self.candidates(
            f"WHERE id IN ({', '.join('?' * len(ids))})", ids)}
        return [by_id[i] for i in ids]

    def check(self) -> str:
        return self.conn.execute("PRAGMA integrity_check").fetchone()[0]


def rank_key(rec: CandidateRecord) -> tuple:
    """How scored records rank: lowest fitness, then smallest size, then earliest."""
    return (rec.fitness, rec.size or 0, rec.id)


def distinct_best(records, n: int) -> list[CandidateRecord]:
    """The ``n`` best of ``records`` held in memory, one per distinct seed selection
    (:meth:`RunDatabase.best` ranks a run's rows the same way without holding them)."""
    out, seen = [], set()
    for rec in sorted(records, key=rank_key):
        key = rec.mask_hash or f"id{rec.id}"
        if key not in seen:
            seen.add(key)
            out.append(rec)
            if len(out) >= n:
                break
    return out


def score_header(record: CandidateRecord, suite: str, run_name: str, rank: int) -> str:
    """The comment block of an exported best rule: what it is, where from, its scores (in the
    library's one "Measured on SUITE" format, which ``tests/test_rule_headers.py`` re-checks)."""
    lines = [f"# Evolved seeding rule, rank {rank} of run {run_name} (engine {record.engine}, "
             f"candidate {record.id}, generation {record.generation}, size {record.size}, "
             f"objective {record.objective}).",
             f"# formula: {record.formula or '-'}"]
    known = {f.name for f in fields(TargetScore)} - {"seconds"}
    if record.scores:
        report = ScoreReport(rule="", suite=suite, objective=record.objective or "seeds",
                             fitness=record.fitness, complete=bool(record.complete),
                             targets=[TargetScore(**{k: v for k, v in t.items() if k in known},
                                                  seconds=float(t.get("seconds", 0.0)))
                                      for t in record.scores])
        lines += measured_lines(report, per_target=True)
    validation = record.validation
    if validation and validation.get("scores"):
        lines.append(f"# Chosen by validation on {validation['suite']} (run with --validate):")
        report = ScoreReport(rule="", suite=validation["suite"],
                             objective=validation["objective"], fitness=validation["fitness"],
                             complete=bool(validation["complete"]),
                             targets=[TargetScore(**{k: v for k, v in t.items() if k in known},
                                                  seconds=0.0)
                                      for t in validation["scores"]])
        lines += measured_lines(report, per_target=True)
    return "".join(f"{line}\n" for line in lines)


@contextlib.contextmanager
def interrupts_deferred():
    """Hold Ctrl-C (SIGINT) until the block is done, then deliver it: a generation's rows and
    its checkpoint are written together or not at all.  Only the main thread can do this;
    elsewhere the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(frame))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught and callable(previous):
            previous(signal.SIGINT, caught[0])


def _plain(value):
    """JSON for the numpy scalars and arrays that engine states may hold."""
    import numpy as np
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"a checkpoint holds plain data only, not {type(value).__name__}")


def random_state_to_json(state) -> list:
    """:func:`random.getstate` as plain lists (version, 625 words, cached gauss)."""
    version, words, gauss = state
    return [version, list(words), gauss]


def random_state_from_json(data) -> tuple:
    """The inverse of :func:`random_state_to_json`, for :func:`random.setstate`."""
    version, words, gauss = data
    return (int(version), tuple(int(w) for w in words), None if gauss is None else float(gauss))


def pack_masks(masks) -> list:
    """Seed masks as JSON: per mask its length and its bits packed and hex-encoded."""
    import numpy as np
    return [{"n": int(len(m)), "bits": np.packbits(np.asarray(m, dtype=bool)).tobytes().hex()}
            for m in masks]


def unpack_masks(data) -> list:
    """The inverse of :func:`pack_masks`; a length that disagrees with the bits is refused
    (``ValueError``) rather than padded, so a crafted file cannot ask for a huge array."""
    import numpy as np
    out = []
    for d in data:
        bits, n = bytes.fromhex(d["bits"]), int(d["n"])
        if not 0 <= n <= 8 * len(bits) < n + 8:
            raise ValueError(f"a mask of {n} seeds cannot have {len(bits)} bytes")
        out.append(np.unpackbits(np.frombuffer(bits, dtype=np.uint8), count=n).astype(bool))
    return out


class RunFolder:
    """A run's folder: config, database, checkpoint, statistics and best rules."""

    CONFIG = "config.json"
    DATABASE = "run.sqlite"
    CHECKPOINT = "checkpoint.json"
    LEGACY_CHECKPOINT = "checkpoint.pkl"   # written by ibp-evolve before JSON checkpoints
    LOCK = "writer.lock"
    STATS = "generations.csv"
    BEST = "best"

    def __init__(self, path: str | Path, db: RunDatabase, config: dict):
        self.path = Path(path)
        self.db = db
        self.config = config
        self._lock_fd: int | None = None
        self._made_folders: list[Path] = []   # set by create: folders that did not exist
        self.validator = None   # evolve --validate: a runs.validation.Validator

    @property
    def name(self) -> str:
        return self.path.name

    # -- create / open ---------------------------------------------------------------------
    @classmethod
    def check_new(cls, path: str | Path) -> None:
        """Refuse a folder that already holds a run (before any work is started)."""
        path = Path(path)
        if (path / cls.CONFIG).exists() or (path / cls.DATABASE).exists():
            raise RunError(f"run folder '{path}' already holds a run: continue it with "
                           f"--resume {path}, or choose another --out")
        if path.exists() and not path.is_dir():
            raise RunError(f"--out '{path}' is a file, not a folder")

    @classmethod
    def create(cls, path: str | Path, config: dict) -> "RunFolder":
        """Make a new run folder and hold its writer lock."""
        path = Path(path)
        cls.check_new(path)
        made = [p for p in [path, *path.parents] if not p.exists()]
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunError(f"cannot create run folder '{path}': {exc.strerror}") from None
        run = cls(path, None, config)
        run._made_folders = made
        run.lock()   # a concurrent create of the same folder is refused here, untouched
        try:
            if (path / cls.CONFIG).exists():
                raise RunError(f"run folder '{path}' already holds a run: continue it with "
                               f"--resume {path}, or choose another --out")
            atomic_write_bytes(path / cls.CONFIG,
                               (json.dumps(config, indent=2, sort_keys=True) + "\n").encode())
            run.db = RunDatabase(path / cls.DATABASE)
            run.db.set_meta(engine=config.get("engine", ""), created_at=str(time.time()),
                            status="running")
        except RunError:
            run._made_folders = []
            run.unlock()
            raise
        except (OSError, sqlite3.Error) as exc:   # a read-only or full disk
            run.discard()
            raise RunError(f"cannot write run folder '{path}': {exc}") from None
        except BaseException:
            run.discard()
            raise
        return run

    @classmethod
    def open(cls, path: str | Path, writer: bool = False) -> "RunFolder":
        """Open an existing run; ``writer``: take its writer lock first (``--resume``)."""
        path = Path(path)
        if not (path / cls.CONFIG).is_file():
            raise RunError(f"'{path}' is not a run folder (no {cls.CONFIG})")
        run = cls(path, None, {})
        try:
            if writer:
                run.lock()
            try:
                config = json.loads((path / cls.CONFIG).read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise RunError(f"{path / cls.CONFIG}: not valid JSON: {exc}") from None
            if not isinstance(config, dict):
                raise RunError(f"{path / cls.CONFIG}: expected a JSON object, got "
                               f"{type(config).__name__}")
            run.config = config
            run.db = RunDatabase(path / cls.DATABASE, create=False)
            if writer:
                run.db.check_writable()
        except BaseException:
            run.close()
            raise
        return run

    # -- the writer lock ---------------------------------------------------------------------
    def lock(self) -> None:
        """Hold the run's writer lock (idempotent); :class:`RunLocked` names the holder.

        ``flock`` locks belong to the open file, so the kernel releases the lock when the
        writer exits in any way (SIGKILL included): a stale lock file never blocks a resume.
        """
        if self._lock_fd is not None:
            return
        path = self.path / self.LOCK
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise RunError(f"{path}: cannot open the writer lock: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise RunLocked(f"run {self.path} is being written by process {holder} "
                            f"(lock {path}); wait for it to finish or stop it") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd

    def unlock(self) -> None:
        if self._lock_fd is None:
            return
        try:
            os.ftruncate(self._lock_fd, 0)
        except OSError:
            pass
        os.close(self._lock_fd)   # closing the file releases the flock
        self._lock_fd = None

    def update_config(self, **changes) -> None:
        self.config.update(changes)
        atomic_write_bytes(self.path / self.CONFIG,
                           (json.dumps(self.config, indent=2, sort_keys=True) + "\n").encode())

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
        self.unlock()

    def discard(self) -> None:
        """Remove a run that a refused configuration left without any generation: the
        corrected command must find the folder free.  A run with generations is kept."""
        if self.db is not None:
            if self.db.generations():
                self.close()
                return
            self.db.close()
            self.db = None
        names = (self.CONFIG, self.DATABASE, self.DATABASE + "-wal", self.DATABASE + "-shm",
                 self.CHECKPOINT, self.STATS, self.LOCK)
        for name in names:
            try:
                (self.path / name).unlink()
            except FileNotFoundError:
                pass
        for folder in (self.BEST, "sandbox"):
            shutil.rmtree(self.path / folder, ignore_errors=True)
        self.unlock()
        for folder in self._made_folders:   # the run folder first, then e.g. a new runs/
            try:
                folder.rmdir()   # only when empty: never anything we did not write
            except OSError:
                break

    # -- one finished generation -------------------------------------------------------------
    def commit_generation(self, records: list, stats: dict, state: dict,
                          engine_tables=None) -> None:
        """Record a finished generation in the durable order: its rows and statistics in one
        transaction, then ``engine_tables()`` (an engine's own tables, e.g. the LLM's program
        database), then the checkpoint of that generation, then the statistics table."""
        with interrupts_deferred():
            self.db.add_candidates(records, generation_stats=stats)
            # before the checkpoint: a kill in between redoes the generation, validation too
            self.validate(stats["generation"])
            if engine_tables is not None:
                engine_tables()
            self.save_checkpoint(state)
            self.write_stats()

    def validate(self, generation: int) -> None:
        """evolve --validate: score the best rules so far on the validation suite."""
        if self.validator is not None:
            self.validator.validate(self.db, generation)

    def best_records(self, n: int) -> list[CandidateRecord]:
        """The run's ``n`` best rules as exported to ``best/``: ranked by validation when the
        run validates (or did), otherwise by training fitness."""
        if self.validator is not None or self.db.validated_ids():
            return self.db.best_validated(n)
        return self.db.best(n)

    # -- checkpoint ------------------------------------------------------------------------
    def save_checkpoint(self, state: dict) -> None:
        """Write the engine's state as JSON (plain data only), atomically."""
        document = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
                    "state": state}
        atomic_write_bytes(self.path / self.CHECKPOINT,
                           json.dumps(document, default=_plain).encode())

    def load_checkpoint(self) -> dict | None:
        """The engine's state after the last finished generation, or None before the first.

        Python's ``json`` writes and reads ``Infinity``/``NaN``; nothing else but plain
        data can come out of the file."""
        path = self.path / self.CHECKPOINT
        if not path.is_file():
            legacy = self.path / self.LEGACY_CHECKPOINT
            if legacy.is_file():
                raise RunError(f"{legacy}: a pickled checkpoint of an older ibp-evolve; it is "
                               f"not read (a pickle can run code): start a new run")
            return None
        data = path.read_bytes()
        if not data.strip():
            raise RunError(f"{path}: the checkpoint is empty")
        try:
            document = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RunError(f"{path}: not a valid checkpoint ({exc})") from None
        if not isinstance(document, dict) or document.get("format") != CHECKPOINT_FORMAT:
            raise RunError(f"{path}: not an ibp-evolve checkpoint")
        if document.get("version") != CHECKPOINT_VERSION:
            raise RunError(f"{path}: checkpoint version {document.get('version')!r}, this "
                           f"ibp-evolve reads version {CHECKPOINT_VERSION} (a run of an older "
                           f"ibp-evolve cannot be resumed: start a new run)")
        state = document.get("state")
        if not isinstance(state, dict) or not isinstance(state.get("generation"), int):
            raise RunError(f"{path}: the checkpoint has no engine state")
        return state

    def checkpoint_error(self, exc: BaseException) -> RunError:
        """A one-line error for a checkpoint whose state an engine cannot restore."""
        return RunError(f"{self.path / self.CHECKPOINT}: malformed engine state "
                        f"({type(exc).__name__}: {exc})")

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
    def write_best(self, records: list[CandidateRecord], suite: str,
                   notes: dict | None = None) -> list[Path]:
        """Write ``best/rank01.py``... (valid rule files, scores in the header; ``notes``:
        record id -> one more header line, e.g. what the suite never varied)."""
        folder = self.path / self.BEST
        folder.mkdir(exist_ok=True)
        written = []
        for rank, rec in enumerate(records, 1):
            path = folder / f"rank{rank:02d}.py"
            note = (notes or {}).get(rec.id)
            text = (score_header(rec, suite, self.name, rank) + (f"# {note}\n" if note else "")
                    + rec.source.lstrip("\n"))
            atomic_write_bytes(path, text.encode())
            written.append(path)
        for stale in folder.glob("rank*.py"):
            if stale not in written:
                stale.unlink()
        return written

    def best_files(self) -> list[Path]:
        return sorted((self.path / self.BEST).glob("rank*.py"))

    def export(self, ranks, destination: Path) -> tuple[list[Path], list[int]]:
        """Copy best rules (by rank, 1-based) into the rule library folder ``destination``;
        returns (the files written, the ranks not exported because the rule leaves a target
        of the run's suite unreduced: a library rule is one that reduces)."""
        files = self.best_files()
        for rank in ranks:
            if not 1 <= rank <= len(files):
                raise RunError(f"run {self.name} has {len(files)} best rules; no rank {rank}")
        records = self.best_records(len(files))   # in the order best/ was written
        destination.mkdir(parents=True, exist_ok=True)
        out, incomplete = [], []
        for rank in ranks:
            if rank <= len(records) and not records[rank - 1].complete:
                incomplete.append(rank)
                continue
            target = destination / f"{_identifier(self.name)}_rank{rank:02d}.py"
            shutil.copyfile(files[rank - 1], target)
            out.append(target)
        return out, incomplete


def _identifier(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).strip("_") or "run"
