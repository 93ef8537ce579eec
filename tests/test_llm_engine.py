"""The LLM engine end to end without a model: replayed completions, the evolve CLI with the
``openai`` backend against ``serve-llm``, determinism, asynchronous mode and resume."""

import json

import pytest

from ibp_evolve.cli.main import main
from ibp_evolve.runs.evaluation import SuiteSpec
from ibp_evolve.runs.store import RunFolder
from llm_mutator.backends import ReplayBackend
from llm_mutator.engine import COPY_REASON, LLMConfig, LLMEngine
from llm_mutator.server import CompletionServer

SPEC = SuiteSpec.of("triangle_box_paper", max_seeds=2000)
COMPLETIONS = [
    "    return seed.d <= target.d and seed.s <= target.s - seed.missing\n",
    "    return (seed.r <= target.r) - 0.5\n",
    "    return seed.s <= target.s - seed.missing and seed.d == 0\n",
    "    return seed.s <=\n",
    "    x = target.s - seed.missing\n    return seed.d == 0 and seed.s <= x and seed.t >= 3\n",
]


class SeededBackend:
    """Completions that depend only on the sampling seed (which deterministic mode derives
    from the run's seed and the prompt's index), like a model sampled with that seed."""
    description = "seeded"

    def generate(self, prompts, n=1, seed=None):
        return [[COMPLETIONS[(seed + 7 * k + j) % len(COMPLETIONS)] for j in range(n)]
                for k in range(len(prompts))]

    def close(self):
        pass


def evolve(path, resume=False, **config):
    config = {"population": 6, "generations": 2, "islands": 3, "samples_per_prompt": 2,
              "prompts_per_batch": 1, "deterministic": True, "reset_period": 2, **config}
    run = RunFolder.open(path) if resume else RunFolder.create(path, {"engine": "llm"})
    backend = SeededBackend() if config["deterministic"] else ReplayBackend(COMPLETIONS)
    engine = LLMEngine(LLMConfig(**config), backend=backend)
    try:
        engine.evolve(SPEC, run=run, resume=resume)
        rows = [(r.id, r.generation, r.island, r.status, r.parents, r.fitness)
                for r in run.db.candidates()]
        samples = run.db.conn.execute("SELECT candidate, round, island, prompt_parents "
                                      "FROM llm_samples ORDER BY candidate").fetchall()
        return engine, rows, [tuple(s) for s in samples]
    finally:
        run.close()


def test_deterministic_runs_repeat_exactly(tmp_path):
    a = evolve(tmp_path / "a")
    b = evolve(tmp_path / "b")
    assert a[1] == b[1] and a[2] == b[2]
    engine, rows, samples = a
    assert len(rows) == 2 + 6 * 2      # two start programs, two rounds of six completions
    assert engine.best_.seeds <= 92 and engine.best_.complete
    statuses = {r[3] for r in rows}
    assert "rejected" in statuses and "ok" in statuses
    assert 0 < engine.logbook_[-1]["valid_share"] < 1
    assert engine.logbook_[-1]["median_edit_tokens"] > 0   # no completion copies its prompt


@pytest.mark.parametrize("key", ["engine", "database"])
def test_a_corrupt_saved_state_is_a_one_line_error_naming_the_database(tmp_path, key):
    from ibp_evolve.runs.store import RunError
    evolve(tmp_path / "run", generations=1)
    run = RunFolder.open(tmp_path / "run")
    run.db.conn.execute("UPDATE llm_state SET value = '{\"round\": [' WHERE key = ?", (key,))
    run.close()
    with pytest.raises(RunError, match=r"run\.sqlite: malformed LLM engine state"):
        evolve(tmp_path / "run", resume=True, generations=2)


def test_resume_rewinds_the_round_in_progress_and_continues(tmp_path):
    full = evolve(tmp_path / "full", generations=3)
    evolve(tmp_path / "part", generations=1)
    # a kill in the middle of round 2: rows of that round exist, the commit did not happen
    run = RunFolder.open(tmp_path / "part")
    from ibp_evolve.runs.store import CandidateRecord
    run.db.add_candidates([CandidateRecord(id=999, engine="llm", operation="sample",
                                           source="junk", generation=2)])
    run.close()
    resumed = evolve(tmp_path / "part", resume=True, generations=3)
    assert 999 not in [r[0] for r in resumed[1]]
    assert resumed[1] == full[1] and resumed[2] == full[2]


