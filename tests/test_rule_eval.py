"""The vectorised rule compiler, the reference interpreter and the sandbox agree on the physics."""

import math
import os
import random

import numpy as np
import pytest

from ibp_evolve.language.compile import (
    compile_rule, features_from_indices, keep_mask, load_rule, reference_keep, reference_value,
)
from ibp_evolve.language.parse import MAX_RANGE_BOUND
from ibp_evolve.language.sandbox import RuleResourceError, RuleTimeout, evaluate_mask

IMPROVED_SEEDING = '''\
def keep(seed, target):
    # improved seeding (Kira 3): no more dots than the target, one numerator fewer per missing line
    return seed.d <= target.d and seed.s <= target.s - (target.t - seed.t)
'''

LAPORTA = '''\
def keep(seed, target):
    """Classic Laporta box: r and s no larger than the target's."""
    return seed.r <= target.r and seed.s <= target.s
'''

# triangle-box-like family: 6 lines and one ISP at position 6, target I(1,1,1,1,1,1,-3)
TARGET = (1, 1, 1, 1, 1, 1, -3)
ISPS = (6,)
# hand-checked: (seed, kept by improved seeding, kept by Laporta)
HAND_CHECKED = [
    ((1, 1, 1, 1, 1, 1, -3), True, True),     # the target itself
    ((1, 1, 1, 1, 1, 1, 0), True, True),      # fewer numerators
    ((1, 1, 1, 1, 1, 1, -4), False, False),   # s = 4 > 3
    ((2, 1, 1, 1, 1, 1, 0), False, False),    # a dot: d = 1 > 0, r = 7 > 6
    ((1, 1, 1, 1, 1, 0, -2), True, True),     # one line missing: s = 2 <= 3 - 1
    ((1, 1, 1, 1, 1, 0, -3), False, True),    # one line missing: s = 3 > 2
    ((1, 1, 1, 1, 0, 0, -1), True, True),     # two lines missing: s = 1 <= 1
    ((1, 1, 1, 1, 0, -1, -1), False, True),   # two lines missing: s = 2 > 1
    ((2, 1, 1, 1, 0, 0, 0), False, True),     # d = 1 > 0 but r = 5 <= 6
    ((1, 0, 0, 0, 0, 0, 0), False, True),     # five lines missing: s = 0 > 3 - 5
    ((0, 0, 0, 0, 0, 0, 0), False, True),
]


def _hand_seeds():
    return np.array([s for s, _, _ in HAND_CHECKED], dtype=np.int64)


@pytest.mark.parametrize("source, column", [(IMPROVED_SEEDING, 1), (LAPORTA, 2)],
                         ids=["improved-seeding", "laporta"])
def test_baseline_rules_keep_the_hand_checked_seeds(source, column):
    rule = load_rule(source)
    assert rule.kind == "keep"
    expected = np.array([row[column] for row in HAND_CHECKED])
    mask = compile_rule(rule)(features_from_indices(_hand_seeds(), TARGET, ISPS))
    assert mask.dtype == bool
    np.testing.assert_array_equal(mask, expected)
    assert [reference_keep(rule, s, TARGET, ISPS) for s in _hand_seeds()] == list(expected)


def test_features_follow_the_textbook_definitions():
    features = features_from_indices([[2, 1, 0, -1, 1, 0, -2]], (1, 1, 1, 1, 1, 1, -3), ISPS)
    assert features.r[0] == 4 and features.s[0] == 3 and features.t[0] == 3
    assert features.d[0] == 1
    assert features.sector[0] == 0b10011
    assert features.missing[0] == 3            # lines 2, 3 and 5 of the target are absent
    assert features.target_features == {"r": 6, "s": 3, "t": 6, "d": 0, "sector": 0b111111,
                                         "missing": 0, "distance": 0, "tube": 0.0}


def test_priority_rule_keeps_positive_priorities_only():
    rule = load_rule('''\
def priority(seed, target):
    if seed.t == target.t:
        return 1.0 / (1 + seed.s)
    return target.s - seed.s - 2 * seed.missing
''')
    seeds = _hand_seeds()
    values = compile_rule(rule).values(features_from_indices(seeds, TARGET, ISPS))
    assert values[0] == pytest.approx(0.25)
    assert values[4] == 3 - 2 - 2                  # one line missing: 3 - 2 - 2 = -1
    mask = keep_mask(rule, seeds, TARGET, ISPS)
    np.testing.assert_array_equal(mask, values > 0)


