"""The adaptive budget of a run of islands: a weak island rests, a strong one runs on."""

from __future__ import annotations

import json

import pytest

from ibp_evolve.runs.configs import GPConfig, IslandsConfig
from ibp_evolve.runs.island_budget import (budget_lines, due_islands, island_shares,
                                           island_yields)
from ibp_evolve.runs.islands import Islands
from ibp_evolve.runs.loop import Candidate, LoopEngine
from test_islands import evolve, gp, rows


def generation(*islands):
    """A logbook entry: per island (elite entries, candidates), None for a rested island."""
    return {"islands": [{"rested": 1, "candidates": 0} if i is None else
                        {"elite_entries": i[0], "candidates": i[1]} for i in islands]}


# ----------------------------------------------------------------------------- the arithmetic

def test_an_island_that_brings_nothing_into_the_elite_gets_the_floor():
    logbook = [generation((4, 10), (0, 10)) for _ in range(5)]
    yields = island_yields(logbook, 2, halflife=10, prior=0)
    assert yields[0] == pytest.approx(0.4) and yields[1] == 0
    assert island_shares(yields, floor=0.25) == [1.0, 0.25]


def test_with_few_candidates_a_yield_is_shrunk_towards_the_pooled_one():
    # one lucky entry in 2 candidates is not a yield of 0.5
    logbook = [generation((10, 100), (1, 2))]
    lucky, steady = island_yields(logbook, 2, halflife=10, prior=0)[::-1]
    assert lucky == pytest.approx(0.5) and steady == pytest.approx(0.1)
    steady, shrunk = island_yields(logbook, 2, halflife=10, prior=20)
    pooled = 11 / 102
    assert shrunk == pytest.approx((1 + 20 * pooled) / 22)
    assert shrunk < 0.5 and shrunk / steady < 3


def test_recent_generations_count_more_and_no_entries_at_all_means_equal_shares():
    old_strong = [generation((5, 10), (0, 10))] + [generation((0, 10), (2, 10))] * 10
    yields = island_yields(old_strong, 2, halflife=3, prior=0)
    assert yields[1] > yields[0]
    # a long quiet spell keeps the islands' standing (both decay alike)
    quiet = [generation((5, 10), (0, 10))] + [generation((0, 10), (0, 10))] * 30
    assert island_shares(island_yields(quiet, 2, halflife=10, prior=0), 0.2) == [1.0, 0.2]
    assert island_shares(island_yields([generation((0, 10), (0, 10))], 2, 10, 0), 0.2) \
        == [1.0, 1.0]


def test_a_share_is_a_fraction_of_the_generations_run_deterministically():
    credits, ran = [0.0, 0.0, 0.0], [0, 0, 0]
    for _ in range(12):
        due, credits = due_islands([1.0, 0.25, 0.5], credits)
        for k in due:
            ran[k] += 1
    assert ran == [12, 3, 6]


def test_the_summary_names_what_each_island_spent():
    rows_ = [{"extra": json.dumps(generation((1, 30), (0, 30)))},
             {"extra": json.dumps(generation((1, 30), None))}]
    assert budget_lines(rows_) == [
        "island 0 (None) ran 2 of 2 generations: 60 candidates, 67% of the run's "
        "(adaptive budget)",
        "island 1 (None) ran 1 of 2 generations: 30 candidates, 33% of the run's "
        "(adaptive budget)"]
    # every island ran every generation: nothing to say
    assert budget_lines(rows_[:1]) == []


# ----------------------------------------------------------------------------- in a run

class Failing(LoopEngine):
    """A test double of a weak island: every program it proposes fails before scoring."""
    name = "failing"

    def __init__(self, population=10, generations=10):
        self.config = GPConfig(population=population, generations=generations)
        self.asked = []

    def setup(self, spec, run):
        self.suite = spec.load()

    def ask(self, generation):
        self.asked.append(generation)
        return [Candidate(source="def keep(seed, target):\n    return True\n",
                          operation="sample", failure=("rejected", "a weak island"))
                for _ in range(self.config.population)]

    def tell(self, generation, candidates, stopped=False):
        return True

    def state(self):
        return {"asked": list(self.asked)}

    def restore(self, state, run):
        self.asked = list(state["asked"])


