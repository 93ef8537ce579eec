"""Run folders are data, one process writes a run, and every stop is clean.

A checkpoint is JSON that runs nothing when read; a broken checkpoint or database is a one-line
error naming the file; a second writer is refused with the holder's PID; a refused
configuration leaves no folder behind; Ctrl-C keeps the last complete generation and ``best/``;
workers never outlive the ``evolve`` process.  Rules read from files reach the judge only
through the rule sandbox, in ``minimize`` and ``distill --from`` as everywhere else.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ibp_evolve.cli.main import main
from ibp_evolve.runs.store import RunError, RunFolder, random_state_from_json

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--population", "12", "--generations", "1", "--workers", "0", "--seed", "5", "--quiet",
         "--start", "improved_seeding_start"]
SLOW_RULE = '''\
def keep(seed, target):
    return sum(i * j for i in range(seed.r * 10000) for j in range(seed.t * 10000)) > 0
'''
needs_proc = pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs Linux /proc")


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A small finished GP run (two generations, scored in this process)."""
    out = tmp_path_factory.mktemp("runs") / "small"
    assert main(["evolve", *SMALL, "--out", str(out)]) == 0
    return out


def copy_of(run: Path, tmp_path: Path) -> Path:
    target = tmp_path / run.name
    shutil.copytree(run, target)
    return target


def one_line_error(err: str, *words) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ibp-evolve "), err
    assert "Traceback" not in err
    for w in words:
        assert w in lines[0], (w, err)


# ----------------------------------------------------------------------------- checkpoints

def test_the_checkpoint_is_plain_json_with_the_random_state_as_integers(finished_run):
    assert not (finished_run / "checkpoint.pkl").exists()
    document = json.loads((finished_run / "checkpoint.json").read_text())
    assert document["format"] == "ibp-evolve checkpoint" and document["version"] == 2
    state = document["state"]
    assert state["engine"] == "deap" and state["generation"] == 1
    gp_state = state["engine_state"]
    version, words, gauss = random_state_from_json(gp_state["random_state"])
    assert version == 3 and len(words) == 625 and all(isinstance(w, int) for w in words)
    # trees are node names of the primitive set, nothing executable
    assert all(isinstance(n, str) for ind in gp_state["population"] for n in ind["nodes"])
    # fitness is exact text, never a float that rounds past 2^53
    assert all(isinstance(ind["fitness"][0], str) for ind in gp_state["population"])


class _Boom:
    """Unpickling this object writes a file: what a crafted pickle could do."""
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (Path.write_text, (Path(self.path), "pwned"))


def test_a_crafted_pickle_in_a_run_folder_is_never_unpickled(finished_run, tmp_path, capsys):
    run = copy_of(finished_run, tmp_path)
    (run / "checkpoint.json").unlink()
    witness = tmp_path / "witness"
    (run / "checkpoint.pkl").write_bytes(pickle.dumps(_Boom(str(witness))))
    assert main(["evolve", "--resume", str(run), "--workers", "0", "--quiet"]) == 2
    one_line_error(capsys.readouterr().err, "checkpoint.pkl", "not read")
    assert not witness.exists()


CHECKPOINTS = {
    "empty": (b"", "is empty"),
    "truncated": (b'{"format": "ibp-evolve checkpoint", "version": 2, "sta', "not a valid"),
    "not utf-8": (b"\xff\xfe\x00garbage", "not a valid"),
    "a JSON list": (b"[1, 2, 3]", "not an ibp-evolve checkpoint"),
    "a newer version": (b'{"format": "ibp-evolve checkpoint", "version": 99, "state": {}}',
                        "version 99"),
    "an older version": (b'{"format": "ibp-evolve checkpoint", "version": 1, "state": {}}',
                         "cannot be resumed"),
    "no state": (b'{"format": "ibp-evolve checkpoint", "version": 2}', "no engine state"),
    "a state of holes": (b'{"format": "ibp-evolve checkpoint", "version": 2, '
                         b'"state": {"engine": "deap", "generation": 1}}', "malformed"),
    "an unknown tree node": None,   # built below from the real checkpoint
}