@pytest.mark.parametrize("expression, expected", [
    ("7 / 0", 0.0), ("7 // 0", 0), ("7 % 0", 0), ("7.5 // 0.0", 0.0), ("-7 // 2", -4),
    ("-7 % 3", 2), ("2 ** 3", 8), ("2 ** -1", 0.5), ("0 ** -1", 0.0),
    ("seed.t ** (seed.r * 1000)", 2.0 ** 8),            # exponent clipped to 8
    ("9223372036854775807 + 1", -(2**63)),               # int64 wrap-around
    ("(-9223372036854775807 - 1) // -1", -(2**63)),
    ("True + True", 2), ("3 if seed.t > 1 else 0.5", 3.0),
    ("sum(1 for i in range(seed.r * 100000))", MAX_RANGE_BOUND),   # range bound clipped
    ("len(range(10, 0, -3))", 4), ("len(range(5, 6, 0))", 0),
    ("min(x for x in target.a if x > 5)", 0), ("max(seed.a[2], seed.a[-7], seed.a[99])", 2),
    ("sum(target.numerators(i) for i in family.isps)", 3), ("seed.dots(0) + seed.lines(2)", 2),
])
def test_documented_arithmetic_semantics(expression, expected):
    rule = load_rule(f"def priority(seed, target):\n    return {expression}\n")
    seed, target = (2, 0, 1, 0, 0, 0, 0), (1, 1, 1, 1, 1, 1, -3)
    value = compile_rule(rule).values(features_from_indices([seed], target, ISPS))[0]
    assert value == expected
    assert reference_value(rule, seed, target, ISPS) == expected


@pytest.mark.parametrize("expression", [
    "1e308 * 10 > 0", "1e308 * 10 != 5", "0 * (1e308 * 10) == 0 * (1e308 * 10)",
    "1e308 * 10 >= 1e308 * 10", "(-8.0) ** 0.5 < 1", "1e308 * 10 // 2 == 0",
])
def test_nan_and_inf_compare_false(expression):
    rule = load_rule(f"def keep(seed, target):\n    return {expression}\n")
    seed = (1, 1, 1, 1, 1, 1, 0)
    assert not keep_mask(rule, [seed], TARGET, ISPS)[0]
    assert not reference_keep(rule, seed, TARGET, ISPS)


def test_nan_or_infinite_priority_means_not_kept():
    for expression in ("1e308 * 10", "1e308 * 10 - 1e308 * 10"):
        rule = load_rule(f"def priority(seed, target):\n    return {expression}\n")
        assert not keep_mask(rule, [TARGET], TARGET, ISPS)[0]
        assert not reference_keep(rule, TARGET, TARGET, ISPS)


@pytest.mark.parametrize("expression", ["1.0 // 1e999", "1e999 % 3.0", "(1e999 * 0) // 2.0"])
def test_float_floor_division_with_a_non_finite_operand_is_nan(expression):
    rule = load_rule(f"def priority(seed, target):\n    return {expression}\n")
    assert math.isnan(reference_value(rule, TARGET, TARGET, ISPS))
    assert np.isnan(compile_rule(rule).values(features_from_indices([TARGET], TARGET, ISPS))[0])


def test_and_or_give_booleans_not_operands():
    rule = load_rule("def priority(seed, target):\n    return (5 and 7) + (0 or 3)\n")
    assert reference_value(rule, TARGET, TARGET, ISPS) == 2
    assert compile_rule(rule).values(features_from_indices([TARGET], TARGET, ISPS))[0] == 2


# ----------------------------------------------------------------------------- random rules

