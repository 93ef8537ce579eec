"""The end of ``evolve``: the best rule beside the rules a physicist would otherwise use.

The baselines are library rules (``laporta``, ``improved_seeding``) scored by a judge of the
run's suite built in this process with the suite's own seed cap (evolution's lower cap would
fail Laporta's thousands of seeds unsolved).  The paper's GP result is a published number, not
a rule we have: it is quoted, for the suite that reproduces the paper's benchmark only.
"""

from __future__ import annotations

# Seeds of the best rule of von Hippel & Wilhelm's strongly typed GP (arXiv:2502.05121) for
# I(1,1,1,1,1,1,-3) of the triangle-box family: the paper's figure, keyed by our suite name.
PAPER_SEEDS = {"triangle_box_paper": (88, "GP of arXiv:2502.05121 (published)")}
BASELINES = (("improved_seeding", "improved seeding (Kira 3)"), ("laporta", "Laporta"))


def _row(name, verdict_text, totals) -> tuple:
    def n(key):
        value = totals.get(key)
        return "-" if value is None else f"{int(value):,}"
    return (name, verdict_text, n("seeds"), n("trimmed"), n("multiply_adds"))


def baseline_rows(best, suite, suite_spec, progress=None, score: bool = True) -> list[tuple]:
    """Rows (who, status, seeds, trimmed equations, multiply-adds): the run's best rule, then
    the baselines (scored unless ``score`` is false), then the paper's figure where one
    exists."""
    from ibp_evolve.runs.progress import totals, verdict
    rows = [_row("this run's best rule", verdict(best.fitness, best.complete, best.scores),
                 totals(best.scores or [], suite.joint) if best.scores
                 else {"seeds": best.seeds})]
    if score:
        from contextlib import nullcontext

        from ibp_evolve.language.library import resolve_rule
        from ibp_evolve.runs.evaluation import SuiteSpec
        spec = SuiteSpec(suite_spec.suite, suite_spec.ordering,   # the suite's own cap
                         symmetries=suite_spec.symmetries)
        stage = (progress.stage("scoring the baselines improved_seeding and laporta")
                 if progress is not None else nullcontext())
        with stage:
            judge = spec.judge()
            for rule_name, shown in BASELINES:
                try:
                    report = judge.score(resolve_rule(rule_name), "seeds")
                except Exception as exc:   # noqa: BLE001 - e.g. Laporta over a memory cap
                    rows.append((shown, f"not scored ({type(exc).__name__}: {exc})"[:70],
                                 "-", "-", "-"))
                    continue
                rows.append(_row(shown, verdict(report.fitness, report.complete,
                                                report.targets),
                                 totals(report.targets, suite.joint)))
    if suite.name in PAPER_SEEDS:
        seeds, shown = PAPER_SEEDS[suite.name]
        rows.append((shown, "complete", f"{seeds:,}", "-", "-"))
    return rows


def baseline_lines(best, suite, suite_spec, progress=None, score: bool = True) -> list[str]:
    """The comparison as aligned text lines, with one sentence on the gain over improved
    seeding when both are complete."""
    rows = [(f"on {suite.name}", "status", "seeds", "trimmed", "mult-adds")]
    rows += baseline_rows(best, suite, suite_spec, progress, score)
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                       for i, (c, w) in enumerate(zip(row, widths))) for row in rows]
    by_name = {r[0]: r for r in rows}
    improved = by_name.get(BASELINES[0][1])
    mine = rows[1]
    if improved and mine[1] == improved[1] == "complete":
        a, b = int(mine[2].replace(",", "")), int(improved[2].replace(",", ""))
        change = ("the same seed count as" if a == b else
                  f"{100 * (b - a) / b:.0f}% fewer seeds than" if a < b else
                  f"{100 * (a - b) / b:.0f}% more seeds than")
        lines.append(f"the best rule needs {change} improved seeding ({a:,} against {b:,})")
    return lines
