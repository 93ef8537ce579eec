"""A model too large for the device is refused before loading, with the numbers (issue 17:
"a base model too large for memory: a clear error")."""

import json
import shutil
import struct

import pytest

from llm_mutator.model_memory import misfit, model_size


def _safetensors(path, shapes: dict, dtype="F32") -> None:
    """A safetensors file: the header, and tensor bytes only when they are small (a sized
    model is judged by its header alone, so a 'huge' file can be a few bytes long)."""
    offset, header = 0, {"__metadata__": {"format": "pt"}}
    for name, shape in shapes.items():
        n = 4
        for k in shape:
            n *= k
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header).encode()
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(raw)) + raw)
        if offset < 2**20:
            fh.write(b"\0" * offset)


def _huge_model(folder, parameters_per_side=1_000_000):
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "llama"}))
    (folder / "tokenizer.json").write_text("{}")
    # 10^12 parameters: 4 TB in float32, beyond any machine this runs on
    _safetensors(folder / "model.safetensors",
                 {"embed.weight": [parameters_per_side, parameters_per_side]})
    return folder


def test_parameters_are_counted_from_the_safetensors_headers(tmp_path):
    _safetensors(tmp_path / "model-00001-of-00002.safetensors", {"a": [3, 4], "b": [5]})
    _safetensors(tmp_path / "model-00002-of-00002.safetensors", {"c": [2, 2, 2]})
    size = model_size(tmp_path)
    assert size.parameters == 12 + 5 + 8
    assert size.bytes_at(2) == 50
    assert misfit(tmp_path, 4, "cpu", available=1000) is None        # 100 bytes fit
    reason = misfit(tmp_path, 4, "cpu", available=100)                # 100 > 80% of 100
    assert "too large for cpu" in reason and "25M" not in reason


def test_a_broken_weights_file_is_named(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"\xff" * 12)
    with pytest.raises(ValueError, match="model.safetensors: not a readable safetensors"):
        model_size(tmp_path)


def test_the_transformers_backend_refuses_a_model_larger_than_memory(tmp_path):
    pytest.importorskip("torch", reason="the llm extra (torch) is not installed")
    pytest.importorskip("transformers", reason="the llm extra (transformers) is not installed")
    from llm_mutator.backends import BackendError, TransformersBackend
    model = _huge_model(tmp_path / "huge")
    with pytest.raises(BackendError, match=r"too large for cpu: its weights need [\d.]+ GiB "
                                           r"\(1,000,000M parameters x 4 bytes\)"):
        TransformersBackend(str(model), device="cpu")


def test_evolve_and_train_mutator_refuse_it_with_one_line(tmp_path, capsys):
    pytest.importorskip("torch", reason="the llm extra (torch) is not installed")
    pytest.importorskip("transformers", reason="the llm extra (transformers) is not installed")
    from ibp_evolve.cli.main import main
    model = _huge_model(tmp_path / "huge")
    code = main(["evolve", "--engine", "llm", "--backend", "transformers", "--model",
                 str(model), "--device", "cpu", "--generations", "1", "--population", "2",
                 "--workers", "0", "--out", str(tmp_path / "run"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "too large for cpu" in err and "Traceback" not in err
    code = main(["train-mutator", "--out", str(tmp_path / "adapter"), "--base", str(model),
                 "--steps", "1"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().startswith("ibp-evolve train-mutator: error: --base: the model in")
    assert "too large for cpu" in err
    shutil.rmtree(model)
    assert main(["train-mutator", "--out", str(tmp_path / "adapter"), "--base", str(model),
                 "--steps", "1"]) == 2
    assert "--base: cannot load model" in capsys.readouterr().err


def test_a_model_folder_without_a_tokenizer_is_named(tmp_path):
    from llm_mutator.backends import BackendError, check_model_folder
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    with pytest.raises(BackendError, match="the folder holds no tokenizer"):
        check_model_folder(str(folder))
    (folder / "tokenizer.json").write_text("{}")
    check_model_folder(str(folder))


@pytest.mark.parametrize("name", ["nosuchdir", "runs/model-runs", "runs/bench-llm/model-runs"])
def test_a_missing_model_folder_is_named_at_once_not_sent_to_the_hub(tmp_path, monkeypatch,
                                                                     name):
    """Offline, a name the hub loader took for a repository id cost ~45 s of retries and a
    dozen lines; only org/name (no folder org here) can be a hub id."""
    from llm_mutator.backends import BackendError, check_model_folder
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    with pytest.raises(BackendError, match="no such model folder"):
        check_model_folder(name)
    check_model_folder("some-org/some-model")   # left to the hub's loader
