"""Evaluate rules on candidate seeds: a vectorised numpy compiler and a slow reference interpreter.

Both evaluators walk the typed IR of :mod:`ibp_evolve.language.parse` and implement the semantics
documented there (static types, wrapping int64, zero-divisor results, clipped ``**`` exponents and
``range`` bounds, NaN/inf comparing false, boolean ``and``/``or``).

* :func:`compile_rule` translates a rule once into numpy closures that evaluate it on *all*
  candidate seeds at once: every expression is an array over the seeds, ``if``/``return`` become
  masks and ``np.where`` merges, generator expressions are unrolled over the (known) number of
  indices or the largest range any still-active seed needs, with per-seed validity masks.
* :func:`reference_value` / :func:`reference_keep` interpret the same IR for one seed with plain
  Python numbers; they exist to pin down the semantics and to test the compiler against.

The only primitive the two share is float ``**`` (numpy's float64 power), so that the result of a
transcendental function cannot differ by an ulp between them.
"""

from __future__ import annotations

import math
import os

import numpy as np

from ibp_evolve.language.parse import (
    BOOL, FLOAT, INT, INT64_MIN, MAX_EXPONENT, MAX_RANGE_BOUND, Assign, Binary,
    Builtin, Compare, Const, Feature, FamilySize, ForClause, Generator, If, IfClause, IfElse,
    IndexCall, IsIsp, Logic, RangeSource, Reduce, Return, Rule, RuleError, RuleProgram, Sequence,
    Unary, Var,
    join_types, load_rule,
)
from ibp_evolve.language.features import (  # noqa: F401  (SeedFeatures is re-exported)
    MAX_INDEX_MAGNITUDE, MAX_INDICES, SeedFeatures, _check_integral, _check_seeds,
    features_from_indices,
)

__all__ = [
    "SeedFeatures", "features_from_indices", "CompiledRule", "compile_rule", "keep_mask",
    "reference_value", "reference_keep", "load_rule", "Rule", "RuleError",
]

_DTYPE = {BOOL: np.bool_, INT: np.int64, FLOAT: np.float64}


def _as_rule(rule) -> Rule:
    if isinstance(rule, Rule):
        return rule
    if isinstance(rule, (str, os.PathLike)):
        return load_rule(rule)
    raise TypeError(f"expected a Rule, rule source or path, got {type(rule).__name__}")


# ----------------------------------------------------------------------------- vectorised compiler

class _Frame:
    """Evaluation state: features, seed count, local variables (arrays), the mask of seeds still
    on the current path (used to size loops) and the per-seed results."""
    __slots__ = ("f", "n", "env", "active", "result")

    def __init__(self, features: SeedFeatures, result):
        self.f = features
        self.n = features.n_seeds
        self.env = {}
        self.active = np.ones(self.n, dtype=bool)
        self.result = result


def _cast(x: np.ndarray, typ: str) -> np.ndarray:
    return x.astype(_DTYPE[typ], copy=False)


def _truth_array(x: np.ndarray, typ: str) -> np.ndarray:
    if typ == BOOL:
        return x
    if typ == INT:
        return x != 0
    return np.isfinite(x) & (x != 0)


def _np_compare(op, x, y):
    if op == "eq":
        return x == y
    if op == "ne":
        return x != y
    if op == "lt":
        return x < y
    if op == "le":
        return x <= y
    if op == "gt":
        return x > y
    return x >= y


def _np_divide(op, typ, x, y):
    if op == "truediv":
        zero = y == 0
        return np.where(zero, 0.0, x / np.where(zero, 1.0, y))
    if typ == INT:
        zero, minus_one = y == 0, y == -1
        safe = np.where(zero | minus_one, 1, y)
        if op == "floordiv":
            # x // -1 is -x, wrapping at INT64_MIN (numpy would flag an overflow)
            out = np.where(minus_one, np.negative(x), np.floor_divide(x, safe))
        else:
            out = np.where(minus_one, 0, np.remainder(x, safe))
        return np.where(zero, 0, out)
    zero = y == 0
    finite = np.isfinite(x) & np.isfinite(y)
    safe_y = np.where(zero | ~finite, 1.0, y)
    safe_x = np.where(finite, x, 0.0)
    fn = np.floor_divide if op == "floordiv" else np.remainder
    return np.where(zero, 0.0, np.where(finite, fn(safe_x, safe_y), np.nan))


