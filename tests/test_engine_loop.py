"""The one engine loop: engines plug in by ask/tell, the fitness stays exact past 2^53, and only
a rule's own fault rejects it (a judge failure stops the run and is never recorded).

The judge is replaced by small test doubles here: this is orchestration, not physics."""

from __future__ import annotations

import json
import sqlite3
from fractions import Fraction

import numpy as np
import pytest

from ibp_evolve.cli.main import main
from ibp_evolve.engines.gp import DeapEngine, GPConfig, Individual, PrimitiveSet
from ibp_evolve.judge.score import PENALTY, SURVIVOR_WEIGHT
from ibp_evolve.language.parse import RuleError
from ibp_evolve.reducer.family import FamilyError
from ibp_evolve.runs.configs import EngineConfig, LLMConfig
from ibp_evolve.runs.evaluation import (EvalJob, Evaluation, JudgeError, LocalEvaluator,
                                        SuiteSpec, score_job)
from ibp_evolve.runs.fitness import fitness_text, parse_fitness
from ibp_evolve.runs.loop import Candidate, LoopEngine
from ibp_evolve.runs.progress import verdict
from ibp_evolve.runs.store import RunError, RunFolder

PAPER = SuiteSpec("triangle_box_paper", max_seeds=2000)
# An incomplete rule's fitness past 2^53: ten unreduced targets and a few survivors.  As a
# float, it and its neighbour one above are the same number.
BIG = 10 * PENALTY + 3 * SURVIVOR_WEIGHT
assert BIG > 2 ** 53 + 1 and float(BIG) == float(BIG + 1)


class BigFitnessEvaluator:
    """Scores a mask job BIG + (seeds kept): distinct selections differ by one past 2^53."""
    n_workers, description = 1, "test double"

    def __init__(self):
        self.given = {}

    def evaluate(self, jobs, deadline=None, on_result=None):
        out = []
        for job in jobs:
            seeds = int(sum(int(np.count_nonzero(m)) for m in job.masks))
            ev = Evaluation(job.key, "ok", BIG + seeds, False, seeds)
            self.given[job.key] = ev.fitness
            out.append(ev)
        return out

    def close(self):
        pass


# ----------------------------------------------------------------------------- exact fitness

def test_fitness_text_round_trips_exactly_where_a_float_would_round():
    for value in (BIG, BIG + 1, 2 ** 53 + 1, Fraction(2 ** 60 + 1, 3), 0.25, 92):
        assert parse_fitness(fitness_text(value)) == value
        assert type(parse_fitness(fitness_text(value))) is type(value)
    assert parse_fitness(fitness_text(Fraction(6, 3))) == 2 and \
        type(parse_fitness("6/3")) is int
    assert parse_fitness(1.5) == 1.5      # a REAL of a run written before fitness was text
    assert fitness_text(np.int64(BIG)) == str(BIG)   # a judge's numpy count, exact
    with pytest.raises(ValueError, match="not a fitness: 'seven'"):
        parse_fitness("seven")


def test_deap_fitness_tells_apart_two_rules_one_apart_past_2_to_the_53():
    pset = PrimitiveSet(7)
    a, b = Individual([pset.pset.mapping["True"]]), Individual([pset.pset.mapping["True"]])
    a.fitness.values, b.fitness.values = (BIG, 1), (BIG + 1, 1)
    assert a.fitness.values == (BIG, 1) and type(a.fitness.values[0]) is int
    assert a.fitness > b.fitness      # DEAP: greater is better, i.e. the lower judge fitness


def test_verdict_reads_survivors_exactly_from_a_fitness_past_2_to_the_53():
    fitness = 10 * PENALTY + 5 * SURVIVOR_WEIGHT + 7
    assert fitness > 2 ** 53
    assert verdict(fitness, False) == "incomplete: 10 targets not reduced, 5 survivors"


