"""Compare rules: a table of rules x targets with ratios against the baselines, and a bar chart.

For every suite and every target the table gives each rule's seeds, equations, trimmed
equations (mark and sweep), multiply-adds, seconds and whether the target reduced, plus the
ratios of chosen metrics (default: seeds and multiply-adds) to the two baselines every
physicist knows: the classic Laporta rule and the improved seeding of Kira 3
(``rules/laporta.py``, ``rules/improved_seeding.py``).  A ratio below 1 means the rule needs less
than the baseline; a ratio is left empty where the baseline did not reduce the target (it is
no yardstick there) or measured 0.

Three forms: Markdown (pastes into a paper or an issue; plain integers, so that the numbers
read back exactly as ``ibp-evolve score --json`` prints them), CSV, and a self-contained HTML
page with the chart inline.  In a joint suite (one system for all targets) equations, trimmed
equations, multiply-adds and seconds are those of the joint solve, repeated on every target row.
"""

from __future__ import annotations

import csv
import html
import io
from dataclasses import dataclass, field
from pathlib import Path

from ibp_evolve.runs.store import atomic_write_bytes
from ibp_evolve.reports.inspect import (as_rule, figure_bytes, integral_name, judge_for,
                                        needs_sandbox, rule_label)

__all__ = ["BASELINES", "METRICS", "RATIO_METRICS", "ComparisonRow", "Comparison",
           "compare_rules", "rule_label"]

BASELINES = ("laporta", "improved_seeding")
METRICS = ("seeds", "equations", "trimmed_equations", "multiply_adds", "seconds")
RATIO_METRICS = ("seeds", "multiply_adds")
CHART_METRICS = ("seeds", "trimmed_equations", "multiply_adds")
_SHORT = {"seeds": "seeds", "equations": "equations", "trimmed_equations": "trimmed",
          "multiply_adds": "mult-adds", "seconds": "seconds"}


@dataclass
class ComparisonRow:
    rule: str
    suite: str
    target: tuple
    seeds: int
    equations: int
    trimmed_equations: int
    multiply_adds: int
    seconds: float
    reduced: bool
    n_survivors: int = 0
    reason: str = ""
    ratios: dict = field(default_factory=dict)  # (metric, baseline) -> ratio or None

    @property
    def state(self) -> str:
        if self.reduced:
            return "yes"
        return f"no ({self.reason or f'{self.n_survivors} survivors'})"


