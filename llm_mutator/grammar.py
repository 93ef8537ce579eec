"""The rule language as a model writes it: which prefixes can still become a valid rule.

The LLM engine asks the model to complete the body of ``def priority_v2(seed, target):``.  An
unconstrained sample is often not a rule at all (unbalanced brackets, an unknown attribute, a
name never assigned), and the validator can only reject it afterwards.  Here an incremental
checker of the rule language (:mod:`ibp_evolve.language.parse`) follows each sequence as it is
sampled, and :class:`llm_mutator.constrained.RuleLogitsProcessor` lets the sampler choose only
tokens after which the text can still complete to a program the validator accepts.

The checker (:class:`RuleChecker`) works line by line.  Between lines its state is the block
structure of the function body — the open ``if`` blocks with their indentation, the local
variables definitely assigned so far with their static types, which paths have returned —
updated exactly as the rule language's builder does (definite assignment through
``if``/``elif``/``else``, the wider type where branches meet).  The current logical line
(brackets may span lines) is parsed on every check by a small recursive-descent parser of the
rule language's expressions — incrementally (:class:`_LineMemo`: the lexing resumes at the last
lexeme, and what the parses of the line's shorter prefixes found is taken, not parsed again), or
from its start with ``RuleChecker(incremental=False)``, the reference.  The parser knows
operators, ``seed``/``target``/``family`` attributes and methods, the builtins with their
arities, generator expressions over the allowed iterables, integer-only positions, literal
bounds (int64, ``**`` exponents, ``range`` bounds).  Names used in a
generator's element before its ``for`` clause binds them are held *pending* until the
generator closes.  A prefix is *viable* when this parser runs out of text without an error; a
token that ends inside a name, number or operator is viable when some longer token would be.

The function ends where a line starts in column 0 (the prompt's convention) or at the end of
sequence; both are allowed only when every path has returned and the whole completion passes
:func:`llm_mutator.prompt.parse_completion` — the same validator as before, kept as the final
word.  The checker is deliberately stricter than the language in a few corners, which a sampler
does not miss and in which it could otherwise wander without end: 4-space indentation, a line
broken inside brackets goes on indented at least as deep as the body (at most 12 continuation
lines, none blank), no runs of three spaces, at most two blank lines in a row, comments of
printable ASCII up to 100 characters, no docstring or trailing commas, decimal literals, an
iterable written as such (``seed.a``, not ``(seed.a)``).

Sampling under this checker is :mod:`llm_mutator.constrained`.
"""

from __future__ import annotations

import functools
import heapq
import re

from ibp_evolve.language.features import measure_type as feature_type

from ibp_evolve.language.parse import (ALLOWED_BUILTINS, BOOL, FLOAT, INT, INT64_MAX,
                                       MAX_EXPONENT, MAX_GENERATOR_DEPTH, MAX_RANGE_BOUND,
                                       RESERVED_NAMES,
                                       SEED_FEATURES, SEED_METHODS, join_types)

__all__ = ["RuleChecker", "CheckerState", "opens_rule", "BODY_INDENT"]

BODY_INDENT = 4
MAX_COMPLETION_CHARS = 3500     # below the prompt module's cut (4000): a longer one is dead
MAX_BRACKET_DEPTH = 24

SEQ, RANGE = "seq", "range"     # iterables: only valid where the language iterates
_KEYWORDS = {"False", "None", "True", "and", "as", "assert", "async", "await", "break",
             "class", "continue", "def", "del", "elif", "else", "except", "finally", "for",
             "from", "global", "if", "import", "in", "is", "lambda", "nonlocal", "not", "or",
             "pass", "raise", "return", "try", "while", "with", "yield"}
_REDUCERS = ("sum", "min", "max", "all", "any", "len")
_AUGMENTED = {"+=": "add", "-=": "sub", "*=": "mul", "/=": "truediv", "//=": "floordiv",
              "%=": "mod", "**=": "pow"}
_COMPARE = ("==", "!=", "<", "<=", ">", ">=")
_VERSIONED = re.compile(r"priority_v\d+$")   # renamed to 'priority' by parse_completion

_LEX = re.compile(r"""
 (?P<ws>[ ]+)
|(?P<comment>\#[ -~]*)
|(?P<nl>\n)
|(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d*)?)
|(?P<name>[A-Za-z_][A-Za-z_0-9]*)
|(?P<op>\*\*=|//=|\*\*|//|==|!=|<=|>=|\+=|-=|\*=|/=|%=|[-+*/%<>=()\[\],:.!])
""", re.X)
_INT = re.compile(r"(?:0+|[1-9]\d*)$")
_FLOAT = re.compile(r"(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?$")
# operators that a longer operator extends: their possible completions
_OP_EXTENSIONS = {"*": ("*", "**", "*=", "**="), "**": ("**", "**="), "/": ("/", "//", "/=",
                  "//="), "//": ("//", "//="), "<": ("<", "<="), ">": (">", ">="),
                  "=": ("=", "=="), "!": ("!=",), "+": ("+", "+="), "-": ("-", "-="),
                  "%": ("%", "%=")}
_OPEN, _CLOSE = "([", ")]"
# a line indented by 1-3 spaces, or a continuation line in column 0: the prompt's cut
# (a line in column 0 ends the function) and the dedent of the body would break the rule
_SHORT_INDENT = re.compile(r"^ {1,3}[^ \n]|\n {0,3}[^ \n]")
_SPACE_RUN = re.compile(r"   ")
_BLANK_CONTINUATION = re.compile(r"\n *(?:\n|#)")   # inside brackets: blank or comment only
MAX_CONTINUATION_INDENT = 48
MAX_CONTINUATION_LINES = 12
MAX_HINT_TAILS = 48     # closing: tails of an earlier closing tried before a search
# what completes a line, likeliest first (see RuleChecker.closing)
_CLOSERS = ("\n", ")", "]", " else 0", " 0", ":", ".r", "(0)", " > 0", ", 0", " in seed.a",
            " v in seed.a", " for v in seed.a", " seed.a", "0", ".0", "= 0", ".n", "(seed.a)",
            ".a", ".isps", "(", "r", "n", "a)", "isps)", "a", "isps", "[0]", "=")
_WORD_CHAR = re.compile(r"[A-Za-z0-9_]")
MAX_BLANK_LINES = 2
_GREED = 4          # closing search: weight of the estimate of what is left
MAX_COMMENT_CHARS = 100


class _Dead(Exception):
    """The text cannot be completed to a valid rule."""


class _More(Exception):
    """The parser ran out of text without an error: the prefix is viable."""


_END = ("end", None)   # what the parser sees past the last token of a complete line


def opens_rule(prompt: str) -> bool:
    """Whether ``prompt`` ends in a rule function's header (the LLM engine's prompts do), so
    that its completion is a rule body."""
    return re.search(r"(?:^|\n)def \w+\(seed, target\):\n(?: {4}\"\"\"[^\n]*\"\"\"\n)?\Z",
                     prompt) is not None


# ----------------------------------------------------------------------------- lexing

