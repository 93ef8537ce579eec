"""Suites: which targets of which family a rule is judged on.

A suite is a TOML file (built-in name or path):

    name = "triangle_box_paper"
    family = "triangle_box"            # built-in family name or path (relative to the suite)
    targets = [[1, 1, 1, 1, 1, 1, -3]]
    delta_r = 1                        # candidate universe: r <= r_target + delta_r
    delta_s = 1                        #                     s <= s_target + delta_s (each <= 6)
    max_seeds = 5000                   # more seeds than this for a target: failed, not solved
    joint = false                      # true: one system on the union of the targets' seeds
    symmetries = false                 # sector symmetries (default true): seeds in unique
                                       # sectors, relation rows, the symmetric master basis

The shipped suites whose figures were recorded without sector symmetries (the paper's 92 and
88 seeds, the rule headers' "Measured" lines) pin ``symmetries = false`` so that they stay
comparable; a suite without the key uses them, like ``reduce``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from ibp_evolve.reducer.expressions import clip
from ibp_evolve.reducer.family import (
    Family, FamilyError, builtin_toml_names, load_family, parse_toml, read_named_toml,
)

SUITES_PACKAGE = "ibp_evolve.judge.suite_files"
DEFAULT_MAX_SEEDS = 5000
# The candidate universe grows like the volume of the (r, s) box around each target: at
# delta_r = 50 numpy alone asks for hundreds of GiB, so the widening is capped.
MAX_DELTA = 6
MAX_TARGETS = 1000
_KEYS = {"name", "description", "family", "targets", "delta_r", "delta_s", "max_seeds", "joint",
         "symmetries"}


class SuiteError(ValueError):
    pass


@dataclass(frozen=True, eq=False)
class Suite:
    name: str
    family: Family
    targets: tuple[tuple[int, ...], ...]
    delta_r: int = 1
    delta_s: int = 1
    max_seeds: int = DEFAULT_MAX_SEEDS
    joint: bool = False
    description: str = ""
    origin: str = ""
    symmetries: bool = True


def with_symmetries(suite: Suite, symmetries: bool | None) -> Suite:
    """``suite`` with its symmetries setting overridden (None: the suite's own)."""
    if symmetries is None or bool(symmetries) == suite.symmetries:
        return suite
    return dataclasses.replace(suite, symmetries=bool(symmetries))


def suite_digest(suite: Suite) -> str:
    """Content hash of what a suite's scores depend on: its family file, targets, universe
    bounds, cap, jointness and symmetries (not its name or description).  A run records it, so
    that a suite file overwritten since is refused on ``--resume`` rather than scored on."""
    import hashlib
    import json
    content = {"family": suite.family.digest, "targets": [list(t) for t in suite.targets],
               "delta_r": suite.delta_r, "delta_s": suite.delta_s,
               "max_seeds": suite.max_seeds, "joint": suite.joint,
               "symmetries": suite.symmetries}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]


def check_suite_unchanged(suite: Suite, recorded: str | None, where: str) -> None:
    """ValueError naming ``where`` when ``suite`` no longer has the digest a run recorded
    (None: an older run, which recorded none, is taken as it is)."""
    if recorded is not None and suite_digest(suite) != recorded:
        raise ValueError(f"the suite {where} has changed since the run started (its family "
                         f"file, targets or settings differ): restore it, or start a new run")


def builtin_suites() -> list[str]:
    return builtin_toml_names(SUITES_PACKAGE)


def load_suite(name_or_path: str | Path) -> Suite:
    """Load a built-in suite by name, or a user's suite file by path."""
    text, origin, folder = read_named_toml(name_or_path, SUITES_PACKAGE, "suite", SuiteError)
    return parse_suite(text, origin=origin, base=folder)


def parse_suite(text: str, origin: str = "<string>", base: Path | None = None) -> Suite:
    where = f"suite file '{origin}'"

    def fail(key, problem):
        raise SuiteError(f"{where}, key '{key}': {problem}")

    data = parse_toml(text, where, SuiteError)
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        fail(unknown[0], f"unknown key (allowed: {', '.join(sorted(_KEYS))})")
    for key in ("family", "targets"):
        if key not in data:
            fail(key, "missing")
    family_ref = data["family"]
    if not isinstance(family_ref, str):
        fail("family", "must be a built-in family name or a path")
    if base is not None and family_ref.endswith(".toml") and not Path(family_ref).is_absolute():
        family_ref = str(base / family_ref)
    try:
        family = load_family(family_ref)
    except FamilyError as exc:
        fail("family", str(exc))
    raw_targets = data["targets"]
    if not isinstance(raw_targets, list) or not raw_targets:
        fail("targets", "must be a non-empty list of index lists")
    if len(raw_targets) > MAX_TARGETS:
        fail("targets", f"{len(raw_targets)} targets, over the cap of {MAX_TARGETS} "
             "(MAX_TARGETS)")
    targets, seen = [], set()
    for k, t in enumerate(raw_targets):
        if not isinstance(t, list):
            fail(f"targets[{k}]", f"must be a list of {family.n} integers, got "
                 f"{clip(repr(t))}")
        try:
            target = family.check_integral(t, "target")
        except FamilyError as exc:
            fail(f"targets[{k}]", str(exc))
        if target in seen:
            fail(f"targets[{k}]", f"{list(target)} is listed twice")
        if not any(x > 0 for x in target):
            fail(f"targets[{k}]", f"{list(target)} has no line (it is zero)")
        targets.append(target)
        seen.add(target)
    values = {}
    for key, default in (("delta_r", 1), ("delta_s", 1), ("max_seeds", DEFAULT_MAX_SEEDS)):
        v = data.get(key, default)
        if not isinstance(v, int) or isinstance(v, bool) or v < (1 if key == "max_seeds" else 0):
            fail(key, f"must be a {'positive' if key == 'max_seeds' else 'non-negative'} "
                 f"integer, got {clip(repr(v))}")
        if key != "max_seeds" and v > MAX_DELTA:
            fail(key, f"{v} is over the cap of {MAX_DELTA} (MAX_DELTA): the candidate "
                 "universe grows with the volume of the widened box")
        values[key] = v
    joint = data.get("joint", False)
    if not isinstance(joint, bool):
        fail("joint", f"must be true or false, got {clip(repr(joint))}")
    symmetries = data.get("symmetries", True)
    if not isinstance(symmetries, bool):
        fail("symmetries", f"must be true or false, got {clip(repr(symmetries))}")
    name = data.get("name", Path(origin).stem if base else origin)
    if not isinstance(name, str) or not name.strip():
        fail("name", f"must be a non-empty string, got {clip(repr(name))}")
    description = data.get("description", "")
    if not isinstance(description, str):
        fail("description", "must be a string")
    return Suite(name=name.strip(), family=family, targets=tuple(targets), joint=joint,
                 description=description, origin=origin, symmetries=symmetries, **values)
