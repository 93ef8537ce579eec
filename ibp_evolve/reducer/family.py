"""Integral families: load and validate a family TOML file.

A family file describes the propagators of a Feynman integral family (see DESIGN.md §1):

    name = "bubble"
    loop_momenta = ["k"]
    external_momenta = ["p"]          # independent external momenta only
    propagators = ["k^2", "(k+p)^2"]  # index i of I(a1..aN) is propagators[i-1]
    isps = []                         # 1-based positions that only carry numerators
    dimension = "d"                   # optional
    lorentz_invariance = true         # optional, adds E(E-1)/2 LI identities per seed
    preferred_masters = [[1, 1]]      # optional, ordered last so they are chosen as masters
    [kinematics]                      # every external scalar product, "p^2" or "p1*p2"
    "p^2" = "s"

Every propagator is turned into a quadratic form over all momenta (loop first, then external)
plus a constant (masses).  The loader checks that the propagators form a basis of the
loop-dependent scalar products, which is what makes IBP identities closable in the family.
Any problem is reported as a :class:`FamilyError` naming the file, the key and the value.

A family file is data: its expressions are read by the grammar of :mod:`expressions` (numbers,
names, ``+ - * / ^``, parentheses), never evaluated, and every name in them is a plain symbol
(``E``, ``I``, ``pi``, ``S``, ``beta`` included).  Sizes are capped before any work so that no
file can make the loader or the reducer hang: see ``MAX_PROPAGATORS``, ``MAX_INDEX``,
``MAX_FILE_BYTES`` and the caps of :mod:`expressions`.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from fractions import Fraction
from importlib import resources
from pathlib import Path

from ibp_evolve.reducer.cache import (CacheDirError, atomic_write_text, cache_dir,
                                      code_version)
from ibp_evolve.reducer.expressions import ExpressionError, clip, parse_expression

BUILTIN_PACKAGE = "ibp_evolve.reducer.families"
# The work after loading grows like the 2^N sectors (a 20-propagator family hung; zero-sector
# detection on a 15-propagator one took over 4 minutes), while the families we target need at
# most 16: two-loop five-point 11, three-loop four-point 15.
MAX_PROPAGATORS = 16
# |a_i| bound for targets, preferred masters and anything else naming an integral: seeds grow
# like the index box, so a target like I(50,1,...) alone exhausts memory.
MAX_INDEX = 30
MAX_FILE_BYTES = 1 << 20  # family and suite files are a few hundred bytes
_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_KNOWN_KEYS = {
    "name", "loop_momenta", "external_momenta", "propagators", "isps", "dimension",
    "kinematics", "lorentz_invariance", "preferred_masters", "description",
}


def _code_version() -> str:
    """Hash of the code that validates a family (this module and the expression grammar): part of
    the validated-family cache key, so a changed validation never reuses an old entry."""
    return code_version("family", "expressions")


class FamilyError(ValueError):
    """A family file (or family name) is invalid; the message names the key at fault."""


@dataclass(frozen=True)
class _SymbolicParts:
    """The propagators and kinematics as sympy objects (see :class:`Family`)."""

    kinematics: dict
    quadratic_forms: tuple
    constants: tuple


@dataclass(frozen=True, eq=False)
class Family:
    """A validated integral family.

    ``quadratic_forms[j]`` is the symmetric rational matrix Q_j over ``momenta`` (loop momenta
    first, then external ones) and ``constants[j]`` the momentum-free part, so that
    D_j = sum_{u,v} Q_j[u,v] (u.v) + constants[j]; ``kinematics`` maps (i, j), i <= j,
    external momentum positions, to the sympy value of p_i.p_j.  Those three are built with
    sympy on first use, from ``source``: deriving templates, zero sectors or symmetries needs
    them, a reduction whose derived data is cached does not (nor sympy, which takes longer to
    import than a small reduction takes to run).
    """

    name: str
    loop_momenta: tuple[str, ...]
    external_momenta: tuple[str, ...]
    propagators: tuple[str, ...]
    isps: tuple[int, ...]  # 0-based positions
    dimension: str
    symbols: tuple[str, ...]  # kinematic symbols, sorted
    lorentz_invariance: bool
    preferred_masters: tuple[tuple[int, ...], ...]
    source: str = field(repr=False)
    origin: str = ""
    description: str = ""

    @cached_property
    def _symbolic(self) -> _SymbolicParts:
        # Only a family restored from the cache gets here: parse_family fills this in.
        return parse_family(self.source, self.origin)._symbolic

    @property
    def kinematics(self) -> dict:
        return self._symbolic.kinematics

    @property
    def quadratic_forms(self) -> tuple:
        """A sympy Matrix per propagator."""
        return self._symbolic.quadratic_forms

    @property
    def constants(self) -> tuple:
        """A sympy expression per propagator."""
        return self._symbolic.constants

    @property
    def n(self) -> int:
        """Number of indices of an integral I(a_1..a_n)."""
        return len(self.propagators)

    @property
    def n_loops(self) -> int:
        return len(self.loop_momenta)

    @property
    def n_external(self) -> int:
        return len(self.external_momenta)

    @property
    def momenta(self) -> tuple[str, ...]:
        return self.loop_momenta + self.external_momenta

    @property
    def line_positions(self) -> tuple[int, ...]:
        """0-based positions that may carry a positive power (everything but the ISPs)."""
        return tuple(i for i in range(self.n) if i not in self.isps)

    @property
    def parameters(self) -> tuple[str, ...]:
        """Every symbol an IBP coefficient can depend on: the dimension, then kinematics."""
        return (self.dimension,) + self.symbols

    @property
    def digest(self) -> str:
        """Content hash of the family file: the key of every on-disk cache."""
        return hashlib.sha256(self.source.encode()).hexdigest()[:16]

    def kinematic_product(self, i: int, j: int):
        """The symbolic value of p_i . p_j for external momentum positions i, j."""
        return self.kinematics[(min(i, j), max(i, j))]

    def check_integral(self, indices, what: str = "integral") -> tuple[int, ...]:
        """Validate an index list against the family; returns it as a tuple of ints."""
        try:
            values = [_as_int(x) for x in indices]
        except (TypeError, ValueError):
            raise FamilyError(f"{what} {clip(str(list(indices)))}: indices must be "
                              "integers") from None
        except OverflowError as exc:
            raise FamilyError(f"{what}: index {clip(str(exc))} is outside "
                              f"-{MAX_INDEX}..{MAX_INDEX} (MAX_INDEX)") from None
        if len(values) != self.n:
            raise FamilyError(
                f"{what} {values}: family '{self.name}' has {self.n} indices, got {len(values)}")
        for pos in self.isps:
            if values[pos] > 0:
                raise FamilyError(
                    f"{what} {values}: position {pos + 1} is an ISP "
                    f"({self.propagators[pos]}) and cannot have a positive power")
        for pos, value in enumerate(values):
            if abs(value) > MAX_INDEX:
                raise FamilyError(
                    f"{what} {clip(str(values))}: index {value} at position {pos + 1} is "
                    f"outside -{MAX_INDEX}..{MAX_INDEX} (MAX_INDEX)")
        return tuple(values)


def _as_int(x) -> int:
    if isinstance(x, bool):
        raise TypeError
    if isinstance(x, int):
        return x
    if isinstance(x, str) and re.fullmatch(r"\s*[+-]?\d+\s*", x):
        if len(x.strip().lstrip("+-").lstrip("0")) > 18:  # int() of a huge text is slow
            raise OverflowError(x.strip())
        return int(x)
    if isinstance(x, float) and x.is_integer():
        return int(x)
    raise ValueError(x)


def builtin_toml_names(package: str) -> list[str]:
    """Names of the .toml files shipped in a package folder (built-in families, suites)."""
    folder = resources.files(package)
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def read_named_toml(name_or_path: str | Path, package: str, kind: str, error: type):
    """(text, origin, folder) of a user's file by path, or of a built-in one by name."""
    path = Path(name_or_path)
    try:
        exists = path.exists()
        is_file = path.is_file()
    except OSError as exc:  # a name too long for the file system, say
        raise error(f"{kind} '{clip(str(path))}' cannot be opened: {exc.strerror or exc}") \
            from None
    if path.suffix == ".toml" or exists:
        if not exists:
            raise error(f"{kind} file '{clip(str(path))}' does not exist")
        if not is_file:
            raise error(f"{kind} file '{clip(str(path))}' is not a regular file")
        return _read_text(path, kind, error), str(path), path.parent
    name = str(name_or_path)
    names = builtin_toml_names(package)
    if name in names:
        return resources.files(package).joinpath(f"{name}.toml").read_text(), \
            f"built-in:{name}", None
    raise error(f"unknown {kind} '{clip(name)}': not a file, and not a built-in {kind} "
                f"(built-in: {', '.join(names)})")


