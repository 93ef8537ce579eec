"""The HTML report of a run: one self-contained file that opens offline in any browser.

Sections (each an ``<section id=...>`` with its pictures embedded, PNG as base64 ``data:`` URIs
and SVG inline; no script, no stylesheet or font from elsewhere):

``progress``       fitness against judge evaluations and against wall time (every candidate,
                   the best so far, and the Laporta / improved-seeding baselines as lines)
``validity``       per generation, the share of candidates that were valid, and complete
``validation``     with ``evolve --validate``: training against validation fitness of the rules
                   validated after each generation (only in runs made with it)
``pareto``         the Pareto front of seeds against rule size among complete rules
``best``           the best rules as formulas, their scores per target and their seed maps
``lineage``        the ancestry of the best rule: parents, generations, engine operations
``configuration``  the run's state (running, finished, stopped), its size, and its
                   config.json (folded)

Reading a run never blocks its writer: :class:`RunSnapshot` opens the SQLite database
read-only (``mode=ro`` URI) in one short read transaction; the database is in WAL mode, where
readers and the writer do not wait for each other.  A report of a run still in progress is a
consistent snapshot of the generations committed so far.
"""

from __future__ import annotations

import base64
import html
import json
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from ibp_evolve.reports.inspect import figure_bytes, integral_name
from ibp_evolve.runs.store import (CandidateRecord, RunError, RunFolder, distinct_best,
                                   generation_from_row, validation_from_row)
from ibp_evolve.judge.score import PENALTY as PENALTY_FLOOR  # any fitness from here up: incomplete rule

__all__ = ["RunSnapshot", "read_run", "write_report", "build_report", "html_page",
           "inline_svg", "png_img", "SECTIONS"]