def _lex(text: str, prev=None):
    """The :class:`_Lexed` of ``text``: its tokens as (kind, text) with comments and spaces
    dropped, and ``partial``, True when the last token touches the end of the text (a longer
    name, number or operator might still be meant); raises _Dead on a character the language
    cannot contain.  ``prev``: the _Lexed of a prefix of ``text``; lexing resumes at its last
    lexeme (the only one more text can change: every earlier one ended before a character it
    could not take)."""
    if prev is not None:
        tokens, pos = prev.tokens[:prev.kept], prev.resume
    else:
        tokens, pos = [], 0
    end, last, resume, kept = len(text), None, pos, len(tokens)
    while pos < end:
        m = _LEX.match(text, pos)
        if m is None:
            raise _Dead()
        kind = last = m.lastgroup
        if kind == "num" and m.end() < end and (text[m.end()].isalnum() or text[m.end()] == "_"):
            raise _Dead()     # 1x, 1if: not the language
        resume, kept = pos, len(tokens)
        if kind not in ("ws", "comment", "nl"):   # a newline here lies inside brackets
            tokens.append((kind, m.group()))
        pos = m.end()
    if last is None and prev is not None:
        last = prev.last     # nothing new (text == prev's text)
    return _Lexed(tokens, last in ("num", "name", "op"), resume, kept, last, prev)


class _Lexed:
    """A lexed line: its tokens, whether the last one is partial, and where lexing more text
    resumes (the last lexeme's start, and how many tokens lie before it)."""
    __slots__ = ("tokens", "partial", "resume", "kept", "last", "base", "reused", "ids")

    def __init__(self, tokens, partial, resume, kept, last, base=None):
        self.tokens, self.partial, self.resume, self.kept, self.last = \
            tokens, partial, resume, kept, last
        # base: the _Lexed this one continues (its first ``reused`` tokens are base's);
        # ids: the tokens' prefix ids in the line's memo (_LineMemo.ids_of), once asked
        self.base, self.reused, self.ids = base, (base.kept if base else 0), None


# words a partial name may grow into, besides the local variables
_WORDS = tuple(sorted({"if", "elif", "else", "return", "pass", "and", "or", "not", "for", "in",
                       "True", "False", "seed", "target", "family", "n", "isps", "is_isp", "a"}
                      | set(ALLOWED_BUILTINS) | set(SEED_FEATURES) | set(SEED_METHODS)))


@functools.lru_cache(maxsize=4096)
def _words_after(stem: str) -> frozenset:
    """The words of the language that ``stem`` may grow into."""
    return frozenset(w for w in _WORDS if w.startswith(stem))


def _candidates(token, names=()):
    """The complete tokens a partial last token may still become."""
    kind, text = token
    if kind == "name":
        words = {w for w in names if w.startswith(text)}
        words |= _words_after(text)
        words.add(text)
        return [("name", w) for w in sorted(words, key=len)] + [("fresh", text)]
    if kind == "num":
        out = [token] if _INT.match(text) else []
        grown = text + ("0" if text[-1] in "eE+-" else "")
        if not ("." in grown or "e" in grown.lower()):
            grown += ".0"
        if _FLOAT.match(grown):
            out.append(("num", grown))
        return out
    if kind == "op" and text in _OP_EXTENSIONS:
        return [("op", t) for t in _OP_EXTENSIONS[text]]
    if kind == "op" and text == ".":
        return [("op", "."), ("num", "0.5")]
    return [token]


# ----------------------------------------------------------------------------- values

class _Gen:
    """An open reducer call (a generator expression once its ``for`` comes): ``base``, the
    clauses around it for certain; ``pending``, its element's names awaiting a ``for``;
    ``inner``, how deep the generators closed in its element reach below it; ``clauses``,
    its own ``for`` clauses so far; ``reached``, the depth its clauses' sources and filters
    reach."""
    __slots__ = ("base", "pending", "inner", "clauses", "reached", "name", "least")

    def __init__(self, base, name):
        self.base, self.pending, self.inner, self.clauses, self.reached = base, set(), 0, 0, 0
        self.name, self.least = name, 0     # least: 1 once the element needs a 'for'

    def needs_for(self) -> None:
        """The element is no iterable: a sum/all/any call must become a generator."""
        if self.name in ("sum", "all", "any") and not self.clauses:
            self.least = 1


class _Value:
    __slots__ = ("type", "const")

    def __init__(self, type_, const=None):
        self.type, self.const = type_, const


def _numeric(t: str) -> str:
    return INT if t == BOOL else t


# ----------------------------------------------------------------------------- line parser

class _LineMemo:
    """What the parses of one line's prefixes share, for incremental checking.

    A sampler checks the same line again and again, one token longer each step, and the
    parser is deterministic: two token lists that agree on their first k tokens are parsed
    alike until the parser reads token k.  So a nonterminal (:func:`_memoized`) that started
    at token p and returned at token q, having read tokens p..q, returns the same value with
    the same effects on the parser's state in any later parse whose tokens agree up to q —
    the later parse takes them from here instead of descending again, and checking one more
    token costs about the open brackets and operators of the line, not the line.  Token
    prefixes are numbered through a trie (``ids``), so that "agree up to q" is one
    comparison.  One memo serves the states of one line in one block context (the states
    :meth:`RuleChecker.feed` makes until the line completes), whose parses see the same
    variables."""
    __slots__ = ("trie", "results", "verdicts", "pending", "envs")

    MAX_RESULTS = 50_000

    def __init__(self):
        self.trie: dict = {}
        self.results: dict = {}
        self.verdicts: dict = {}    # prefix id -> whether those tokens may go on (not final)
        self.pending: dict = {}     # prefix id -> RuleChecker._pending of those tokens
        self.envs: dict = {}        # (indent, elif/else or None) -> RuleChecker._line_env

    def prefix_ids(self, indent: int, tokens, known=None, reused: int = 0) -> list:
        """ids[k]: the number of (indent, tokens[:k]); ``known``: the ids of a token list that
        agrees with ``tokens`` on its first ``reused`` tokens."""
        trie = self.trie
        if known is not None:
            ids = known[:reused + 1]
        else:
            ids, reused = [trie.setdefault((None, indent), len(trie))], 0
        node = ids[-1]
        for token in tokens[reused:]:
            key = (node, token)
            node = trie.get(key)
            if node is None:
                node = trie[key] = len(trie)
            ids.append(node)
        return ids

    def ids_of(self, lexed, indent: int) -> list:
        """The prefix ids of a line's _Lexed tokens, from those of the line it continues."""
        if lexed.ids is None:
            base = lexed.base
            if base is not None and base.ids is not None:
                lexed.ids = self.prefix_ids(indent, lexed.tokens, base.ids, lexed.reused)
            else:
                lexed.ids = self.prefix_ids(indent, lexed.tokens)
            lexed.base = None
        return lexed.ids

    def store(self, key, value) -> None:
        if len(self.results) >= self.MAX_RESULTS:
            self.results.clear()
        self.results[key] = value


MIN_MEMO_SPAN = 3   # shorter nonterminals cost less to parse again than to remember


def _memoized(method):
    """Parse with ``method`` once per token prefix (see :class:`_LineMemo`)."""
    name = method.__name__

    def parse(self, *args):
        memo = self.memo
        start, ids = self.pos, self.ids
        key = (ids[start], name, args)
        known = memo.results.get(key)
        if known is not None:
            read, read_id, value, effects = known
            if read < len(self.tokens) and ids[read + 1] == read_id:
                self.restore(effects)
                return value
        shape = self.shape()
        value = method(self, *args)
        read = self.pos      # the last token it read: the one it stopped at
        if read < len(self.tokens) and read - start >= MIN_MEMO_SPAN and self.shape() == shape:
            memo.store(key, (read, ids[read + 1], value, self.effects()))
        return value

    parse.__name__, parse.__doc__ = name, method.__doc__
    return parse


