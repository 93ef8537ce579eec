"""``train-mutator --runs``: the mutator learns from scored runs of any engine.

Runs made by the real GP engine on tiny bubble and tadpole suites are turned into improvement
examples (programs of one run, worse first, the better one as the completion: the engine's own
prompt) and fed to a tiny model trained here; a run on a held-out suite is refused."""

import json

import pytest

from ibp_evolve.cli.main import main
from ibp_evolve.language.parse import load_rule
from ibp_evolve.runs.store import CandidateRecord, RunFolder
from llm_mutator.prompt import as_priority_body, build_prompt
from test_bad_input_lines import _one_line_error

TINY = ["--steps", "3", "--documents", "20", "--hidden-size", "32", "--layers", "1",
        "--heads", "2", "--vocab-size", "300", "--batch-size", "8", "--max-length", "256",
        "--threads", "1"]

BUBBLE = 'name = "bubble_small"\nfamily = "bubble"\ntargets = [[2, 1], [1, 2], [2, 2]]\n'
TADPOLE = 'name = "tadpole_small"\nfamily = "tadpole"\ntargets = [[3], [4]]\n'


def _gp_run(folder, suite_text, name, seed):
    suite = folder / f"{name}.toml"
    suite.write_text(suite_text)
    out = folder / f"run-{name}"
    assert main(["evolve", "--suite", str(suite), "--population", "16", "--generations", "2",
                 "--workers", "0", "--seed", str(seed), "--out", str(out), "--quiet"]) == 0
    return out


@pytest.fixture(scope="module")
def gp_runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gp-runs")
    return {"bubble": _gp_run(folder, BUBBLE, "bubble", 1),
            "tadpole": _gp_run(folder, TADPOLE, "tadpole", 2), "folder": folder}


def _candidates(run):
    """id -> (source, fitness, mask digest, status), read through the run store."""
    folder = RunFolder.open(run)
    try:
        return {r.id: (r.source, r.fitness, r.mask_hash, r.status)
                for r in folder.db.candidates()}
    finally:
        folder.close()


def test_examples_are_programs_of_one_run_worse_first_and_end_with_the_better_one(gp_runs):
    import numpy as np

    from llm_mutator.run_examples import examples_from_run, read_run
    run = gp_runs["bubble"]
    rows = _candidates(run)
    programs = read_run(run)
    examples = examples_from_run(programs, 40, np.random.default_rng(0))
    assert len(examples) >= 10
    assert {len(e.bodies) for e in examples} == {2, 3}      # pairs and triples
    first_of_mask = {}
    for cid, (_, _, digest, _) in sorted(rows.items()):
        first_of_mask.setdefault(digest, cid)
    for e in examples:
        assert e.run == str(run) and e.suite == "bubble_small"
        sources = [rows[c][0] for c in e.candidates]       # every program is of this run
        assert [rows[c][1] for c in e.candidates] == list(e.fitness)
        assert all(rows[c][3] == "ok" for c in e.candidates)
        assert list(e.fitness) == sorted(e.fitness, reverse=True)
        assert len(set(e.fitness)) == len(e.fitness)        # each one strictly better
        assert list(e.bodies) == [as_priority_body(s) for s in sources]
        # the engine's prompt, then the best program as the completion
        prompt = build_prompt(list(e.bodies[:-1]))
        assert e.document.startswith(prompt)
        completion = e.document[len(prompt):]
        assert load_rule("def priority(seed, target):\n" + completion)
        assert completion.strip() == "\n".join(
            "    " + line for line in e.bodies[-1].rstrip("\n").split("\n")).strip()
        best = e.candidates[-1]
        assert e.new_mask == (first_of_mask[rows[best][2]] == best)


def test_a_run_with_complete_rules_teaches_only_complete_completions(gp_runs):
    import numpy as np

    from llm_mutator.run_examples import examples_from_run, read_run
    programs = read_run(gp_runs["bubble"])
    assert programs.n_complete and programs.n_complete < len(programs.info)
    examples = examples_from_run(programs, 40, np.random.default_rng(1))
    assert examples and all(e.complete for e in examples)
    shown = [programs.info[c][0] for e in examples for c in e.candidates[:-1]]
    assert not all(shown)          # incomplete rules still appear as the worse programs