class RandomRules:
    """Random valid rules: expression trees over the features and every allowed operator,
    with if/elif/else, assignments (re-typed on some paths) and generator expressions."""

    INT_ATOMS = ["seed.r", "seed.s", "seed.t", "seed.d", "seed.sector", "seed.missing",
                 "target.r", "target.s", "target.t", "target.d", "target.missing", "family.n",
                 "0", "1", "2", "3", "-1", "-4", "True", "False",
                 "4611686018427387904", "9223372036854775807"]
    FLOAT_ATOMS = ["0.5", "-2.5", "0.0", "1e200", "3.0", "1e999", "(1e999 * 0)"]   # inf, NaN

    def __init__(self, seed):
        self.rng = random.Random(seed)

    def pick(self, options):
        return self.rng.choice(options)

    def int_expr(self, depth, scope, loops=0):
        r = self.rng
        ints = [v for v, t in scope.items() if t != "float"]
        if depth <= 0 or r.random() < 0.25:
            if ints and r.random() < 0.4:
                return self.pick(ints)
            return self.pick(self.INT_ATOMS)
        d = depth - 1
        choice = r.randrange(17)
        if choice == 0:
            return f"({self.int_expr(d, scope, loops)} {self.pick(['+', '-', '*'])} " \
                   f"{self.int_expr(d, scope, loops)})"
        if choice == 1:
            return f"({self.int_expr(d, scope, loops)} {self.pick(['//', '%'])} " \
                   f"{self.int_expr(d, scope, loops)})"
        if choice == 2:
            return f"({self.int_expr(d, scope, loops)} ** {r.randrange(9)})"
        if choice == 3:
            return f"{self.pick(['seed', 'target'])}.a[{self.int_expr(d, scope, loops)}]"
        if choice == 4:
            return f"{self.pick(['seed', 'target'])}." \
                   f"{self.pick(['lines', 'numerators', 'dots'])}({self.int_expr(d, scope, loops)})"
        if choice == 5:
            return f"abs({self.int_expr(d, scope, loops)})"
        if choice == 6:
            args = ", ".join(self.int_expr(d, scope, loops) for _ in range(r.randrange(2, 4)))
            return f"{self.pick(['min', 'max'])}({args})"
        if choice == 7:
            return f"{self.pick(['sum', 'min', 'max'])}({self.pick(['seed.a', 'target.a', 'family.isps'])})"
        if choice == 8:
            return f"len({self.pick(['seed.a', 'target.a', 'family.isps'])})"
        if choice == 9:
            return f"len(range({self.small(d, scope, loops)}, {self.small(d, scope, loops)}, " \
                   f"{self.pick(['1', '2', '-1', '-3', '0'])}))"
        if choice == 10:
            return f"({self.int_expr(d, scope, loops)} if {self.bool_expr(d, scope, loops)} " \
                   f"else {self.int_expr(d, scope, loops)})"
        if choice in (11, 12) and loops < 3:
            return f"{self.pick(['sum', 'min', 'max'])}({self.generator(d, scope, loops, 'int')})"
        if choice == 13:
            return f"(-{self.int_expr(d, scope, loops)})"
        if choice == 14:
            return f"({self.bool_expr(d, scope, loops)} * {self.int_expr(d, scope, loops)})"
        return self.int_expr(0, scope, loops)

    def small(self, depth, scope, loops):
        """A small integer, safe as a range bound."""
        return f"({self.int_expr(depth, scope, loops)} % 9 - 2)"

    def num_expr(self, depth, scope, loops=0):
        r = self.rng
        if r.random() < 0.5:
            return self.int_expr(depth, scope, loops)
        floats = [v for v, t in scope.items() if t == "float"]
        if depth <= 0 or r.random() < 0.2:
            if floats and r.random() < 0.5:
                return self.pick(floats)
            return self.pick(self.FLOAT_ATOMS)
        d = depth - 1
        choice = r.randrange(10)
        a, b = self.num_expr(d, scope, loops), self.num_expr(d, scope, loops)
        if choice == 0:
            return f"({a} / {b})"
        if choice == 1:
            return f"({a} ** (0 + {b}))"     # computed exponent: clipped, never rejected
        if choice == 2:
            return f"({a} {self.pick(['//', '%'])} {b})"
        if choice == 3:
            return f"({a} {self.pick(['+', '-', '*'])} {b})"
        if choice == 4:
            return f"abs({a})"
        if choice == 5:
            return f"{self.pick(['min', 'max'])}({a}, {b})"
        if choice == 6:
            return f"({a} if {self.bool_expr(d, scope, loops)} else {b})"
        if choice == 7 and loops < 3:
            return f"{self.pick(['sum', 'min', 'max'])}({self.generator(d, scope, loops, 'num')})"
        if choice == 8:
            return f"(-{a})"
        return f"({a} * 1e300)"

    def bool_expr(self, depth, scope, loops=0):
        r = self.rng
        if depth <= 0 or r.random() < 0.1:
            return self.pick(["True", "False", f"{self.num_expr(0, scope, loops)} > 0"])
        d = depth - 1
        choice = r.randrange(8)
        ops = ["<", "<=", ">", ">=", "==", "!="]
        if choice in (0, 1):
            return f"{self.num_expr(d, scope, loops)} {self.pick(ops)} {self.num_expr(d, scope, loops)}"
        if choice == 2:
            return f"{self.num_expr(d, scope, loops)} {self.pick(ops)} " \
                   f"{self.num_expr(d, scope, loops)} {self.pick(ops)} {self.num_expr(d, scope, loops)}"
        if choice == 3:
            return f"({self.bool_expr(d, scope, loops)} {self.pick(['and', 'or'])} " \
                   f"{self.bool_expr(d, scope, loops)})"
        if choice == 4:
            return f"(not {self.num_expr(d, scope, loops)})"
        if choice == 5 and loops < 3:
            return f"{self.pick(['any', 'all'])}({self.generator(d, scope, loops, 'bool')})"
        if choice == 6:
            return f"family.is_isp({self.int_expr(d, scope, loops)})"
        return f"({self.num_expr(d, scope, loops)} {self.pick(['and', 'or'])} " \
               f"{self.num_expr(d, scope, loops)})"

    def generator(self, depth, scope, loops, kind):
        r = self.rng
        var = f"x{loops}"
        source = self.pick(["seed.a", "target.a", "family.isps", "range"])
        if source == "range":
            if r.random() < 0.5:
                source = f"range({self.small(depth, scope, loops)})"
            else:
                source = f"range({self.small(depth, scope, loops)}, " \
                         f"{self.small(depth, scope, loops)}, {self.pick(['1', '2', '-1', '-2'])})"
        inner = {**scope, var: "int"}
        clauses = f"for {var} in {source}"
        if r.random() < 0.25 and loops + 1 < 3:
            var2 = f"x{loops + 1}"
            clauses += f" for {var2} in range({self.pick(['0', var, 'seed.t'])}, {self.small(0, inner, loops + 1)})"
            inner[var2] = "int"
            loops += 1
        if r.random() < 0.5:
            clauses += f" if {self.bool_expr(depth - 1, inner, loops + 1)}"
        make = {"int": self.int_expr, "num": self.num_expr, "bool": self.bool_expr}[kind]
        return f"{make(depth - 1, inner, loops + 1)} {clauses}"

    def value(self, kind, scope):
        if kind == "bool":
            return self.bool_expr(3, scope)
        return self.num_expr(3, scope) if self.rng.random() < 0.6 else self.int_expr(3, scope)

    def assign(self, scope, pad, new_name=None):
        """One assignment: to ``new_name`` or, without one, re-assigning (maybe re-typing) an
        existing name. Only top-level statements introduce names, so every use is assigned."""
        name = new_name or self.pick(sorted(scope))
        is_float = self.rng.random() < 0.4
        expr = self.num_expr(3, scope) if is_float else self.int_expr(3, scope)
        lines = [f"{pad}{name} = {expr}"]
        if is_float or scope.get(name) == "float":
            scope[name] = "float"          # (an int might be a float: treat it as one)
        else:
            scope.setdefault(name, "int")
        if self.rng.random() < 0.2:
            lines.append(f"{pad}{name} += {self.int_expr(2, scope)}")
        return lines

    def if_statement(self, scope, kind, indent, depth):
        """if/elif/else whose branches return or assign; returns (lines, always_returns)."""
        pad = "    " * indent
        lines, falling = [], []
        heads = [f"{pad}if {self.bool_expr(2, scope)}:"]
        if self.rng.random() < 0.4:
            heads.append(f"{pad}elif {self.bool_expr(2, scope)}:")
        has_else = self.rng.random() < 0.6
        if has_else:
            heads.append(f"{pad}else:")
        for head in heads:
            lines.append(head)
            branch = dict(scope)
            if not scope or self.rng.random() < 0.4:
                lines += self.block(branch, kind, indent + 1, depth - 1)      # returns
            else:
                for _ in range(self.rng.randrange(1, 3)):
                    lines += self.assign(branch, pad + "    ")
                falling.append(branch)
        for branch in falling:                # the variables' types join after the if
            for name, typ in branch.items():
                if typ == "float":
                    scope[name] = "float"
        return lines, has_else and not falling

    def block(self, scope, kind, indent, depth):
        """Statements ending in a return on every path."""
        lines = []
        pad = "    " * indent
        for _ in range(self.rng.randrange(0, 4)):
            if depth > 0 and self.rng.random() < 0.35:
                more, returns = self.if_statement(scope, kind, indent, depth)
                lines += more
                if returns:
                    return lines
            elif indent == 1 and (not scope or self.rng.random() < 0.6):
                lines += self.assign(scope, pad, new_name=f"v{len(scope)}")
            elif scope:
                lines += self.assign(scope, pad)
        lines.append(f"{pad}return {self.value(kind, scope)}")
        return lines

    def rule(self):
        kind = self.pick(["keep", "priority"])
        body = self.block({}, "bool" if kind == "keep" and self.rng.random() < 0.6 else "num",
                          1, 2)
        return f"def {kind}(seed, target):\n" + "\n".join(body) + "\n"