class _Line:
    """Recursive descent over the tokens of one logical line (see the module docstring).
    ``final``: the tokens are the whole line (past them is its end); otherwise running out of
    tokens means the line may go on (:class:`_More`).  The reference path: everything is
    parsed afresh (:class:`_MemoLine` remembers)."""

    def __init__(self, tokens, env, final):
        self.tokens, self.pos, self.final = tokens, 0, final
        self.env = env if env is not None else {}
        self.pending: list[set] = []     # open generator elements: names awaiting a for
        self.bound: list[str] = []       # generator loop variables in scope
        self.iterable_at = -1            # the token where an iterable may stand
        self.must_iterate_at = -1        # the token where only an iterable may stand
        self.binding: list[set] = []     # element names that open for clauses may bind
        self.gens: list[_Gen] = []       # the open reducer calls, outermost first

    # -- tokens ---------------------------------------------------------------------------

    def peek(self):
        if self.pos < len(self.tokens):
            return self.tokens[self.pos]
        if self.final:
            return _END
        raise _More()

    def take(self):
        token = self.peek()
        if token is _END:
            raise _Dead()
        self.pos += 1
        return token

    def at(self, text) -> bool:
        kind, value = self.peek()
        return kind in ("op", "name") and value == text

    def expect(self, text) -> None:
        kind, value = self.take()
        if value != text or kind not in ("op", "name"):
            raise _Dead()

    def accept(self, text) -> bool:
        if self.at(text):
            self.pos += 1
            return True
        return False

    def new_name(self) -> str:
        kind, name = self.take()
        if kind == "fresh":
            return name + "_"    # some longer name of the model's choosing
        if kind != "name" or name in _KEYWORDS or name in RESERVED_NAMES or \
                (name.startswith("__") and name.endswith("__")) or _VERSIONED.match(name):
            raise _Dead()
        return name

    # -- statements -----------------------------------------------------------------------

    def statement(self):
        """('if'|'elif'|'else', inline statement or None) | ('assign', name, type) |
        ('return',) | ('pass',)."""
        kind, word = self.peek()
        if kind == "name" and word in ("if", "elif", "else"):
            self.pos += 1
            if word != "else":
                self.value(self.test())
            self.expect(":")
            if self.peek() is _END:
                return (word, None)
            return (word, self.simple())
        result = self.simple()
        return result

    def simple(self):
        kind, word = self.peek()
        if kind == "name" and word == "return":
            self.pos += 1
            self.value(self.test())
            self.end()
            return ("return",)
        if kind == "name" and word == "pass":
            self.pos += 1
            self.end()
            return ("pass",)
        name = self.new_name()
        kind, op = self.take()
        if kind == "op" and op == "=":
            value = self.value(self.test())
            self.end()
            return ("assign", name, value.type)
        if kind == "op" and op in _AUGMENTED:
            current = self.env.get(name)
            if current is None:
                raise _Dead()
            value = self.binary(_AUGMENTED[op], _Value(current), self.value(self.test()))
            self.end()
            return ("assign", name, value.type)
        raise _Dead()

    def end(self) -> None:
        if self.peek() is not _END:
            raise _Dead()

    # -- expressions ----------------------------------------------------------------------

    @staticmethod
    def value(v: _Value) -> _Value:
        if v.type in (SEQ, RANGE):
            raise _Dead()        # an iterable where a number is needed
        return v

    def integer(self, v: _Value) -> _Value:
        if self.value(v).type == FLOAT:
            raise _Dead()
        return v

    def test(self, integer: bool = False) -> _Value:
        """``integer``: the expression stands where an integer is needed (an index, a
        method's argument, a range bound)."""
        v = self.or_test()
        if self.at("if"):
            if integer and v.type == FLOAT:
                raise _Dead()    # the conditional would be a float whatever follows
            self.pos += 1
            self.value(v)
            self.value(self.or_test())
            self.expect("else")
            other = self.value(self.test(integer))
            return _Value(join_types(v.type, other.type))
        return v

    def or_test(self) -> _Value:
        v = self.and_test()
        while self.at("or"):
            self.pos += 1
            self.value(v)
            self.value(self.and_test())
            v = _Value(BOOL)
        return v

    def and_test(self) -> _Value:
        v = self.not_test()
        while self.at("and"):
            self.pos += 1
            self.value(v)
            self.value(self.not_test())
            v = _Value(BOOL)
        return v

    def not_test(self) -> _Value:
        if self.pos == self.must_iterate_at and self.at("not"):
            raise _Dead()
        if self.accept("not"):
            self.value(self.not_test())
            return _Value(BOOL)
        return self.comparison()

    def comparison(self) -> _Value:
        v = self.arith()
        compared = False
        while True:
            kind, op = self.peek()
            if kind == "op" and op in _COMPARE:
                self.pos += 1
                self.value(v)
                v = self.value(self.arith())
                compared = True
            else:
                break
        return _Value(BOOL) if compared else v

    def arith(self) -> _Value:
        v = self.term()
        while True:
            kind, op = self.peek()
            if kind == "op" and op in ("+", "-"):
                self.pos += 1
                v = self.binary("add" if op == "+" else "sub", self.value(v),
                                self.value(self.term()))
            else:
                return v

    def term(self) -> _Value:
        v = self.factor()
        names = {"*": "mul", "/": "truediv", "//": "floordiv", "%": "mod"}
        while True:
            kind, op = self.peek()
            if kind == "op" and op in names:
                self.pos += 1
                v = self.binary(names[op], self.value(v), self.value(self.factor()))
            else:
                return v

    def factor(self) -> _Value:
        kind, op = self.peek()
        if kind == "op" and op in ("-", "+"):
            if self.pos == self.must_iterate_at:
                raise _Dead()        # only an iterable may stand here
            self.pos += 1
            v = self.value(self.factor())
            if op == "-" and v.const is not None and v.type != BOOL:
                return _Value(v.type, -v.const)   # a negative literal stays a literal
            return _Value(_numeric(v.type))
        return self.power()

    def power(self) -> _Value:
        v = self.atom()
        if self.at("**"):
            self.pos += 1
            self.small_exponent()
            return self.binary("pow", self.value(v), self.value(self.factor()))
        return v

    def small_exponent(self) -> None:
        """A literal exponent (after any signs) beyond :data:`MAX_EXPONENT` is dead at once
        (stricter than the language, where ``2**87**0`` would pass: a sampler that wrote
        ``2**87`` could otherwise not end the line)."""
        k = self.pos
        while k < len(self.tokens) and self.tokens[k] in (("op", "-"), ("op", "+")):
            k += 1
        if k < len(self.tokens) and self.tokens[k][0] == "num":
            try:
                if abs(float(self.tokens[k][1])) > MAX_EXPONENT:
                    raise _Dead()
            except ValueError:
                pass

    @staticmethod
    def binary(op, left: _Value, right: _Value) -> _Value:
        if op == "truediv":
            return _Value(FLOAT)
        if op == "pow":
            literal = right.const
            if literal is not None and abs(literal) > MAX_EXPONENT:
                raise _Dead()
            int_power = (_numeric(left.type) == INT and literal is not None
                         and right.type != FLOAT and literal >= 0)
            return _Value(INT if int_power else FLOAT)
        return _Value(join_types(_numeric(left.type), _numeric(right.type)))

    def atom(self) -> _Value:
        kind, text = self.take()
        if self.pos - 1 == self.must_iterate_at and (kind != "name" or text not in (
                "seed", "target", "family", "range")):
            raise _Dead()
        if kind == "num":
            if text.isdigit():
                if not _INT.match(text):
                    raise _Dead()        # 012: leading zeros
                value = int(text)
                if value > INT64_MAX:
                    raise _Dead()
                return _Value(INT, value)
            if _FLOAT.match(text):
                return _Value(FLOAT, float(text))
            raise _Dead()
        if kind == "op" and text == "(":
            v = self.test()
            self.expect(")")
            return v
        if kind == "fresh":
            return self.unknown(text + "_")
        if kind != "name":
            raise _Dead()
        if text in ("True", "False"):
            return _Value(BOOL, text == "True")
        if text in ("seed", "target"):
            return self.seed_attribute()
        if text == "family":
            return self.family_attribute()
        if text == "abs":
            self.expect("(")
            v = self.value(self.test())
            self.expect(")")
            return _Value(_numeric(v.type))
        if text in _REDUCERS:
            return self.reducer(text)
        if text == "range":
            self.iterable_here()
            return self.range_args()
        if text in _KEYWORDS or text in ALLOWED_BUILTINS:
            raise _Dead()
        if text in self.bound:
            return _Value(INT)
        known = self.env.get(text)
        if known is not None:
            return _Value(known)
        return self.unknown(text)

    def unknown(self, name: str) -> _Value:
        """A name not (yet) defined: inside a generator's element it may be the loop variable
        a later ``for`` binds; anywhere else the line is dead."""
        if not self.pending or name in RESERVED_NAMES or name in _KEYWORDS or \
                (name.startswith("__") and name.endswith("__")):
            raise _Dead()
        self.pending[-1].add(name)
        self.check_depth()      # more loop variables than generators may nest?
        return _Value(INT)

    def depth_here(self) -> int:
        """The 'for' clauses the current point lies under for certain (in an element, its
        generator's own clauses are not counted: they are not written yet)."""
        if not self.gens:
            return 0
        top = self.gens[-1]
        return top.base + top.clauses if top.clauses else top.base

    def check_depth(self) -> None:
        """Raise _Dead when the open generators cannot stay within the language's nesting
        depth (:data:`MAX_GENERATOR_DEPTH` 'for' clauses, counted across nested generator
        expressions): every name pending in an element needs a clause of its own above it,
        and a generator closed inside an element lies below that element's clauses."""
        need, names = 0, set()
        for g in self.gens:
            if g.clauses:
                need = max(need, g.base) + g.clauses
                continue
            new = g.pending - names
            names |= g.pending
            need = max(need, g.base) + max(len(new), g.least)
            if need + g.inner > MAX_GENERATOR_DEPTH:
                raise _Dead()
        if need > MAX_GENERATOR_DEPTH:
            raise _Dead()

    def close_gen(self, gen) -> None:
        """A reducer call ends: its depth counts in the context around it."""
        self.gens.pop()
        reached = max(gen.reached, gen.base + gen.clauses + gen.inner)
        if reached > MAX_GENERATOR_DEPTH:
            raise _Dead()
        if self.gens:
            parent = self.gens[-1]
            if parent.clauses:
                parent.reached = max(parent.reached, reached)
            else:
                parent.inner = max(parent.inner, reached - parent.base)
        self.check_depth()

    def iterable_here(self) -> None:
        """An iterable may only open a reducer's argument or a ``for`` clause's source."""
        if self.pos - 1 != self.iterable_at:
            raise _Dead()

    def seed_attribute(self) -> _Value:
        start = self.pos - 1
        self.expect(".")
        kind, attr = self.take()
        if kind != "name" or (start == self.must_iterate_at and attr != "a"):
            raise _Dead()
        if start == self.iterable_at and not (attr == "a" and not self.at("[")) and self.gens:
            self.gens[-1].needs_for()     # a number, not an iterable: a 'for' must follow
            self.check_depth()
        if attr in SEED_FEATURES:
            return _Value(feature_type(attr))
        if attr == "a":
            if start != self.must_iterate_at and self.accept("["):
                self.integer(self.test(integer=True))
                self.expect("]")
                return _Value(INT)
            self.pos, at = start + 1, self.pos
            self.iterable_here()
            self.pos = at
            return _Value(SEQ)
        if attr in SEED_METHODS:
            self.expect("(")
            self.integer(self.test(integer=True))
            self.expect(")")
            return _Value(INT)
        raise _Dead()

    def family_attribute(self) -> _Value:
        start = self.pos - 1
        self.expect(".")
        kind, attr = self.take()
        if kind != "name" or (start == self.must_iterate_at and attr != "isps"):
            raise _Dead()
        if start == self.iterable_at and attr != "isps" and self.gens:
            self.gens[-1].needs_for()     # a number, not an iterable: a 'for' must follow
            self.check_depth()
        if attr == "n":
            return _Value(INT)
        if attr == "isps":
            self.pos, at = start + 1, self.pos
            self.iterable_here()
            self.pos = at
            return _Value(SEQ)
        if attr == "is_isp":
            self.expect("(")
            self.integer(self.test(integer=True))
            self.expect(")")
            return _Value(BOOL)
        raise _Dead()

    def range_args(self) -> _Value:
        self.expect("(")
        count = 0
        while True:
            v = self.integer(self.test(integer=True))
            if v.const is not None and abs(v.const) > MAX_RANGE_BOUND:
                raise _Dead()
            count += 1
            if self.accept(")"):
                return _Value(RANGE)
            self.expect(",")
            if count == 3:
                raise _Dead()

    def reducer(self, name: str) -> _Value:
        self.expect("(")
        generator = name != "len"       # len() takes no generator: nothing is pending there
        gen = _Gen(self.depth_here(), name)
        self.gens.append(gen)
        if generator:
            self.pending.append(gen.pending)
        self.iterable_at = self.pos
        kind, word = self.peek()
        if kind != "name" or word not in ("seed", "target", "family", "range"):
            gen.needs_for()
            self.check_depth()
        if not generator:
            self.must_iterate_at = self.pos   # len(): an iterable itself, nothing else
        first = self.test()
        # (kept on _More: RuleChecker._pending reads it)
        pending = self.pending.pop() if generator else set()
        gen.pending = set()
        kind, word = self.take()
        if kind == "name" and word == "for":
            if name == "len":
                raise _Dead()
            self.value(first)
            bound = self.generator_clauses(pending, gen)
            self.close_gen(gen)
            self.hand_up(pending - set(bound))
            if name in ("all", "any"):
                return _Value(BOOL)
            return _Value(_numeric(first.type))
        self.close_gen(gen)
        if kind == "op" and word == ")":
            if first.type not in (SEQ, RANGE):
                raise _Dead()    # one argument must be an iterable
            self.hand_up(pending)
            return _Value(BOOL if name in ("all", "any") else INT)
        if kind == "op" and word == "," and name in ("min", "max"):
            self.hand_up(pending)
            types = [self.value(first).type]
            while True:
                types.append(self.value(self.test()).type)
                if self.accept(")"):
                    return _Value(_numeric(join_types(*types)))
                self.expect(",")
        raise _Dead()

    def hand_up(self, names) -> None:
        """Names still unbound when a generator closes: an enclosing generator's element may
        yet bind them; otherwise they are undefined."""
        if not names:
            return
        if not self.pending:
            raise _Dead()
        self.pending[-1].update(names)
        self.check_depth()

    def generator_clauses(self, pending, gen) -> list:
        """``for`` clauses (the first ``for`` is taken) with ``if`` filters, up to ')'.  With
        no enclosing generator, the element's pending names must all be bound here, within
        the clauses the language allows."""
        bound = []
        mark = len(self.bound)
        self.binding.append(pending)     # (kept on _More: RuleChecker._pending reads it)
        try:
            while True:
                gen.clauses += 1
                room = MAX_GENERATOR_DEPTH - gen.base - gen.inner - gen.clauses
                if room < 0:
                    raise _Dead()       # deeper than generators may nest
                self.check_depth()
                var = self.new_name()
                unresolved = pending - set(bound) - {var}
                if not self.pending and len(unresolved) > room:
                    raise _Dead()       # the last clauses must bind what is pending
                self.expect("in")
                self.iterable_at = self.must_iterate_at = self.pos
                source = self.atom()     # the language iterates over these atoms only
                if source.type not in (SEQ, RANGE):
                    raise _Dead()
                bound.append(var)
                self.bound.append(var)
                self.binding[-1] = pending - set(bound)   # what is still to bind
                while self.accept("if"):
                    self.value(self.or_test())
                if self.accept(")"):
                    self.binding.pop()
                    return bound
                self.expect("for")
        finally:
            del self.bound[mark:]