def test_train_mutator_learns_from_gp_runs_and_records_each_example(gp_runs, tmp_path, capsys):
    pytest.importorskip("torch", reason="the llm extra (torch) is not installed")
    pytest.importorskip("transformers", reason="the llm extra (transformers) is not installed")
    out = tmp_path / "model"
    assert main(["train-mutator", "--out", str(out), "--runs", str(gp_runs["bubble"]),
                 "--runs", str(gp_runs["tadpole"] / "run.sqlite"), "--run-examples", "30"]
                + TINY) == 0
    capsys.readouterr()
    records = [json.loads(line) for line in (out / "examples.jsonl").read_text().splitlines()]
    assert len(records) >= 20
    assert {r["suite"] for r in records} == {"bubble_small", "tadpole_small"}
    for r in records:
        rows = _candidates(gp_runs["bubble" if r["suite"] == "bubble_small" else "tadpole"])
        assert [rows[c][1] for c in r["candidates"]] == r["fitness"]
        assert r["fitness"] == sorted(r["fitness"], reverse=True)
        assert r["new_mask"] in (True, False) and r["complete"] in (True, False)
    info = json.loads((out / "train_info.json").read_text())
    assert info["run_examples"]["examples"] == len(records)
    assert info["run_examples"]["suites"] == ["bubble_small", "tadpole_small"]
    assert info["documents"] == 20 + len(records)

    # LoRA on a user's base model learns from the same runs
    pytest.importorskip("peft", reason="peft is not installed")
    adapter = tmp_path / "adapter"
    assert main(["train-mutator", "--out", str(adapter), "--base", str(out), "--runs",
                 str(gp_runs["bubble"]), "--run-examples", "8", "--steps", "2", "--documents",
                 "8", "--batch-size", "4", "--lora-rank", "2", "--threads", "1"]) == 0
    info = json.loads((adapter / "train_info.json").read_text())
    assert info["lora"] and info["run_examples"]["examples"] > 0


def test_a_run_on_the_held_out_suite_is_refused(gp_runs, tmp_path, capsys):
    suite = gp_runs["folder"] / "bubble.toml"
    argv = ["train-mutator", "--out", str(tmp_path / "m"), "--runs", str(gp_runs["tadpole"]),
            "--runs", str(gp_runs["bubble"])]
    _one_line_error(capsys, argv + ["--hold-out", str(suite)], str(gp_runs["bubble"]),
                    "held-out suite 'bubble_small'")
    # another suite with one of its targets is held out too: the run has seen its answer
    other = tmp_path / "other.toml"
    other.write_text('name = "bubble_other"\nfamily = "bubble"\ntargets = [[3, 1], [2, 2]]\n')
    _one_line_error(capsys, argv + ["--hold-out", str(other)], "shares target I(2, 2)",
                    "held-out suite 'bubble_other'")
    _one_line_error(capsys, argv + ["--hold-out", "no_such_suite"], "--hold-out no_such_suite")
    assert not (tmp_path / "m").exists()


def test_a_held_out_suite_without_common_targets_lets_the_run_through(gp_runs):
    from llm_mutator.run_examples import HeldOutSuites, read_run
    held = HeldOutSuites(["triangle_box_paper"])
    assert read_run(gp_runs["bubble"], held) is not None


def test_a_folder_that_is_not_a_run_is_refused_in_one_line(tmp_path, capsys):
    (tmp_path / "notes").mkdir()
    _one_line_error(capsys, ["train-mutator", "--out", str(tmp_path / "m"), "--runs",
                             str(tmp_path / "notes")], "notes", "not a run folder")


def _hand_made_run(path, records):
    run = RunFolder.create(path, {"engine": "deap", "suite": "bubble_small"})
    try:
        if records:
            run.db.add_candidates(records)
    finally:
        run.close()
    return path


