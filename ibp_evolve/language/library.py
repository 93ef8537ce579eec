"""The rule library: readable rule files under ``rules/`` (baselines and evolved rules).

Each file starts with a comment block saying what the rule is, where it comes from and its
measured scores on the shipped suites.  ``IBP_EVOLVE_RULES`` points at another library folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from ibp_evolve.language.parse import Rule, load_rule


def library_dir() -> Path:
    root = os.environ.get("IBP_EVOLVE_RULES")
    return Path(root) if root else Path(__file__).resolve().parents[2] / "rules"


def library_rules() -> list[Path]:
    folder = library_dir()
    return sorted(folder.rglob("*.py")) if folder.is_dir() else []


def resolve_rule(name_or_path: str) -> Rule:
    """A rule file by path, or a library rule by name (``improved_seeding``)."""
    path = Path(name_or_path)
    if path.suffix == ".py" or path.exists():
        if not path.is_file():
            raise FileNotFoundError(f"rule file '{path}' does not exist")
        return load_rule(path)
    for candidate in library_rules():
        if candidate.stem == name_or_path or str(candidate.relative_to(library_dir()))[:-3] \
                == name_or_path:
            return load_rule(candidate)
    names = ", ".join(p.stem for p in library_rules())
    raise FileNotFoundError(f"unknown rule '{name_or_path}': not a file and not in the rule "
                            f"library {library_dir()} ({names})")


def description(path: Path) -> str:
    """The first sentence of a rule file's leading comment block."""
    words = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        words.append(line.lstrip("#").strip())
    text = " ".join(words)
    for stop in (": ", ". "):
        if stop in text:
            text = text[: text.index(stop)]
    return text
