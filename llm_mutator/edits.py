"""How far a completion is from the program it was shown: the token edit distance.

A FunSearch mutator succeeds by *local edits*: it copies the best program of its prompt and
changes a clause.  This module measures that on Python tokens (names, numbers, operators;
layout and comments ignored), so that ``seed.s <= target.s - seed.missing`` and
``seed.s <= target.s`` are two tokens apart whatever their line breaks.
"""

from __future__ import annotations

import io
import tokenize

__all__ = ["program_tokens", "token_edit_distance"]

_LAYOUT = {tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.COMMENT,
           tokenize.ENDMARKER}


def program_tokens(text: str) -> list[str]:
    """The program's tokens without layout and comments (text that does not tokenize is
    split on white space: a distance is still defined)."""
    try:
        return [t.string for t in tokenize.generate_tokens(io.StringIO(text).readline)
                if t.type not in _LAYOUT]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return text.split()


def token_edit_distance(a: str, b: str) -> int:
    """Levenshtein distance between the token sequences of two programs (insertions,
    deletions and substitutions of one token each)."""
    x, y = program_tokens(a), program_tokens(b)
    if len(x) < len(y):
        x, y = y, x
    previous = list(range(len(y) + 1))
    for i, tx in enumerate(x, 1):
        current = [i]
        for j, ty in enumerate(y, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (tx != ty)))
        previous = current
    return previous[-1]
