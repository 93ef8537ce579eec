"""notebooks/inspect_rules.ipynb ships with its outputs cleared, uses only the public API, and
runs top to bottom against a small run that this test creates."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ibp_evolve.cli.main import main

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "inspect_rules.ipynb"
SUITE = """name = "box_small"
family = "box"
targets = [[1, 1, 1, 1], [2, 1, 1, 1]]
max_seeds = 400
"""


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def test_the_notebook_ships_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    for cell in code_cells(nb):
        assert cell.outputs == [] and cell.execution_count is None


def test_the_notebook_uses_only_the_public_api():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    modules = set()
    for cell in code_cells(nb):
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Import):
                modules |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                modules.add(node.module)
    assert {m for m in modules if m.startswith("ibp_evolve")} == {"ibp_evolve.api"}


def outputs_of(cell) -> str:
    parts = []
    for out in cell.outputs:
        parts.append(out.get("text", ""))
        for value in out.get("data", {}).values():
            parts.append(value if isinstance(value, str) else "")
    return "".join(parts)


def test_the_notebook_runs_top_to_bottom(tmp_path, monkeypatch):
    suite = tmp_path / "box_small.toml"
    suite.write_text(SUITE)
    run = tmp_path / "run"
    assert main(["evolve", "--suite", str(suite), "--population", "16", "--generations", "2",
                 "--workers", "0", "--seed", "1", "--start", "improved_seeding_dots",
                 "--out", str(run), "--quiet"]) == 0
    # the kernel inherits the environment (and the test session's fresh derived-data cache)
    monkeypatch.setenv("IBP_EVOLVE_NOTEBOOK_SUITE", str(suite))
    monkeypatch.setenv("IBP_EVOLVE_NOTEBOOK_RUN", str(run))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, naming the cell, on any error

    cells = code_cells(nb)
    assert all(c.execution_count for c in cells)
    text = "\n".join(outputs_of(c) for c in cells)
    assert "improved_seeding" in text and "laporta" in text  # the library
    assert "<svg" in text  # a seed map drawn inline
    assert "| suite | target | rule |" in text  # the comparison table
    assert "box_small" in text and "run/rank01" in text
    report = run / "report.html"
    assert report.is_file() and str(report) in text
    assert (run / "report.html").read_text().count("<section id=") == 6