def test_a_gp_run_keeps_fitness_above_2_to_the_53_exact_everywhere(tmp_path):
    evaluator = BigFitnessEvaluator()
    run = RunFolder.create(tmp_path / "run", {"engine": "deap"})
    engine = DeapEngine(GPConfig(population=12, generations=2, seed=4)).evolve(
        PAPER, evaluator=evaluator, run=run)
    # the database: every row's fitness is what the judge gave, to the last digit
    rows = run.db.candidates("WHERE status = 'ok'")
    assert rows and all(r.fitness == evaluator.given[r.eval_index] for r in rows)
    assert len({r.fitness for r in rows}) > 1
    best = min(evaluator.given.values())
    assert run.db.best(1)[0].fitness == best == engine.best_.fitness
    assert [g["best_fitness"] for g in run.db.generations()][-1] == best
    stored = sqlite3.connect(run.path / "run.sqlite").execute(
        "SELECT typeof(fitness) FROM candidates LIMIT 1").fetchone()[0]
    assert stored == "text"
    # the checkpoint: exact text, read back to the same integers
    state = json.loads((run.path / "checkpoint.json").read_text())["state"]
    assert parse_fitness(state["logbook"][-1]["best_fitness"]) == best
    assert {parse_fitness(i["fitness"][0]) for i in state["engine_state"]["hall_of_fame"]} \
        <= set(evaluator.given.values())
    run.close()


def test_a_run_written_with_float_fitness_is_read_but_not_resumed(tmp_path):
    run = RunFolder.create(tmp_path / "old", {"engine": "deap"})
    run.db.set_meta(schema_version="1")
    run.close()
    RunFolder.open(tmp_path / "old").close()     # reports, inspect, compare still read it
    with pytest.raises(RunError, match="schema version 1, fitness stored as floating point"):
        RunFolder.open(tmp_path / "old", writer=True)


# ----------------------------------------------------------------------------- whose fault

class RaisingJudge:
    def __init__(self, exc):
        self.exc = exc

    def score_masks(self, masks, objective):
        raise self.exc


@pytest.mark.parametrize("exc, status, bad_input", [
    (RuleError("line 2: unknown name 'q'"), "rejected", False),
    (FamilyError("family 'x': propagator 3 is not quadratic"), "error", True),
    (RuntimeError("the solver lost a pivot"), "error", False),
])
def test_only_the_rules_own_fault_rejects_it(exc, status, bad_input):
    ev = score_job(RaisingJudge(exc), EvalJob(0, masks=[np.ones(3, bool)]), "seeds")
    assert (ev.status, ev.bad_input) == (status, bad_input)
    assert str(exc) in ev.reason