# what a reader came for first; the run's settings (tens of rows) last, folded
SECTIONS = ("progress", "validity", "pareto", "best", "lineage", "configuration")
# sections only some runs have, and where they go: validation (evolve --validate) after validity
OPTIONAL_SECTIONS = {"validation": "validity"}
FAILED_STATUSES = ("rejected", "crashed", "timeout", "stopped")

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0;
color:#222;background:#fff;line-height:1.45}
header,main{max-width:1320px;margin:0 auto;padding:0 1.2rem}
header{border-bottom:1px solid #ddd;padding-top:1rem}
nav a{margin-right:1rem}
h1{font-size:1.5rem;margin:.2rem 0}
h2{font-size:1.2rem;border-bottom:1px solid #eee;padding-bottom:.2rem;margin-top:2rem}
h3{font-size:1rem;margin-bottom:.3rem}
table.data{border-collapse:collapse;font-size:.82rem;margin:.5rem 0}
table.data th,table.data td{border:1px solid #ddd;padding:.15rem .5rem;text-align:right;
vertical-align:top}
table.data th{background:#f4f4f4}
table.data td:first-child,table.data th:first-child{text-align:left}
td.text,th.text{text-align:left!important}
tr.incomplete td{color:#a33}
code,pre{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,monospace;font-size:.82rem}
pre{background:#f7f7f7;padding:.5rem;overflow:auto}
figure{margin:.5rem 0}
figure svg,figure img{max-width:100%;height:auto}
figcaption{font-size:.8rem;color:#555}
.note{color:#555;font-size:.9rem}
.scroll{overflow-x:auto}
.formula{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,monospace;background:#eef4fb;
padding:.1rem .3rem}
"""


# ----------------------------------------------------------------------------- HTML helpers

def html_page(title: str, body: str, subtitle: str = "", nav=()) -> str:
    links = "".join(f"<a href='#{html.escape(s)}'>{html.escape(s)}</a>" for s in nav)
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'/>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'/>"
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"
            f"<header><h1>{html.escape(title)}</h1>"
            + (f"<p class='note'>{html.escape(subtitle)}</p>" if subtitle else "")
            + (f"<nav>{links}</nav>" if links else "") + "</header>"
            f"<main>{body}</main></body></html>\n")


def inline_svg(fig, name: str) -> str:
    """A matplotlib Figure as inline SVG markup (no XML prolog; ids salted with ``name``)."""
    svg = figure_bytes(fig, "svg", salt=name).decode()
    start = svg.find("<svg")
    svg = svg[start:]
    return svg.replace("<svg ", f"<svg role='img' aria-label='{html.escape(name)}' ", 1)


def png_img(fig, alt: str, dpi: int = 100) -> str:
    data = base64.b64encode(figure_bytes(fig, "png", dpi=dpi)).decode()
    return f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{data}'/>"


def _table(header, rows, text_columns=(0,), row_class=None) -> str:
    def cell(tag, k, v):
        cls = " class='text'" if k in text_columns else ""
        return f"<{tag}{cls}>{v}</{tag}>"
    out = ["<table class='data'><thead><tr>"
           + "".join(cell("th", k, html.escape(str(h))) for k, h in enumerate(header))
           + "</tr></thead><tbody>"]
    for i, row in enumerate(rows):
        cls = row_class(i) if row_class else ""
        out.append(f"<tr{cls}>" + "".join(cell("td", k, v) for k, v in enumerate(row))
                   + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _e(x) -> str:
    return html.escape("" if x is None else str(x))


def _fitness(f) -> str:
    """A fitness as a reader wants it: the objective's value for a complete rule, what is left
    unreduced for an incomplete one (never the raw penalty)."""
    from ibp_evolve.runs.progress import fmt_fitness, verdict
    if f is None:
        return "–"
    if f >= PENALTY_FLOOR:   # exact: a float would lose the survivors past 2^53
        return verdict(f, False)
    return fmt_fitness(f)


def _status(rec) -> str:
    from ibp_evolve.runs.progress import verdict
    return verdict(rec.fitness, rec.complete, getattr(rec, "scores", None))


# ----------------------------------------------------------------------------- reading a run

@dataclass
class RunSnapshot:
    """A consistent, read-only snapshot of a run folder (see the module docstring)."""
    path: Path
    config: dict
    meta: dict
    candidates: list
    generations: list
    taken_at: float = field(default_factory=time.time)
    validations: list = field(default_factory=list)   # rows of ``validations`` (--validate)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def status(self) -> str:
        return self.meta.get("status", "unknown")

    @property
    def suite(self) -> str:
        return self.config.get("suite") or self.config.get("suite_spec", {}).get("suite", "?")

    @property
    def objective(self) -> str:
        return self.config.get("objective", "seeds")

    @property
    def n_evaluations(self) -> int:
        indices = [c.eval_index for c in self.candidates if c.eval_index is not None]
        return max(indices) + 1 if indices else 0

    @property
    def elapsed(self) -> float | None:
        values = [g["elapsed"] for g in self.generations if g.get("elapsed") is not None]
        return max(values) if values else None

    def candidate(self, cid: int) -> CandidateRecord:
        for c in self.candidates:
            if c.id == cid:
                return c
        raise KeyError(f"run {self.name} has no candidate {cid}")

    def best(self, n: int = 5) -> list:
        """The ``n`` best scored candidates, one per distinct seed selection (lowest fitness,
        then smallest size, then earliest), as the run's own ``best/`` ranks them."""
        return distinct_best([c for c in self.candidates
                              if c.status == "ok" and c.fitness is not None], n)

    def rule(self, rank: int = 1):
        """The rank-th best rule as a loaded :class:`~ibp_evolve.language.parse.Rule`."""
        from ibp_evolve.language.parse import load_rule
        if rank < 1:   # rank 0 would silently pick the last file
            raise RunError(f"--rank {rank}: ranks start at 1 (the best rule)")
        best = self.best(rank)
        if len(best) < rank:
            raise RunError(f"run {self.name} has {len(best)} scored rules; no rank {rank}")
        files = sorted((self.path / RunFolder.BEST).glob("rank*.py"))
        if len(files) >= rank and self.status != "running":
            return load_rule(files[rank - 1])
        return load_rule(best[rank - 1].source, name=f"{self.name}_rank{rank:02d}")

    def pareto_front(self) -> list:
        """Complete rules not beaten in both seeds and size: for each size, the fewest seeds
        reached, kept only when it beats every smaller rule."""
        complete = sorted((c for c in self.candidates if c.status == "ok" and c.complete
                           and c.seeds is not None and c.size is not None),
                          key=lambda c: (c.size, c.seeds, c.id))
        front, best_seeds = [], None
        for c in complete:
            if best_seeds is None or c.seeds < best_seeds:
                front.append(c)
                best_seeds = c.seeds
        return front

    def lineage(self, cid: int, max_nodes: int = 40) -> list:
        """The candidate and its ancestors, breadth first, at most ``max_nodes`` of them."""
        by_id = {c.id: c for c in self.candidates}
        order, seen, queue = [], set(), [cid]
        while queue and len(order) < max_nodes:
            current = queue.pop(0)
            if current in seen or current not in by_id:
                continue
            seen.add(current)
            order.append(by_id[current])
            queue.extend(by_id[current].parents)
        return order

    def summary(self) -> str:
        best = self.best(1)
        head = (f"run {self.name} ({self.config.get('engine', '?')}, suite {self.suite}, "
                f"objective {self.objective}): {self.status}, {len(self.candidates)} "
                f"candidates, {len(self.generations)} generations, {self.n_evaluations} "
                f"judge evaluations")
        if best:
            b = best[0]
            head += (f"; best: {b.seeds} seeds, {_status(b)}, size {b.size}: "
                     f"{b.formula or '-'}")
        return head

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return f"<RunSnapshot {self.summary()}>"

    def _repr_html_(self) -> str:
        rows = [(str(k), _e(_status(c)), _e(c.seeds), _e(c.size),
                 f"<code>{_e(c.formula)}</code>") for k, c in enumerate(self.best(5), 1)]
        return (f"<p>{_e(self.summary())}</p>"
                + _table(("rank", "status", "seeds", "size", "formula"), rows,
                         text_columns=(1, 4)))


def read_run(path) -> RunSnapshot:
    """Read a run folder without ever blocking (or writing to) the process that writes it."""
    path = Path(path)
    config_path = path / RunFolder.CONFIG
    if not config_path.is_file():
        raise RunError(f"'{path}' is not a run folder (no {RunFolder.CONFIG})")
    try:
        config = json.loads(config_path.read_text())
    except json.JSONDecodeError as exc:
        raise RunError(f"{config_path}: not valid JSON: {exc}") from None
    db = path / RunFolder.DATABASE
    if not db.is_file():
        return RunSnapshot(path, config, {"status": "starting"}, [], [])
    # A finished run has no -wal file (its writer checkpointed it on close).  A read-only
    # connection would create -wal and -shm beside it and could not remove them again, so such
    # a run is read as an immutable file: no locks, no side files.  A run whose -wal exists is
    # being written (or was killed): read it as a WAL reader, which never blocks the writer.
    wal = db.with_name(db.name + "-wal")
    mode = "mode=ro" if wal.exists() else "mode=ro&immutable=1"
    uri = f"file:{quote(str(db.resolve()))}?{mode}"
    conn = sqlite3.connect(uri, uri=True, timeout=30.0, isolation_level=None)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA query_only=ON")
        conn.execute("BEGIN")  # one read transaction: all tables from the same commit
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE "
                                             "type = 'table'")}
        meta = ({r["key"]: r["value"] for r in conn.execute("SELECT key, value FROM meta")}
                if "meta" in tables else {})
        candidates = ([CandidateRecord.from_row(r) for r in
                       conn.execute("SELECT * FROM candidates ORDER BY id")]
                      if "candidates" in tables else [])
        generations = ([generation_from_row(r) for r in conn.execute(
            "SELECT * FROM generations ORDER BY generation")] if "generations" in tables else [])
        validations = ([validation_from_row(r) for r in conn.execute(
            "SELECT * FROM validations ORDER BY generation, candidate")]
            if "validations" in tables else [])
        conn.execute("COMMIT")
    except sqlite3.DatabaseError as exc:
        raise RunError(f"{db}: cannot read the run database: {exc}") from None
    finally:
        conn.close()
    return RunSnapshot(path, config, meta, candidates, generations,
                       validations=validations)


# ----------------------------------------------------------------------------- charts

def _figure(w, h):
    from matplotlib.figure import Figure
    return Figure(figsize=(w, h))


def _progress_figure(run: RunSnapshot, baselines: dict):
    """Fitness against judge evaluations (left) and against wall time (right)."""
    fig = _figure(11, 4.0)
    ax_eval, ax_time = fig.subplots(1, 2)
    elapsed_of = {g["generation"]: g["elapsed"] for g in run.generations
                  if g.get("elapsed") is not None}
    t0 = min((c.created_at for c in run.candidates), default=0.0)
    xs_eval, xs_time, ys, complete = [], [], [], []
    count = 0
    for c in run.candidates:
        if c.eval_index is not None:
            count = max(count, c.eval_index + 1)
        if c.fitness is None or c.status != "ok":
            continue
        xs_eval.append(count)
        xs_time.append(elapsed_of.get(c.generation, c.created_at - t0))
        ys.append(float(c.fitness))
        complete.append(bool(c.complete))
    # Incomplete rules carry a penalty of 10^15 per unreduced target: drawn at their true
    # value they would squash the complete rules into one line, so they share a band on top.
    finite = [y for y, ok in zip(ys, complete) if ok] + [
        f for f in baselines.values() if f < PENALTY_FLOOR]
    band = max(finite + [1.0]) * 4.0
    shown = [y if ok else band for y, ok in zip(ys, complete)]
    colors = ["#1f77b4" if ok else "#aaaaaa" for ok in complete]
    for ax, xs, label in ((ax_eval, xs_eval, "judge evaluations"),
                          (ax_time, xs_time, "wall time of the run (s)")):
        if ys:
            ax.scatter(xs, shown, s=6, c=colors, alpha=0.5, linewidths=0, rasterized=True)
            order = sorted(range(len(xs)), key=lambda i: xs[i])
            best, bx, by = None, [], []
            for i in order:  # the points where the best so far improves, and the last one
                if best is None or ys[i] < best:
                    best = ys[i]
                    bx.append(xs[i])
                    by.append(best if best < PENALTY_FLOOR else band)
            bx.append(xs[order[-1]])
            by.append(by[-1])
            ax.step(bx, by, where="post", color="#d62728", linewidth=1.6,
                    label="best so far")
        else:
            ax.text(0.5, 0.5, "no scored candidate yet", ha="center", va="center",
                    transform=ax.transAxes)
        for k, (name, fitness) in enumerate(baselines.items()):
            ax.axhline(fitness if fitness < PENALTY_FLOOR else band,
                       color=["#2ca02c", "#9467bd"][k % 2], linestyle="--", linewidth=1,
                       label=f"{name} ({_fitness(fitness)})")
        ax.set_yscale("log")
        ax.axhspan(band / 1.6, band * 1.6, color="#f3f3f3", zorder=0)
        ax.text(0.01, band * 1.25, "incomplete rules (fitness ≥ 10^15)", fontsize=7,
                color="#666", transform=ax.get_yaxis_transform(), va="bottom")
        ax.set_ylim(top=band * 3.0)
        ax.set_xlabel(label)
        ax.set_ylabel(f"fitness ({run.objective})")
        ax.grid(alpha=0.3)
        if ys or baselines:
            ax.legend(fontsize=7, loc="center right")
    ax_eval.set_title("fitness against evaluations (blue: complete rule)", fontsize=9)
    ax_time.set_title("fitness against wall time", fontsize=9)
    # fixed margins: tight_layout would draw every figure twice
    fig.subplots_adjust(left=0.07, right=0.99, bottom=0.13, top=0.92, wspace=0.22)
    return fig


def _generation_shares(run: RunSnapshot) -> list:
    shares = {}
    for c in run.candidates:
        s = shares.setdefault(c.generation, {"n": 0, "complete": 0, "valid": 0, "failed": 0})
        s["n"] += 1
        if c.status == "ok":
            s["valid"] += 1
            s["complete"] += bool(c.complete)
        else:
            s["failed"] += 1
    return [(g, shares[g]) for g in sorted(shares)]


def _validity_figure(run: RunSnapshot):
    fig = _figure(11, 3.2)
    ax = fig.subplots()
    rows = _generation_shares(run)
    if rows:
        gens = [g for g, _ in rows]
        complete = [s["complete"] / s["n"] for _, s in rows]
        incomplete = [(s["valid"] - s["complete"]) / s["n"] for _, s in rows]
        failed = [s["failed"] / s["n"] for _, s in rows]
        ax.bar(gens, complete, color="#1f77b4", label="valid and complete")
        ax.bar(gens, incomplete, bottom=complete, color="#bbbbbb", label="valid, incomplete")
        ax.bar(gens, failed, bottom=[a + b for a, b in zip(complete, incomplete)],
               color="#d62728", label="failed (rejected, crashed, timed out)")
        ax.set_ylim(0, 1)
        # above the axes: inside, it would hide the top of the bars (shares reach 1)
        ax.legend(fontsize=7, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=3,
                  frameon=False, borderaxespad=0.2)
    else:
        ax.text(0.5, 0.5, "no candidate yet", ha="center", va="center", transform=ax.transAxes)
    from matplotlib.ticker import MaxNLocator
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("generation (GP) or round")
    ax.set_ylabel("share of new candidates")
    ax.grid(axis="y", alpha=0.3)
    fig.subplots_adjust(left=0.07, right=0.99, bottom=0.16, top=0.9)
    return fig


def _validation_figure(run: RunSnapshot):
    """Per generation, the validated rules' training fitness against their validation fitness,
    and the best of each so far; incomplete rules share a band on top (as in progress)."""
    fig = _figure(11, 3.6)
    ax = fig.subplots()
    by_id = {c.id: c for c in run.candidates}
    rows = [(v, by_id[v["candidate"]]) for v in run.validations
            if v["status"] == "ok" and v["candidate"] in by_id]
    values = [float(c.fitness) for _, c in rows] + [float(v["fitness"]) for v, _ in rows]
    band = max([y for y in values if y < PENALTY_FLOOR] + [1.0]) * 4.0

    def shown(y):
        return y if y < PENALTY_FLOOR else band
    for k, (label, color, of) in enumerate((
            ("training fitness", "#1f77b4", lambda v, c: float(c.fitness)),
            ("validation fitness", "#ff7f0e", lambda v, c: float(v["fitness"])))):
        xs = [v["generation"] + (0.12 if k else -0.12) for v, _ in rows]
        ax.scatter(xs, [shown(of(v, c)) for v, c in rows], s=18, color=color, alpha=0.7,
                   label=f"{label} of a validated rule")
        best, gx, gy = None, [], []
        for g in sorted({v["generation"] for v, _ in rows}):
            here = [of(v, c) for v, c in rows if v["generation"] == g]
            best = min(here + ([best] if best is not None else []))
            gx.append(g)
            gy.append(shown(best))
        ax.step(gx, gy, where="post", color=color, linewidth=1.4, label=f"best {label} so far")
    if not rows:
        ax.text(0.5, 0.5, "no validated rule yet", ha="center", va="center",
                transform=ax.transAxes)
    ax.set_yscale("log")
    ax.axhspan(band / 1.6, band * 1.6, color="#f3f3f3", zorder=0)
    ax.text(0.01, band * 1.25, "incomplete (fitness ≥ 10^15)", fontsize=7, color="#666",
            transform=ax.get_yaxis_transform(), va="bottom")
    ax.set_ylim(top=band * 3.0)
    from matplotlib.ticker import MaxNLocator
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("generation (GP) or round")
    ax.set_ylabel(f"fitness ({run.objective})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center right")
    fig.subplots_adjust(left=0.07, right=0.99, bottom=0.15, top=0.96)
    return fig


def _validation_section(run: RunSnapshot) -> str:
    if not run.validations:   # a run made without --validate: no such section
        return ""
    svg = inline_svg(_validation_figure(run), "validation")
    suite = run.validations[0]["suite"]
    by_id = {c.id: c for c in run.candidates}
    rows = []
    for v in run.validations:
        c = by_id.get(v["candidate"])
        rows.append((str(v["generation"]), str(v["candidate"]),
                     _fitness(None if c is None else c.fitness),
                     "–" if c is None else ("yes" if c.complete else "no"),
                     _fitness(v["fitness"]) if v["status"] == "ok" else _e(v["status"]),
                     "yes" if v["complete"] else "no", _e(v["seeds"]),
                     _e(v["trimmed_equations"]),
                     f"<code>{_e(c.formula if c is not None else '')}</code>"))
    table = _table(("generation", "candidate", "training fitness", "complete",
                    "validation fitness", "complete", "seeds", "trimmed", "formula"), rows,
                   text_columns=(8,))
    return _section("validation", f"Training against validation ({suite})",
                    f"<figure>{svg}<figcaption>After each generation the run's best rules "
                    f"(distinct seed selections) are scored on the validation suite; the "
                    f"exported rule is the one complete there with the lowest validation "
                    f"fitness. Lower is better.</figcaption></figure><details><summary>"
                    f"Validated rules</summary>{table}</details>")


def _pareto_figure(run: RunSnapshot, front: list):
    fig = _figure(8, 4.0)
    ax = fig.subplots()
    complete = [c for c in run.candidates if c.status == "ok" and c.complete
                and c.seeds is not None and c.size is not None]
    if complete:
        ax.scatter([c.size for c in complete], [c.seeds for c in complete], s=8,
                   color="#aaaaaa", alpha=0.6, linewidths=0, label="complete rules",
                   rasterized=True)
        ax.step([c.size for c in front], [c.seeds for c in front], where="post",
                color="#d62728", linewidth=1.2)
        ax.scatter([c.size for c in front], [c.seeds for c in front], s=28,
                   color="#d62728", zorder=3, label="Pareto front")
        ax.set_yscale("log")
        ax.legend(fontsize=7)
    else:
        ax.text(0.5, 0.5, "no complete rule yet", ha="center", va="center",
                transform=ax.transAxes)
    ax.set_xlabel("rule size (nodes)")
    ax.set_ylabel("seeds (summed over targets)")
    ax.grid(alpha=0.3)
    fig.subplots_adjust(left=0.1, right=0.98, bottom=0.13, top=0.96)
    return fig


def _operation_kind(op: str) -> str:
    if op.startswith("crossover"):
        return "crossover" + ("+mutation" if "mutation" in op else "")
    return op.split(":")[0] if op.startswith("mutation") else op


def _lineage_figure(nodes: list):
    """Ancestry drawn left (oldest generation) to right (the best rule)."""
    # each node carries a two-line label under it: rows 0.5 in apart keep labels off the next
    # node, and a generation's column (11 in shared by all of them) stays wider than a label
    fig = _figure(11, max(2.5, 0.5 * max(1, _widest_generation(nodes)) + 1.0))
    ax = fig.subplots()
    if not nodes:
        ax.text(0.5, 0.5, "no scored candidate yet", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    slots, pos = {}, {}
    for c in sorted(nodes, key=lambda c: (c.generation, c.id)):
        k = slots.get(c.generation, 0)
        slots[c.generation] = k + 1
        pos[c.id] = (c.generation, k)
    ids = set(pos)
    for c in nodes:
        for p in c.parents:
            if p in ids:
                (x0, y0), (x1, y1) = pos[p], pos[c.id]
                ax.plot([x0, x1], [y0, y1], color="#bbbbbb", linewidth=0.8, zorder=1)
    kinds = sorted({_operation_kind(c.operation) for c in nodes})
    for k, kind in enumerate(kinds):
        members = [c for c in nodes if _operation_kind(c.operation) == kind]
        ax.scatter([pos[c.id][0] for c in members], [pos[c.id][1] for c in members],
                   s=70, color=f"C{k % 10}", zorder=2, label=kind,
                   edgecolors=["black" if c.complete else "none" for c in members])
    # a label ("#1234" over "112 seeds" or "incomplete") is about 6.5 font sizes wide: the
    # font follows the width of a generation's column (points), and where columns are narrow,
    # odd generations label above their nodes and even ones below, so that neighbours never
    # share a line
    span = max(g for g, _ in pos.values()) - min(g for g, _ in pos.values()) + 1
    column = 11 * 72 * 0.75 / span
    stagger = column < 6.5 * 7
    size = max(5.0, min(7.0, (2 * column if stagger else column) / 6.5))
    for c in nodes:
        x, y = pos[c.id]
        above = stagger and x % 2 == 1
        ax.annotate(f"#{c.id}\n" + (f"{c.seeds} seeds" if c.complete else "incomplete"),
                    (x, y), xytext=(0, 7 if above else -7), textcoords="offset points",
                    fontsize=size, ha="center", va="bottom" if above else "top",
                    linespacing=1.0, bbox={"boxstyle": "square,pad=0.05", "fc": "white",
                                           "ec": "none", "alpha": 0.8})
    best = nodes[0]
    ax.scatter([pos[best.id][0]], [pos[best.id][1]], s=220, facecolors="none",
               edgecolors="#d62728", linewidths=1.5, zorder=3)
    from matplotlib.ticker import MaxNLocator
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.margins(x=0.06)
    # inverted (the first slot on top), with room for the labels under the last row and over
    # the first
    ax.set_ylim(max(y for _, y in pos.values()) + 0.8, -0.8 if stagger else -0.5)
    ax.set_xlabel("generation")
    ax.set_yticks([])
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False,
              title="operation (black edge: complete)", title_fontsize=7)
    ax.grid(axis="x", alpha=0.3)
    height = fig.get_figheight()
    fig.subplots_adjust(left=0.03, right=0.8, bottom=0.55 / height, top=1 - 0.2 / height)
    return fig


def _widest_generation(nodes) -> int:
    counts = {}
    for c in nodes:
        counts[c.generation] = counts.get(c.generation, 0) + 1
    return max(counts.values(), default=1)


# ----------------------------------------------------------------------------- sections

def _flatten(d: dict, prefix: str = "") -> list:
    out = []
    for k in sorted(d):
        v = d[k]
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out += _flatten(v, key + ".")
        else:
            text = json.dumps(v) if not isinstance(v, str) else v
            if len(text) > 300:
                text = text[:300] + " …"
            out.append((key, text))
    return out


def _section(name: str, title: str, body: str) -> str:
    return f"<section id='{name}'><h2>{html.escape(title)}</h2>{body}</section>"


# the run database's meta keys as a reader would name them
_META_LABELS = {"created_at": "created", "generation": "last generation committed",
                "schema_version": "database schema version", "stopped": "stopped"}


def _utc(stamp) -> str:
    """A Unix time as a UTC date and time (the text itself when it is not a number)."""
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(stamp)))
    except (TypeError, ValueError, OverflowError, OSError):
        return str(stamp)


def _configuration_section(run: RunSnapshot) -> str:
    n_ok = sum(c.status == "ok" for c in run.candidates)
    n_complete = sum(bool(c.complete) for c in run.candidates if c.status == "ok")
    state = [("run folder", str(run.path)), ("status", run.status),
             ("snapshot taken", _utc(run.taken_at)),
             ("generations committed", str(len(run.generations))),
             ("candidates", str(len(run.candidates))),
             ("judge evaluations (distinct seed masks)", str(run.n_evaluations)),
             ("valid candidates", str(n_ok)), ("complete candidates", str(n_complete)),
             ("wall time so far (s)", "–" if run.elapsed is None else f"{run.elapsed:.1f}")]
    from ibp_evolve.runs.progress import stop_reason
    state += [(_META_LABELS.get(k, k.replace("_", " ")),
               _utc(v) if k.endswith("_at") else stop_reason(v) if k == "stopped" else v)
              for k, v in sorted(run.meta.items()) if k not in ("status",)]
    note = ("<p class='note'>The run is still in progress: this report is a snapshot of the "
            "generations committed so far.</p>" if run.status == "running" else "")
    settings = _table(("setting", "value"), [(_e(k), _e(v)) for k, v in _flatten(run.config)],
                      text_columns=(0, 1))
    return _section("configuration", "Run state and configuration", note + _table(
        ("", "value"), [(_e(k), _e(v)) for k, v in state], text_columns=(0, 1))
        + f"<details><summary>Engine configuration ({len(_flatten(run.config))} settings)"
        f"</summary>{settings}</details>")


def _progress_section(run: RunSnapshot, baselines: dict) -> str:
    svg = inline_svg(_progress_figure(run, baselines), "progress")
    gens = [(str(g["generation"]), _e(g.get("best_seeds")),
             "complete" if g.get("best_complete") else _fitness(g.get("best_fitness")),
             _e(g.get("best_size")),
             f"{100 * (g.get('share_complete') or 0):.0f}%", _e(g.get("evaluations")),
             _e(g.get("cache_hits")), f"{g.get('evals_per_second') or 0:.0f}",
             "–" if g.get("elapsed") is None else f"{g['elapsed']:.1f}")
            for g in run.generations]
    table = _table(("generation", "best seeds", "best rule", "size",
                    "complete share", "evaluations", "cache hits", "evals/s", "elapsed s"),
                   gens) if gens else "<p class='note'>No generation committed yet.</p>"
    return _section("progress", "Fitness against evaluations and wall time",
                    f"<figure>{svg}<figcaption>Every scored candidate (grey: incomplete, "
                    f"blue: complete), the best fitness so far (red) and the baselines scored "
                    f"by the same judge (dashed). Lower is better; incomplete rules carry a "
                    f"penalty of 10^15 per unreduced target.</figcaption></figure>"
                    f"<details><summary>Per-generation statistics</summary>{table}</details>"
                    + _islands_table(run))


def _islands_table(run: RunSnapshot) -> str:
    """A run of islands: each island's best rule so far, per generation ('' otherwise)."""
    import json
    per_generation = []
    for g in run.generations:
        try:
            islands = json.loads(g.get("extra") or "{}").get("islands")
        except (ValueError, AttributeError):
            islands = None
        if islands:
            per_generation.append((g["generation"], islands))
    if not per_generation:
        return ""
    heads = [f"island {k} ({isl.get('engine', '?')})"
             for k, isl in enumerate(per_generation[-1][1])]

    def cell(isl):
        if isl.get("best_seeds") is None:
            return "–"
        moved = f" (+{isl['immigrants']} migrants)" if isl.get("immigrants") else ""
        restart = " restart" if isl.get("restarted") else ""
        return (f"{isl['best_seeds']} seeds" if isl.get("best_complete")
                else "incomplete") + moved + restart
    rows = [(str(g), *[cell(isl) for isl in islands]) for g, islands in per_generation]
    return (f"<details><summary>Best rule of each island per generation</summary>"
            f"{_table(('generation', *heads), rows, text_columns=tuple(range(1, len(heads) + 1)))}"
            f"</details>")


def _validity_section(run: RunSnapshot) -> str:
    svg = inline_svg(_validity_figure(run), "validity")
    n = len(run.candidates)
    ok = sum(c.status == "ok" for c in run.candidates)
    complete = sum(bool(c.complete) for c in run.candidates if c.status == "ok")
    reasons = {}
    for c in run.candidates:
        if c.status != "ok":
            reasons[c.status] = reasons.get(c.status, 0) + 1
    text = (f"<p>{ok} of {n} candidates were valid ({100 * ok / max(1, n):.0f}%), {complete} "
            f"complete ({100 * complete / max(1, n):.0f}%)"
            + ("; failed: " + ", ".join(f"{v} {k}" for k, v in sorted(reasons.items()))
               if reasons else "") + ".</p>")
    return _section("validity", "Share of valid and complete candidates",
                    text + f"<figure>{svg}<figcaption>Per generation, the new candidates "
                    f"that were valid and complete, valid but incomplete, and failed."
                    f"</figcaption></figure>")


def _pareto_section(run: RunSnapshot, judge=None) -> str:
    front = run.pareto_front()
    svg = inline_svg(_pareto_figure(run, front), "pareto")
    # complete rules only: their fitness is the objective, a column of its own only when the
    # objective is not the seed count
    extra = run.objective != "seeds"
    rows = [(_e(c.size), _e(c.seeds)) + ((_fitness(c.fitness),) if extra else ())
            + (str(c.id), _e(c.generation), f"<code>{_e(_lineage_formula(c, judge))}</code>")
            for c in front]
    header = (("size", "seeds") + ((f"{run.objective}",) if extra else ())
              + ("candidate", "generation", "formula"))
    table = (_table(header, rows, text_columns=(len(header) - 1,)) if rows else
             "<p class='note'>No complete rule yet, so no front.</p>")
    return _section("pareto", "Pareto front: seeds against rule size",
                    f"<figure>{svg}<figcaption>Complete rules (grey) and the front of rules "
                    f"that no other complete rule beats in both seeds and size (red)."
                    f"</figcaption></figure>{table}")


def _best_section(run: RunSnapshot, records: list, judge, baseline_reports: dict,
                  maps: int, progress) -> str:
    from ibp_evolve.reports.inspect import draw_seed_map, rule_formula, rule_masks, seed_maps
    from ibp_evolve.language.parse import RuleError, load_rule
    parts = []
    if baseline_reports:
        from ibp_evolve.runs.progress import verdict
        rows = [(_e(name), _e(verdict(rep.fitness, rep.complete, rep.targets)),
                 str(sum(t.seeds for t in rep.targets)),
                 str(sum(t.trimmed_equations for t in rep.targets)),
                 str(sum(t.multiply_adds for t in rep.targets)))
                for name, rep in baseline_reports.items()]
        parts.append("<h3>Baselines on the same suite</h3>" + _table(
            ("baseline", "status", "seeds", "trimmed equations", "mult-adds"),
            rows))
    if not records:
        parts.append("<p class='note'>No scored rule yet.</p>")
    for rank, rec in enumerate(records, 1):
        title = (f"Rank {rank}: candidate #{rec.id} (generation {rec.generation}, "
                 f"{rec.operation})")
        formula = rec.formula
        rule = None
        try:
            rule = load_rule(rec.source, name=f"rank{rank:02d}")
            if judge is not None and not formula:
                formula = rule_formula(rule, judge)
        except RuleError:
            pass
        body = [f"<h3>{html.escape(title)}</h3>",
                f"<p><span class='formula'>{_e(formula or '(see the source)')}</span></p>",
                f"<p>{_e(_status(rec))}, {_e(rec.seeds)} seeds, size {_e(rec.size)}</p>"]
        scores = rec.scores or []
        if scores:
            body.append(_table(
                ("target", "seeds", "equations", "trimmed", "mult-adds", "seconds", "reduced"),
                [(integral_name(t["target"]), _e(t.get("seeds")), _e(t.get("equations")),
                  _e(t.get("trimmed_equations")), _e(t.get("multiply_adds")),
                  f"{float(t.get('seconds') or 0):.4f}",
                  "yes" if t.get("reduced") else
                  _e(f"no ({t.get('reason') or str(t.get('n_survivors', '?')) + ' survivors'})"))
                 for t in scores],
                row_class=lambda i: "" if scores[i].get("reduced") else " class='incomplete'"))
        body.append(f"<details><summary>rule source</summary><pre>{_e(rec.source)}</pre>"
                    "</details>")
        if judge is not None and rule is not None and rank <= maps:
            if progress:
                progress(f"seed maps of rank {rank}")
            try:
                masks = rule_masks(judge, rule)
                for i, m in enumerate(seed_maps(judge, masks)):
                    fig = draw_seed_map(m, title=f"rank {rank} of run {run.name}")
                    alt = f"seed map of rank {rank}, target {i + 1}"
                    body.append(f"<figure>{png_img(fig, alt)}"
                                f"<figcaption>Seed map of rank {rank} for "
                                f"{integral_name(m.target)}: per sector, dots (x) by numerator "
                                f"power (y); grey: candidates, blue: kept, orange: needed by "
                                f"the reduction (mark and sweep).</figcaption></figure>")
            except Exception as exc:  # a seed map is an illustration, never a reason to fail
                body.append(f"<p class='note'>No seed map: {_e(exc)}</p>")
        parts.append("<article>" + "".join(body) + "</article>")
    return _section("best", "Best rules", "".join(parts))


def _lineage_formula(c, judge) -> str:
    """A lineage node's formula by the one printer, simplified and checked on the judge's
    candidate seeds when a judge is at hand (the stored formula is the raw tree)."""
    if judge is None:
        return c.formula or ""
    from ibp_evolve.language.parse import RuleError, load_rule
    from ibp_evolve.reports.inspect import rule_formula
    try:
        return rule_formula(load_rule(c.source, name=f"c{c.id}"), judge) or c.formula or ""
    except (RuleError, ValueError):
        return c.formula or ""


def _lineage_section(run: RunSnapshot, records: list, max_nodes: int, judge=None) -> str:
    if not records:
        svg = inline_svg(_lineage_figure([]), "lineage")
        return _section("lineage", "Lineage of the best rule",
                        f"<figure>{svg}</figure><p class='note'>No scored rule yet.</p>")
    nodes = run.lineage(records[0].id, max_nodes=max_nodes)
    svg = inline_svg(_lineage_figure(nodes), "lineage")
    rows = [(str(c.id), _e(c.generation), _e(c.operation),
             ", ".join(f"#{p}" for p in c.parents) or "–", _e(_status(c)),
             _e(c.seeds), f"<code>{_e(_lineage_formula(c, judge))}</code>")
            for c in nodes]
    more = (f"<p class='note'>Showing the nearest {max_nodes} ancestors.</p>"
            if len(nodes) >= max_nodes else "")
    return _section("lineage", "Lineage of the best rule",
                    f"<p>Candidate #{records[0].id} and its ancestors: which parents each "
                    f"came from and by which engine operation.</p><figure>{svg}<figcaption>"
                    f"Ancestry by generation (circled: the best rule; lines join parent and "
                    f"child).</figcaption></figure>{more}"
                    + _table(("candidate", "generation", "operation", "parents", "status",
                              "seeds", "formula"), rows, text_columns=(2, 3, 4, 6)))


# ----------------------------------------------------------------------------- the report

def build_report(run, n_best: int = 5, seed_maps: int = 3, baselines=("laporta",
                 "improved_seeding"), lineage_nodes: int = 40, judge=None,
                 progress=None) -> str:
    """The report of ``run`` (a folder or a :class:`RunSnapshot`) as one HTML string.

    ``seed_maps``: how many of the best rules get seed maps (0: none, and no judge is built);
    ``baselines``: library rules scored on the run's suite for reference (empty: none)."""
    if not isinstance(run, RunSnapshot):
        if progress:
            progress(f"reading {run} (read-only)")
        run = read_run(run)
    records = run.best(n_best)
    baseline_reports = {}
    if judge is None and (seed_maps > 0 or baselines):
        spec = run.config.get("suite_spec") or {"suite": run.suite}
        try:
            from ibp_evolve.reports.inspect import judge_for
            # the suite's own max_seeds (not evolution's cheaper cap): the baselines are
            # scored as ``ibp-evolve score`` scores them, and a best rule is far below both
            judge = judge_for(spec["suite"], spec.get("ordering"), progress=progress)
        except Exception as exc:  # the suite file may be gone: report without pictures
            if progress:
                progress(f"no judge ({exc}); no seed maps or baselines")
            judge = None
    if judge is not None:
        from ibp_evolve.reports.inspect import as_rule
        for name in baselines:
            if progress:
                progress(f"scoring baseline {name}")
            try:
                baseline_reports[name] = judge.score(as_rule(name), run.objective)
            except Exception:  # e.g. a rule library without the baseline
                continue
    if progress:
        progress("drawing charts")
    sections = [_progress_section(run, {k: r.fitness for k, r in baseline_reports.items()}),
                _validity_section(run), _validation_section(run), _pareto_section(run, judge),
                _best_section(run, records, judge, baseline_reports, seed_maps, progress),
                _lineage_section(run, records, lineage_nodes, judge),
                _configuration_section(run)]
    return html_page(f"ibp-evolve run {run.name}", "".join(sections),
                     subtitle=run.summary(), nav=_sections(run))


def _sections(run: RunSnapshot) -> list[str]:
    """The report's sections in order: SECTIONS, with validation for validated runs."""
    out = []
    for name in SECTIONS:
        out.append(name)
        out += [extra for extra, after in OPTIONAL_SECTIONS.items()
                if after == name and (extra != "validation" or run.validations)]
    return out


def write_report(run, out=None, progress=None, **options) -> Path:
    """Write the report (default ``RUN/report.html``) atomically and return its path."""
    from ibp_evolve.runs.store import atomic_write_bytes
    snapshot = run if isinstance(run, RunSnapshot) else read_run(run)
    out = Path(out) if out else snapshot.path / "report.html"
    if out.is_dir():
        out = out / "report.html"
    text = build_report(snapshot, progress=progress, **options)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, text.encode())
    return out