@dataclass
class Comparison:
    """Rules x targets on one or more suites; see the module docstring."""
    rules: list
    suites: list
    rows: list
    reports: dict                   # (rule label, suite name) -> ScoreReport
    baselines: tuple = BASELINES
    ratio_metrics: tuple = RATIO_METRICS
    objective: str = "seeds"
    requested: tuple = ()           # labels of the rules asked for (baselines only if asked)

    @property
    def incomplete(self) -> list:
        """The requested rules that leave a target unreduced on some suite (the command
        exits 1 then: it ran, but a rule asked about is incomplete)."""
        return [label for label in self.requested
                if any(not rep.complete for (rule, _), rep in self.reports.items()
                       if rule == label)]

    # -- columns ---------------------------------------------------------------------------
    def _ratio_columns(self) -> list:
        return [(m, b) for m in self.ratio_metrics for b in self.baselines
                if any(b == r for r in self.rules)]

    def _header(self, machine: bool) -> list:
        # on screen a ratio header names its baseline briefly (improved_seeding -> improved):
        # a 1400 px window holds the whole table
        ratio = [f"{m}_vs_{b}" if machine else f"{_SHORT[m]} ÷ {b.split('_')[0]}"
                 for m, b in self._ratio_columns()]
        if machine:
            return (["suite", "target", "rule", "reduced", "n_survivors"] + list(METRICS)
                    + ratio)
        return ["suite", "target", "rule", "reduced"] + [_SHORT[m] for m in METRICS] + ratio

    def _cells(self, row: ComparisonRow, machine: bool) -> list:
        ratios = [row.ratios.get(key) for key in self._ratio_columns()]
        values = [str(getattr(row, m)) if m != "seconds" else
                  (f"{row.seconds:.6g}" if machine else f"{row.seconds:.4f}")
                  for m in METRICS]
        if machine:
            return ([row.suite, " ".join(map(str, row.target)), row.rule,
                     "1" if row.reduced else "0", str(row.n_survivors)] + values
                    + ["" if r is None else f"{r:.6g}" for r in ratios])
        return ([row.suite, integral_name(row.target), row.rule, row.state] + values
                + ["–" if r is None else f"{r:.3g}" for r in ratios])

    # -- forms -----------------------------------------------------------------------------
    def to_markdown(self) -> str:
        header = self._header(machine=False)
        lines = ["| " + " | ".join(header) + " |",
                 "|" + "|".join("---" if k < 4 else "---:" for k in range(len(header))) + "|"]
        for row in self.rows:
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in
                                            self._cells(row, False)) + " |")
        lines += ["", "| rule | suite | status | fitness (" + self.objective + ") |",
                  "|---|---|---|---:|"]
        for (rule, suite), rep in self.reports.items():
            lines.append(f"| {rule} | {suite} | {_status(rep)} | {_objective(rep)} |")
        return "\n".join(lines) + "\n"

    def to_csv(self) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(self._header(machine=True))
        for row in self.rows:
            writer.writerow(self._cells(row, True))
        return buf.getvalue()

    def to_html(self, title: str | None = None) -> str:
        from ibp_evolve.reports.html import html_page, inline_svg
        title = title or ("Rules compared on " + ", ".join(self.suites))
        header = self._header(machine=False)
        def cell(tag, k, text):
            cls = " class='text'" if k < 4 else ""
            return f"<{tag}{cls}>{html.escape(text)}</{tag}>"
        body = ["<div class='scroll'><table class='data'><thead><tr>"
                + "".join(cell("th", k, h) for k, h in enumerate(header))
                + "</tr></thead><tbody>"]
        for row in self.rows:
            cls = "" if row.reduced else " class='incomplete'"
            body.append(f"<tr{cls}>" + "".join(
                cell("td", k, c) for k, c in enumerate(self._cells(row, False))) + "</tr>")
        body.append("</tbody></table></div>")
        summary = ["<table class='data'><thead><tr><th>rule</th><th>suite</th><th class='text'>status"
                   f"</th><th>fitness ({html.escape(self.objective)})</th></tr></thead><tbody>"]
        for (rule, suite), rep in self.reports.items():
            summary.append(f"<tr><td>{html.escape(rule)}</td><td>{html.escape(suite)}</td>"
                           f"<td class='text'>{html.escape(_status(rep))}</td>"
                           f"<td>{_objective(rep)}</td></tr>")
        summary.append("</tbody></table>")
        svg = inline_svg(self.chart(), "compare-chart")
        sections = (
            f"<section id='table'><h2>Rules × targets</h2><p>Ratios are the rule's value "
            f"divided by the baseline's on the same target (below 1: cheaper than the "
            f"baseline).</p>{''.join(body)}</section>"
            f"<section id='summary'><h2>Fitness per rule and suite</h2>{''.join(summary)}"
            f"</section><section id='chart'><h2>Chart</h2><figure>{svg}<figcaption>Seeds, "
            f"trimmed equations and multiply-adds per target (log scale); hatched bars: "
            f"target not reduced.</figcaption></figure></section>")
        return html_page(title, sections)

    def render(self, fmt: str) -> str:
        forms = {"md": self.to_markdown, "markdown": self.to_markdown, "csv": self.to_csv,
                 "html": self.to_html}
        if fmt not in forms:
            raise ValueError(f"unknown format '{fmt}' (choose html, md or csv)")
        return forms[fmt]()

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def __str__(self) -> str:
        return self.to_markdown()

    __repr__ = __str__

    # -- chart -----------------------------------------------------------------------------
    def chart(self, metrics=CHART_METRICS):
        """Grouped bars (log scale): one panel per metric, one group per target, one bar per
        rule; a hatched bar is a target the rule did not reduce."""
        from matplotlib.figure import Figure
        targets = []
        for row in self.rows:
            key = (row.suite, row.target)
            if key not in targets:
                targets.append(key)
        by_key = {(r.rule, r.suite, r.target): r for r in self.rows}
        # about 1.5 in per target group, so that its two-line tick label does not run into
        # its neighbours'
        fig = Figure(figsize=(max(6.5, 1.2 + len(targets) * max(1.5, 0.4 * len(self.rules))),
                              2.3 * len(metrics) + 0.8))
        axes = fig.subplots(len(metrics), 1, squeeze=False)[:, 0]
        width = 0.8 / max(1, len(self.rules))
        colors = [f"C{k % 10}" for k in range(len(self.rules))]
        for ax, metric in zip(axes, metrics):
            for k, rule in enumerate(self.rules):
                xs, hs, hatch, zeros = [], [], [], []
                for j, (suite, target) in enumerate(targets):
                    row = by_key.get((rule, suite, target))
                    if row is None:
                        continue
                    xs.append(j - 0.4 + width * (k + 0.5))
                    hs.append(max(getattr(row, metric), 1))
                    hatch.append(not row.reduced)
                    zeros.append(getattr(row, metric) == 0)
                bars = ax.bar(xs, hs, width=width * 0.92, color=colors[k],
                              label=rule if metric == metrics[0] else None)
                for bar, h in zip(bars, hatch):
                    if h:
                        bar.set_hatch("///")
                        bar.set_alpha(0.55)
                for x, j in zip(xs, zeros):
                    if j:   # drawn at 1 on the log axis: the label says it is none at all
                        ax.annotate("0", (x, 1), xytext=(0, 1), textcoords="offset points",
                                    ha="center", va="bottom", fontsize=6)
            ax.set_yscale("log")
            lowest = min((max(getattr(r, metric), 1) for r in self.rows), default=1)
            ax.set_ylim(bottom=max(0.5, lowest / 4))  # short bars stay visible on a log axis
            ax.set_ylabel(_SHORT[metric])
            ax.set_xticks(range(len(targets)))
            ax.set_xticklabels([integral_name(t) + (f"\n{s}" if len(self.suites) > 1 else "")
                                for s, t in targets], fontsize=7)
            ax.grid(axis="y", alpha=0.3)
        from matplotlib.patches import Patch
        handles, labels = axes[0].get_legend_handles_labels()
        if any(not r.reduced for r in self.rows):
            # the hatching has to be read somewhere: its own legend entry
            handles.append(Patch(facecolor="white", edgecolor="#555", hatch="///"))
            labels.append("target not reduced")
        fig.legend(handles, labels, loc="upper center", ncol=min(5, len(handles)),
                   fontsize=8, frameon=False)
        fig.tight_layout(rect=(0, 0, 1, 0.95))
        return fig

    def save_chart(self, path) -> Path:
        path = Path(path)
        fmt = path.suffix.lstrip(".").lower() or "svg"
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, figure_bytes(self.chart(), fmt, salt=path.stem))
        return path