def _random_seeds(rng, n_seeds, n_indices):
    seeds = rng.integers(-3, 4, size=(n_seeds, n_indices))
    seeds[0] = 0
    seeds[1] = 1
    return seeds


def _same(x, y):
    if isinstance(y, float) and math.isnan(y):
        return bool(np.isnan(x))
    return x == y


def test_vectorised_and_reference_evaluators_agree_on_random_rules():
    rng = np.random.default_rng(2024)
    generator = RandomRules(7)
    n_kept = []
    for k in range(200):
        source = generator.rule()
        rule = load_rule(source)                   # every generated rule is valid
        target = tuple(int(x) for x in rng.integers(-2, 3, size=7))
        isps = tuple(sorted(rng.choice(7, size=int(rng.integers(0, 3)), replace=False).tolist()))
        seeds = _random_seeds(rng, 40, 7)
        compiled = compile_rule(rule)
        features = features_from_indices(seeds, target, isps)
        values, mask = compiled.values(features), compiled(features)
        for row, seed in enumerate(seeds):
            expected = reference_value(rule, seed, target, isps)
            assert _same(values[row], expected), (source, seed, values[row], expected)
            assert mask[row] == reference_keep(rule, seed, target, isps), (source, seed)
        n_kept.append(int(mask.sum()))
    # the rules are not degenerate: many keep some but not all seeds
    assert sum(0 < k < 40 for k in n_kept) > 40