class _MemoLine(_Line):
    """A :class:`_Line` whose parses of ``not_test`` and ``atom`` (the nonterminals that
    close over most tokens) are remembered in ``memo``, a :class:`_LineMemo`, across the
    parses of the line's prefixes; ``ids``: the tokens' prefix ids there, when known."""

    def __init__(self, tokens, env, final, memo, indent, ids=None):
        super().__init__(tokens, env, final)
        self.memo = memo
        self.ids = ids if ids is not None else memo.prefix_ids(indent, tokens)

    # -- memo (see _LineMemo) -------------------------------------------------------------
    # A nonterminal that returns leaves the lists as long as it found them (what it opens, it
    # closes); what it may change is the contents of the open generators' sets and counters
    # and the iterable positions, all restored in place: the callers hold the same objects.

    def shape(self):
        return len(self.pending), len(self.bound), len(self.binding), len(self.gens)

    def effects(self):
        return (self.pos, self.iterable_at, self.must_iterate_at,
                tuple(frozenset(s) for s in self.pending),
                tuple(frozenset(s) for s in self.binding),
                tuple((frozenset(g.pending), g.inner, g.clauses, g.reached, g.least)
                      for g in self.gens))

    def restore(self, effects) -> None:
        self.pos, self.iterable_at, self.must_iterate_at, pending, binding, gens = effects
        for now, then in zip(self.pending, pending):
            if now != then:
                now.clear()
                now.update(then)
        for now, then in zip(self.binding, binding):
            if now != then:
                now.clear()
                now.update(then)
        for g, (names, g.inner, g.clauses, g.reached, g.least) in zip(self.gens, gens):
            if g.pending != names:
                g.pending.clear()
                g.pending.update(names)

    not_test = _memoized(_Line.not_test)
    atom = _memoized(_Line.atom)


