"""Test session set-up: derived data (templates, zero sectors, masters) goes to a fresh cache
so that the tests exercise discovery, not whatever an earlier run left behind."""

import os
import tempfile

import pytest

_CACHE = tempfile.mkdtemp(prefix="ibp-evolve-test-cache-")
os.environ.setdefault("IBP_EVOLVE_CACHE", _CACHE)


@pytest.fixture(scope="session")
def triangle_box():
    from ibp_evolve.reducer.family import load_family
    return load_family("triangle_box")


CANDIDATE_COLUMNS = "id, generation, operation, parents, source, fitness"


@pytest.fixture
def candidate_rows():
    """``candidate_rows(folder)``: a run folder's candidates in id order (what a resumed run
    must reproduce row for row); ``columns`` picks other columns of the candidates table."""
    import sqlite3

    def rows(folder, columns: str = CANDIDATE_COLUMNS) -> list:
        db = sqlite3.connect(folder / "run.sqlite")
        try:
            return db.execute(f"SELECT {columns} FROM candidates ORDER BY id").fetchall()
        finally:
            db.close()
    return rows


@pytest.fixture(scope="session")
def tiny_mutator(tmp_path_factory):
    """A mutator model trained for two steps (next to untrained: it writes noise), for the
    tests of sampling with it; skipped without the llm extra."""
    pytest.importorskip("torch", reason="the llm extra (torch) is not installed")
    pytest.importorskip("transformers", reason="the llm extra (transformers) is not installed")
    from llm_mutator.train import TrainConfig, collect_corpus, train_mutator
    out = tmp_path_factory.mktemp("tiny-mutator") / "model"
    train_mutator(collect_corpus(), TrainConfig(out=str(out), steps=2, documents=20,
                                                hidden_size=32, layers=1, heads=2,
                                                vocab_size=300, batch_size=4, threads=1),
                  log=lambda *_: None)
    return str(out)