def test_the_random_rule_generator_exercises_every_construct():
    generator = RandomRules(7)
    text = "".join(generator.rule() for _ in range(200))
    for construct in [" / ", " // ", " % ", " ** ", "elif ", "else:", " if ", " for ", "min(",
                      "max(", "abs(", "sum(", "any(", "all(", "len(", "range(", "+=", "(not ",
                      " and ", " or ", ".lines(", ".a[", "family.is_isp("]:
        assert construct in text, construct


def test_empty_seed_set_gives_an_empty_mask():
    mask = keep_mask(IMPROVED_SEEDING, np.zeros((0, 7), dtype=np.int64), TARGET, ISPS)
    assert mask.shape == (0,) and mask.dtype == bool


# ----------------------------------------------------------------------------- sandbox

def _children_of_this_process():
    pids = set()
    me = str(os.getpid())
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me:
            pids.add(int(entry))
    return pids


needs_proc = pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs Linux /proc")


@needs_proc
def test_sandbox_returns_the_in_process_mask():
    seeds = _random_seeds(np.random.default_rng(1), 500, 7)
    before = _children_of_this_process()
    mask = evaluate_mask(LAPORTA, seeds, TARGET, ISPS)
    np.testing.assert_array_equal(mask, keep_mask(LAPORTA, seeds, TARGET, ISPS))
    assert 0 < mask.sum() < len(seeds)
    assert _children_of_this_process() <= before


@needs_proc
def test_sandbox_stops_a_rule_that_runs_too_long():
    slow = '''\
def keep(seed, target):
    return sum(i * j for i in range(seed.r * 10000) for j in range(seed.t * 10000)) > 0
'''
    before = _children_of_this_process()
    with pytest.raises(RuleTimeout, match="time limit"):
        evaluate_mask(slow, _hand_seeds(), TARGET, ISPS, time_limit=0.5)
    assert _children_of_this_process() <= before


@needs_proc
def test_sandbox_stops_an_evaluation_that_needs_too_much_memory():
    many_seeds = np.ones((400_000, 7), dtype=np.int64)     # 22 MB of indices
    before = _children_of_this_process()
    with pytest.raises(RuleResourceError, match="memory limit"):
        evaluate_mask(IMPROVED_SEEDING, many_seeds, TARGET, ISPS, memory_limit_mb=8)
    assert _children_of_this_process() <= before


def test_huge_powers_and_ranges_are_bounded_without_the_sandbox():
    rule = load_rule('''\
def keep(seed, target):
    return max(seed.a) ** (seed.r * 10 ** 8) > sum(1 for x in range(seed.r * 10 ** 8))
''')
    seeds = _hand_seeds()
    mask = keep_mask(rule, seeds, TARGET, ISPS)
    # exponent clipped to 8 and the range to 10**4 terms: 2**8 = 256 < 10**4, 1**8 < 10**4;
    # only the zero seed, 0**0 = 1 > 0 terms, is kept
    expected = seeds.max(axis=1) == 0
    np.testing.assert_array_equal(mask, expected)
    assert [reference_keep(rule, s, TARGET, ISPS) for s in seeds] == list(expected)
