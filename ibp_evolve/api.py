"""The Python API for notebooks and scripts: the same verbs as the command line.

    import ibp_evolve.api as ibp

    ibp.rules()                                   # the rule library, one line per rule
    rule = ibp.load_rule("improved_seeding")      # a library name, a file, or rule source text
    ibp.score(rule, suite="triangle_box_paper")   # the judge's ScoreReport (score --json)
    ibp.inspect(rule)                             # formula, scores, seed maps (drawn inline)
    ibp.compare(["improved_seeding_dots", rule])  # rules x targets vs the baselines (a table)
    run = ibp.evolve(population=40, generations=3, out="runs/try")   # ibp-evolve evolve
    run = ibp.load_run("runs/try")                # read-only snapshot, fine while it runs
    ibp.report(run)                               # path of the self-contained HTML report
    ibp.reduce("box", ["2,1,1,1"], analytic="all")   # ibp-evolve reduce: a Reduction (its JSON)

Judges (one per suite: every candidate seed's equations instantiated once) are cached for the
life of the process, so the second call on a suite costs only the solve.  Everything returned
displays itself in Jupyter (``_repr_html_``/``_repr_markdown_``) and prints as plain text.

``inspect``, ``compare`` and ``report`` are also the names of the modules that implement them,
so use them through this module (``ibp_evolve.api.inspect``), not as ``ibp_evolve.reports.inspect``.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["rules", "load_rule", "load_suite", "load_run", "score", "inspect", "compare",
           "report", "evolve", "judge", "reduce"]


@dataclass
class LibraryRule:
    name: str
    path: Path
    description: str


class RuleList(list):
    """The rule library: a list of :class:`LibraryRule` that displays as a table."""

    def __str__(self) -> str:
        width = max((len(r.name) for r in self), default=0)
        return "\n".join(f"{r.name.ljust(width)}  {r.description}" for r in self)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td><code>{html.escape(r.name)}</code></td>"
                       f"<td>{html.escape(r.description)}</td></tr>" for r in self)
        return f"<table><tr><th>rule</th><th>description</th></tr>{rows}</table>"


def rules() -> RuleList:
    """The rule library (``ibp-evolve rules``): baselines and exported evolved rules."""
    from ibp_evolve.language.library import description, library_rules, rule_name
    return RuleList(LibraryRule(rule_name(p), p, description(p)) for p in library_rules())


def load_rule(rule):
    """A rule from a library name, a rule file path, rule source text, or a run's best rule
    (a run folder or :class:`~ibp_evolve.reports.html.RunSnapshot`: its rank-1 rule)."""
    from ibp_evolve.reports.html import RunSnapshot
    from ibp_evolve.reports.inspect import as_rule
    if isinstance(rule, RunSnapshot):
        return rule.rule(1)
    if isinstance(rule, (str, Path)) and Path(str(rule)).is_dir() \
            and (Path(str(rule)) / "config.json").is_file():
        return load_run(rule).rule(1)
    return as_rule(rule)


def load_suite(suite):
    """A built-in suite by name or a suite file by path."""
    from ibp_evolve.judge.suites import load_suite as _load
    return _load(suite)


def load_run(path):
    """A consistent read-only snapshot of a run folder (never blocks the running evolve)."""
    from ibp_evolve.reports.html import read_run
    return read_run(path)


def judge(suite="triangle_box_paper", ordering: str | None = None,
          symmetries: bool | None = None):
    """The (cached) judge of a suite, for the full scoring API (masks, score_masks...);
    ``symmetries`` overrides the suite's sector-symmetries setting (None: the suite's)."""
    from ibp_evolve.reports.inspect import judge_for
    limits = {"symmetries": bool(symmetries)} if symmetries is not None else None
    return judge_for(suite, ordering, limits=limits)


def _suite_of(rule, suite):
    from ibp_evolve.reports.html import RunSnapshot
    if suite is not None:
        return suite
    if isinstance(rule, RunSnapshot):
        return (rule.config.get("suite_spec") or {}).get("suite", rule.suite)
    return "triangle_box_paper"


def score(rule, suite=None, objective: str = "seeds", symmetries: bool | None = None):
    """Score a rule on a suite: the :class:`~ibp_evolve.judge.score.ScoreReport` whose
    ``to_json()`` is what ``ibp-evolve score --json`` prints (``symmetries``: as
    ``--symmetries on|off``; None: the suite's setting)."""
    from ibp_evolve.reports.inspect import needs_sandbox
    r = load_rule(rule)
    j = judge(_suite_of(rule, suite), symmetries=symmetries)
    return j.score(r, objective, sandbox=needs_sandbox(r))


def inspect(rule, suite=None, objective: str = "seeds", progress=None):
    """Formula, scores and seed maps of a rule (``ibp-evolve inspect``); in a notebook the
    result shows its first seed map; ``.figure(i)`` draws target i, ``.save(folder)`` writes
    PNG and SVG files."""
    from ibp_evolve.reports.inspect import inspect_rule
    return inspect_rule(load_rule(rule), _suite_of(rule, suite), objective,
                        judge=judge(_suite_of(rule, suite)), progress=progress)


def compare(rules, suites=("triangle_box_paper",), objective: str = "seeds",
            baselines=("laporta", "improved_seeding"), ratios=("seeds", "multiply_adds"),
            progress=None):
    """Rules x targets with ratios to the baselines (``ibp-evolve compare``); the result
    displays as a table and has ``to_markdown()``, ``to_csv()``, ``to_html()``, ``chart()``."""
    from ibp_evolve.reports.compare import compare_rules
    if isinstance(suites, (str, Path)):
        suites = [suites]
    if not isinstance(rules, (list, tuple)):
        rules = [rules]
    return compare_rules([load_rule(r) for r in rules], list(suites), objective,
                         tuple(baselines), tuple(ratios), progress)


def report(run, out=None, seed_maps: int = 3, n_best: int = 5, progress=None) -> Path:
    """Write the HTML report of a run (``ibp-evolve report``); returns its path."""
    from ibp_evolve.reports.html import write_report
    return write_report(run, out, progress=progress, seed_maps=seed_maps, n_best=n_best)


def evolve(suite: str = "triangle_box_paper", population: int | None = None,
           generations: int | None = None, seed: int = 0, out=None, workers: int = 0,
           objective: str = "seeds", start=(), time_limit: float | None = None,
           quiet: bool = True, validate: str | None = None, features: str | None = None,
           engine: str | None = None):
    """Run ``ibp-evolve evolve`` in this process and return the run (a snapshot).

    ``workers=0`` scores in this process (the right choice in a notebook); ``start`` names
    rules injected into the first generation (library names or files); ``validate`` a
    validation suite and ``features`` extra GP terminals, as ``--validate`` and ``--features``;
    ``engine`` as ``--engine`` (default deap; islands such as ``"gp:3"``)."""
    from ibp_evolve.cli.main import main
    if out is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        name = (engine or "deap").replace(":", "").replace(",", "-")
        out = Path("runs") / f"{Path(str(suite)).stem}-{name}-s{seed}-{stamp}"
    argv = ["evolve", "--suite", str(suite), "--seed", str(seed), "--out", str(out),
            "--workers", str(workers), "--objective", objective]
    for flag, value in (("--population", population), ("--generations", generations),
                        ("--time-limit", time_limit), ("--validate", validate),
                        ("--features", features), ("--engine", engine)):
        if value is not None:
            argv += [flag, str(value)]
    for rule in start:
        argv += ["--start", str(rule)]
    if quiet:
        argv.append("--quiet")
    status = main(argv)
    if status != 0:
        raise RuntimeError(f"ibp-evolve {' '.join(argv)} exited with status {status}")
    return load_run(out)


class Reduction(dict):
    """A reduction: the JSON of ``ibp-evolve reduce --format json`` (family, point, masters,
    targets with their coefficients, stats; ``analytic_in`` for an analytic one), printed and
    displayed as ``reduce``'s text output."""

    @property
    def complete(self) -> bool:
        """Whether every target is expressed through masters alone."""
        return all(t["reduced"] for t in self["targets"])

    def mathematica(self) -> str:
        """A replacement list to paste into Mathematica or FORM (``--format mathematica``)."""
        from ibp_evolve.cli.reduce_output import mathematica
        return mathematica(self)

    def __str__(self) -> str:
        import contextlib
        import io

        from ibp_evolve.cli.reduce_output import print_reductions
        where = ", ".join(f"{k}={v}" for k, v in self["point"].items())
        head = f"family {self['family']}"
        if self.get("analytic_in"):
            head += ", analytic in " + ", ".join(self["analytic_in"])
        text = io.StringIO()
        with contextlib.redirect_stdout(text):
            print_reductions(self, joiner="\n    + " if self.get("analytic_in") else " + ")
        return head + (f" at {where}" if where else "") + "\n" + text.getvalue().rstrip()

    def _repr_markdown_(self) -> str:
        return "```\n" + str(self) + "\n```"


def reduce(family, targets, at: str | None = None, analytic: str | None = None,
           rule=None, seeds: str | None = None, workers: int = 1, dask: str | None = None,
           dask_local: int | None = None, replace_by_one: str | None = None, seed: int = 0,
           ordering: str | None = None, symmetries: bool = True) -> Reduction:
    """Reduce target integrals (``ibp-evolve reduce``) in this process: exactly at the rational
    point ``at`` ("d=17/3,s=5/7"; random when None), or, with ``analytic`` ("d", "d,s" or
    "all"), as rational functions of those symbols (the others at ``at``), sampled on
    ``workers`` processes or on a Dask cluster: ``dask`` a scheduler's address, ``dask_local``
    the workers of a local cluster started for this call.  ``targets`` are index tuples or
    texts such as "2,1,1,1"; ``rule`` a library rule, rule file or run folder, ``seeds`` a
    Laporta box "laporta:r=6,s=3" instead; ``symmetries=False`` reduces onto the redundant
    basis without sector symmetries.  A target left unreduced is in the result
    (``.complete`` is False); bad input raises RuntimeError after the command's message."""
    import contextlib
    import io
    import json

    from ibp_evolve.cli.main import main
    argv = ["reduce", str(family), "--format", "json", "--seed", str(seed),
            "--workers", str(workers), "--symmetries", "on" if symmetries else "off"]
    argv += [f"--target={t if isinstance(t, str) else ','.join(map(str, t))}" for t in targets]
    for flag, value in (("--at", at), ("--analytic", analytic), ("--seeds", seeds),
                        ("--dask", dask), ("--dask-local", dask_local),
                        ("--replace-by-one", replace_by_one), ("--ordering", ordering)):
        if value is not None:
            argv += [flag, str(value)]
    if rule is not None:
        argv += ["--rule", str(getattr(rule, "path", None) or rule)]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(argv)
    if status not in (0, 1) or not out.getvalue().strip():
        raise RuntimeError(f"ibp-evolve {' '.join(argv)} exited with status {status}")
    return Reduction(json.loads(out.getvalue()))