def _read_text(path: Path, kind: str, error: type) -> str:
    """A TOML file's text: UTF-8, no byte-order mark, at most MAX_FILE_BYTES."""
    try:
        with path.open("rb") as handle:  # files under /proc report size 0: read, then count
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise error(f"{kind} file '{path}' cannot be read: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise error(f"{kind} file '{path}' is over the cap of {MAX_FILE_BYTES} bytes "
                    "(MAX_FILE_BYTES)")
    if raw.startswith(b"\xef\xbb\xbf"):
        raise error(f"{kind} file '{path}' starts with a byte-order mark; save it as UTF-8 "
                    "without BOM")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{kind} file '{path}' is not UTF-8 text (byte {exc.start})") from None


def parse_toml(text: str, where: str, error: type) -> dict:
    """TOML text as a dict; any problem (syntax, absurd nesting) is one ``error`` line."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{where}: not valid TOML: {exc}") from None
    except RecursionError:
        raise error(f"{where}: not valid TOML: arrays or tables nested too deeply") from None


def builtin_names() -> list[str]:
    return builtin_toml_names(BUILTIN_PACKAGE)


def load_family(name_or_path: str | Path) -> Family:
    """Load a built-in family by name, or a user's family file by path.  A file validated
    before is restored from the cache (keyed by its content) without sympy."""
    text, origin, _ = read_named_toml(name_or_path, BUILTIN_PACKAGE, "family", FamilyError)
    path = _validated_path(text)
    family = _restore(path, text, origin) if path else None
    if family is None:
        family = parse_family(text, origin=origin)
        if path:
            _store(path, family)
    return family


# The fields a validated family is rebuilt from; the sympy parts come back from its source.
_STORED = ("name", "loop_momenta", "external_momenta", "propagators", "isps", "dimension",
           "symbols", "lorentz_invariance", "preferred_masters", "description")


def _validated_path(text: str) -> Path | None:
    """The cache entry of a family file's text; None when the cache folder is unusable (the
    family is then parsed every time, and the step that needs the cache reports why)."""
    try:
        folder = cache_dir()
    except CacheDirError:
        return None
    digest = hashlib.sha256(text.encode()).hexdigest()
    return folder / f"family-{digest[:32]}-{_code_version()}.json"


def _restore(path: Path, text: str, origin: str) -> Family | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None   # absent, or damaged: parsed and stored again
    if not isinstance(data, dict) or data.get("source") != text or \
            set(data) != {"source", *_STORED}:
        return None
    try:
        tuples = {k: tuple(data[k]) for k in ("loop_momenta", "external_momenta",
                                               "propagators", "isps", "symbols")}
        tuples["preferred_masters"] = tuple(tuple(m) for m in data["preferred_masters"])
        return Family(**(data | tuples), origin=origin)
    except TypeError:
        return None


def _store(path: Path, family: Family) -> None:
    record = {k: getattr(family, k) for k in _STORED} | {"source": family.source}
    try:
        atomic_write_text(path, json.dumps(record))
    except OSError:
        pass   # a full disk costs the next run a parse, nothing more


def parse_family(text: str, origin: str = "<string>") -> Family:
    """Parse and validate the text of a family file."""
    import sympy

    where = f"family file '{origin}'"
    data = parse_toml(text, where, FamilyError)

    def fail(key: str, problem: str):
        raise FamilyError(f"{where}, key '{key}': {problem}")

    unknown = sorted(set(data) - _KNOWN_KEYS)
    if unknown:
        fail(unknown[0], f"unknown key (allowed: {', '.join(sorted(_KNOWN_KEYS))})")
    for key in ("name", "loop_momenta", "external_momenta", "propagators"):
        if key not in data:
            fail(key, "missing")

    name = data["name"]
    if not isinstance(name, str) or not name.strip():
        fail("name", "must be a non-empty string")
    loops = _name_list(data["loop_momenta"], "loop_momenta", fail)
    externals = _name_list(data["external_momenta"], "external_momenta", fail)
    if not loops:
        fail("loop_momenta", "at least one loop momentum is needed")
    clash = set(loops) & set(externals)
    if clash:
        fail("external_momenta", f"{sorted(clash)} also listed in loop_momenta")
    dimension = data.get("dimension", "d")
    if not isinstance(dimension, str) or not _IDENTIFIER.match(dimension):
        fail("dimension", f"must be a symbol name, got {dimension!r}")
    if dimension in loops or dimension in externals:
        fail("dimension", f"'{dimension}' is also a momentum")
    lorentz = data.get("lorentz_invariance", True)
    if not isinstance(lorentz, bool):
        fail("lorentz_invariance", f"must be true or false, got {lorentz!r}")

    n_loops, n_ext = len(loops), len(externals)
    n_expected = n_loops * (n_loops + 1) // 2 + n_loops * n_ext
    if n_expected > MAX_PROPAGATORS:
        fail("external_momenta" if n_ext else "loop_momenta",
             f"{n_loops} loop and {n_ext} external momenta need {n_expected} propagators "
             f"(L(L+1)/2 + L*E), over the cap of {MAX_PROPAGATORS} (MAX_PROPAGATORS)")

    momenta = loops + externals
    momentum_symbols = {m: sympy.Symbol(m) for m in momenta}
    reserved = set(momenta) | {dimension}

    # -- propagators ------------------------------------------------------------------------
    raw_props = data["propagators"]
    if not isinstance(raw_props, list) or not all(isinstance(p, str) for p in raw_props):
        fail("propagators", "must be a list of strings")
    if len(raw_props) > MAX_PROPAGATORS:
        fail("propagators", f"{len(raw_props)} propagators given, over the cap of "
             f"{MAX_PROPAGATORS} (MAX_PROPAGATORS)")
    forms, constants, mass_symbols = [], [], set()
    for j, text_j in enumerate(raw_props):
        key = f"propagators[{j}]"
        expr = _parse_expression(text_j, momenta, key, fail)
        q, const = _quadratic_form(expr, momenta, momentum_symbols, key, text_j, fail)
        if all(q[u, v] == 0 for u in range(len(loops)) for v in range(len(momenta))):
            fail(key, f"'{clip(text_j)}' does not depend on any loop momentum")
        forms.append(q)
        constants.append(const)
        mass_symbols |= {str(s) for s in const.free_symbols}
    for j in range(len(forms)):
        for i in range(j):
            if forms[i] == forms[j] and sympy.expand(constants[i] - constants[j]) == 0:
                fail(f"propagators[{j}]", f"'{clip(raw_props[j])}' duplicates "
                     f"propagators[{i}] '{clip(raw_props[i])}'")
    if dimension in mass_symbols:
        fail("propagators", f"the dimension symbol '{dimension}' appears as a mass")

    # -- kinematics ---------------------------------------------------------------------------
    kin_raw = data.get("kinematics", {})
    if not isinstance(kin_raw, dict):
        fail("kinematics", "must be a table of \"p1*p2\" = \"expression\"")
    kinematics: dict = {}
    kin_symbols = set()
    for key_text, value in kin_raw.items():
        key = f"kinematics.\"{key_text}\""
        pair = _kinematic_key(key_text, externals, loops, key, fail)
        if pair in kinematics:
            fail(key, "gives the same scalar product as another kinematics key")
        if not isinstance(value, (str, int, float)) or isinstance(value, bool) or (
                isinstance(value, float) and not math.isfinite(value)):
            fail(key, f"value must be an expression string, got {clip(repr(value))}")
        expr = _parse_expression(str(value), (), key, fail)
        shown = clip(str(value))
        bad = {str(s) for s in expr.free_symbols} & reserved
        if bad:
            fail(key, f"value '{shown}' uses momentum/dimension symbol(s) {sorted(bad)}")
        if not expr.is_polynomial(*expr.free_symbols):
            fail(key, f"value '{shown}' must be a polynomial in the kinematic symbols")
        kinematics[pair] = sympy.expand(expr)
        kin_symbols |= {str(s) for s in expr.free_symbols}
    needed = [(i, j) for i in range(len(externals)) for j in range(i, len(externals))]
    missing = [_product_name(externals, p) for p in needed if p not in kinematics]
    if missing:
        fail("kinematics", f"missing scalar product(s) {', '.join(missing)}")
    bad_mass = [m for m in sorted(mass_symbols) if m in reserved]
    if bad_mass:
        fail("propagators", f"symbols {bad_mass} used as masses are reserved")
    symbols = tuple(sorted(kin_symbols | mass_symbols))
    # -- basis check: N = L(L+1)/2 + L*E and the quadratic forms must be invertible ------------
    if len(forms) != n_expected:
        fail("propagators", f"{len(forms)} propagators given, but {n_loops} loop and {n_ext} "
             f"external momenta need exactly {n_expected} (L(L+1)/2 + L*E), ISPs included")
    matrix = loop_scalar_product_matrix(forms, n_loops, len(momenta))
    if matrix.rank() < n_expected:
        fail("propagators", "do not span the loop-dependent scalar products (they are "
             "linearly dependent in their momentum parts); add or replace an ISP")

    # -- isps and preferred masters -----------------------------------------------------------
    isps_raw = data.get("isps", [])
    if not isinstance(isps_raw, list) or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in isps_raw):
        fail("isps", "must be a list of 1-based integer positions")
    for i in isps_raw:
        if not 1 <= i <= len(forms):
            fail("isps", f"position {i} is outside 1..{len(forms)}")
    if len(set(isps_raw)) != len(isps_raw):
        fail("isps", "positions repeat")
    isps = tuple(sorted(i - 1 for i in isps_raw))

    pm_raw = data.get("preferred_masters", [])
    if not isinstance(pm_raw, list):
        fail("preferred_masters", "must be a list of index lists")
    preferred = []
    for k, entry in enumerate(pm_raw):
        key = f"preferred_masters[{k}]"
        if not isinstance(entry, list) or len(entry) != len(forms) or not all(
                isinstance(x, int) and not isinstance(x, bool) for x in entry):
            fail(key, f"must be a list of {len(forms)} integers, got {clip(repr(entry))}")
        if any(abs(x) > MAX_INDEX for x in entry):
            fail(key, f"{entry} has an index outside -{MAX_INDEX}..{MAX_INDEX} (MAX_INDEX)")
        if any(entry[i] > 0 for i in isps):
            fail(key, f"{entry} has a positive power on an ISP")
        if tuple(entry) in preferred:
            fail(key, f"{entry} is listed twice")
        preferred.append(tuple(entry))

    description = data.get("description", "")
    if not isinstance(description, str):
        fail("description", "must be a string")
    family = Family(
        name=name.strip(), loop_momenta=tuple(loops), external_momenta=tuple(externals),
        propagators=tuple(raw_props), isps=isps, dimension=dimension, symbols=symbols,
        lorentz_invariance=lorentz, preferred_masters=tuple(preferred), source=text,
        origin=origin, description=description,
    )
    # Fill the cached property in: the sympy parts are at hand, no need to parse again.
    vars(family)["_symbolic"] = _SymbolicParts(kinematics, tuple(forms), tuple(constants))
    return family


def loop_scalar_product_basis(n_loops: int, n_momenta: int) -> list[tuple[int, int]]:
    """The loop-dependent scalar products (u, v), u <= v, u a loop momentum, in a fixed order."""
    return [(u, v) for u in range(n_loops) for v in range(u, n_momenta)]


def loop_scalar_product_matrix(forms, n_loops: int, n_momenta: int):
    """A[j, alpha] (a sympy Matrix): coefficient of the scalar product alpha in propagator j."""
    import sympy
    basis = loop_scalar_product_basis(n_loops, n_momenta)
    rows = []
    for q in forms:
        rows.append([q[u, v] if u == v else q[u, v] + q[v, u] for (u, v) in basis])
    return sympy.Matrix(rows)


def _name_list(value, key, fail) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        fail(key, "must be a list of names")
    for v in value:
        if not _IDENTIFIER.match(v):
            fail(key, f"'{v}' is not a valid momentum name")
    if len(set(value)) != len(value):
        fail(key, "names repeat")
    return list(value)


def _parse_expression(text: str, momenta, key: str, fail):
    """An expanded sympy expression; momenta are declared, any other name is a new symbol."""
    import sympy
    try:
        expr = sympy.expand(parse_expression(text, momenta, any_name=True))
    except ExpressionError as exc:
        fail(key, f"'{clip(text)}': {exc}")
    if expr.has(sympy.zoo, sympy.nan):  # a denominator that is zero only once expanded
        fail(key, f"'{clip(text)}': division by zero")
    return expr


def _quadratic_form(expr, momenta, momentum_symbols, key, text, fail):
    """Split a propagator into a symmetric matrix over momenta and a momentum-free constant."""
    import sympy
    msyms = [momentum_symbols[m] for m in momenta]
    index = {s: i for i, s in enumerate(msyms)}
    q = sympy.zeros(len(momenta), len(momenta))
    const = sympy.Integer(0)
    for term in sympy.Add.make_args(expr):
        coeff, factors = term.as_coeff_mul()
        powers: dict = {}
        other = sympy.Integer(1)
        for f in factors:
            base, exp = f.as_base_exp()
            if base in index:
                if not (exp.is_Integer and exp > 0):
                    fail(key, f"'{clip(text)}': momentum {base} appears with power {exp}")
                powers[base] = powers.get(base, 0) + int(exp)
            else:
                other *= f
        degree = sum(powers.values())
        if degree == 0:
            const += term
            continue
        strange = [str(s) for s in other.free_symbols]
        if strange:
            fail(key, f"'{clip(text)}': unknown momentum {strange[0]!r} (momenta declared: "
                 f"{', '.join(momenta)}); masses may only appear as a separate term such as "
                 "'- msq'")
        if degree != 2:
            fail(key, f"'{clip(text)}' is not quadratic in the momenta (term {clip(str(term))})")
        c = coeff * other
        syms = [s for s, e in powers.items() for _ in range(e)]
        u, v = index[syms[0]], index[syms[1]]
        if u == v:
            q[u, u] += c
        else:
            q[u, v] += c / 2
            q[v, u] += c / 2
    return q, sympy.expand(const)


def _kinematic_key(text, externals, loops, key, fail) -> tuple[int, int]:
    compact = text.replace(" ", "")
    m = re.fullmatch(r"([A-Za-z][A-Za-z0-9_]*)\^2", compact)
    names = [m.group(1)] * 2 if m else None
    if names is None:
        m = re.fullmatch(r"([A-Za-z][A-Za-z0-9_]*)\*([A-Za-z][A-Za-z0-9_]*)", compact)
        names = [m.group(1), m.group(2)] if m else None
    if names is None:
        fail(key, "keys must look like \"p^2\" or \"p1*p2\"")
    for nm in names:
        if nm in loops:
            fail(key, f"'{nm}' is a loop momentum; kinematics are external scalar products only")
        if nm not in externals:
            fail(key, f"unknown external momentum '{nm}' (declared: {', '.join(externals)})")
    i, j = externals.index(names[0]), externals.index(names[1])
    return (min(i, j), max(i, j))


def _product_name(externals, pair) -> str:
    i, j = pair
    return f"{externals[i]}^2" if i == j else f"{externals[i]}*{externals[j]}"


def rational(x) -> Fraction:
    """A sympy Rational as a Fraction."""
    import sympy
    x = sympy.Rational(x)
    return Fraction(int(x.p), int(x.q))