def _line(tokens, env, final, memo=None, indent=0, ids=None) -> _Line:
    """A line parser: remembering in ``memo``, or the reference when None."""
    if memo is None:
        return _Line(tokens, env, final)
    return _MemoLine(tokens, env, final, memo, indent, ids)


# ----------------------------------------------------------------------------- block structure

class _Frame:
    """An open block: its indentation, the variables definitely assigned (None once every path
    through it has returned) and the if-chain its last statement belongs to."""
    __slots__ = ("indent", "env", "chain")

    def __init__(self, indent, env, chain=None):
        self.indent, self.env, self.chain = indent, env, chain

    def copy(self):
        return _Frame(self.indent, None if self.env is None else dict(self.env),
                      None if self.chain is None else self.chain.copy())


class _Chain:
    """An if/elif/else chain being written: the scope before it and each branch's scope."""
    __slots__ = ("before", "branches", "has_else")

    def __init__(self, before, branches=(), has_else=False):
        self.before, self.branches, self.has_else = before, list(branches), has_else

    def copy(self):
        return _Chain(self.before, self.branches, self.has_else)


_UNASSIGNED = "unassigned"     # assigned on some paths only: may not be read


def _merge(a, b):
    if a is None:
        return b
    if b is None:
        return a
    out = {}
    for name in a.keys() | b.keys():
        ta, tb = a.get(name, _UNASSIGNED), b.get(name, _UNASSIGNED)
        out[name] = _UNASSIGNED if _UNASSIGNED in (ta, tb) else join_types(ta, tb)
    return out


def _close_chain(frame: _Frame) -> None:
    chain, frame.chain = frame.chain, None
    if chain is None:
        return
    envs = chain.branches + ([] if chain.has_else else [chain.before])
    merged = envs[0]
    for env in envs[1:]:
        merged = _merge(merged, env)
    frame.env = merged


def _readable(env):
    """The variables a line may read (unreachable code sees none)."""
    if env is None:
        return {}
    return {k: v for k, v in env.items() if v != _UNASSIGNED}


def _assign(env, name, type_):
    if env is not None:
        env[name] = type_


class CheckerState:
    """Where a sequence stands: the blocks of its completed lines, the current line, the whole
    text so far.  States are never changed: :meth:`RuleChecker.feed` returns new ones."""
    __slots__ = ("frames", "expect_block", "line", "text", "ended", "blanks", "_ends", "memo",
                 "lexed", "scan")

    def __init__(self, frames, expect_block, line, text, ended=False, blanks=0, memo=None):
        self.frames, self.expect_block, self.line = frames, expect_block, line
        self.text, self.ended, self.blanks = text, ended, blanks
        self._ends = None
        self.memo = memo        # the current line's _LineMemo (None: the reference path)
        self.lexed = None       # (line without its indentation, its _Lexed), once lexed
        self.scan = None        # where _line_end resumes on the line (incremental)

    def copy_frames(self):
        return [f.copy() for f in self.frames]

    def names(self):
        """The local variables of the open blocks (what a partial name may grow into)."""
        return {name for f in self.frames if f.env for name in f.env}


