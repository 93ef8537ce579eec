"""The house plan holds: imports flow one way, from the command line down to the reducer."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Floors of the architecture, ground first.  A module may import its own floor and below.
# ``resources`` (where shipped files live) is ground floor too.
FLOOR = {"resources": 0, "reducer": 0, "language": 1, "judge": 2, "runs": 3, "engines": 4,
         "llm_mutator": 4, "reports": 5, "cli": 6, "api": 6}


def _package(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] == "llm_mutator":
        return "llm_mutator"
    if parts[0] == "ibp_evolve" and len(parts) > 1:
        return parts[1]
    return None


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):     # lazy imports inside functions too
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name


def test_no_module_imports_from_a_floor_above_its_own():
    upward = []
    for path in sorted([*ROOT.joinpath("ibp_evolve").rglob("*.py"),
                        *ROOT.joinpath("llm_mutator").rglob("*.py")]):
        mine = _package(".".join(path.relative_to(ROOT).with_suffix("").parts))
        if mine not in FLOOR:
            continue
        for line, module in _imports(path):
            other = _package(module)
            if other in FLOOR and FLOOR[other] > FLOOR[mine]:
                upward.append(f"{path.relative_to(ROOT)}:{line} ({mine}) imports {module}")
    assert not upward, "imports that climb the house plan:\n" + "\n".join(upward)


def test_package_code_uses_absolute_imports_only_within_its_package():
    # Relative imports across packages hide which floor a module reaches into.
    climbing = []
    for path in sorted(ROOT.joinpath("ibp_evolve").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level > 1:
                climbing.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not climbing, climbing
