"""Where the files that ship with ibp-evolve live, and where a user's own rules go.

The rule library (``rules/``) and the start rules (``seeds/``) sit beside the packages in a
source checkout.  A wheel carries them as data files under ``share/ibp-evolve/`` of the install
prefix (pyproject.toml, ``[tool.setuptools.data-files]``); the wheel's RECORD says where that
prefix is for this install (a venv, ``--user``, the system), so nothing here guesses a layout.

Rules people make themselves never go beside site-packages: ``--export`` writes into the current
project's ``rules/evolved/`` (or into ``$IBP_EVOLVE_RULES/evolved/`` when that is set).
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from pathlib import Path

__all__ = ["package_root", "shipped_rules_dir", "seeds_dir", "user_rules_dir",
           "project_rules_dir", "export_dir", "ResourceError"]

_DATA = ("share", "ibp-evolve")   # the wheel's data folder, relative to the install prefix
USER_RULES_VARIABLE = "IBP_EVOLVE_RULES"


class ResourceError(FileNotFoundError):
    """The installation lacks a folder that ships with ibp-evolve."""


def package_root() -> Path:
    """The folder that holds the ``ibp_evolve`` and ``llm_mutator`` packages: the checkout's root,
    or site-packages.  A sandboxed child interpreter puts it on its path to import the rule
    language."""
    return Path(__file__).resolve().parent.parent


@lru_cache(maxsize=1)
def _shipped_root() -> Path:
    return locate_shipped(package_root())


def locate_shipped(root: Path) -> Path:
    """The folder holding ``rules/`` and ``seeds/`` for packages installed in ``root``."""
    # A source checkout (editable install, or PYTHONPATH pointing at it): its own folders, so
    # that an edit to rules/ is seen at once and never a stale copy from an earlier install.
    if (root / "pyproject.toml").is_file() and (root / "rules").is_dir():
        return root
    from importlib.metadata import Distribution  # 25 ms of imports, for wheel installs only
    for info in sorted(root.glob("ibp_evolve-*.dist-info")):
        for record in Distribution.at(info).files or ():
            parts = record.parts
            for i in range(len(parts) - 1):
                if parts[i:i + 2] == _DATA:
                    return (root / Path(*parts[:i + 2])).resolve()
    fallback = Path(sys.prefix).joinpath(*_DATA)
    if fallback.is_dir():
        return fallback
    raise ResourceError(f"the rules and seeds that ship with ibp-evolve are not under {root} nor "
                        f"{fallback}: reinstall the package (pip install ibp-evolve)")


def shipped_rules_dir() -> Path:
    """The rule library that ships with the package (baselines and the evolved rules kept)."""
    return _shipped_root() / "rules"


def seeds_dir() -> Path:
    """The start rules that ship with the package (``improved_seeding_start``, FunSearch
    skeletons)."""
    return _shipped_root() / "seeds"


def user_rules_dir() -> Path | None:
    """``$IBP_EVOLVE_RULES``: a user's own rule library, searched before the shipped one."""
    folder = os.environ.get(USER_RULES_VARIABLE)
    return Path(folder).expanduser() if folder else None


def project_rules_dir() -> Path:
    """The current project's ``rules/`` folder (relative to the working directory)."""
    return Path.cwd() / "rules"


def export_dir() -> Path:
    """Where ``--export`` copies best rules: ``$IBP_EVOLVE_RULES/evolved`` when that is set, else
    the current project's ``rules/evolved``; never inside the installed package."""
    return (user_rules_dir() or project_rules_dir()) / "evolved"
