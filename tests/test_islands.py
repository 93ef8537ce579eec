"""Runs of islands: GP and LLM engines side by side in one run, with migration between them."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest

from ibp_evolve.cli.main import main
from ibp_evolve.engines.gp import DeapEngine, GPConfig
from ibp_evolve.engines.islands import IslandsEngine, island_entries, parse_islands
from ibp_evolve.runs.configs import IslandsConfig
from ibp_evolve.runs.evaluation import Evaluation, SuiteSpec
from ibp_evolve.runs.islands import Islands
from ibp_evolve.runs.store import CandidateRecord, RunFolder

PAPER = SuiteSpec("triangle_box_paper", max_seeds=2000)
INCOMPLETE = 10 ** 15


class FewestSeedsEvaluator:
    """A stand-in judge: a selection of at least 40 seeds is complete with fitness = its
    seeds, a smaller one incomplete (fewer seeds are better, as in the real judge)."""
    n_workers, description = 1, "test double"

    def evaluate(self, jobs, deadline=None, on_result=None):
        out = []
        for job in jobs:
            seeds = int(sum(int(np.count_nonzero(m)) for m in job.masks))
            complete = seeds >= 40
            out.append(Evaluation(job.key, "ok", seeds if complete else INCOMPLETE - seeds,
                                  complete, seeds))
        return out

    def close(self):
        pass


def gp(seed, generations=3, population=10):
    return DeapEngine(GPConfig(population=population, generations=generations, seed=seed,
                               stagnation=2))


def rows(run_path, where=""):
    db = sqlite3.connect(run_path / "run.sqlite")
    try:
        return db.execute(f"SELECT id, engine, island, generation, operation, parents, source, "
                          f"fitness FROM candidates {where} ORDER BY id").fetchall()
    finally:
        db.close()


def evolve(path, engine, resume=False):
    run = RunFolder.open(path, writer=True) if resume else \
        RunFolder.create(path, {"engine": "islands"})
    try:
        return engine.evolve(PAPER, evaluator=FewestSeedsEvaluator(), run=run, resume=resume)
    finally:
        run.close()


# ----------------------------------------------------------------------------- the spelling

def test_islands_are_spelled_engine_colon_count():
    assert parse_islands("gp:2,llm:1") == ["deap", "deap", "llm"]
    assert parse_islands("deap") == ["deap"]
    for bad, named in (("gp:0", "gp:0"), ("gp:x", "gp:x"), ("gpp:2", "gpp"), ("gp:2,", "''")):
        with pytest.raises(ValueError, match=named):
            parse_islands(bad)


# ----------------------------------------------------------------------------- randomness

def test_a_gp_island_draws_the_same_trees_whatever_runs_beside_it(tmp_path):
    no_migration = IslandsConfig(generations=3, migrate_every=0)
    evolve(tmp_path / "ab", Islands([gp(2), gp(5)], no_migration))
    evolve(tmp_path / "ba", Islands([gp(5), gp(2)], no_migration))
    evolve(tmp_path / "alone", gp(2))

    def sources(path, island):
        where = "" if island is None else f"WHERE island = {island}"
        return [r[6] for r in rows(path, where)]
    assert sources(tmp_path / "ab", 0) == sources(tmp_path / "ba", 1)
    assert sources(tmp_path / "ab", 1) == sources(tmp_path / "ba", 0)
    # one GP island of the run's seed repeats the plain GP run
    assert sources(tmp_path / "ab", 0) == sources(tmp_path / "alone", None)


# ----------------------------------------------------------------------------- migration

def test_the_best_programs_of_one_island_join_the_others_as_migrants(tmp_path):
    config = IslandsConfig(generations=3, migrate_every=1, migrants=2)
    engine = evolve(tmp_path / "run", Islands([gp(2), gp(5)], config))
    migrants = rows(tmp_path / "run", "WHERE operation = 'migrant'")
    assert migrants
    by_id = {r[0]: r for r in rows(tmp_path / "run")}
    for _, _, island, generation, _, parents, source, _ in migrants:
        (origin,) = json.loads(parents)
        # a migrant is a copy of an earlier program of another island, not of its own
        assert by_id[origin][2] != island and by_id[origin][3] < generation
        assert by_id[origin][6] == source
    moved = [s["islands"][k].get("immigrants") for s in engine.logbook_ for k in (0, 1)]
    assert any(moved)


def test_a_run_of_islands_with_migration_resumes_exactly(tmp_path):
    def islands(generations):
        return IslandsEngine(IslandsConfig(
            generations=generations, migrate_every=1, migrants=2,
            island_configs=island_entries([GPConfig(population=10, seed=2, stagnation=2),
                                           GPConfig(population=10, seed=9, stagnation=2)],
                                          ["deap", "deap"])))
    evolve(tmp_path / "whole", islands(4))
    evolve(tmp_path / "part", islands(2))
    evolve(tmp_path / "part", islands(4), resume=True)
    assert rows(tmp_path / "part") == rows(tmp_path / "whole")


def record(source, cid=7):
    return CandidateRecord(id=cid, engine="llm", operation="sample", parents=[], generation=1,
                           island=1, source=source, status="ok", fitness=80, complete=True,
                           seeds=80, scores=[], mask_hash="h")


def test_a_gp_island_takes_what_its_primitive_set_can_say_and_counts_the_rest():
    engine = gp(0)
    engine.setup(PAPER, None)
    condition = ("def priority(seed, target):\n"
                 "    return seed.d == 0 and seed.s <= target.s - seed.missing\n")
    number = "def priority(seed, target):\n    return (seed.r <= target.r) - 0.5\n"
    assert engine.immigrate([record(condition), record(number, 8)]) == (1, 1)
    (migrant,) = engine._migrant_individuals()
    assert migrant.operation == "migrant" and migrant.parents == (7,)
    assert migrant.masks is None and engine.primitives.masks(migrant, engine.features)



def test_the_summary_says_which_features_skipped_migrants_read(tmp_path):
    from ibp_evolve.cli.evolve import migrant_hints
    engine = gp(0)
    engine.setup(PAPER, None)
    tube = ("def priority(seed, target):\n"
            "    return seed.tube <= 2 and seed.d == 0\n")
    offsets = "def keep(seed, target):\n    return seed.offset(5) <= 0\n"
    number = "def priority(seed, target):\n    return (seed.r <= target.r) - 0.5\n"
    assert engine.immigrate([record(tube), record(tube, 8), record(offsets, 9),
                             record(number, 10)]) == (0, 4)
    assert engine.skipped_because_["seed.tube"] == 2
    assert engine.skipped_because_["seed.offset(5)"] == 1
    # as the run's generations table holds them (islands' statistics in `extra`)
    island = {"engine": "deap", "immigrants": 0, "immigrants_skipped": 4,
              "immigrants_skipped_because": engine.skipped_because_}
    generations = [{"extra": json.dumps({"islands": [island, {"engine": "llm"}]})}] * 2
    (line,) = migrant_hints(generations, 7)
    # the float priority was skipped for another reason: it is not counted as a reader
    assert line.startswith("island 0 (deap) took 0 of 8 migrants; 6 of the 8 skipped read "
                           "seed.tube (4), seed.offset (2)")
    assert "evolve --features tube,offset adds them" in line
    plain = {"engine": "deap", "immigrants": 3, "immigrants_skipped": 0}
    assert migrant_hints([{"extra": json.dumps({"islands": [plain]})}], 7) == []


def test_llm_and_gp_islands_share_a_run_and_exchange_programs(tmp_path):
    from test_llm_engine import SeededBackend

    from llm_mutator.engine import LLMConfig, LLMEngine
    llm = LLMEngine(LLMConfig(population=6, generations=3, islands=2, samples_per_prompt=2,
                              prompts_per_batch=1, deterministic=True), backend=SeededBackend())
    engine = evolve(tmp_path / "run", Islands([gp(1), llm], IslandsConfig(
        generations=3, migrate_every=1, migrants=2)))
    made = rows(tmp_path / "run")
    assert {(r[1], r[2]) for r in made} == {("deap", 0), ("llm", 1)}
    # the LLM's conditions reach the GP island as trees, the GP's trees the LLM's database
    gp_migrants = [r for r in made if r[2] == 0 and r[4] == "migrant"]
    assert any(made[json.loads(r[5])[0]][1] == "llm" for r in gp_migrants)
    db = sqlite3.connect(tmp_path / "run" / "run.sqlite")
    via = db.execute("SELECT DISTINCT candidate FROM llm_members WHERE via = 'migrant'").fetchall()
    db.close()
    assert via and all(made[c][1] == "deap" for (c,) in via)
    assert engine.best_ is not None


# ----------------------------------------------------------------------------- command line

def test_islands_on_the_command_line_resume_and_refuse_early(tmp_path, capsys):
    out = tmp_path / "isl"
    assert main(["evolve", "--engine", "gp:2", "--population", "8", "--generations", "1",
                 "--workers", "0", "--out", str(out), "--quiet", "--no-baselines",
                 "--migrate-every", "1"]) == 0
    assert {(r[1], r[2]) for r in rows(out)} == {("deap", 0), ("deap", 1)}
    assert main(["evolve", "--resume", str(out), "--generations", "2", "--workers", "0",
                 "--quiet", "--no-baselines"]) == 0
    assert max(r[3] for r in rows(out)) == 2
    # the report shows each island's best rule per generation (plain runs: no such table)
    from ibp_evolve.reports.html import _islands_table, read_run
    table = _islands_table(read_run(out))
    assert "island 1 (deap)" in table and table.count("<tr>") == 1 + 3
    capsys.readouterr()
    for argv, message in (
            (["--engine", "gp:2,llm:1"], "needs --model"),
            (["--engine", "gp:two"], "'gp:two' needs a positive count"),
            (["--migrants", "2"], "options of a run of islands"),
            (["--engine", "gpp"], "expected one of deap")):
        folder = tmp_path / "refused"
        assert main(["evolve", *argv, "--out", str(folder), "--workers", "0"]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1 and not folder.exists()


def test_the_notebook_verb_runs_islands_too(tmp_path):
    from ibp_evolve import api
    run = api.evolve(engine="gp:2", population=6, generations=1, out=tmp_path / "nb")
    assert {(r[1], r[2]) for r in rows(tmp_path / "nb")} == {("deap", 0), ("deap", 1)}
    assert run is not None
