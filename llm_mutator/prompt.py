"""Prompts for the code model, and turning its completion back into a validated rule.

A prompt is a small Python file, as in FunSearch: a preamble (a docstring saying what ``seed``,
``target`` and ``family`` offer), then two programs of the database renamed ``priority_v0`` and
``priority_v1`` — the worse one first — and finally the header of ``priority_v2`` for the model
to complete::

    \"\"\"<preamble>\"\"\"

    def priority_v0(seed, target):
        \"\"\"Seeding priority: the seed is kept when the result is > 0.\"\"\"
        return ...

    def priority_v1(seed, target):
        \"\"\"Improved version of `priority_v0`.\"\"\"
        return ...

    def priority_v2(seed, target):
        \"\"\"Improved version of `priority_v1`.\"\"\"

The completion is cut where the function ends (the first line that is not indented), renamed
``priority`` and validated by :func:`ibp_evolve.language.parse.load_rule` — the same validator as
any rule file — before anything executes it.  Whatever fails becomes a :class:`CompletionError`
with the reason, which the engine records and counts.

``keep`` rules are shown as priorities: a boolean result is already a valid priority (True is
1 > 0), any other result is wrapped as ``(value) != 0``, which is exactly the rule language's
truth value (non-zero and finite).
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass

from ibp_evolve.language.features import vocabulary_text
from ibp_evolve.language.parse import BOOL, Return, If, RuleError, load_rule
from ibp_evolve.language.printer import formula, program_of, program_source

__all__ = ["PREAMBLE", "CompletionError", "PromptProgram", "build_prompt", "function_body",
           "parse_completion", "header", "as_priority_body", "FUNCTION_END", "cut_function",
           "render_function", "training_document", "program_size", "program_formula"]

PREAMBLE = '''"""Seeding rules for the Laporta reduction of Feynman integrals by IBP identities.

A rule chooses which candidate seed integrals I(a_1, ..., a_N) enter the linear system that
must reduce the target integral to master integrals: priority(seed, target) > 0 keeps the seed.
Fewer seeds make a cheaper system, but the target must still reduce completely.

seed and target (x below) offer these features (positions i are 0-based):
''' + vocabulary_text() + '''
family offers n (number of indices), isps (positions of irreducible scalar products) and
is_isp(i).
Allowed: arithmetic, comparisons, and/or/not, if/else, local variables, abs, min, max, sum,
len, all, any, range and generator expressions over seed.a, target.a, family.isps or range.
Nothing else: no imports, loops, other functions or attributes.
"""
'''

DOCSTRING_V0 = "Seeding priority: the seed is kept when the result is > 0."
FUNCTION_NAME = "priority"
MAX_COMPLETION_CHARS = 4000     # longer completions are cut here before parsing
# The function ends at the first line that starts in column 0 (another def, top-level code).
FUNCTION_END = re.compile(r"\n(?=[^\s#])")


class CompletionError(ValueError):
    """A completion that is not a valid rule program; ``reason`` says why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class PromptProgram:
    """A program as the prompt shows it: the indented body of a priority function."""
    body: str
    candidate: int | None = None


def _returns(stmts):
    for stmt in stmts:
        if isinstance(stmt, Return):
            yield stmt
        elif isinstance(stmt, If):
            yield from _returns(stmt.body)
            yield from _returns(stmt.orelse)


def _function_node(source: str) -> ast.FunctionDef:
    tree = ast.parse(source)
    funcs = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    if len(funcs) != 1:
        raise CompletionError("expected exactly one function")
    return funcs[0]


def function_body(source: str) -> str:
    """The statements of the rule's function (docstring dropped, comments kept), dedented."""
    func = _function_node(source)
    body = func.body
    if (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)):
        body = body[1:]
    if not body:
        return "return 1\n"
    lines = source.splitlines()
    first = body[0].lineno - 1
    # keep comment lines directly above the first statement
    while first - 1 >= func.lineno and lines[first - 1].strip().startswith("#"):
        first -= 1
    return textwrap.dedent("\n".join(lines[first:func.end_lineno])) + "\n"