class FailingJudgeEvaluator(BigFitnessEvaluator):
    """Scores generation 0, then the judge fails (a cap, a bad family) on everything."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def evaluate(self, jobs, deadline=None, on_result=None):
        self.calls += 1
        if self.calls == 1:
            return super().evaluate(jobs)
        return [Evaluation(j.key, "error", reason="CapError: more than 8 GB of rows",
                           bad_input=True) for j in jobs]


def test_a_judge_failure_stops_the_run_and_is_never_recorded_as_a_rejection(tmp_path):
    run = RunFolder.create(tmp_path / "run", {"engine": "deap"})
    engine = DeapEngine(GPConfig(population=10, generations=3, seed=1))
    with pytest.raises(JudgeError, match="not the candidate's fault.*CapError") as caught:
        engine.evolve(PAPER, evaluator=FailingJudgeEvaluator(), run=run)
    assert caught.value.exit_status == 2
    assert {r.generation for r in run.db.candidates()} == {0}
    assert not run.db.candidates("WHERE status != 'ok'")
    # nothing of the failed generation reached the mask cache (held or read back)
    assert all(rec.status == "ok" for rec in run.db.candidates())
    assert not engine.cache._by_hash
    run.close()


def test_evolve_stops_with_the_judges_one_line_message(tmp_path, capsys, monkeypatch):
    def evaluate(self, jobs, deadline=None, on_result=None):
        return [Evaluation(j.key, "error", reason="RuntimeError: the solver lost a pivot")
                for j in jobs]
    monkeypatch.setattr(LocalEvaluator, "evaluate", evaluate)
    out = tmp_path / "run"
    code = main(["evolve", "--population", "8", "--generations", "1", "--workers", "0",
                 "--out", str(out), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1
    assert err[0].startswith("ibp-evolve evolve: error: the judge failed") and "pivot" in err[0]
    assert not out.exists()    # nothing was kept: not a single generation was complete


def test_validation_records_a_rules_failure_but_stops_on_the_judges(tmp_path):
    from ibp_evolve.runs.validation import Validator

    class Judge:
        def __init__(self, exc):
            self.exc = exc

        def score(self, *args, **kwargs):
            raise self.exc

    validator = Validator(SuiteSpec("triangle_box_paper"))
    record = type("Rec", (), {"id": 3, "source": "", "engine": "deap"})()
    validator._judge = Judge(RuleError("line 1: no return"))
    assert validator.score(record, 0).status == "rejected"
    validator._judge = Judge(FamilyError("family 'x' has no propagators"))
    with pytest.raises(JudgeError, match="no propagators") as caught:
        validator.score(record, 0)
    assert caught.value.exit_status == 2


# ----------------------------------------------------------------------------- the loop

class CountingEngine(LoopEngine):
    """A toy engine: each generation is two batches of rules 'keep the first k seeds'."""
    name = "toy"

    def __init__(self, generations=2):
        self.config = EngineConfig(generations=generations)
        self.told = []

    def setup(self, spec, run):
        self.suite = spec.load()
        self.sizes = [f.n_seeds for f in _features(spec)]
        self.batches = 0

    def ask(self, generation):
        self.batches += 1
        out = []
        for k in (1, 2, 2):   # the second 2 is a copy: judged once
            masks = [np.arange(n) < k + generation for n in self.sizes]
            out.append(Candidate(source=f"# keep {k}\n", operation="toy", masks=masks,
                                 size=k))
        out.append(Candidate(source="junk", operation="toy", failure=("rejected", "bad")))
        return out

    def tell(self, generation, candidates, stopped=False):
        self.told.append((generation, [c.record.status for c in candidates]))
        return self.batches % 2 == 0

    def state(self):
        return {"batches": self.batches}

    def restore(self, state, run):
        self.batches = state["batches"]


def _features(spec):
    from ibp_evolve.runs.evaluation import suite_features
    return suite_features(spec.load())


def test_an_engine_plugs_in_by_ask_and_tell(tmp_path):
    run = RunFolder.create(tmp_path / "toy", {"engine": "toy"})
    evaluator = BigFitnessEvaluator()
    engine = CountingEngine(generations=1).evolve(PAPER, evaluator=evaluator, run=run)
    assert engine.stopped_ == "generations" and engine.generation_ == 1
    # two generations of two batches of four: ids run on, identical masks are judged once
    assert engine.n_candidates_ == 16 and run.db.count() == 16
    assert engine.n_evaluations_ == len(evaluator.given) == 3
    assert [g["candidates"] for g in run.db.generations()] == [8, 8]
    assert engine.told[0] == (0, ["ok", "ok", "ok", "rejected"])
    assert run.db.candidates("WHERE id = 2")[0].cached
    assert engine.best_.fitness == min(evaluator.given.values())
    assert len(list((run.path / "best").glob("rank*.py"))) == 3
    run.close()


def test_engine_configs_are_frozen_and_round_trip_through_the_run_config():
    config = LLMConfig(population=7, start_rules=("def priority(seed, target): ...",))
    assert LLMConfig.from_json(json.loads(json.dumps(config.to_json()))) == config
    with pytest.raises(AttributeError):
        config.population = 8
    assert config.replaced(generations=3).generations == 3 and config.generations == 20
    gp = GPConfig(features=("tube",), constants=(0, 1))
    assert GPConfig.from_json(gp.to_json()) == gp


def test_engines_of_two_kinds_share_a_run_as_islands_and_resume(tmp_path):
    from ibp_evolve.runs.islands import Islands

    def islands(generations):
        return Islands([DeapEngine(GPConfig(population=8, generations=generations, seed=2)),
                        CountingEngine(generations=generations)])

    def rows(path):
        db = sqlite3.connect(path / "run.sqlite")
        return db.execute("SELECT id, engine, island, generation, source, fitness FROM "
                          "candidates ORDER BY id").fetchall()

    whole = RunFolder.create(tmp_path / "whole", {"engine": "islands"})
    engine = islands(2).evolve(PAPER, evaluator=BigFitnessEvaluator(), run=whole)
    whole.close()
    assert engine.generation_ == 2
    made = {(e, i) for _, e, i, *_ in rows(tmp_path / "whole")}
    assert made == {("deap", 0), ("toy", 1)}
    # a run of islands resumes from its checkpoint like any other
    part = RunFolder.create(tmp_path / "part", {"engine": "islands"})
    islands(1).evolve(PAPER, evaluator=BigFitnessEvaluator(), run=part)
    part.close()
    part = RunFolder.open(tmp_path / "part", writer=True)
    islands(2).evolve(PAPER, evaluator=BigFitnessEvaluator(), run=part, resume=True)
    part.close()
    assert rows(tmp_path / "part") == rows(tmp_path / "whole")