@pytest.mark.parametrize("case", sorted(CHECKPOINTS))
def test_a_broken_checkpoint_is_a_one_line_error_naming_the_file(finished_run, tmp_path,
                                                                 capsys, case):
    run = copy_of(finished_run, tmp_path)
    content = CHECKPOINTS[case]
    if content is None:
        document = json.loads((run / "checkpoint.json").read_text())
        document["state"]["engine_state"]["population"][0]["nodes"][0] = "__import__"
        content = (json.dumps(document).encode(), "unknown GP node")
    data, words = content
    (run / "checkpoint.json").write_bytes(data)
    assert main(["evolve", "--resume", str(run), "--generations", "2", "--workers", "0",
                 "--quiet"]) == 2
    one_line_error(capsys.readouterr().err, "checkpoint.json", words)


def _foreign_database(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE photos (id INTEGER)")
    db.commit()
    db.close()


def _newer_database(path: Path) -> None:
    from ibp_evolve.runs.store import RunDatabase
    db = RunDatabase(path)
    db.set_meta(schema_version="99")
    db.close()


DATABASES = {
    "newer": (_newer_database, "schema version 99"),
    "garbage": (lambda p: p.write_bytes(b"this is not a database" * 100), "not a readable"),
    "empty": (lambda p: p.write_bytes(b""), "is empty"),
    "missing": (lambda p: None, "no run database"),
    "foreign": (_foreign_database, "not an ibp-evolve run database"),
}


@pytest.mark.parametrize("case", sorted(DATABASES))
def test_a_broken_database_is_a_one_line_error_naming_the_file(finished_run, tmp_path, capsys,
                                                               case):
    run = copy_of(finished_run, tmp_path)
    for name in ("run.sqlite", "run.sqlite-wal", "run.sqlite-shm"):
        (run / name).unlink(missing_ok=True)
    make, words = DATABASES[case]
    make(run / "run.sqlite")
    assert main(["evolve", "--resume", str(run), "--workers", "0", "--quiet"]) == 2
    one_line_error(capsys.readouterr().err, "run.sqlite", words)
    if case == "foreign":   # a file that is not ours is left exactly as it was
        tables = sqlite3.connect(run / "run.sqlite").execute(
            "SELECT name FROM sqlite_master").fetchall()
        assert tables == [("photos",)]


def test_a_config_that_is_not_a_run_configuration_is_a_one_line_error(finished_run, tmp_path,
                                                                      capsys):
    run = copy_of(finished_run, tmp_path)
    (run / "config.json").write_text('{"engine": "deap"}')
    assert main(["evolve", "--resume", str(run), "--workers", "0", "--quiet"]) == 2
    one_line_error(capsys.readouterr().err, "config.json", "not a complete run configuration")


# ----------------------------------------------------------------------------- one writer

def test_a_second_writer_is_refused_with_the_holders_pid_and_readers_are_not(finished_run,
                                                                             tmp_path, capsys):
    path = copy_of(finished_run, tmp_path)
    writer = RunFolder.open(path, writer=True)
    try:
        assert main(["evolve", "--resume", str(path), "--workers", "0", "--quiet"]) == 2
        one_line_error(capsys.readouterr().err, f"being written by process {os.getpid()}")
        with pytest.raises(RunError, match=str(os.getpid())):
            RunFolder.open(path, writer=True)
        reader = RunFolder.open(path)        # report, inspect: no lock needed
        assert reader.db.count() > 0
        reader.close()
    finally:
        writer.close()
    # the lock goes with its holder: the run can be continued now
    assert main(["evolve", "--resume", str(path), "--generations", "2", "--workers", "0",
                 "--quiet"]) == 0


# ----------------------------------------------------------------------------- no debris

def test_refused_configurations_leave_no_run_folder_and_the_corrected_command_works(
        tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PYTHON_JULIAPKG_EXE", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "no-julia-here"))
    out = tmp_path / "run"
    not_gp = tmp_path / "priority.py"
    not_gp.write_text("def priority(seed, target):\n    return 1.0 * seed.r\n")
    refusals = [
        (["--population", "1"], 2, "population"),
        (["--engine", "llm", "--backend", "openai"], 2, "--url"),
        (["--engine", "llm", "--backend", "transformers"], 2, "--model"),
        (["--engine", "pysr"], 3, "Julia"),
        (["--workers", "100000"], 2, "--force-workers"),
        (["--dask-local", "100000"], 2, "--force-workers"),
        (["--seed", "-5"], 2, "--seed must be non-negative"),
        (["--time-limit", "0"], 2, "--time-limit"),
        (["--time-limit", "nan"], 2, "--time-limit"),
        (["--time-limit", "inf"], 2, "--time-limit"),
        (["--candidate-timeout", "0"], 2, "--candidate-timeout"),
        # found only once the engine starts: the folder it had made is removed again
        (["--start", str(not_gp)], 2, ""),
    ]
    for options, status, words in refusals:
        for where in (["--out", str(out)], []):
            assert main(["evolve", *options, *where, "--quiet"]) == status, options
            one_line_error(capsys.readouterr().err, words)
            assert not out.exists() and not (tmp_path / "runs").exists(), options
    assert main(["evolve", *SMALL, "--out", str(out)]) == 0
    assert (out / "best" / "rank01.py").is_file()


def test_an_unreachable_dask_scheduler_is_exit_3_and_leaves_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["evolve", "--dask", "tcp://127.0.0.1:9", "--out", str(out), "--quiet"]) == 3
    one_line_error(capsys.readouterr().err, "cannot reach the Dask scheduler")
    assert not out.exists()


# ----------------------------------------------------------------------------- the sandbox

def test_a_rule_sent_to_an_evaluator_as_text_runs_in_the_sandbox(monkeypatch):
    import ibp_evolve.runs.evaluation as evaluation
    monkeypatch.setattr(evaluation, "SOURCE_TIME_LIMIT", 1.0)
    evaluator = evaluation.LocalEvaluator(evaluation.SuiteSpec("triangle_box_paper",
                                                               max_seeds=2000))
    (slow,) = evaluator.evaluate([evaluation.EvalJob(0, source=SLOW_RULE)])
    assert slow.status == "rejected" and "time limit" in slow.reason


def test_minimize_stops_a_slow_rule_in_the_sandbox_with_a_one_line_error(tmp_path, capsys):
    rule = tmp_path / "slow.py"
    rule.write_text(SLOW_RULE)
    assert main(["minimize", str(rule), "--time-limit", "1",
                 "--out", str(tmp_path / "m.json")]) == 2
    one_line_error(capsys.readouterr().err, "sandbox", "time limit")
    assert not (tmp_path / "m.json").exists()


def test_distill_from_a_slow_rule_is_stopped_by_the_sandbox(tmp_path, capsys):
    rule = tmp_path / "slow.py"
    rule.write_text(SLOW_RULE)
    assert main(["distill", "--engine", "deap", "--from", str(rule), "--time-limit", "1",
                 "--out", str(tmp_path / "d")]) == 2
    one_line_error(capsys.readouterr().err, "sandbox", "time limit")


def test_minimize_takes_a_run_folder_and_uses_its_best_complete_rule(finished_run, tmp_path,
                                                                    capsys):
    status = main(["minimize", str(finished_run), "--swaps", "0", "--restarts", "1",
                   "--out", str(tmp_path / "m.json")])
    assert status == 0, capsys.readouterr().err
    minimal = json.loads((tmp_path / "m.json").read_text())
    assert minimal["complete"] and minimal["rule"].startswith("small/rank")


@pytest.mark.parametrize("argv", [["score", "RUN"], ["minimize", "RUN", "--swaps", "0",
                                                    "--restarts", "1", "--out", "OUT"],
                                  ["inspect", "RUN", "--formats", "svg", "--quiet"]])
def test_every_verb_names_a_runs_rule_run_slash_rank(finished_run, tmp_path, capsys, argv):
    """A run's best rule is `small/rank01` in score, minimize and inspect as in compare: the
    file name alone (`rank01`) says nothing about which run it came from."""
    run = copy_of(finished_run, tmp_path)
    argv = [{"RUN": str(run), "OUT": str(tmp_path / "m.json")}.get(a, a) for a in argv]
    main(argv)
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("rule small/rank0"), first


def test_the_symbolic_engine_runs_start_rules_in_the_sandbox(tmp_path, capsys):
    rule = tmp_path / "slow.py"
    rule.write_text(SLOW_RULE)
    import ibp_evolve.engines.symbolic.engine as symbolic
    symbolic.START_RULE_TIME_LIMIT, before = 1.0, symbolic.START_RULE_TIME_LIMIT
    try:
        status = main(["evolve", "--engine", "operon", "--start", str(rule), "--generations",
                       "0", "--workers", "0", "--out", str(tmp_path / "run"), "--quiet"])
    finally:
        symbolic.START_RULE_TIME_LIMIT = before
    assert status == 2
    one_line_error(capsys.readouterr().err, "time limit")
    assert not (tmp_path / "run").exists()


# ----------------------------------------------------------------------------- clean stops

def _generations_done(db_path: Path) -> int:
    try:
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
        try:
            row = db.execute("SELECT MAX(generation) FROM generations").fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return -1
    return -1 if row[0] is None else row[0]


def _children(pid: int) -> set[int]:
    out = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.add(int(entry))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _start_evolve(out: Path, *extra) -> subprocess.Popen:
    command = [sys.executable, "-m", "ibp_evolve.cli.main", "evolve", "--population", "30",
               "--generations", "1000", "--workers", "1", "--seed", "2", "--out", str(out),
               *extra]
    return subprocess.Popen(command, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def _wait_for(condition, proc, seconds=240.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


@needs_proc
def test_workers_die_with_a_killed_evolve_process(tmp_path):
    out = tmp_path / "run"
    proc = _start_evolve(out, "--quiet")
    try:
        _wait_for(lambda: _generations_done(out / "run.sqlite") >= 0, proc)
        workers = _children(proc.pid)
        assert workers, "the run scores on a worker process"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 30
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [w for w in workers if _alive(w)], "a worker outlived its parent"
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


BUSY_POOL = """
from ibp_evolve.runs.evaluation import EvalJob, PoolEvaluator, SuiteSpec, _Packed

class Busy(_Packed):
    # masks whose unpacking keeps the worker busy: a candidate that takes long
    def unpack(self):
        import time       # this class travels to the worker by value
        print("busy", flush=True)
        time.sleep(600)

pool = PoolEvaluator(SuiteSpec("triangle_box_paper", max_seeds=2000), workers=1,
                     candidate_timeout=600)
pool.wait_ready()
print(pool.workers[0].proc.pid, flush=True)
masks = Busy()
masks.bits, masks.sizes = [], []
pool.evaluate([EvalJob(0, masks=masks)])
"""


@needs_proc
def test_a_busy_worker_dies_at_once_with_its_killed_parent():
    # A worker in the middle of a long candidate never reads its pipe: only the kernel's
    # parent-death signal stops it when the parent is killed.
    proc = subprocess.Popen([sys.executable, "-c", BUSY_POOL], stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    worker = None
    try:
        worker = int(proc.stdout.readline())
        assert proc.stdout.readline().strip() == "busy"
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 20
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(worker), "a busy worker outlived its parent"
    finally:
        if proc.poll() is None:
            proc.kill()
        if worker is not None and _alive(worker):
            os.kill(worker, signal.SIGKILL)
        proc.stdout.close()
        proc.wait()


def _stop_after_a_generation(out: Path, send) -> int:
    """Start evolve, ``send`` it a signal once a generation is committed, and check that it
    stopped as an interrupt does: exit 130, one line saying how to continue, best/ written,
    the database closed and marked, the checkpoint at the last generation (returned)."""
    proc = _start_evolve(out)
    try:
        _wait_for(lambda: _generations_done(out / "run.sqlite") >= 1, proc)
        send(proc)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert f"interrupted — continue with: ibp-evolve evolve --resume {out}" in err
    assert (out / "best" / "rank01.py").is_file()
    assert not (out / "run.sqlite-wal").exists(), "the database was not closed cleanly"
    done = _generations_done(out / "run.sqlite")
    state = json.loads((out / "checkpoint.json").read_text())["state"]
    assert done >= 1 and state["generation"] == done
    db = sqlite3.connect(out / "run.sqlite")
    assert dict(db.execute("SELECT key, value FROM meta").fetchall())["stopped"] \
        == "interrupted"
    assert db.execute("SELECT MAX(generation) FROM candidates").fetchone()[0] == done
    db.close()
    return done


@needs_proc
def test_ctrl_c_keeps_the_last_generation_writes_best_and_says_how_to_continue(tmp_path, candidate_rows):
    out = tmp_path / "run"
    # Ctrl-C reaches the whole process group
    done = _stop_after_a_generation(out, lambda proc: os.killpg(proc.pid, signal.SIGINT))
    # the interrupted run continues where it stopped, exactly as if never interrupted
    assert main(["evolve", "--resume", str(out), "--generations", str(done + 1),
                 "--workers", "0", "--quiet"]) == 0
    whole = tmp_path / "whole"
    assert main(["evolve", "--population", "30", "--generations", str(done + 1), "--seed", "2",
                 "--workers", "0", "--out", str(whole), "--quiet"]) == 0

    assert candidate_rows(out) == candidate_rows(whole)


def test_resuming_a_finished_run_says_there_is_nothing_to_evolve(finished_run, tmp_path,
                                                                 capsys):
    """--resume of a run that spent its generations is not an error (the summary comes
    again), but stderr says nothing evolved and how to extend the run."""
    run = copy_of(finished_run, tmp_path)
    assert main(["evolve", "--resume", str(run), "--workers", "0", "--no-baselines"]) == 0
    err = capsys.readouterr().err
    assert "has spent its budget of 1 generations: nothing to evolve" in err
    assert f"--resume {run} --generations 21" in err


def test_exported_rules_name_what_the_training_suite_never_varied(finished_run):
    # one training target: every target feature a rule reads has one value there, and the
    # header says so, lest `s <= s_target - missing` be read as tested on other targets
    texts = [p.read_text() for p in sorted((finished_run / "best").glob("rank*.py"))]
    reading_the_target = [t for t in texts if "target." in t.split("\ndef ", 1)[1]]
    assert reading_the_target
    for text in reading_the_target:
        line = next(x for x in text.splitlines() if x.startswith("# constant on every"))
        assert line.startswith("# constant on every target of suite triangle_box_paper "
                               "(untested beyond it): ") and "_target = " in line


@needs_proc
def test_sigterm_stops_evolve_as_ctrl_c_does(tmp_path):
    # `kill PID`, `timeout` and a batch scheduler's time limit send SIGTERM to the command alone
    _stop_after_a_generation(tmp_path / "run", lambda proc: proc.send_signal(signal.SIGTERM))


# ----------------------------------------------------------------------------- what --resume keeps

@pytest.mark.parametrize("option", [["--suite", "box_train"], ["--seed", "3"],
                                    ["--objective", "trimmed"], ["--population", "40"],
                                    ["--ordering", "t,sector,s,r,indices"],
                                    ["--start", "tube_seeding_start"]])
def test_resume_refuses_what_the_run_fixed_rather_than_ignoring_it(finished_run, tmp_path,
                                                                   capsys, option):
    run = copy_of(finished_run, tmp_path)
    assert main(["evolve", "--resume", str(run), *option, "--workers", "0", "--quiet"]) == 2
    one_line_error(capsys.readouterr().err, f"{option[0]}: a resumed run keeps its own")


def test_a_suite_file_changed_since_the_run_started_is_refused_on_resume(tmp_path, capsys):
    suite = tmp_path / "mine.toml"
    write = ('name = "mine"\nfamily = "box"\ntargets = [[{}]]\nsymmetries = false\n').format
    suite.write_text(write("1, 1, 1, 1"))
    out = tmp_path / "run"
    argv = ["--population", "8", "--workers", "0", "--quiet", "--no-baselines"]
    assert main(["evolve", "--suite", str(suite), "--generations", "1", "--out", str(out),
                 *argv]) == 0
    suite.write_text(write("2, 1, 1, 1"))   # overwritten, say by `suites generate --out`
    assert main(["evolve", "--resume", str(out), "--generations", "2", *argv[2:]]) == 2
    one_line_error(capsys.readouterr().err, str(suite), "has changed since the run started")
    suite.write_text(write("1, 1, 1, 1"))   # restored: the run goes on
    assert main(["evolve", "--resume", str(out), "--generations", "2", *argv[2:]]) == 0


def test_a_validation_suite_changed_since_the_run_started_is_refused_on_resume(tmp_path,
                                                                              capsys):
    held_out = tmp_path / "held_out.toml"
    write = ('name = "held_out"\nfamily = "box"\ntargets = [[{}]]\nsymmetries = false\n').format
    held_out.write_text(write("1, 1, 1, 1"))
    out = tmp_path / "run"
    argv = ["--population", "8", "--workers", "0", "--quiet", "--no-baselines"]
    assert main(["evolve", "--suite", "box_train", "--validate", str(held_out),
                 "--generations", "1", "--out", str(out), *argv]) == 0
    held_out.write_text(write("1, 1, 1, 2"))
    assert main(["evolve", "--resume", str(out), "--generations", "2", *argv[2:]]) == 2
    one_line_error(capsys.readouterr().err, str(held_out), "has changed since the run started")


def test_the_best_rules_are_the_best_distinct_selections_of_all_rows(tmp_path):
    # best() keeps only the n best selections while it reads the rows: the same answer as
    # sorting every row (exact fitness: ints and fractions, ties broken by size, then age)
    import random
    from fractions import Fraction

    from ibp_evolve.runs.store import CandidateRecord, RunFolder
    rng = random.Random(3)
    records = [CandidateRecord(
        id=i, engine="deap", operation="random", source="def keep(seed, target):\n    "
        "return True\n", generation=0, size=rng.randint(1, 4),
        mask_hash=None if i % 17 == 0 else f"m{rng.randint(0, 30)}",
        status="ok" if i % 11 else "rejected",
        fitness=rng.choice([rng.randint(60, 90), Fraction(rng.randint(120, 180), 2)]))
        for i in range(400)]
    run = RunFolder.create(tmp_path / "run", {"engine": "deap"})
    try:
        run.db.add_candidates(records)
        ranked = sorted((r for r in records if r.status == "ok"),
                        key=lambda r: (r.fitness, r.size, r.id))
        expected, seen = [], set()
        for r in ranked:
            if (r.mask_hash or f"id{r.id}") not in seen:
                seen.add(r.mask_hash or f"id{r.id}")
                expected.append(r.id)
        for n in (1, 5, 40):
            assert [r.id for r in run.db.best(n)] == expected[:n]
    finally:
        run.close()