def as_priority_body(source: str) -> str:
    """The body of a rule as a ``priority`` function with the same seed selection."""
    rule = load_rule(source)
    if rule.kind == "priority" or all(r.value.type == BOOL
                                      for r in _returns(rule.program.body)):
        return function_body(source)

    class Wrap(ast.NodeTransformer):
        def visit_Return(self, node):
            node.value = ast.Compare(node.value, [ast.NotEq()], [ast.Constant(0)])
            return node

    func = _function_node(source)
    func.body = [Wrap().visit(s) for s in func.body]
    body = "\n".join(ast.unparse(s) for s in func.body if not (
        isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)))
    return body + "\n"


def header(version: int) -> str:
    doc = DOCSTRING_V0 if version == 0 else f"Improved version of `priority_v{version - 1}`."
    return f'def priority_v{version}(seed, target):\n    """{doc}"""\n'


def render_function(version: int, body: str) -> str:
    return header(version) + textwrap.indent(body.rstrip("\n") + "\n", "    ")


def build_prompt(programs, preamble: str = PREAMBLE) -> str:
    """The prompt: preamble, the programs as ``priority_v0``.. (give them worse first), and the
    header of the next version."""
    parts = [preamble]
    for k, prog in enumerate(programs):
        body = prog.body if isinstance(prog, PromptProgram) else prog
        parts.append(render_function(k, body))
    parts.append(header(len(programs)))
    return "\n".join(parts)


def training_document(bodies, preamble: str = PREAMBLE) -> str:
    """A training example in the prompt's format: the last body is the completion."""
    return build_prompt(bodies[:-1], preamble) + textwrap.indent(
        bodies[-1].rstrip("\n") + "\n", "    ")


def cut_function(completion: str) -> str:
    """The completion up to the end of the function it continues."""
    text = completion[:MAX_COMPLETION_CHARS]
    m = FUNCTION_END.search("\n" + text)
    if m is not None:
        text = ("\n" + text)[1:m.start()]
    return text


def parse_completion(completion: str) -> str:
    """Rule source (``def priority(seed, target): ...``) from a completion of the prompt's last
    header, validated by the rule-language validator.  Raises :class:`CompletionError`."""
    if not isinstance(completion, str):
        raise CompletionError("the completion is not text")
    text = cut_function(completion.replace("\r\n", "\n").replace("\t", "    "))
    lines = [ln.rstrip() for ln in text.split("\n")]
    while lines and not lines[-1].strip():
        lines.pop()
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        raise CompletionError("empty completion: no function body")
    body = textwrap.dedent("\n".join(lines))
    if body.startswith((" ", "\t")):
        raise CompletionError("inconsistent indentation")
    # a completion may restate the docstring of the header: it is dropped below by the parser
    source = f"def {FUNCTION_NAME}(seed, target):\n" + textwrap.indent(body + "\n", "    ")
    source = re.sub(r"\bpriority_v\d+\b", FUNCTION_NAME, source)
    try:
        load_rule(source)
    except RuleError as exc:
        raise CompletionError(f"invalid rule: {exc}") from None
    try:
        body = function_body(source)
    except SyntaxError as exc:  # pragma: no cover - load_rule parsed it already
        raise CompletionError(f"invalid rule: {exc}") from None
    return f"def {FUNCTION_NAME}(seed, target):\n" + textwrap.indent(body, "    ")


def program_size(source: str) -> int:
    """Number of syntax nodes of the function (the ``size`` column of LLM candidates)."""
    return sum(1 for _ in ast.walk(_function_node(source))) - 1


def program_formula(source: str, limit: int = 300) -> str:
    """A one-line readable form by the one printer: the simplified formula when the program is
    one expression (``... > 0`` for a priority), else its statements joined by '; '."""
    try:
        text = formula(source, max_chars=4 * limit)
        if text is None:
            text = "; ".join(line.strip() for line in
                             program_source(program_of(source)).splitlines()[1:])
    except (RuleError, ValueError):
        text = source
    text = re.sub(r"\s+", " ", text)
    return text if len(text) <= limit else text[:limit - 3] + "..."