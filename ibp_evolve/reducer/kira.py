"""Import a Kira integral family: ``config/integralfamilies.yaml`` + ``config/kinematics.yaml``.

Kira describes a family by its loop momenta, a list of propagators ``[momentum, mass^2]``
(meaning (momentum)^2 - mass^2) or ``{bilinear: [[q1, q2], mass^2]}`` (q1.q2 - mass^2), and
``top_level_sectors`` (bit i-1 set for propagator i, as in our sector bitmasks); the kinematics
list incoming and outgoing momenta, an optional ``momentum_conservation: [p, expression]`` that
eliminates one of them, ``scalarproduct_rules`` ``[[q1, q2], value]`` (q1, q2 may be sums of
momenta) and an optional ``symbol_to_replace_by_one``.

We write our family file: the eliminated momentum is substituted everywhere, the scalar products
of the remaining (independent) momenta are solved from the rules, ``symbol_to_replace_by_one`` is
set to 1 (as Kira does), and positions outside every top-level sector become ISPs.  Symbol names
are kept as they are.  The YAML files are read with ``yaml.safe_load`` (plain data, never
objects).  Features we cannot represent (cut propagators, linear propagators, several families
in one file without a choice) are refused with a one-line error naming the key.
"""

from __future__ import annotations

import re
from pathlib import Path

import sympy

from ibp_evolve.reducer.family import FamilyError, parse_family

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_EXPR = re.compile(r"^[A-Za-z0-9_+\-*/^(). ]*$")


class KiraImportError(FamilyError):
    """A Kira configuration cannot be imported; the message names the file and key."""


def _load_yaml(path: Path):
    try:
        import yaml
    except ImportError:  # pragma: no cover - a declared dependency
        raise KiraImportError("reading Kira files needs PyYAML (pip install pyyaml)") from None
    if not path.is_file():
        raise KiraImportError(f"Kira config file '{path}' does not exist")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise KiraImportError(f"'{path}': not valid YAML{where}") from None


def _expr(text, names: dict, where: str):
    """Parse a Kira expression over declared names; only numbers, names and arithmetic."""
    text = str(text).strip()
    if not text or not _EXPR.match(text) or "__" in text:
        raise KiraImportError(f"{where}: '{text}' is not an expression of numbers and names")
    for token in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text):
        if token not in names:
            names[token] = sympy.Symbol(token)
    try:
        from sympy.parsing.sympy_parser import parse_expr, standard_transformations
        expr = parse_expr(text.replace("^", "**"), local_dict=dict(names),
                          transformations=standard_transformations, evaluate=True)
    except Exception as exc:  # sympy raises many kinds; all mean "cannot parse"
        raise KiraImportError(f"{where}: cannot parse '{text}' ({type(exc).__name__})") \
            from None
    return sympy.expand(expr)


def _text(expr) -> str:
    return str(sympy.expand(expr)).replace("**", "^").replace(" ", "")


def _name_list(value, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and _NAME.match(v)
                                              for v in value):
        raise KiraImportError(f"{where}: must be a list of momentum names, got {value!r}")
    return list(value)


