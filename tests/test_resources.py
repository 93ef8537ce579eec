"""Shipped rules and seeds are found in a checkout and in an installed wheel; a user's rules are
found by name, run in the sandbox, and exports land in the user's project, never in the package."""

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from ibp_evolve.language.library import is_shipped, library_rules, resolve_rule, rule_name
from ibp_evolve.resources import (ResourceError, export_dir, locate_shipped, package_root,
                                  seeds_dir, shipped_rules_dir)

CHECKOUT = Path(__file__).resolve().parents[1]
KEEP_NOTHING = "def keep(seed, target):\n    return False\n"


def test_a_checkout_uses_its_own_rules_and_seeds():
    assert package_root() == CHECKOUT
    assert shipped_rules_dir() == CHECKOUT / "rules"
    assert (seeds_dir() / "improved_seeding_start.py").is_file()
    assert is_shipped(CHECKOUT / "rules" / "laporta.py")


def test_an_installed_wheel_finds_its_data_through_its_record(tmp_path):
    # pip's layout for a venv: lib/python3.X/site-packages beside share/, the RECORD naming the
    # data files relative to site-packages.
    site = tmp_path / "venv" / "lib" / "python3.11" / "site-packages"
    info = site / "ibp_evolve-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "RECORD").write_text("ibp_evolve/__init__.py,,\n"
                                 "../../../share/ibp-evolve/rules/laporta.py,,\n"
                                 "../../../share/ibp-evolve/seeds/laporta_start.py,,\n")
    assert locate_shipped(site) == tmp_path / "venv" / "share" / "ibp-evolve"


def test_an_install_without_its_data_says_so(tmp_path):
    (tmp_path / "ibp_evolve").mkdir()
    if (Path(sys.prefix) / "share" / "ibp-evolve").is_dir():
        pytest.skip("this interpreter's prefix holds an installed copy of the data")
    with pytest.raises(ResourceError, match="reinstall"):
        locate_shipped(tmp_path)


def test_exports_go_to_the_projects_rules_or_the_user_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("IBP_EVOLVE_RULES", raising=False)
    monkeypatch.chdir(tmp_path)
    assert export_dir() == tmp_path / "rules" / "evolved"
    monkeypatch.setenv("IBP_EVOLVE_RULES", str(tmp_path / "mine"))
    assert export_dir() == tmp_path / "mine" / "evolved"


def test_project_and_user_rules_are_found_by_name_and_are_not_trusted(tmp_path, monkeypatch):
    project = tmp_path / "project"
    (project / "rules" / "evolved").mkdir(parents=True)
    (project / "rules" / "evolved" / "mine.py").write_text(KEEP_NOTHING)
    user = tmp_path / "user"
    user.mkdir()
    (user / "laporta.py").write_text(KEEP_NOTHING)      # the user's folder hides a shipped name
    monkeypatch.chdir(project)
    monkeypatch.setenv("IBP_EVOLVE_RULES", str(user))
    mine = resolve_rule("evolved/mine")
    assert mine.path is not None and not is_shipped(mine.path)
    assert resolve_rule("mine").path == mine.path
    assert Path(resolve_rule("laporta").path).resolve() == (user / "laporta.py").resolve()
    names = [rule_name(p) for p in library_rules()]
    assert names.count("laporta") == 1 and "evolved/mine" in names
    assert "improved_seeding" in names and "evolved/gp_triangle_box_paper_67" in names
    with pytest.raises(FileNotFoundError, match="unknown rule 'nonesuch'"):
        resolve_rule("nonesuch")


@pytest.mark.slow
def test_the_wheel_installed_in_a_fresh_venv_scores_and_exports_from_another_folder(tmp_path):
    # nothing of the test session leaks in: with the checkout on PYTHONPATH, pip would take the
    # build's egg-info for an installed ibp-evolve and skip the wheel
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "IBP_EVOLVE_RULES")}
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(CHECKOUT), "--no-deps",
                    "--no-build-isolation", "-q", "-w", str(dist)], check=True, env=env)
    # as .ci/run does: the heavy dependencies come from this interpreter, the package from the
    # wheel, installed by the venv's own pip (it installs beside an editable checkout's copy)
    venv.create(tmp_path / "venv", system_site_packages=True, with_pip=True)
    python = tmp_path / "venv" / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps",
                    *map(str, dist.glob("*.whl"))], check=True, env=env)
    project = tmp_path / "project"
    project.mkdir()
    cli = tmp_path / "venv" / "bin" / "ibp-evolve"

    def run(*args):
        return subprocess.run([str(cli), *args], cwd=project, env=env, capture_output=True,
                              text=True)

    where = subprocess.run([str(python), "-c", "import ibp_evolve; print(ibp_evolve.__file__)"],
                           cwd=project, env=env, capture_output=True, text=True, check=True)
    assert str(tmp_path / "venv") in where.stdout
    scored = run("score", "improved_seeding")
    assert scored.returncode == 0, scored.stderr
    assert "fitness 92  complete yes" in scored.stdout
    evolved = run("evolve", "--generations", "1", "--population", "20", "--out",
                  str(tmp_path / "run"), "--start", "improved_seeding_start", "--export",
                  "--quiet", "--workers", "0")
    assert evolved.returncode == 0, evolved.stderr
    assert (project / "rules" / "evolved" / "run_rank01.py").is_file()
    assert not list((tmp_path / "venv").rglob("run_rank01.py"))
    rescored = run("score", "evolved/run_rank01")
    assert rescored.returncode == 0 and "complete yes" in rescored.stdout