def adaptive(generations, **budget):
    return IslandsConfig(generations=generations, migrate_every=0, budget="adaptive",
                         **budget)


def test_a_weak_island_rests_and_the_strong_one_runs_every_generation(tmp_path):
    weak = Failing()
    engine = evolve(tmp_path / "run", Islands([gp(3, generations=12), weak],
                                              adaptive(12, budget_floor=0.25)))
    by_island = [[r[3] for r in rows(tmp_path / "run", f"WHERE island = {k}")]
                 for k in (0, 1)]
    assert sorted(set(by_island[0])) == list(range(13))
    assert weak.asked[0] == 0 and 3 <= len(weak.asked) <= 7
    assert sorted(set(by_island[1])) == weak.asked
    rested = [s["islands"][1].get("rested") for s in engine.logbook_]
    assert sum(1 for r in rested if r) == 13 - len(weak.asked)
    # the GP island's own logbook (its stagnation) never shows the weak island's rests
    assert all("rested" not in s for s in engine._logbook(0))
    # equal budget: both every generation
    equal = Failing()
    evolve(tmp_path / "equal", Islands([gp(3, generations=12), equal],
                                       IslandsConfig(generations=12, migrate_every=0)))
    assert equal.asked == list(range(13))


def test_an_adaptive_run_of_islands_resumes_exactly(tmp_path):
    def islands(generations):
        # the GP islands' own budget is longer (their polish would start at its end)
        return Islands([gp(2, generations=65), gp(9, generations=65), Failing()],
                       IslandsConfig(generations=generations, migrate_every=2, migrants=2,
                                     budget="adaptive", budget_floor=0.3))
    evolve(tmp_path / "whole", islands(8))
    assert len({r[3] for r in rows(tmp_path / "whole", "WHERE island = 2")}) < 9   # it rested
    evolve(tmp_path / "part", islands(4))
    evolve(tmp_path / "part", islands(8), resume=True)
    assert rows(tmp_path / "part") == rows(tmp_path / "whole")


@pytest.mark.parametrize("setting, named", [({"budget": "greedy"}, "--island-budget 'greedy'"),
                                            ({"budget_floor": 0.0}, "--island-floor 0.0"),
                                            ({"budget_floor": 1.5}, "--island-floor 1.5")])
def test_a_bad_budget_is_refused_by_name(setting, named):
    with pytest.raises(ValueError, match=named):
        Islands([gp(0), gp(1)], IslandsConfig(generations=2, **setting))


def test_the_budget_on_the_command_line(tmp_path, capsys):
    from ibp_evolve.cli.main import main
    out = tmp_path / "isl"
    assert main(["evolve", "--engine", "gp:2", "--population", "8", "--generations", "2",
                 "--workers", "0", "--out", str(out), "--quiet", "--no-baselines",
                 "--island-budget", "adaptive", "--island-floor", "0.5"]) == 0
    config = json.loads((out / "config.json").read_text())["engine_config"]
    assert (config["budget"], config["budget_floor"]) == ("adaptive", 0.5)
    capsys.readouterr()
    for argv, message in ((["--engine", "gp:2", "--island-floor", "0"], "--island-floor 0.0"),
                          (["--island-budget", "adaptive"], "options of a run of islands")):
        folder = tmp_path / "refused"
        assert main(["evolve", *argv, "--out", str(folder), "--workers", "0"]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1 and not folder.exists()
    assert main(["evolve", "--resume", str(out), "--island-floor", "0.3"]) == 2
    assert "a resumed run keeps its own" in capsys.readouterr().err