def read_kira(directory: str | Path, family_name: str | None = None) -> str:
    """The text of our family file for the Kira configuration in ``directory``.

    ``directory`` is a Kira project (holding ``config/``) or its ``config`` folder itself.
    """
    root = Path(directory)
    config = root / "config" if (root / "config").is_dir() else root
    fam_path, kin_path = config / "integralfamilies.yaml", config / "kinematics.yaml"
    fam_data, kin_data = _load_yaml(fam_path), _load_yaml(kin_path)

    def fail(path, key, problem):
        raise KiraImportError(f"'{path}', key '{key}': {problem}")

    # -- kinematics ------------------------------------------------------------------------
    if not isinstance(kin_data, dict) or not isinstance(kin_data.get("kinematics"), dict):
        fail(kin_path, "kinematics", "missing (the file must start with 'kinematics:')")
    kin = kin_data["kinematics"]
    known = {"incoming_momenta", "outgoing_momenta", "momentum_conservation",
             "kinematic_invariants", "scalarproduct_rules", "symbol_to_replace_by_one"}
    for key in kin:
        if key not in known:
            fail(kin_path, f"kinematics.{key}", "not a Kira kinematics option we can import")
    incoming = _name_list(kin.get("incoming_momenta"), f"'{kin_path}', key 'incoming_momenta'")
    outgoing = _name_list(kin.get("outgoing_momenta"), f"'{kin_path}', key 'outgoing_momenta'")
    momenta = incoming + outgoing
    if len(set(momenta)) != len(momenta):
        fail(kin_path, "incoming_momenta", "a momentum is listed twice")
    names = {m: sympy.Symbol(m) for m in momenta}
    invariants = []
    for k, entry in enumerate(kin.get("kinematic_invariants") or []):
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)
                and _NAME.match(entry[0])):
            fail(kin_path, f"kinematic_invariants[{k}]", "must be [name, mass dimension]")
        invariants.append(entry[0])
    mc = kin.get("momentum_conservation")
    substitution = {}
    if mc is not None:
        if not (isinstance(mc, list) and len(mc) == 2 and isinstance(mc[0], str)
                and mc[0] in names):
            fail(kin_path, "momentum_conservation", "must be [momentum, expression] with a "
                 "declared momentum")
        value = _expr(mc[1], dict(names), f"'{kin_path}', key 'momentum_conservation'")
        if names[mc[0]] in value.free_symbols:
            fail(kin_path, "momentum_conservation", f"'{mc[0]}' appears on both sides")
        substitution[names[mc[0]]] = value
    independent = [m for m in momenta if names[m] not in substitution]
    replace_by_one = kin.get("symbol_to_replace_by_one")
    if replace_by_one is not None and (not isinstance(replace_by_one, str)
                                       or not _NAME.match(replace_by_one)):
        fail(kin_path, "symbol_to_replace_by_one", f"must be a symbol name, got "
             f"{replace_by_one!r}")

    # -- the family --------------------------------------------------------------------------
    if not isinstance(fam_data, dict) or not isinstance(fam_data.get("integralfamilies"), list):
        fail(fam_path, "integralfamilies", "missing or not a list")
    families = fam_data["integralfamilies"]
    if family_name is None:
        if len(families) != 1:
            fail(fam_path, "integralfamilies", f"{len(families)} families; choose one by name")
        fam = families[0]
    else:
        chosen = [f for f in families if isinstance(f, dict) and f.get("name") == family_name]
        if not chosen:
            fail(fam_path, "integralfamilies", f"no family named '{family_name}'")
        fam = chosen[0]
    if not isinstance(fam, dict):
        fail(fam_path, "integralfamilies[0]", "must be a mapping")
    for key in fam:
        if key in ("cut_propagators", "magnitude"):
            fail(fam_path, key, "not supported (we reduce uncut integrals only)")
        if key not in ("name", "loop_momenta", "top_level_sectors", "propagators"):
            fail(fam_path, key, "not a Kira family option we can import")
    name = fam.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        fail(fam_path, "name", f"must be a family name, got {name!r}")
    loops = _name_list(fam.get("loop_momenta"), f"'{fam_path}', key 'loop_momenta'")
    if not loops:
        fail(fam_path, "loop_momenta", "missing")
    clash = set(loops) & set(momenta)
    if clash:
        fail(fam_path, "loop_momenta", f"{sorted(clash)} are also external momenta")
    for m in loops:
        names[m] = sympy.Symbol(m)
    def _sub(expr):
        """Eliminate the dependent momentum; set symbol_to_replace_by_one to 1."""
        expr = expr.subs(substitution, simultaneous=True)
        if replace_by_one:
            expr = expr.subs(sympy.Symbol(replace_by_one), 1)
        return sympy.expand(expr)

    raw_props = fam.get("propagators")
    if not isinstance(raw_props, list) or not raw_props:
        fail(fam_path, "propagators", "missing or empty")
    propagators = []
    for j, entry in enumerate(raw_props):
        key = f"propagators[{j}]"
        if isinstance(entry, dict):
            kind = next(iter(entry)) if len(entry) == 1 else None
            if kind != "bilinear":
                fail(fam_path, key, f"propagator kind {sorted(entry)} is not supported "
                     "(only [momentum, mass] and bilinear)")
            body = entry["bilinear"]
            if not (isinstance(body, list) and len(body) == 2 and isinstance(body[0], list)
                    and len(body[0]) == 2):
                fail(fam_path, key, "bilinear must be [[q1, q2], mass]")
            q1 = _sub(_expr(body[0][0], names, f"'{fam_path}', key '{key}'"))
            q2 = _sub(_expr(body[0][1], names, f"'{fam_path}', key '{key}'"))
            mass = _sub(_expr(body[1], names, f"'{fam_path}', key '{key}'"))
            text = f"({_text(q1)})*({_text(q2)})"
        elif isinstance(entry, list) and len(entry) == 2:
            q = _sub(_expr(entry[0], names, f"'{fam_path}', key '{key}'"))
            mass = _sub(_expr(entry[1], names, f"'{fam_path}', key '{key}'"))
            text = f"({_text(q)})^2"
        else:
            fail(fam_path, key, f"must be [momentum, mass] or {{bilinear: ...}}, got {entry!r}")
        momentum_names = set(loops) | set(momenta)
        used = {str(x) for x in (q1.free_symbols | q2.free_symbols if isinstance(entry, dict)
                                 else q.free_symbols)}
        if used - momentum_names:
            fail(fam_path, key, f"unknown momentum {sorted(used - momentum_names)[0]!r} "
                 f"(declared: {', '.join(loops + momenta)})")
        if {str(x) for x in mass.free_symbols} & momentum_names:
            fail(fam_path, key, "the mass may not contain momenta")
        if mass != 0:
            text += f" - ({_text(mass)})"
        propagators.append(text)
    tops = fam.get("top_level_sectors")
    if not (isinstance(tops, list) and tops and all(isinstance(t, int) and t > 0
                                                     for t in tops)):
        fail(fam_path, "top_level_sectors", f"must be a list of sector numbers, got {tops!r}")
    lines = 0
    for t in tops:
        if t >> len(propagators):
            fail(fam_path, "top_level_sectors", f"sector {t} has bits beyond the "
                 f"{len(propagators)} propagators")
        lines |= t
    isps = [j + 1 for j in range(len(propagators)) if not lines >> j & 1]

    # -- scalar products of the independent momenta ------------------------------------------
    pairs = [(a, b) for i, a in enumerate(independent) for b in independent[i:]]
    unknowns = {pair: sympy.Symbol(f"__sp{i}") for i, pair in enumerate(pairs)}

    def as_unknowns(q1, q2):
        q1 = sympy.expand(q1.subs(substitution, simultaneous=True))
        q2 = sympy.expand(q2.subs(substitution, simultaneous=True))
        total = sympy.Integer(0)
        for a in independent:
            for b in independent:
                ca, cb = q1.coeff(names[a]), q2.coeff(names[b])
                if ca and cb:
                    pair = (a, b) if independent.index(a) <= independent.index(b) else (b, a)
                    total += ca * cb * unknowns[pair]
        return total

    equations = []
    for k, rule in enumerate(kin.get("scalarproduct_rules") or []):
        key = f"scalarproduct_rules[{k}]"
        if not (isinstance(rule, list) and len(rule) == 2 and isinstance(rule[0], list)
                and len(rule[0]) == 2):
            fail(kin_path, key, "must be [[q1, q2], value]")
        q1 = _expr(rule[0][0], dict(names), f"'{kin_path}', key '{key}'")
        q2 = _expr(rule[0][1], dict(names), f"'{kin_path}', key '{key}'")
        if {str(s) for s in (q1.free_symbols | q2.free_symbols)} - set(momenta):
            fail(kin_path, key, "momenta in a scalar product rule must be external momenta")
        value = _expr(rule[1], {}, f"'{kin_path}', key '{key}'")
        bad = {str(s) for s in value.free_symbols} & (set(momenta) | set(loops))
        if bad:
            fail(kin_path, key, f"value uses momenta {sorted(bad)}")
        equations.append(sympy.expand(as_unknowns(q1, q2) - value))
    solution = sympy.solve(equations, list(unknowns.values()), dict=True) if equations else []
    if equations and not solution:
        fail(kin_path, "scalarproduct_rules", "the rules contradict each other")
    solved = solution[0] if solution else {}
    kinematics = []
    for pair, symbol in unknowns.items():
        value = solved.get(symbol)
        if value is None or value.free_symbols & set(unknowns.values()):
            a, b = pair
            fail(kin_path, "scalarproduct_rules",
                 f"the rules do not fix {a}*{b}" if a != b else f"the rules do not fix {a}^2")
        if replace_by_one:
            value = value.subs(sympy.Symbol(replace_by_one), 1)
        a, b = pair
        kinematics.append((f"{a}^2" if a == b else f"{a}*{b}", _text(value)))

    lines_out = [f"# Imported from the Kira configuration in {config}",
                 f"# top_level_sectors = {tops}"]
    if mc is not None:
        lines_out.append(f"# momentum_conservation: {mc[0]} = {mc[1]} (substituted)")
    if replace_by_one:
        lines_out.append(f"# symbol_to_replace_by_one = {replace_by_one} (set to 1)")
    lines_out += [
        f"name = {_toml_string(name)}",
        f"description = {_toml_string('imported from Kira: ' + name)}",
        f"loop_momenta = [{', '.join(_toml_string(m) for m in loops)}]",
        f"external_momenta = [{', '.join(_toml_string(m) for m in independent)}]",
        "propagators = [" + ", ".join(_toml_string(p) for p in propagators) + "]",
        f"isps = {isps}",
        "",
        "[kinematics]",
    ]
    lines_out += [f"{_toml_string(k)} = {_toml_string(v)}" for k, v in kinematics]
    text = "\n".join(lines_out) + "\n"
    parse_family(text, origin=f"{config} (imported from Kira)")  # our own checks, up front
    return text


def _toml_string(text: str) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'