class RuleChecker:
    """Incremental check of a rule body as a model writes it (see the module docstring).

    A checker remembers the closing texts it found (:meth:`closing`) by the completion text
    they close — a state is fully determined by its text — because a sampler near the end of
    its budget asks for the closing of the same and of neighbouring prefixes step after step;
    ``searches`` counts the searches actually run."""

    MAX_REMEMBERED = 4096

    def __init__(self, incremental: bool = True):
        self._closings: dict[str, tuple] = {}   # text -> (closing or None, budget searched)
        self._validated: dict[str, bool] = {}   # text -> parse_completion accepts it
        self.searches = 0
        # incremental: a line's lexing and parsing carried from one state to the next
        # (_LineMemo); False: the line re-lexed and re-parsed from its start at every check
        # (the reference the incremental path must agree with)
        self.incremental = bool(incremental)

    def _memo(self):
        return _LineMemo() if self.incremental else None

    def start(self, prefix: str = "") -> CheckerState | None:
        """The state at the start of a body, after ``prefix`` (text already generated)."""
        state = CheckerState([_Frame(BODY_INDENT, {})], None, "", "", memo=self._memo())
        return self.feed(state, prefix) if prefix else state

    def feed(self, state: CheckerState, text: str) -> CheckerState | None:
        """The state after ``text``, or None when the text can no longer become a rule."""
        if state.ended or not text:
            return state
        full = state.text + text
        if len(full) > MAX_COMPLETION_CHARS:
            return None
        try:
            frames, expect_block, blanks = None, state.expect_block, state.blanks
            line, first = state.line + text, True
            # the state's line has no end yet: its scan resumes where it stopped
            scan = state.scan if self.incremental and state.scan is not None else (0, 0)
            while True:
                split, scan = _line_end(line, *scan)
                if split is None:
                    break
                head, line, scan = line[:split], line[split + 1:], (0, 0)
                if head[:1] not in ("", " "):
                    # a line in column 0 ends the function (or breaks it, a comment) before
                    # it is read as a statement: as when it comes a token at a time below
                    if head[:1] == "#":
                        return None
                    return self._end(CheckerState(
                        frames if frames is not None else state.frames, expect_block, "",
                        full[:len(full) - len(head) - 1 - len(line)]))
                if frames is None:
                    frames = state.copy_frames()
                _layout(head, frames, expect_block)
                blanks = blanks + 1 if not head.strip() else 0
                if blanks > MAX_BLANK_LINES:
                    return None
                # the first line completed here is the state's own line: its memo serves
                expect_block = self._complete_line(frames, expect_block, head,
                                                   state if first else None)
                first = False
            continuing = frames is None     # still on the state's line
            frames = frames if frames is not None else state.frames
            if line[:1] == "#":
                return None     # a comment in column 0 breaks the body's indentation
            if line[:1] not in ("", " ", "\n"):
                # a line starting in column 0 ends the function
                return self._end(CheckerState(frames, expect_block, "",
                                              full[:len(full) - len(line)]))
            _layout(line, frames, expect_block)
            new = CheckerState(frames, expect_block, line, full, blanks=blanks,
                               memo=state.memo if continuing else self._memo())
            if self.incremental:
                new.lexed = self._lex_line(line, state if continuing else None)
                new.scan = scan
            return new if self._viable(new) else None
        except (_Dead, RecursionError):
            return None

    def can_end(self, state: CheckerState) -> bool:
        """Whether the completion may end here (end of sequence)."""
        if state.ended:
            return True
        if state._ends is None:
            state._ends = self._end(state) is not None
        return state._ends

    def closing(self, state: CheckerState, depth: int = 24, budget: int = 1500,
                hint: str | None = None) -> str | None:
        """A short text after which the function may end (``""`` when it may end now), or
        None when none is found: the current line completed (closing brackets, an ``else``
        for an open conditional, ...), a body for an open ``if``, a final ``return``.
        ``hint``: a closing found for an earlier prefix of this text; its tails are tried
        before any search (a sampler that wrote one more token than the prefix it closed
        usually needs the rest of the same closing, less whatever the token wrote of it)."""
        if self.can_end(state):
            return ""
        known = self._closings.get(state.text)
        if known is not None and (known[0] is not None or known[1] >= budget):
            return known[0]
        found = self._from_hint(state, hint) if hint else None
        if found is None:
            self.searches += 1
            found = self._closing(state, depth, budget)
        if len(self._closings) >= self.MAX_REMEMBERED:
            self._closings.clear()
        self._closings[state.text] = (found, budget)
        return found

    def _from_hint(self, state: CheckerState, hint: str) -> str | None:
        """The longest tail of ``hint`` (at most MAX_HINT_TAILS tried) that closes ``state``."""
        for k in range(min(len(hint), MAX_HINT_TAILS)):
            tail = hint[k:]
            if not tail.endswith("\n"):
                continue
            after = self.feed(state, tail)
            if after is not None and self.can_end(after):
                return tail
        return None

    def remember(self, state: CheckerState, closing: str) -> None:
        """Record that ``closing`` closes ``state`` (a sampler that wrote the start of a
        closing text knows that its rest closes what it wrote)."""
        if len(self._closings) >= self.MAX_REMEMBERED:
            self._closings.clear()
        self._closings[state.text] = (closing, 0)

    def _closing(self, state: CheckerState, depth: int, budget: int) -> str | None:
        suffix = self._close_line(state, depth, budget)
        if suffix is None:
            return None
        after = self.feed(state, suffix)
        for more in (f"{' ' * (after.frames[-1].indent + BODY_INDENT)}return 0\n"
                     if after.expect_block is not None else "",
                     f"{' ' * BODY_INDENT}return 0\n"):
            if more:
                if after.line and not after.line.strip(" ") and more.startswith(after.line):
                    more = more[len(after.line):]   # the indentation already begun
                nxt = self.feed(after, more)
                if nxt is None:
                    return None
                suffix, after = suffix + more, nxt
            if self.can_end(after):
                return suffix
        return None

    def unbound(self, state: CheckerState) -> set:
        """The names the current line's generator elements wait to see bound by a ``for``."""
        return self._pending(state) | self._pending(state, True)

    def _close_line(self, state: CheckerState, depth: int, budget: int):
        """A text that completes the current line (ending in a newline), at most ``depth``
        atoms long and found in at most ``budget`` checks: straight down first (see below),
        then by a best-first search.  A state's
        priority is the atoms written so far plus :data:`_GREED` times an estimate of what is
        left (open brackets, names awaiting a ``for``, a trailing operator); the atoms tried
        at a state are a ``for`` clause for each name the line's generators wait to see bound,
        the words a partial name may become, then :data:`_CLOSERS`, likeliest first.  Two
        atoms in a row may not both go on a name or number (no ``x0r0r...``), and a line is
        searched once."""
        if not state.line.strip():
            return ""
        try:
            self._lexed(state)
        except _Dead:
            return None
        spent, seen, order = 0, {state.line}, 0

        def expand(current):
            """(estimate of the atoms left, atoms to try) at ``current``."""
            try:
                lexed = self._lexed(current)
                tokens, partial = lexed.tokens, lexed.partial
            except _Dead:
                return 0, []
            pending = self._pending(current)
            if partial:
                pending |= self._pending(current, True)  # the partial token may not go on
            out = [f" for {name} in seed.a" for name in sorted(pending)]
            if tokens and tokens[-1] == ("name", "for"):
                space = "" if current.line.endswith(" ") else " "
                out = [f"{space}{name} in seed.a" for name in sorted(pending)] + out
            if partial and tokens and tokens[-1][0] == "name":
                stem = tokens[-1][1]
                out += [w[len(stem):] + " 0" for w in ("return",) if w.startswith(stem)]
                words = set(_WORDS) | pending | set(_readable(current.frames[-1].env))
                out += [w[len(stem):] for w in sorted(words) if w.startswith(stem)
                        and w != stem]
                out.append(" = 0")
            opened = _open_brackets(tokens)
            last = tokens[-1] if tokens else None
            dangling = last is not None and (
                (last[0] == "op" and last[1] not in _CLOSE)
                or (last[0] == "name" and last[1] in _KEYWORDS and last[1] not in
                    ("True", "False", "None")))
            estimate = max(opened, 0) + len(pending) + dangling + 1
            out += _CLOSERS
            if current.line.endswith(" "):
                out = [a[1:] if a[:1] == " " else a for a in out]   # no runs of spaces
            if opened > 0:
                # a line break inside brackets only costs tokens, unless a comment needs one
                out = _continuation(current.line) + [a for a in out if a != "\n"]
            return estimate, list(dict.fromkeys(out))

        estimate, atoms = expand(state)
        # first, straight down: at each step the first atom (likeliest first) that leaves no
        # more to write than before; most lines close this way in a few dozen checks, and the
        # best-first search below (tens of checks per state it expands) runs only when not
        current, text, last, grew, left_here, tried = state, "", None, False, estimate, atoms
        for _ in range(depth):
            step = None
            word_end = _WORD_CHAR.match(current.line[-1:]) is not None
            for atom in tried:
                grows = word_end and _WORD_CHAR.match(atom) is not None
                if (atom == last and atom not in (")", "]")) or (grows and grew):
                    continue
                spent += 1
                nxt = self.feed(current, atom)
                if nxt is None or nxt.ended:
                    continue
                if nxt.line == "" and nxt.text.endswith("\n"):
                    return text + atom
                if nxt.line in seen:
                    continue
                more_estimate, more = expand(nxt)
                if more_estimate <= left_here:
                    step = (nxt, atom, grows, more_estimate, more)
                    break
            if step is None or spent > budget // 4:
                break
            current, last, grew, left_here, tried = step
            text += last
            seen.add(current.line)
        seen = {state.line}
        heap = [(_GREED * estimate, 0, order, state, "", None, False, atoms)]
        while heap:
            _, steps, _, current, text, last, grew, atoms = heapq.heappop(heap)
            word_end = _WORD_CHAR.match(current.line[-1:]) is not None
            for atom in atoms:
                if atom == last and atom not in (")", "]"):
                    continue    # no chains like " > 0 > 0"
                grows = word_end and _WORD_CHAR.match(atom) is not None
                if grows and grew:
                    continue    # no names grown without end
                spent += 1
                if spent > budget:
                    return None
                nxt = self.feed(current, atom)
                if nxt is None or nxt.ended:
                    continue
                if nxt.line == "" and nxt.text.endswith("\n"):
                    return text + atom
                if nxt.line in seen or steps + 1 >= depth:
                    continue
                seen.add(nxt.line)
                estimate, more = expand(nxt)
                order += 1
                heapq.heappush(heap, (steps + 1 + _GREED * estimate, steps + 1, order, nxt,
                                      text + atom, atom, grows, more))
        return None

    def _pending(self, state: CheckerState, drop_last: bool = False) -> set:
        """Names the current line's open generator elements wait to see bound (before its
        last, partial token with ``drop_last``)."""
        text = state.line
        stripped = text.lstrip(" ")
        ids = None
        try:
            lexed = self._lexed(state)
            tokens, ids = lexed.tokens, self._ids(state, lexed)
            if drop_last:
                tokens, ids = tokens[:-1], ids and ids[:-1]
            if not tokens:
                return set()
            if ids is not None:
                known = state.memo.pending.get(ids[-1])
                if known is not None:
                    return set(known)
            line = None
            env = self._line_env(state, len(text) - len(stripped), tokens)
            line = _line(tokens, env, False, state.memo, len(text) - len(stripped), ids)
            line.statement()
            names = set()
        except _More:
            names = set().union(*line.pending, *line.binding) if line is not None else set()
        except _Dead:
            names = set()
        if ids is not None:
            state.memo.pending[ids[-1]] = frozenset(names)
        return names

    # -- lines ----------------------------------------------------------------------------

    def _enter(self, frames, expect_block, indent: int, keyword):
        """Close the blocks deeper than ``indent`` (a statement starts there) and return the
        frame the statement belongs to."""
        if expect_block is not None:
            if indent <= frames[-1].indent or keyword in ("elif", "else"):
                raise _Dead()           # an if without a body
            frames.append(_Frame(indent, None if expect_block is _NO_SCOPE
                                 else dict(expect_block)))
            return frames[-1]
        while frames[-1].indent > indent:
            child = frames.pop()
            _close_chain(child)
            if not frames or frames[-1].chain is None:
                raise _Dead()
            frames[-1].chain.branches.append(child.env)
        if frames[-1].indent != indent:
            raise _Dead()               # an indentation no open block has
        frame = frames[-1]
        if keyword in ("elif", "else"):
            if frame.chain is None or frame.chain.has_else:
                raise _Dead()
        else:
            _close_chain(frame)
        return frame

    @staticmethod
    def _apply(frame, statement):
        """Update the blocks after a parsed statement; returns the new expect_block (the scope
        a block that must follow starts from, or None)."""
        kind = statement[0]
        if kind == "assign":
            _assign(frame.env, statement[1], statement[2])
            return None
        if kind == "return":
            frame.env = None
            return None
        if kind == "pass":
            return None
        if kind == "if":
            frame.chain = _Chain(frame.env)
        elif kind == "else":
            frame.chain.has_else = True
        before = frame.chain.before
        inline = statement[1]
        if inline is None:
            return before if before is not None else _NO_SCOPE
        branch = None if before is None else dict(before)
        if inline[0] == "assign":
            _assign(branch, inline[1], inline[2])
        elif inline[0] == "return":
            branch = None
        frame.chain.branches.append(branch)
        return None

    def _parse(self, frames, expect_block, indent, tokens, final, memo=None, ids=None):
        keyword = tokens[0][1] if tokens[0][0] == "name" else None
        frame = self._enter(frames, expect_block, indent, keyword)
        env = frame.chain.before if keyword in ("elif", "else") else frame.env
        return frame, _line(tokens, _readable(env), final, memo, indent, ids).statement()

    def _line_env(self, state: CheckerState, indent: int, tokens) -> dict:
        """The variables a statement at ``indent`` beginning with ``tokens[0]`` may read after
        the state's completed lines (raises _Dead where no statement may start); the same
        for every prefix of the line, so remembered in its memo."""
        keyword = tokens[0][1] if tokens[0][0] == "name" else None
        key = (indent, keyword if keyword in ("elif", "else") else None)
        known = state.memo.envs.get(key) if state.memo is not None else None
        if known is None:
            try:
                frame = self._enter(state.copy_frames(), state.expect_block, indent, keyword)
                known = _readable(frame.chain.before if keyword in ("elif", "else")
                                  else frame.env)
            except _Dead:
                known = _Dead
            if state.memo is not None:
                state.memo.envs[key] = known
        if known is _Dead:
            raise _Dead()
        return known

    @staticmethod
    def _ids(state: CheckerState, lexed: _Lexed):
        """The prefix ids of the state's line tokens in its memo (None on the reference
        path)."""
        if state.memo is None:
            return None
        return state.memo.ids_of(lexed, len(state.line) - len(state.line.lstrip(" ")))

    def _complete_line(self, frames, expect_block, text: str, state=None):
        """Process one complete logical line (changes ``frames``); returns expect_block.
        ``state``: the state whose line ``text`` completes (``frames`` are a copy of its
        own), whose lexing and parses it continues."""
        stripped = text.lstrip(" ")
        memo = ids = None
        if self.incremental and state is not None:
            lexed = self._lex_line(text, state)[1]
            tokens, memo = lexed.tokens, state.memo
            if tokens and memo is not None:
                ids = memo.ids_of(lexed, len(text) - len(stripped))
        else:
            tokens = _lex(stripped).tokens
        if not tokens:
            return expect_block          # a blank or comment line
        frame, statement = self._parse(frames, expect_block, len(text) - len(stripped),
                                       tokens, True, memo, ids)
        return self._apply(frame, statement)

    @staticmethod
    def _lex_line(line: str, parent: CheckerState | None = None):
        """(the line without its indentation, its _Lexed); lexing resumes from ``parent``'s
        line when ``line`` continues it."""
        stripped = line.lstrip(" ")
        prev = None
        if parent is not None and parent.lexed is not None:
            before, lexed = parent.lexed
            if before and stripped.startswith(before):
                prev = lexed
        return stripped, _lex(stripped, prev)

    def _lexed(self, state: CheckerState) -> _Lexed:
        """The _Lexed of the state's line (kept on the state when incremental)."""
        if state.lexed is not None:
            return state.lexed[1]
        stripped = state.line.lstrip(" ")
        lexed = _lex(stripped)
        if self.incremental:
            state.lexed = (stripped, lexed)
        return lexed

    def _viable(self, state: CheckerState) -> bool:
        text = state.line
        stripped = text.lstrip(" ")
        if not stripped:
            return True
        lexed = self._lexed(state)
        tokens, partial = lexed.tokens, lexed.partial
        if not tokens:
            return True
        indent = len(text) - len(stripped)
        ids = self._ids(state, lexed)
        if "#" in stripped.rsplit("\n", 1)[-1] and _open_brackets(tokens) <= 0:
            # a comment outside brackets ends the line: the statement before it must be
            # complete (inside brackets the line goes on below it)
            try:
                self._parse(state.copy_frames(), state.expect_block, indent, tokens, True,
                            state.memo, ids)
                return True
            except (_Dead, _More):
                return False
        if partial:
            names = state.names()
            if tokens[-1][0] == "name":
                names |= self._pending(state, True)   # a loop variable may bind one of these
            options = [tokens[:-1] + [c] for c in _candidates(tokens[-1], names)]
        else:
            options = [tokens]
        for option in options:
            option_ids = ids
            if ids is not None and option is not tokens:
                option_ids = state.memo.prefix_ids(indent, option, ids, len(tokens) - 1)
            if option_ids is not None:
                # the same tokens were judged before on this line (a name typed in pieces,
                # the draws of one step share their start)
                known = state.memo.verdicts.get(option_ids[-1])
                if known is not None:
                    if known:
                        return True
                    continue
            try:
                _line(option, self._line_env(state, indent, option), False, state.memo, indent,
                      option_ids).statement()
                viable = True            # a whole statement with room to spare
            except _More:
                viable = True
            except _Dead:
                viable = False
            if option_ids is not None:
                state.memo.verdicts[option_ids[-1]] = viable
            if viable:
                return True
        return False

    def _end(self, state: CheckerState):
        """The ended state when the function may end here, else None.  The validator has the
        last word (it also sees what this checker does not model)."""
        from .prompt import CompletionError, parse_completion
        frames = state.copy_frames()
        try:
            expect_block = state.expect_block
            if state.line.strip():
                expect_block = self._complete_line(frames, expect_block, state.line, state)
            if expect_block is not None:
                return None
            self._enter(frames, None, BODY_INDENT, None)
        except (_Dead, RecursionError):
            return None
        if frames[0].env is not None:
            return None                 # some path does not return
        valid = self._validated.get(state.text)
        if valid is None:
            # remembered by text: every draw of a step that starts a line in column 0 (a
            # new def, a stray word) asks again whether the same text ends a rule
            try:
                parse_completion(state.text)
                valid = True
            except CompletionError:
                valid = False
            if len(self._validated) >= self.MAX_REMEMBERED:
                self._validated.clear()
            self._validated[state.text] = valid
        return CheckerState(frames, None, "", state.text, True) if valid else None