def test_runs_with_nothing_to_learn_are_named_in_a_warning(gp_runs, tmp_path, capsys):
    from llm_mutator.run_examples import RunExamplesError, collect_run_examples
    empty = _hand_made_run(tmp_path / "empty", [])
    rejected = _hand_made_run(tmp_path / "rejected", [CandidateRecord(
        id=i, engine="deap", operation="random", source="def keep(seed, target):\n"
        "    return seed.d == 0\n", generation=0, status="rejected", reject_reason="timeout")
        for i in range(3)])
    warnings = []
    examples = collect_run_examples([empty, rejected, gp_runs["tadpole"]], 5,
                                    warn=warnings.append)
    assert examples and {e.suite for e in examples} == {"tadpole_small"}
    assert warnings == [f"--runs {empty}: the run has no candidates; skipped",
                        f"--runs {rejected}: none of its 3 candidates was scored; skipped"]
    with pytest.raises(RunExamplesError, match="no run has two scored rules"):
        collect_run_examples([empty, rejected], 5, warn=warnings.append)
    capsys.readouterr()
    assert main(["train-mutator", "--out", str(tmp_path / "m"), "--runs", str(empty)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [f"ibp-evolve train-mutator: warning: --runs {empty}: the run has no "
                   f"candidates; skipped", "ibp-evolve train-mutator: error: --runs: no run has "
                   "two scored rules of different fitness to learn from"]


def test_edit_examples_end_with_a_child_of_the_last_program_shown(gp_runs):
    """An edit example teaches the FunSearch mutator's move: copy the best program shown and
    change a clause.  Its completion is a child (GP mutation or crossover) of the program shown
    last, and no worse than any program shown."""
    import numpy as np

    from llm_mutator.run_examples import edit_examples_from_run, improving_edits, read_run
    programs = read_run(gp_runs["bubble"])
    edits = improving_edits(programs)
    assert edits
    examples = edit_examples_from_run(programs, 30, np.random.default_rng(0))
    assert examples and all(e.kind == "edit" for e in examples)
    for e in examples:
        child = programs.lineage[e.candidates[-1]]
        assert e.candidates[-2] in child.parents                # the last shown is a parent
        assert set(child.parents) <= set(e.candidates[:-1])     # both parents of a crossover
        assert list(e.fitness) == sorted(e.fitness, reverse=True)
        assert e.bodies[-1] != e.bodies[-2]                     # an edit, not a copy
        assert e.complete


def test_collect_run_examples_mixes_edits_and_ranked_examples(gp_runs):
    from llm_mutator.run_examples import collect_run_examples
    examples = collect_run_examples([gp_runs["bubble"]], 40, seed=0, warn=lambda m: None,
                                    edit_share=0.5)
    kinds = [e.kind for e in examples]
    assert 0 < kinds.count("edit") <= 20 and "ranked" in kinds
    none = collect_run_examples([gp_runs["bubble"]], 40, seed=0, warn=lambda m: None,
                                edit_share=0.0)
    assert {e.kind for e in none} == {"ranked"}


def test_hold_out_leaves_rules_evolved_on_the_benchmark_target_out_of_the_corpus(tmp_path):
    """rules/evolved holds answers found by search on triangle_box_paper's own target (one on
    the suite, one on triangle_box_rank_train, which shares I(1,1,1,1,1,1,-3)): held out, the
    corpus has neither; the hand-written library rules measured on the same suite stay."""
    from llm_mutator.prompt import as_priority_body
    from llm_mutator.run_examples import HeldOutSuites
    from llm_mutator.train import collect_corpus, default_corpus_dirs
    rules, _ = default_corpus_dirs()
    evolved = sorted((rules / "evolved").glob("*.py"))
    assert len(evolved) >= 2
    skipped = []
    bodies = {p.body for p in collect_corpus(held_out=HeldOutSuites(["triangle_box_paper"]),
                                             skipped=skipped)}
    assert sorted(path for path, _ in skipped) == evolved
    assert {suite for _, suite in skipped} == {"triangle_box_paper"}
    assert not any(as_priority_body(p.read_text()) in bodies for p in evolved)
    assert as_priority_body((rules / "improved_seeding.py").read_text()) in bodies
    # held out on another family's suite, or not at all, the evolved rules are corpus programs
    for held in (HeldOutSuites(["kite_train"]), None):
        bodies = {p.body for p in collect_corpus(held_out=held)}
        assert all(as_priority_body(p.read_text()) in bodies for p in evolved)
