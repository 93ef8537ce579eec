"""Run folders: the engine-neutral SQLite schema, durability, best-rule files and export."""

from __future__ import annotations

import sqlite3

import pytest

from ibp_evolve.language.library import description
from ibp_evolve.language.parse import load_rule
from ibp_evolve.runs.store import (SCHEMA_VERSION, CandidateRecord, RunDatabase, RunError, RunFolder,
                             atomic_write_bytes)

ENGINE_NEUTRAL_COLUMNS = {
    "id", "engine", "operation", "parents", "generation", "island", "eval_index", "source",
    "formula", "size", "mask_hash", "status", "reject_reason", "fitness", "complete", "seeds",
    "objective", "objective_value", "scores", "cached", "wall_time", "created_at"}

SOURCE = "def keep(seed, target):\n    return seed.d <= 0\n"


def record(i, fitness, mask="m", generation=0, size=3, engine="deap", **kw):
    scores = [{"target": [1, 1, 1, 1, 1, 1, -3], "seeds": int(fitness), "equations": 9,
               "trimmed_equations": 5, "multiply_adds": 1234, "seconds": 0.001,
               "reduced": True, "n_survivors": 0, "reason": ""}]
    return CandidateRecord(id=i, engine=engine, operation="mutation:node", source=SOURCE,
                           generation=generation, parents=[max(0, i - 1)], eval_index=i,
                           formula="d <= 0", size=size, mask_hash=mask, fitness=fitness,
                           complete=True, seeds=int(fitness), objective="seeds",
                           objective_value=fitness, scores=scores, wall_time=0.002, **kw)


def test_schema_has_the_engine_neutral_columns_and_wal_mode(tmp_path):
    db = RunDatabase(tmp_path / "run.sqlite")
    columns = {r[1] for r in db.conn.execute("PRAGMA table_info(candidates)")}
    assert columns == ENGINE_NEUTRAL_COLUMNS
    gen_columns = {r[1] for r in db.conn.execute("PRAGMA table_info(generations)")}
    assert {"generation", "best_fitness", "best_seeds", "share_complete",
            "evals_per_second", "elapsed"} <= gen_columns
    assert db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.get_meta("schema_version") == str(SCHEMA_VERSION)


def test_records_of_any_engine_round_trip(tmp_path):
    db = RunDatabase(tmp_path / "run.sqlite")
    llm = record(1, 90.0, engine="llm", island=3)
    llm.operation, llm.parents = "sample", [0, 7]
    rejected = CandidateRecord(id=2, engine="llm", operation="sample", source="import os",
                               generation=0, status="rejected",
                               reject_reason="line 1: import statements are not allowed")
    db.add_candidates([record(0, 92.0), llm, rejected])
    back = db.candidates()
    assert [r.id for r in back] == [0, 1, 2]
    assert back[1].island == 3 and back[1].parents == [0, 7] and back[1].engine == "llm"
    assert back[0].scores[0]["multiply_adds"] == 1234 and back[0].complete is True
    assert back[2].status == "rejected" and back[2].fitness is None


def test_a_failed_batch_leaves_nothing_behind(tmp_path):
    db = RunDatabase(tmp_path / "run.sqlite")
    db.add_candidates([record(0, 92.0)])
    with pytest.raises(sqlite3.IntegrityError):
        db.add_candidates([record(1, 90.0), record(0, 80.0)])  # duplicate id: whole batch fails
    assert [r.id for r in db.candidates()] == [0]


def test_truncate_after_forgets_the_generation_in_progress(tmp_path):
    db = RunDatabase(tmp_path / "run.sqlite")
    db.add_candidates([record(0, 92.0, generation=0)], {"generation": 0, "candidates": 1,
                                                        "evaluations": 1, "cache_hits": 0,
                                                        "failed": 0})
    db.add_candidates([record(1, 90.0, generation=1), record(2, 88.0, generation=1)])
    assert db.truncate_after(0) == 2
    assert [r.id for r in db.candidates()] == [0]
    assert [g["generation"] for g in db.generations()] == [0]


def test_best_keeps_one_rule_per_seed_selection_smallest_first(tmp_path):
    db = RunDatabase(tmp_path / "run.sqlite")
    db.add_candidates([record(0, 92.0, "a", size=9), record(1, 92.0, "a", size=4),
                       record(2, 88.0, "b", size=20), record(3, 95.0, "c"),
                       CandidateRecord(id=4, engine="deap", operation="x", source=SOURCE,
                                       generation=0, status="timeout", fitness=1.0)])
    assert [r.id for r in db.best(5)] == [2, 1, 3]


def test_run_folder_checkpoint_best_files_and_export(tmp_path):
    run = RunFolder.create(tmp_path / "run-1", {"engine": "deap", "seed": 1})
    with pytest.raises(RunError, match="already holds a run"):
        RunFolder.create(tmp_path / "run-1", {"engine": "deap"})
    run.save_checkpoint({"generation": 3, "population": ["x"]})
    assert run.load_checkpoint()["generation"] == 3
    assert not list((tmp_path / "run-1").glob(".*.tmp"))
    run.db.add_candidates([record(0, 92.0, "a"), record(1, 88.0, "b")])
    files = run.write_best(run.db.best(5), "triangle_box_paper")
    assert [f.name for f in files] == ["rank01.py", "rank02.py"]
    text = files[0].read_text()
    assert "Measured on triangle_box_paper: complete (1 target), 88 seeds" in text
    assert "I(1,1,1,1,1,1,-3): reduced" in text
    assert load_rule(files[0]).kind == "keep"          # a valid rule file
    assert description(files[0]).startswith("Evolved seeding rule, rank 1 of run run-1")
    copied, incomplete = run.export([2], tmp_path / "library" / "evolved")
    assert [p.name for p in copied] == ["run_1_rank02.py"] and incomplete == []
    with pytest.raises(RunError, match="no rank 7"):
        run.export([7], tmp_path / "library")
    # a rule that leaves a target unreduced is no library rule: not exported
    unreduced = record(2, 10 ** 15 + 3, "c")
    unreduced.complete = False
    run.db.add_candidates([unreduced])
    run.write_best(run.db.best(5), "triangle_box_paper")
    copied, incomplete = run.export([1, 2, 3], tmp_path / "library2")
    assert [p.name for p in copied] == ["run_1_rank01.py", "run_1_rank02.py"]
    assert incomplete == [3]
    run.close()
    reopened = RunFolder.open(tmp_path / "run-1")
    assert reopened.config == {"engine": "deap", "seed": 1} and reopened.db.count() == 3


def test_atomic_write_replaces_whole_files(tmp_path):
    path = tmp_path / "f.bin"
    atomic_write_bytes(path, b"old")
    atomic_write_bytes(path, b"new content")
    assert path.read_bytes() == b"new content"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]
