"""Hostile completions: each is rejected or stopped with a recorded reason, the run goes on,
nothing is admitted to an island, and nothing outside the run folder changes."""

import os

from ibp_evolve.runs.evaluation import SuiteSpec, suite_features
from ibp_evolve.runs.store import RunFolder
from ibp_evolve.judge.suites import load_suite
from llm_mutator.backends import ReplayBackend
from llm_mutator.engine import LLMConfig, LLMEngine
from llm_mutator.sandbox import MaskSandbox


def hostile(sentinel):
    return {
        "infinite loop": "    while True:\n        pass\n    return 1\n",
        "recursion": "    return priority(seed, target)\n",
        "import": "    import os\n    os.system('touch " + sentinel + "')\n    return 1\n",
        "dunder import": "    return __import__('os').system('touch " + sentinel + "')\n",
        "attribute smuggling": "    return seed.__class__.__init__.__globals__['os'].system("
                               "'touch " + sentinel + "')\n",
        "subclasses": "    return len(().__class__.__bases__[0].__subclasses__())\n",
        "getattr": "    return getattr(seed, 'r')\n",
        "file write": "    open('" + sentinel + "', 'w').write('x')\n    return 1\n",
        "file read": "    return len(open('/etc/passwd').read())\n",
        "eval": "    return eval('1')\n",
        "huge list": "    return len([0] * 10 ** 12)\n",
        "huge power": "    return seed.r ** 10 ** 10\n",
        # legal, but far too slow: stopped by the sandbox's clock
        "slow generator": "    return sum(x * y for x in range(10000) for y in range(10000) "
                          "for z in range(10000))\n",
    }


GOOD = "    return seed.d <= target.d and seed.s <= target.s - seed.missing\n"


def test_hostile_completions_are_recorded_never_admitted_and_touch_nothing(tmp_path,
                                                                          monkeypatch):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("unchanged")
    sentinel = str(outside / "pwned")
    monkeypatch.chdir(outside)
    before = sorted(os.listdir(outside))
    cases = hostile(sentinel)
    completions = list(cases.values()) + [GOOD]
    run = RunFolder.create(tmp_path / "run", {"engine": "llm"})
    engine = LLMEngine(LLMConfig(population=len(completions), generations=1, islands=2,
                                 samples_per_prompt=1, prompts_per_batch=len(completions),
                                 deterministic=True, mask_time_limit=3.0),
                       backend=ReplayBackend(completions))
    engine.evolve(SuiteSpec.of("triangle_box_paper", max_seeds=2000), run=run)
    try:
        rows = run.db.candidates("WHERE operation = 'sample'")
        assert len(rows) == len(completions)
        by_text = dict(zip(completions, rows))
        for name, text in cases.items():
            rec = by_text[text]
            assert rec.status != "ok", name
            assert rec.reject_reason, name
        assert by_text[cases["slow generator"]].status == "timeout"
        assert by_text[cases["import"]].status == "rejected"
        assert by_text[GOOD].status == "ok" and by_text[GOOD].complete
        members = {r[0] for r in run.db.conn.execute(
            "SELECT candidate FROM llm_members WHERE round_removed IS NULL")}
        assert by_text[GOOD].id in members
        assert not members & {by_text[t].id for t in cases.values()}
        valid = dict(run.db.conn.execute("SELECT candidate, valid FROM llm_samples"))
        assert valid[by_text[cases["file write"]].id] == 0
        assert valid[by_text[cases["slow generator"]].id] == 1   # valid, then stopped
        assert engine.stopped_ == "generations" and engine.best_.seeds == 92
    finally:
        run.close()
    assert not os.path.exists(sentinel)
    assert sorted(os.listdir(outside)) == before
    assert (outside / "keep.txt").read_text() == "unchanged"


def test_mask_sandbox_stops_a_rule_past_its_memory_limit():
    features = suite_features(load_suite("triangle_box_paper"))
    with MaskSandbox(features, time_limit=20.0, memory_limit_mb=2.0) as sandbox:
        result = sandbox.masks("def priority(seed, target):\n"
                               "    return sum(x + seed.r * y for x in range(100) "
                               "for y in range(3))\n")
        assert result.status == "crashed" and "memory" in result.reason
    with MaskSandbox(features, time_limit=20.0, memory_limit_mb=256.0) as sandbox:
        ok = sandbox.masks("def keep(seed, target):\n    return seed.s <= target.s\n")
        assert ok.ok and ok.masks[0].sum() > 0


def test_a_killed_sandbox_is_replaced_and_the_next_rule_is_scored():
    features = suite_features(load_suite("triangle_box_paper"))
    # the limit must stop a rule that never ends, and leave a loaded machine ample time for the
    # good rule (a restarted child masking 26,425 seeds)
    with MaskSandbox(features, time_limit=3.0) as sandbox:
        slow = sandbox.masks("def priority(seed, target):\n    return sum(x for x in "
                             "range(10000) for y in range(10000) for z in range(10000))\n")
        assert slow.status == "timeout"
        good = sandbox.masks("def keep(seed, target):\n    return seed.d <= target.d and "
                             "seed.s <= target.s - seed.missing\n")
        assert good.ok and int(good.masks[0].sum()) == 92