def _layout(line: str, frames, expect_block) -> None:
    """Raise _Dead for a line laid out in a way no rule needs and a sampler can loop in: an
    indentation deeper than a block allows, runs of spaces, long comments; for a line broken
    inside brackets, a continuation line that is blank, indented less than the body (the
    prompt's cut and the body's dedent would break the rule) or more than
    MAX_CONTINUATION_INDENT, or more than MAX_CONTINUATION_LINES of them (the prompt's own cut
    and dedent also forbid 1-3 space indents)."""
    if _SHORT_INDENT.search(line) or _BLANK_CONTINUATION.search(line):
        raise _Dead()
    physical = line.split("\n")
    if len(physical) > MAX_CONTINUATION_LINES + 1:
        raise _Dead()
    deepest = frames[-1].indent + (BODY_INDENT if expect_block is not None else 0)
    for k, text in enumerate(physical):
        code, _, comment = text.partition("#")
        stripped = code.lstrip(" ")
        if len(code) - len(stripped) > (deepest if k == 0 else MAX_CONTINUATION_INDENT) \
                or _SPACE_RUN.search(stripped) or len(comment) > MAX_COMMENT_CHARS:
            raise _Dead()


def _continuation(line: str) -> list:
    """Inside brackets, what lets a line broken there go on: past a comment only a new
    continuation line; a continuation line begun left of the body needs its indentation."""
    physical = line.rsplit("\n", 1)
    if "#" in physical[-1]:
        return ["\n" + " " * (2 * BODY_INDENT)]
    if len(physical) > 1 and not physical[-1].strip(" "):
        return [" " * max(0, 2 * BODY_INDENT - len(physical[-1]))]
    return []


def _open_brackets(tokens) -> int:
    """Brackets the tokens open and leave open."""
    return sum(1 if t[1] in _OPEN else -1 if t[1] in _CLOSE else 0
               for t in tokens if t[0] == "op")


def _line_end(text: str, k: int = 0, depth: int = 0):
    """(index of the newline that ends the first logical line (outside brackets), None), or
    (None, where a scan of a longer text may resume: (index, bracket depth there)).  ``k``,
    ``depth``: resume from there (text before ``k`` scanned already)."""
    n = len(text)
    while k < n:
        c = text[k]
        if c == "#":
            j = text.find("\n", k)
            if j < 0:
                return None, (k, depth)   # in a comment: it may end further on
            k = j
            continue
        if c in _OPEN:
            depth += 1
            if depth > MAX_BRACKET_DEPTH:
                raise _Dead()
        elif c in _CLOSE:
            depth -= 1
        elif c == "\n" and depth <= 0:
            return k, None
        k += 1
    return None, (n, depth)


class _NoScope:
    pass


_NO_SCOPE = _NoScope()     # expect a block in unreachable code