def _np_power(typ, x, y, literal_exponent):
    if typ == INT:
        out = np.ones_like(x)
        for _ in range(literal_exponent):    # wrapping int64 products, exponent <= MAX_EXPONENT
            out = out * x
        return out
    e = np.clip(y, -MAX_EXPONENT, MAX_EXPONENT)
    return np.where((x == 0) & (e < 0), 0.0, np.power(x, e))


def _nan_min(x, y, func):
    return np.minimum(x, y) if func == "min" else np.maximum(x, y)


class _Compiler:
    """IR → closures ``fn(frame) -> ndarray`` (expressions) / ``fn(frame, active) -> active``
    (statements)."""

    def __init__(self, kind: str):
        self.kind = kind

    # statements -------------------------------------------------------------

    def block(self, stmts):
        fns = [self.statement(s) for s in stmts]

        def run(frame, active):
            for fn in fns:
                if not active.any():
                    break
                active = fn(frame, active)
            return active
        return run

    def statement(self, stmt):
        if isinstance(stmt, Assign):
            name, value = stmt.name, self.expr(stmt.value)

            def run_assign(frame, active):
                frame.active = active
                # a branch works on its own copy of the variables, so seeds outside ``active``
                # never see this value (see run_if)
                frame.env[name] = value(frame)
                return active
            return run_assign
        if isinstance(stmt, Return):
            value, typ = self.expr(stmt.value), stmt.value.type
            keep = self.kind == "keep"

            def run_return(frame, active):
                frame.active = active
                v = value(frame)
                v = _truth_array(v, typ) if keep else _cast(v, FLOAT)
                frame.result = np.where(active, v, frame.result)
                return np.zeros_like(active)
            return run_return
        if isinstance(stmt, If):
            cond, ctype = self.expr(stmt.cond), stmt.cond.type
            then_block, else_block = self.block(stmt.body), self.block(stmt.orelse)

            def run_if(frame, active):
                frame.active = active
                c = _truth_array(cond(frame), ctype)
                env = frame.env
                branches = []
                for mask, block in ((active & c, then_block), (active & ~c, else_block)):
                    if mask.any():
                        frame.env = dict(env)
                        remaining = block(frame, mask)
                        branches.append((remaining, frame.env))
                    else:
                        branches.append((mask, env))
                (then_left, then_env), (else_left, else_env) = branches
                merged = {}
                for name in then_env.keys() | else_env.keys():
                    tv, ev = then_env.get(name), else_env.get(name)
                    if tv is None or ev is None or tv is ev:
                        merged[name] = ev if tv is None else tv
                    else:
                        merged[name] = np.where(then_left, tv, ev)   # promotes to the join type
                frame.env = merged
                return then_left | else_left
            return run_if
        raise AssertionError(f"unexpected statement {stmt!r}")

    # expressions ------------------------------------------------------------

    def expr(self, node):
        method = getattr(self, "e_" + type(node).__name__)
        return method(node)

    def e_Const(self, node):
        value, dtype = node.value, _DTYPE[node.type]
        return lambda frame: np.full(frame.n, value, dtype=dtype)

    def e_Var(self, node):
        name, typ = node.name, node.type
        return lambda frame: _cast(frame.env[name], typ)

    def e_Feature(self, node):
        name, dtype = node.name, _DTYPE[node.type]
        if node.owner == "seed":
            return lambda frame: frame.f.measure(name)
        return lambda frame: np.full(frame.n, frame.f.target_measure(name), dtype=dtype)

    def e_FamilySize(self, node):
        return lambda frame: np.full(frame.n, frame.f.n_indices, dtype=np.int64)

    def _position(self, index_node):
        """fn(frame) -> (valid position 0..N-1 array, inside mask) for a[i]-style lookups."""
        index = self.expr(index_node)

        def position(frame):
            i = _cast(index(frame), INT)
            n_idx = frame.f.n_indices
            inside = (i >= -n_idx) & (i < n_idx)
            j = np.where(inside, np.where(i < 0, i + n_idx, i), 0)
            return j, inside
        return position

    def e_IndexCall(self, node):
        method, owner = node.method, node.owner
        if isinstance(node.index, Const):
            # the common case, a literal position: one column for every seed
            i = int(node.index.value)

            def column(frame):
                n_idx = frame.f.n_indices
                if not -n_idx <= i < n_idx:
                    return np.zeros(frame.n, dtype=np.int64)
                if owner == "seed":
                    return frame.f.per_index(method)[:, i]
                return np.full(frame.n, frame.f.target_per_index(method)[i], dtype=np.int64)
            return column
        position = self._position(node.index)

        def index_call(frame):
            j, inside = position(frame)
            if frame.n and (j == j[0]).all() and (inside == inside[0]).all():
                # a loop variable: still one column for every seed
                if not inside[0]:
                    return np.zeros(frame.n, dtype=np.int64)
                if owner == "seed":
                    return frame.f.per_index(method)[:, j[0]]
                return np.full(frame.n, frame.f.target_per_index(method)[j[0]], dtype=np.int64)
            if owner == "seed":
                values = frame.f.per_index(method)[np.arange(frame.n), j]
            else:
                values = frame.f.target_per_index(method)[j]
            return np.where(inside, values, 0)
        return index_call

    def e_IsIsp(self, node):
        position = self._position(node.index)

        def is_isp(frame):
            j, inside = position(frame)
            flags = np.zeros(frame.f.n_indices, dtype=bool)
            flags[list(frame.f.isps)] = True
            return flags[j] & inside
        return is_isp

    def e_Unary(self, node):
        operand, otype, typ = self.expr(node.operand), node.operand.type, node.type
        if node.op == "not":
            return lambda frame: ~_truth_array(operand(frame), otype)
        if node.op == "neg":
            return lambda frame: np.negative(_cast(operand(frame), typ))
        return lambda frame: _cast(operand(frame), typ)

    def e_Binary(self, node):
        op, typ = node.op, node.type
        left, right = self.expr(node.left), self.expr(node.right)
        if op == "pow":
            literal = int(node.right.value) if typ == INT else None
            return lambda frame: _np_power(typ, _cast(left(frame), typ),
                                           _cast(right(frame), typ), literal)
        if op in ("truediv", "floordiv", "mod"):
            return lambda frame: _np_divide(op, typ, _cast(left(frame), typ),
                                            _cast(right(frame), typ))
        ufunc = {"add": np.add, "sub": np.subtract, "mul": np.multiply}[op]
        return lambda frame: ufunc(_cast(left(frame), typ), _cast(right(frame), typ))

    def e_Compare(self, node):
        operands = [self.expr(o) for o in node.operands]
        types = [o.type for o in node.operands]
        pairs = []
        for k, op in enumerate(node.ops):
            typ = join_types(types[k], types[k + 1], INT)
            pairs.append((k, op, typ))

        def compare(frame):
            values = [fn(frame) for fn in operands]
            out = None
            for k, op, typ in pairs:
                x, y = _cast(values[k], typ), _cast(values[k + 1], typ)
                c = _np_compare(op, x, y)
                if typ == FLOAT:
                    c = c & np.isfinite(x) & np.isfinite(y)
                out = c if out is None else out & c
            return out
        return compare

    def e_Logic(self, node):
        values = [(self.expr(v), v.type) for v in node.values]
        combine = np.logical_and if node.op == "and" else np.logical_or

        def logic(frame):
            out = None
            for fn, typ in values:
                v = _truth_array(fn(frame), typ)
                out = v if out is None else combine(out, v)
            return out
        return logic

    def e_IfElse(self, node):
        cond, ctype, typ = self.expr(node.cond), node.cond.type, node.type
        then, orelse = self.expr(node.then), self.expr(node.orelse)
        return lambda frame: np.where(_truth_array(cond(frame), ctype),
                                      _cast(then(frame), typ), _cast(orelse(frame), typ))

    def e_Builtin(self, node):
        args, typ, func = [self.expr(a) for a in node.args], node.type, node.func
        if func == "abs":
            return lambda frame: np.abs(_cast(args[0](frame), typ))

        def min_max(frame):
            out = _cast(args[0](frame), typ)
            for fn in args[1:]:
                out = _nan_min(out, _cast(fn(frame), typ), func)
            return out
        return min_max

    # iteration ----------------------------------------------------------------

    def iterator(self, source):
        """fn(frame) -> iterator of (value array, valid mask or None) pairs."""
        if isinstance(source, Sequence):
            owner = source.owner

            def sequence(frame):
                if owner == "seed":
                    return ((frame.f.a[:, i], None) for i in range(frame.f.n_indices))
                values = frame.f.target if owner == "target" else frame.f.isps
                return ((np.full(frame.n, v, dtype=np.int64), None) for v in values)
            return sequence
        if isinstance(source, RangeSource):
            bounds = self._range_bounds(source)

            def range_items(frame):
                start, step, lengths = bounds(frame)
                live = lengths[frame.active]
                count = int(live.max()) if live.size else 0
                uniform = bool(np.all(lengths == count))
                return ((start + k * step, None if uniform else k < lengths)
                        for k in range(count))
            return range_items
        return self._generator(source)

    def _range_bounds(self, source: RangeSource):
        args = [self.expr(a) for a in (source.start, source.stop, source.step)]

        def bounds(frame):
            start, stop, step = (np.clip(_cast(fn(frame), INT), -MAX_RANGE_BOUND,
                                         MAX_RANGE_BOUND) for fn in args)
            safe = np.where(step == 0, 1, np.abs(step))
            up = np.maximum((stop - start + safe - 1) // safe, 0)
            down = np.maximum((start - stop + safe - 1) // safe, 0)
            lengths = np.where(step > 0, up, np.where(step < 0, down, 0))
            return start, step, lengths
        return bounds

    def _generator(self, gen: Generator):
        elt = self.expr(gen.elt)
        clauses = []
        for clause in gen.clauses:
            if isinstance(clause, ForClause):
                clauses.append(("for", clause.var, self.iterator(clause.source)))
            else:
                clauses.append(("if", clause.cond.type, self.expr(clause.cond)))

        def walk(frame, k, valid):
            if k == len(clauses):
                frame.active = valid
                yield elt(frame), valid
                return
            kind, a, b = clauses[k]
            if kind == "if":
                frame.active = valid
                passed = valid & _truth_array(b(frame), a)
                if passed.any():
                    yield from walk(frame, k + 1, passed)
                return
            var, items = a, b
            frame.active = valid
            missing = object()
            saved = frame.env.get(var, missing)
            try:
                for value, item_valid in items(frame):
                    here = valid if item_valid is None else valid & item_valid
                    if not here.any():
                        continue
                    frame.env[var] = value
                    yield from walk(frame, k + 1, here)
            finally:
                if saved is missing:
                    frame.env.pop(var, None)
                else:
                    frame.env[var] = saved

        def generate(frame):
            def run():
                outer = frame.active
                try:
                    yield from walk(frame, 0, outer)
                finally:
                    frame.active = outer
            return run()
        return generate

    def e_Reduce(self, node):
        func, typ, source = node.func, node.type, node.source
        if func == "len":
            if isinstance(source, RangeSource):
                bounds = self._range_bounds(source)
                return lambda frame: bounds(frame)[2]
            owner = source.owner

            def length(frame):
                size = frame.f.n_indices if owner != "isps" else len(frame.f.isps)
                return np.full(frame.n, size, dtype=np.int64)
            return length
        items, etype = self.iterator(source), source.type

        def reduce(frame):
            n = frame.n
            if func == "all":
                acc = np.ones(n, dtype=bool)
            elif func == "any":
                acc = np.zeros(n, dtype=bool)
            else:
                acc = np.zeros(n, dtype=_DTYPE[typ])
                seen = np.zeros(n, dtype=bool)
            for value, valid in items(frame):
                if func == "all":
                    ok = _truth_array(value, etype)
                    acc &= ok if valid is None else (ok | ~valid)
                elif func == "any":
                    ok = _truth_array(value, etype)
                    acc |= ok if valid is None else (ok & valid)
                else:
                    value = _cast(value, typ)
                    if func == "sum":
                        new = acc + value
                    else:
                        new = np.where(seen, _nan_min(acc, value, func), value)
                        seen = np.ones(n, dtype=bool) if valid is None else seen | valid
                    acc = new if valid is None else np.where(valid, new, acc)
            return acc
        return reduce


class CompiledRule:
    """A rule translated to numpy: ``compiled(features)`` gives the boolean keep-mask over the
    seeds, ``compiled.values(features)`` the returned values (bool for keep rules, float64
    priorities for priority rules)."""

    def __init__(self, rule: Rule | RuleProgram):
        # a RuleProgram (IR built by an engine, e.g. a GP tree) compiles without a source text
        self.rule = rule
        self.kind = rule.kind
        program = rule if isinstance(rule, RuleProgram) else rule.program
        self._body = _Compiler(rule.kind).block(program.body)

    def values(self, features: SeedFeatures) -> np.ndarray:
        result = np.zeros(features.n_seeds, dtype=bool if self.kind == "keep" else np.float64)
        frame = _Frame(features, result)
        with np.errstate(all="ignore"):
            self._body(frame, frame.active)
        return frame.result

    def __call__(self, features: SeedFeatures) -> np.ndarray:
        values = self.values(features)
        if self.kind == "keep":
            return values
        with np.errstate(invalid="ignore"):
            return np.isfinite(values) & (values > 0)

    def __repr__(self) -> str:
        return f"CompiledRule({getattr(self.rule, 'name', '<ir>')!r}, kind={self.kind!r})"


def compile_rule(rule) -> CompiledRule:
    """Compile a :class:`Rule`, a :class:`RuleProgram` (or rule source / path) for vectorised
    evaluation."""
    return CompiledRule(rule if isinstance(rule, RuleProgram) else _as_rule(rule))


def keep_mask(rule, seeds, target, isps) -> np.ndarray:
    """Convenience: the keep-mask of ``rule`` over the seeds (rows of ``seeds``)."""
    return compile_rule(rule)(features_from_indices(seeds, target, isps))


# ----------------------------------------------------------------------------- reference

def _wrap(x: int) -> int:
    """Two's complement int64 wrap-around."""
    return ((x - INT64_MIN) % 2**64) + INT64_MIN


def _ref_cast(value, typ):
    if typ == FLOAT:
        return float(value)
    if typ == INT:
        return int(value)
    return value


def _ref_truth(value, typ) -> bool:
    if typ == FLOAT:
        return math.isfinite(value) and value != 0
    return bool(value)


def _ref_float_power(x: float, e: float) -> float:
    """numpy's float64 power (the one primitive shared with the vectorised evaluator)."""
    with np.errstate(all="ignore"):
        return float(np.power(np.array([x]), np.array([e]))[0])


def _ref_min(values, func):
    if any(isinstance(v, float) and math.isnan(v) for v in values):
        return math.nan
    return min(values) if func == "min" else max(values)


class _Reference:
    """Per-seed interpreter of the IR with plain Python numbers."""

    def __init__(self, kind, seed, target, isps):
        self.kind = kind
        self.seed, self.target, self.isps = seed, target, isps
        self.n = len(target)
        # the features come from the one vocabulary, evaluated on this single seed: the
        # interpreter pins down the language's control flow and arithmetic, not the features
        self.features = SeedFeatures(np.asarray([seed], dtype=np.int64), target, isps)

    # statements: a block returns the value of its return statement or None (fell through)

    def block(self, stmts, env):
        for stmt in stmts:
            if isinstance(stmt, Assign):
                env[stmt.name] = self.ev(stmt.value, env)
            elif isinstance(stmt, Return):
                return (self.ev(stmt.value, env), stmt.value.type)
            else:
                branch = stmt.body if _ref_truth(self.ev(stmt.cond, env), stmt.cond.type) \
                    else stmt.orelse
                result = self.block(branch, env)
                if result is not None:
                    return result
        return None

    def run(self, body):
        result = self.block(body, {})
        assert result is not None, "validated rules always return"
        value, typ = result
        if self.kind == "keep":
            return _ref_truth(value, typ)
        return float(value)

    # expressions

    def ev(self, node, env):
        kind = type(node)
        if kind is Const:
            return _ref_cast(node.value, node.type)
        if kind is Var:
            return _ref_cast(env[node.name], node.type)
        if kind is Feature:
            if node.owner == "seed":
                return _ref_cast(self.features.measure(node.name)[0].item(), node.type)
            return self.features.target_measure(node.name)
        if kind is FamilySize:
            return self.n
        if kind is IndexCall:
            j = self.position(self.ev(node.index, env))
            if j is None:
                return 0
            if node.owner == "seed":
                return int(self.features.per_index(node.method)[0, j])
            return int(self.features.target_per_index(node.method)[j])
        if kind is IsIsp:
            j = self.position(self.ev(node.index, env))
            return j is not None and j in self.isps
        if kind is Unary:
            if node.op == "not":
                return not _ref_truth(self.ev(node.operand, env), node.operand.type)
            value = _ref_cast(self.ev(node.operand, env), node.type)
            if node.op == "pos":
                return value
            return _wrap(-value) if node.type == INT else -value
        if kind is Binary:
            return self.binary(node, env)
        if kind is Compare:
            return self.compare(node, env)
        if kind is Logic:
            if node.op == "and":
                return all(_ref_truth(self.ev(v, env), v.type) for v in node.values)
            return any(_ref_truth(self.ev(v, env), v.type) for v in node.values)
        if kind is IfElse:
            chosen = node.then if _ref_truth(self.ev(node.cond, env), node.cond.type) \
                else node.orelse
            return _ref_cast(self.ev(chosen, env), node.type)
        if kind is Builtin:
            values = [_ref_cast(self.ev(a, env), node.type) for a in node.args]
            if node.func == "abs":
                return _wrap(abs(values[0])) if node.type == INT else abs(values[0])
            return _ref_min(values, node.func)
        if kind is Reduce:
            return self.reduce(node, env)
        raise AssertionError(f"unexpected node {node!r}")

    def position(self, i):
        i = int(i)
        if 0 <= i < self.n:
            return i
        if -self.n <= i < 0:
            return i + self.n
        return None

    def binary(self, node, env):
        op, typ = node.op, node.type
        x = self.ev(node.left, env)
        y = self.ev(node.right, env)
        if op == "pow":
            if typ == INT:
                return _wrap(int(x) ** int(y))
            x, e = float(x), float(y)
            if not math.isnan(e):
                e = min(max(e, -MAX_EXPONENT), MAX_EXPONENT)
            if x == 0 and e < 0:
                return 0.0
            return _ref_float_power(x, e)
        if op == "truediv":
            x, y = float(x), float(y)
            return 0.0 if y == 0 else x / y
        x, y = _ref_cast(x, typ), _ref_cast(y, typ)
        if op in ("floordiv", "mod"):
            if y == 0:
                return _ref_cast(0, typ)
            if typ == FLOAT and not (math.isfinite(x) and math.isfinite(y)):
                return math.nan
            out = x // y if op == "floordiv" else x % y
        elif op == "add":
            out = x + y
        elif op == "sub":
            out = x - y
        else:
            out = x * y
        return _wrap(out) if typ == INT else out

    def compare(self, node, env):
        values = [self.ev(o, env) for o in node.operands]
        types = [o.type for o in node.operands]
        for k, op in enumerate(node.ops):
            typ = join_types(types[k], types[k + 1], INT)
            x, y = _ref_cast(values[k], typ), _ref_cast(values[k + 1], typ)
            if typ == FLOAT and not (math.isfinite(x) and math.isfinite(y)):
                return False
            ok = {"eq": x == y, "ne": x != y, "lt": x < y, "le": x <= y, "gt": x > y,
                  "ge": x >= y}[op]
            if not ok:
                return False
        return True

    def items(self, source, env):
        """Iterate a Sequence, RangeSource or Generator, yielding Python values."""
        if isinstance(source, Sequence):
            yield from {"seed": self.seed, "target": self.target, "isps": self.isps}[source.owner]
        elif isinstance(source, RangeSource):
            start, stop, step = (min(max(int(self.ev(a, env)), -MAX_RANGE_BOUND), MAX_RANGE_BOUND)
                                 for a in (source.start, source.stop, source.step))
            if step != 0:
                yield from range(start, stop, step)
        else:
            yield from self.generate(source, 0, dict(env))

    def generate(self, gen, k, env):
        if k == len(gen.clauses):
            yield self.ev(gen.elt, env)
            return
        clause = gen.clauses[k]
        if isinstance(clause, IfClause):
            if _ref_truth(self.ev(clause.cond, env), clause.cond.type):
                yield from self.generate(gen, k + 1, env)
            return
        for value in list(self.items(clause.source, env)):
            yield from self.generate(gen, k + 1, {**env, clause.var: value})

    def reduce(self, node, env):
        func, source = node.func, node.source
        if func == "len":
            return sum(1 for _ in self.items(source, env))
        if func in ("all", "any"):
            truths = (_ref_truth(v, source.type) for v in self.items(source, env))
            return all(truths) if func == "all" else any(truths)
        values = [_ref_cast(v, node.type) for v in self.items(source, env)]
        if func == "sum":
            acc = _ref_cast(0, node.type)
            for v in values:
                acc = _wrap(acc + v) if node.type == INT else acc + v
            return acc
        if not values:
            return _ref_cast(0, node.type)
        return _ref_min(values, func)


def reference_value(rule, seed, target, isps):
    """The value the rule returns for one seed (bool for keep rules, float for priority rules),
    by the slow per-seed reference interpreter."""
    rule = _as_rule(rule)
    target, isps = _check_integral(target, isps)
    seed = tuple(int(x) for x in seed)
    if len(seed) != len(target):
        raise ValueError(f"the seed has {len(seed)} indices but the target has {len(target)}")
    return _Reference(rule.kind, seed, target, isps).run(rule.program.body)


def reference_keep(rule, seed, target, isps) -> bool:
    """Whether the rule keeps one seed, by the reference interpreter."""
    value = reference_value(rule, seed, target, isps)
    if isinstance(value, bool):
        return value
    return math.isfinite(value) and value > 0