def _status(rep) -> str:
    from ibp_evolve.runs.progress import verdict
    return verdict(rep.fitness, rep.complete, rep.targets)


def _objective(rep) -> str:
    """The fitness of a complete rule (its objective); an incomplete rule's is a penalty that
    its status already explains."""
    return _number(rep.fitness) if rep.complete else "–"


def _number(x) -> str:
    x = float(x)
    return str(int(x)) if x.is_integer() else f"{x:.6g}"


def compare_rules(rules, suites=("triangle_box_paper",), objective: str = "seeds",
                  baselines=BASELINES, ratio_metrics=RATIO_METRICS, progress=None,
                  sandbox: bool = True, limits: dict | None = None) -> Comparison:
    """Score every rule (and the baselines) on every suite; see :class:`Comparison`.

    ``rules`` are library names, rule files, rule source texts or loaded rules; baselines that
    are not among them are scored too and listed first.  Every rule outside the rule library
    computes its seed mask in the sandbox (``sandbox=False``: none does)."""
    for m in ratio_metrics:
        if m not in METRICS:
            raise ValueError(f"unknown ratio metric '{m}' (choose from {', '.join(METRICS)})")
    loaded = []
    for b in baselines:
        loaded.append((b, as_rule(b)))
    requested = []
    for r in rules:
        rule = as_rule(r)
        label = rule_label(rule)
        if any(label == name for name, _ in loaded):
            if label in baselines:
                requested.append(label)
                continue  # a baseline asked for explicitly is already there
            n = 2
            while any(f"{label}#{n}" == name for name, _ in loaded):
                n += 1
            label = f"{label}#{n}"
        loaded.append((label, rule))
        requested.append(label)
    rows, reports, suite_names = [], {}, []
    total = len(loaded) * len(suites)
    done = 0
    for suite in suites:
        judge = judge_for(suite, progress=progress, limits=limits)
        suite_names.append(judge.suite.name)
        for label, rule in loaded:
            done += 1
            if progress:
                progress(f"scoring {label} on {judge.suite.name} ({done}/{total})")
            # chunk by chunk over the universes, rows only for the kept seeds
            report = judge.score(rule, objective, sandbox=sandbox and needs_sandbox(rule))
            reports[(label, judge.suite.name)] = report
            for t in report.targets:
                rows.append(ComparisonRow(label, judge.suite.name, tuple(t.target), t.seeds,
                                          t.equations, t.trimmed_equations, t.multiply_adds,
                                          t.seconds, t.reduced, t.n_survivors, t.reason))
    base = {(r.rule, r.suite, r.target): r for r in rows if r.rule in baselines}
    for row in rows:
        for metric in ratio_metrics:
            for b in baselines:
                ref = base.get((b, row.suite, row.target))
                value = None
                if ref is not None and ref.reduced and getattr(ref, metric) > 0:
                    value = getattr(row, metric) / getattr(ref, metric)
                row.ratios[(metric, b)] = value
    return Comparison([label for label, _ in loaded], suite_names, rows, reports,
                      tuple(baselines), tuple(ratio_metrics), objective,
                      tuple(dict.fromkeys(requested)))