def test_asynchronous_mode_overlaps_sampling_and_evaluation(tmp_path):
    engine, rows, samples = evolve(tmp_path / "async", deterministic=False, queue_size=2)
    by_round = {}
    for r in rows:
        by_round[r[1]] = by_round.get(r[1], 0) + 1
    assert by_round[1] >= 6 and by_round[2] >= 6
    assert engine.stopped_ == "generations"


def test_evolve_cli_with_the_openai_backend_against_serve_llm(tmp_path):
    class Rules:
        description = "rules"
        calls = 0

        def generate(self, prompts, n):
            Rules.calls += 1
            return [[COMPLETIONS[(k + j) % len(COMPLETIONS)] for j in range(n)]
                    for k in range(len(prompts))]

    srv = CompletionServer(Rules(), port=0, batch_wait=0.01)
    srv.start_background()
    try:
        out = tmp_path / "run"
        code = main(["evolve", "--engine", "llm", "--backend", "openai", "--url", srv.url,
                     "--population", "4", "--generations", "1", "--workers", "0",
                     "--islands", "2", "--out", str(out), "--quiet"])
        assert code == 0
    finally:
        srv.shutdown()
        srv.server_close()
    assert Rules.calls >= 1
    config = json.loads((out / "config.json").read_text())
    assert config["engine"] == "llm" and config["engine_config"]["backend"] == "openai"
    best = (out / "best" / "rank01.py").read_text()
    assert "def priority(seed, target):" in best and "engine llm" in best


def test_gp_options_and_missing_backend_settings_are_refused():
    with pytest.raises(ValueError, match="GP engine"):
        LLMEngine(LLMConfig(selection="nsga2"))
    with pytest.raises(ValueError, match="--model"):
        LLMEngine(LLMConfig(backend="transformers"))
    with pytest.raises(ValueError, match="--url"):
        LLMEngine(LLMConfig(backend="openai"))
    assert main(["evolve", "--engine", "llm", "--backend", "openai", "--quiet"]) == 2


def test_a_completion_copying_a_shown_program_is_a_rejected_candidate(tmp_path):
    """A copy is not a mutation: the completion that repeats the start program (here with
    other spacing and a comment) takes its slot of the round as a rejected candidate, the
    edit beside it is scored; both parsed, so both count as valid completions."""
    start = "def priority(seed, target):\n    return seed.d <= target.d and seed.s <= target.s\n"
    copy = "    # the same rule\n    return seed.d<=target.d and  seed.s <= target.s\n"
    edit = "    return seed.d <= target.d and seed.s <= target.s - seed.missing\n"
    run = RunFolder.create(tmp_path / "run", {"engine": "llm"})
    engine = LLMEngine(LLMConfig(population=2, generations=1, islands=1, samples_per_prompt=2,
                                 prompts_per_batch=1, deterministic=True,
                                 start_rules=(start,)),
                       backend=ReplayBackend([copy, edit]))
    try:
        engine.evolve(SPEC, run=run)
        samples = run.db.conn.execute(
            "SELECT c.status, c.reject_reason, s.valid, s.new_mask FROM llm_samples s JOIN "
            "candidates c ON c.id = s.candidate ORDER BY c.id").fetchall()
    finally:
        run.close()
    assert [tuple(s) for s in samples] == [("rejected", COPY_REASON, 1, None), ("ok", None, 1, 1)]


def test_functions_per_prompt_from_the_command_line_sets_how_many_programs_a_prompt_shows(
        tmp_path):
    from ibp_evolve.cli.main import build_parser
    args = build_parser().parse_args(["evolve", "--engine", "llm", "--functions-per-prompt",
                                      "3", "--out", str(tmp_path / "x")])
    assert LLMConfig.cli_options(args)["functions_per_prompt"] == 3
    starts = tuple(f"def priority(seed, target):\n    return seed.s <= target.s - {k}\n"
                   for k in range(3))
    backend = ReplayBackend(COMPLETIONS)
    run = RunFolder.create(tmp_path / "run", {"engine": "llm"})
    try:
        LLMEngine(LLMConfig(population=2, generations=1, islands=1, samples_per_prompt=2,
                            prompts_per_batch=1, deterministic=True, functions_per_prompt=3,
                            start_rules=starts), backend=backend).evolve(SPEC, run=run)
    finally:
        run.close()
    # three programs shown (v0, v1, v2), the fourth header is the one to complete
    assert "def priority_v2(" in backend.prompts_seen[0]
    assert backend.prompts_seen[0].rstrip().split("\n")[-2].startswith("def priority_v3(")
