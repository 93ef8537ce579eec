"""The options every verb that builds a judge shares: --suite, --max-memory, --max-candidates
and --symmetries."""

from __future__ import annotations


class LimitOptionError(ValueError):
    """A malformed --max-memory or --max-candidates value (exit status 2)."""


def seconds(text: str) -> float:
    """An argparse type for a rule's sandbox time limit: a positive, finite number of seconds
    (0, a negative value or nan would reach the sandbox as a traceback)."""
    import argparse
    import math
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"'{text}': expected a positive number of seconds")
    return value


DEFAULT_SUITE = "triangle_box_paper"


def add_suite_option(parser, default: str | None = DEFAULT_SUITE) -> None:
    """``--suite``; ``default=None`` where the command fills the default in itself (``evolve``:
    a resumed run must be able to tell that ``--suite`` was given)."""
    parser.add_argument("--suite", default=default,
                        help="built-in suite (ibp-evolve suites lists them) or .toml path "
                             "(default triangle_box_paper)")


def add_judge_limits(parser) -> None:
    parser.add_argument("--max-memory", metavar="SIZE",
                        help="refuse jobs estimated to need more memory than this, e.g. 8G "
                             "(default: half of this machine's RAM)")
    parser.add_argument("--max-candidates", metavar="N",
                        help="refuse targets whose candidate universe holds more seeds than "
                             "this (default 20,000,000: about a minute of rule evaluation)")
    parser.add_argument("--symmetries", choices=("on", "off"),
                        help="sector symmetries: seeds in unique sectors, relation rows, the "
                             "symmetric master basis (default: the suite's setting; reduce: on)")


def judge_limits(args) -> dict:
    """Keyword arguments for Judge(...) from the parsed options."""
    from ibp_evolve.judge.bounds import parse_bytes
    out = {}
    if getattr(args, "max_memory", None) is not None:
        try:
            out["max_memory"] = parse_bytes(args.max_memory)
        except ValueError as exc:
            raise LimitOptionError(f"--max-memory: {exc}") from None
    if getattr(args, "max_candidates", None) is not None:
        text = str(args.max_candidates).replace(",", "").replace("_", "")
        if not text.isdigit() or int(text) < 1:
            raise LimitOptionError(f"--max-candidates '{args.max_candidates}': expected a "
                                   f"positive integer")
        out["max_candidates"] = int(text)
    if getattr(args, "symmetries", None) is not None:
        out["symmetries"] = args.symmetries == "on"
    return out
