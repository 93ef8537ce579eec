"""Analytic reductions sample on a Dask cluster as on a process pool: `reduce --analytic ...
--dask ADDRESS | --dask-local N`, and the notebook verb `ibp_evolve.api.reduce`."""

from __future__ import annotations

import sys

import pytest

from ibp_evolve import api
from ibp_evolve.cli.main import main
from ibp_evolve.reducer.analytic import reduce_analytic
from ibp_evolve.reducer.family import load_family

BOX = ["reduce", "box", "--target", "2,1,1,1"]


@pytest.fixture(scope="module")
def local_dask():
    pytest.importorskip("distributed", reason="dask[distributed] (the test extra) is not "
                                              "installed")
    from ibp_evolve.runs.dask_cluster import DaskCluster
    with DaskCluster(local_workers=1) as cluster:
        yield cluster


def test_the_box_in_d_s_t_traces_its_rays_on_dask_and_gets_the_functions_of_one_process(
        local_dask):
    from distributed import get_task_stream
    box = load_family("box")
    with get_task_stream(local_dask.client) as stream:
        on_dask = reduce_analytic(box, [(2, 1, 1, 1)], ["d", "s", "t"], dask=local_dask.client)
    rays = [task for task in stream.data if task["key"].startswith("_dask_ray")]
    assert rays, "no ray was traced on the cluster"
    here = reduce_analytic(box, [(2, 1, 1, 1)], ["d", "s", "t"])
    assert on_dask["targets"] == here["targets"]
    (target,) = here["targets"]
    assert target["reduced"] and {c["value"] for c in target["coefficients"]} == {
        "(-d + 5)/s", "(4*d**2 - 32*d + 60)/(d*s*t**2 - 6*s*t**2)"}


def test_api_reduce_on_a_dask_scheduler_is_the_command_lines_analytic_reduction(local_dask):
    address = local_dask.client.scheduler.address
    on_dask = api.reduce("box", ["2,1,1,1"], analytic="all", dask=address)
    in_process = api.reduce("box", [(2, 1, 1, 1)], analytic="all")
    assert on_dask.complete and on_dask["analytic_in"] == ["d", "s", "t"]
    assert on_dask["targets"] == in_process["targets"]
    assert "I(2,1,1,1) = ((4*d**2 - 32*d + 60)/(d*s*t**2 - 6*s*t**2)) I(0,1,0,1)" \
        in str(on_dask)


def test_api_reduce_at_a_point_is_the_bubbles_3_minus_d_over_s():
    reduction = api.reduce("bubble", [(2, 1)], at="d=17/3,s=5/7")
    assert reduction["targets"][0]["coefficients"] == [{"master": [1, 1], "value": "-56/15"}]
    assert "I(2,1) = (-56/15) I(1,1)" in str(reduction)


def test_api_reduce_of_the_kite_with_and_without_symmetries():
    # d = 6, s = 4/5: the two sunsets are one integral with symmetries (2 x 125/4)
    on = api.reduce("kite", [(1, 1, 1, 1, 1)], at="d=6,s=4/5")
    off = api.reduce("kite", [(1, 1, 1, 1, 1)], at="d=6,s=4/5", symmetries=False)
    assert on["symmetries"] is True and off["symmetries"] is False
    assert len(on["masters"]) == 2 and len(off["masters"]) == 3
    assert "(125/2) I(0,1,1,0,1)" in str(on) and "(125/4) I(1,0,0,1,1)" in str(off)


@pytest.mark.parametrize("extra, words", [
    (["--dask-local", "2"], "--dask and --dask-local need --analytic"),
    (["--analytic", "all", "--dask", "tcp://127.0.0.1:8786", "--dask-local", "1"],
     "--dask and --dask-local exclude each other"),
    (["--analytic", "all", "--dask-local", "0"], "--dask-local 0: expected a positive"),
    (["--analytic", "all", "--workers", "2", "--dask-local", "1"],
     "--workers and --dask/--dask-local exclude each other"),
])
def test_dask_options_that_no_cluster_could_honour_are_one_line_errors(extra, words, capsys):
    assert main(BOX + extra) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1


def test_dask_without_dask_installed_is_exit_3_with_the_install_line(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "distributed", None)   # import distributed fails
    assert main(BOX + ["--analytic", "all", "--dask-local", "1"]) == 3
    assert "pip install 'dask[distributed]'" in capsys.readouterr().err
