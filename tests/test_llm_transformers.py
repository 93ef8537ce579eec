"""A real (tiny) transformers model, trained here by ``train-mutator``, saved to a directory and
loaded through the user's code path, whose completions flow through the whole loop."""

import json

import pytest

torch = pytest.importorskip("torch", reason="the llm extra (torch) is not installed")
pytest.importorskip("transformers", reason="the llm extra (transformers) is not installed")

from ibp_evolve.cli.main import main  # noqa: E402
from ibp_evolve.runs.store import RunFolder  # noqa: E402

TINY = ["--steps", "12", "--documents", "200", "--hidden-size", "32", "--layers", "1",
        "--heads", "2", "--vocab-size", "300", "--batch-size", "8", "--max-length", "192",
        "--threads", "1"]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("mutator") / "model"
    assert main(["train-mutator", "--out", str(out), "--random-rules", "200"] + TINY) == 0
    return out


def test_train_mutator_writes_a_loadable_model_directory(tiny_model):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    info = json.loads((tiny_model / "train_info.json").read_text())
    assert info["steps"] == 12 and info["programs"] > 200
    assert info["final_loss"] < info["first_loss"]
    tok = AutoTokenizer.from_pretrained(tiny_model)
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    from llm_mutator.prompt import PREAMBLE
    assert len(tok(PREAMBLE)["input_ids"]) == 1   # the constant preamble is one token
    assert model.config.vocab_size == len(tok)


def test_backend_samples_several_completions_per_prompt_reproducibly(tiny_model):
    from llm_mutator.backends import TransformersBackend
    from llm_mutator.prompt import build_prompt
    backend = TransformersBackend(str(tiny_model), max_new_tokens=24)
    assert backend.device == ("cuda" if torch.cuda.is_available() else "cpu")
    prompts = [build_prompt(["return 1\n"]), build_prompt(["return seed.s <= 1\n",
                                                           "return seed.d == 0\n"])]
    first = backend.generate(prompts, n=3, seed=7)
    assert [len(g) for g in first] == [3, 3]
    assert all(isinstance(t, str) for g in first for t in g)
    assert backend.generate(prompts, n=3, seed=7) == first


def run_llm(model, out, seed=0, extra=()):
    argv = ["evolve", "--engine", "llm", "--backend", "transformers", "--model", str(model),
            "--population", "6", "--generations", "1", "--workers", "0", "--seed", str(seed),
            "--max-new-tokens", "32", "--samples-per-prompt", "3", "--islands", "2",
            "--out", str(out), "--quiet"] + list(extra)
    assert main(argv) == 0
    run = RunFolder.open(out)
    try:
        samples = run.db.conn.execute(
            "SELECT s.completion, c.status, c.reject_reason, s.valid FROM llm_samples s JOIN "
            "candidates c ON c.id = s.candidate ORDER BY s.candidate").fetchall()
        return [tuple(r) for r in samples], run.db.count()
    finally:
        run.close()


def test_completions_of_the_model_flow_through_the_whole_loop(tiny_model, tmp_path):
    samples, n_rows = run_llm(tiny_model, tmp_path / "run-a", extra=["--deterministic"])
    assert len(samples) == 6
    assert n_rows == 6 + 2   # the two FunSearch skeletons of seeds/, then the completions
    for completion, status, reason, valid in samples:
        assert status in ("ok", "rejected", "timeout", "crashed")
        assert (status == "ok") or reason
        assert valid in (0, 1)
    assert (tmp_path / "run-a" / "best" / "rank01.py").is_file()
    # deterministic mode: the same seed gives the same completions and verdicts
    again, _ = run_llm(tiny_model, tmp_path / "run-b", extra=["--deterministic"])
    assert again == samples


def test_lora_fine_tuning_gives_an_adapter_the_backend_loads(tiny_model, tmp_path):
    pytest.importorskip("peft", reason="peft is not installed")
    from llm_mutator.backends import TransformersBackend
    from llm_mutator.prompt import build_prompt
    adapter = tmp_path / "adapter"
    assert main(["train-mutator", "--out", str(adapter), "--base", str(tiny_model),
                 "--steps", "2", "--documents", "20", "--batch-size", "4",
                 "--lora-rank", "2", "--threads", "1"]) == 0
    info = json.loads((adapter / "train_info.json").read_text())
    assert info["lora"] and info["trained_parameters"] < info["parameters"]
    backend = TransformersBackend(str(tiny_model), lora=str(adapter), max_new_tokens=8)
    assert "LoRA" in backend.description
    assert len(backend.generate([build_prompt(["return 1\n"])], n=2, seed=1)[0]) == 2
