"""The rule library: readable rule files (baselines and evolved rules), found by name.

Each file starts with a comment block saying what the rule is, where it comes from and its
measured scores on the shipped suites.  A name is looked up, first match wins, in the user's
folder ``$IBP_EVOLVE_RULES``, the current project's ``rules/`` and the rules that ship with the
package (:mod:`ibp_evolve.resources`).  Only shipped rules are trusted to run in-process.
"""

from __future__ import annotations

from pathlib import Path

from ibp_evolve.language.parse import Rule, load_rule
from ibp_evolve.resources import project_rules_dir, shipped_rules_dir, user_rules_dir


def library_dirs() -> list[Path]:
    """The library's folders in lookup order, each once (a checkout's ``rules/`` is both the
    project's and the shipped one)."""
    out, seen = [], set()
    for folder in (user_rules_dir(), project_rules_dir(), shipped_rules_dir()):
        if folder is not None and folder.is_dir() and folder.resolve() not in seen:
            seen.add(folder.resolve())
            out.append(folder)
    return out


def _named_rules() -> dict[str, Path]:
    named: dict[str, Path] = {}
    for folder in library_dirs():
        for path in sorted(folder.rglob("*.py")):
            named.setdefault(path.relative_to(folder).with_suffix("").as_posix(), path)
    return named


def library_rules() -> list[Path]:
    """Every rule file of the library; a name in an earlier folder hides the same name later."""
    return list(_named_rules().values())


def rule_name(path: Path) -> str:
    """A library rule's name: its path under its library folder without ``.py``
    (``evolved/gp_triangle_box_paper_67``); any other file is named by its path."""
    resolved = Path(path).resolve()
    for folder in library_dirs():
        if resolved.is_relative_to(folder.resolve()):
            return resolved.relative_to(folder.resolve()).with_suffix("").as_posix()
    return str(path)


def is_shipped(path) -> bool:
    """A rule file that ships with the package (part of the project: it runs in-process);
    every other rule (a user's, a run's, an LLM's) computes its seed mask in the sandbox."""
    return path is not None and Path(path).resolve().is_relative_to(shipped_rules_dir().resolve())


def _shipped_twin(path: Path) -> Path | None:
    """The shipped file that a path such as ``seeds/improved_seeding_start.py`` names inside
    a checkout (the README's commands), for a user who runs them from another folder."""
    if path.is_absolute() or len(path.parts) < 2 or path.parts[0] not in ("rules", "seeds"):
        return None
    twin = shipped_rules_dir().parent / path
    return twin if twin.is_file() else None


def resolve_rule(name_or_path: str) -> Rule:
    """A rule file by path, or a library rule by name (``improved_seeding``)."""
    path = Path(name_or_path)
    if path.suffix == ".py" or path.exists():
        if path.is_dir():
            raise FileNotFoundError(f"'{path}' is a folder, neither a rule file nor a run "
                                    f"folder (a run holds config.json and best/rank01.py)")
        if not path.is_file():
            twin = _shipped_twin(path)
            raise FileNotFoundError(f"rule file '{path}' does not exist" + (
                f" here; ibp-evolve ships it as {twin}" if twin else ""))
        if path.suffix == ".toml":   # a suite or family file put where the rule goes
            raise FileNotFoundError(f"'{path}' is a TOML file, not a rule (a .py file, a "
                                    f"library name or a run folder); a suite file goes after "
                                    f"--suite")
        return load_rule(path)
    named = _named_rules()
    if name_or_path in named:
        return load_rule(named[name_or_path])
    for name, candidate in named.items():      # a bare stem finds a rule in a subfolder
        if candidate.stem == name_or_path:
            return load_rule(candidate)
    folders = ", ".join(str(f) for f in library_dirs())
    raise FileNotFoundError(f"unknown rule '{name_or_path}': not a file and not in the rule "
                            f"library ({folders}: {', '.join(p.stem for p in named.values())})")


def leading_comments(source: str) -> list[str]:
    """A rule file's header: the comment lines above its code, as written."""
    lines = []
    for line in source.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    return lines


def description(path: Path) -> str:
    """The first sentence of a rule file's leading comment block."""
    text = " ".join(line.lstrip("#").strip() for line in leading_comments(path.read_text()))
    for stop in (": ", ". "):
        if stop in text:
            text = text[: text.index(stop)]
    return text
