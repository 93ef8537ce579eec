"""Inspect a seeding rule: its source, its formula, its scores and its seed maps.

A **seed map** shows, for one target, where in the candidate universe a rule's seeds lie.  The
universe is cut by sector (one panel per non-zero subsector of the target's sector, panels grouped
by the number of lines t, most lines first); inside a panel the cell (d, s) holds the candidate
seeds with d dots (d = r - t) and numerator power s.  Every cell shows three bars side by side:

* grey   the candidate universe (always full height: it is what the rule chooses from),
* blue   the share of those candidates the rule keeps,
* orange the share that the reduction actually needed: seeds with at least one equation in the
         mark-and-sweep-trimmed system (the solver's ``trimmed_equations``).

A rule whose blue bars stand far above the orange ones keeps seeds that the reduction never
touches; a sector with orange bars everywhere is where the reduction does its work.

For a joint suite (one system on the union of the targets' seeds) "needed" refers to the joint
solve: a seed can be needed for another target of the suite.

Figures are drawn with matplotlib's object API (no pyplot, no global state, Agg canvas), so
this works headless, in worker processes and in notebooks alike.
"""

from __future__ import annotations

import io
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ibp_evolve.language.parse import Rule, RuleError, load_rule
from ibp_evolve.language.printer import formula
from ibp_evolve.language.suite_constants import constants_line, suite_constants
from ibp_evolve.judge.score import Judge, ScoreReport
from ibp_evolve.reducer.sectors import measures
from ibp_evolve.runs.store import atomic_write_bytes

__all__ = ["SeedMap", "Inspection", "as_rule", "judge_for", "needs_sandbox", "rule_masks",
           "rule_formula",
           "seed_maps", "inspect_rule", "draw_seed_map", "figure_bytes", "integral_name",
           "sector_label", "rule_label"]

UNIVERSE_COLOR = "#cfcfcf"
KEPT_COLOR = "#1f77b4"
NEEDED_COLOR = "#ff7f0e"
UNREDUCED_COLOR = "#c00000"


# ----------------------------------------------------------------------------- small helpers

def rule_label(rule) -> str:
    """How a rule is named in tables and titles: its name, or ``RUN/rank01`` for a run's best
    rule (by its file name alone every run's best rule is ``rank01``)."""
    if rule.path:
        path = Path(rule.path)
        if path.parent.name == "best" and (path.parent.parent / "config.json").is_file():
            return f"{path.parent.parent.name}/{path.stem}"
    return rule.name


def integral_name(indices) -> str:
    return "I(" + ",".join(str(int(x)) for x in indices) + ")"


def sector_label(sector: int, n: int) -> str:
    """The sector as a 0/1 string over the index positions, position 1 first."""
    return "".join("1" if sector >> i & 1 else "0" for i in range(n))


def as_rule(rule) -> Rule:
    """A :class:`Rule` from a Rule, a library name, a rule file path or rule source text."""
    if isinstance(rule, Rule):
        return rule
    if isinstance(rule, Path):
        return load_rule(rule)
    text = str(rule)
    if "def keep" in text or "def priority" in text:
        return load_rule(text)
    from ibp_evolve.language.library import resolve_rule
    return resolve_rule(text)


def needs_sandbox(rule: Rule) -> bool:
    """Rules of the rule library are part of the project and run in-process; every other rule
    (a run's, a user's, an LLM's) computes its seed mask in the resource-limited sandbox."""
    from ibp_evolve.language.library import is_shipped
    return not is_shipped(rule.path)


_JUDGES: dict = {}
_MASKS: dict = {}


def rule_masks(judge: Judge, rule: Rule) -> list:
    """The rule's keep-masks over the judge's universes, sandboxed unless it is a library rule;
    remembered per judge and rule source, so that inspecting, comparing and reporting the same
    rule in one session evaluates it once."""
    key = (id(judge), rule.source)
    if key not in _MASKS:
        if len(_MASKS) > 256:
            _MASKS.clear()
        _MASKS[key] = judge.masks(rule, sandbox=needs_sandbox(rule))
    return [m.copy() for m in _MASKS[key]]


def judge_for(suite, ordering: str | None = None, max_seeds: int | None = None,
              progress=None, limits: dict | None = None) -> Judge:
    """A judge for ``suite`` (a name, a path or a Suite), cached for the life of the process
    (its row cache is shared by every rule scored against it).  ``limits``: the Judge's
    max_memory / max_candidates."""
    from dataclasses import replace

    from ibp_evolve.reducer.ordering import DEFAULT_ORDERING, Ordering
    from ibp_evolve.judge.suites import Suite, load_suite
    ordering = ordering or DEFAULT_ORDERING
    limits = dict(limits or {})
    limit_key = tuple(sorted(limits.items()))
    if isinstance(suite, Suite):
        key = ("object", id(suite), ordering, max_seeds, limit_key)
        loaded = suite
    else:
        path = Path(str(suite))
        name = str(path.resolve()) if (path.suffix == ".toml" or path.exists()) else str(suite)
        key = (name, ordering, max_seeds, limit_key)
        loaded = None
    if key not in _JUDGES:
        if progress:
            progress(f"building the judge for suite {suite}")
        loaded = loaded or load_suite(suite)
        if max_seeds is not None:
            loaded = replace(loaded, max_seeds=int(max_seeds))
        _JUDGES[key] = Judge(loaded, Ordering.parse(ordering), **limits)
    return _JUDGES[key]


def rule_formula(rule: Rule, judge: Judge | None = None) -> str | None:
    """The rule as a simplified board formula, by the one printer
    (:func:`ibp_evolve.language.printer.formula`); given a judge, the simplification is checked
    to select exactly the same seeds on the judge's candidate seeds.  None when the rule has no
    readable one-line form (then its source is the formula)."""
    try:
        return formula(rule, check=judge.features if judge is not None else None)
    except (RuleError, ValueError):
        return None


# ----------------------------------------------------------------------------- seed maps

@dataclass
class SeedMap:
    """One target's candidate universe, the seeds a rule keeps, and those the reduction needed.

    ``needed`` is a subset of ``kept``: the seeds with at least one equation among the solver's
    mark-and-sweep-trimmed equations.  ``solved`` is False when the selection was not solved
    (more than the suite's ``max_seeds``); then nothing is marked needed.
    """
    target: tuple
    universe: np.ndarray
    kept: np.ndarray
    needed: np.ndarray
    solved: bool = True
    reduced: bool = True    # the target came out in masters alone (False when not solved)

    @property
    def n_universe(self) -> int:
        return int(len(self.universe))

    @property
    def n_kept(self) -> int:
        return int(self.kept.sum())

    @property
    def n_needed(self) -> int:
        return int(self.needed.sum())

    def cells(self) -> list[dict]:
        """Per (sector, d, s): how many candidates, kept and needed seeds (non-empty cells)."""
        m = measures(self.universe)
        keys = np.stack([m["sector"], m["d"], m["s"]], axis=1)
        uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
        inverse = inverse.ravel()
        n_u = np.bincount(inverse, minlength=len(uniq))
        n_k = np.bincount(inverse, weights=self.kept, minlength=len(uniq)).astype(int)
        n_n = np.bincount(inverse, weights=self.needed, minlength=len(uniq)).astype(int)
        t_of = {int(s): int(t) for s, t in zip(m["sector"], m["t"])}
        return [{"sector": int(k[0]), "t": t_of[int(k[0])], "d": int(k[1]), "s": int(k[2]),
                 "universe": int(u), "kept": int(kk), "needed": int(nn)}
                for k, u, kk, nn in zip(uniq, n_u, n_k, n_n)]

    def to_json(self) -> dict:
        return {"target": [int(x) for x in self.target], "universe": self.n_universe,
                "kept": self.n_kept, "needed": self.n_needed, "solved": self.solved,
                "reduced": self.reduced,
                "cells": self.cells()}


def _solve_needed(judge: Judge, seeds: np.ndarray, targets):
    """``(reduction, needed)``: ``seeds`` solved as ``score`` solves them, and the positions
    of those whose equations the trimmed system uses — with sector symmetries, a seed whose
    images in the unique sectors are used (``score`` solves the images, not the seed)."""
    from ibp_evolve.judge.score import SymmetricUniverse
    from ibp_evolve.reducer.reduction import reduce_on_seeds
    ids = np.arange(len(seeds))
    if judge.sector_symmetries is not None:
        return SymmetricUniverse(judge, seeds, targets).solve_needed(ids, targets,
                                                                     judge.masters)
    system = judge.rows.system(seeds, judge.suite.targets)  # the judge's row cache
    red = reduce_on_seeds(system, ids, targets, judge.masters)
    # system seed k is seeds[k]
    return red, np.unique(system.seed_of_equation(red.trimmed_seed_equations))


def seed_maps(judge: Judge, masks) -> list[SeedMap]:
    """Seed maps of the given keep-masks (one per target of the judge's suite)."""
    suite = judge.suite
    masks = [np.asarray(m, dtype=bool) for m in masks]
    if suite.joint:
        union = judge.joint_ids(masks)  # numbered as the joint solve of `score` numbers them
        solved = len(union) <= suite.max_seeds * len(masks)
        needed_joint = np.zeros(0, np.int64)
        reduced = [False] * len(masks)
        if solved:
            red, needed = _solve_needed(judge, judge.joint_universe[union], suite.targets)
            needed_joint = union[needed]
            reduced = [t.reduced for t in red.targets]
        return [SeedMap(tuple(t), u, m, np.isin(judge.joint_index[i], needed_joint) & m,
                        solved, reduced[i])
                for i, (t, u, m) in enumerate(zip(suite.targets, judge.universes, masks))]
    out = []
    for i, (target, universe, mask) in enumerate(zip(suite.targets, judge.universes, masks)):
        seed_ids = np.flatnonzero(mask)
        needed = np.zeros(len(universe), dtype=bool)
        solved = len(seed_ids) <= suite.max_seeds
        reduced = False
        if solved:
            red, used = _solve_needed(judge, universe[seed_ids], [target])
            needed[seed_ids[used]] = True
            reduced = red.complete
        out.append(SeedMap(tuple(target), universe, mask, needed & mask, solved, reduced))
    return out


def draw_seed_map(seed_map: SeedMap, title: str | None = None, max_columns: int = 4):
    """A matplotlib Figure of one seed map (see the module docstring for how to read it).
    ``max_columns`` panels per row keep the figure about 11 in wide: a report page shows it
    at its own size, so that the 7.5 pt tick labels stay 7.5 pt."""
    from matplotlib.collections import PatchCollection
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch, Rectangle

    cells = seed_map.cells()
    n = seed_map.universe.shape[1] if seed_map.universe.size else len(seed_map.target)
    sectors = {}
    for c in cells:
        sectors.setdefault(c["sector"], []).append(c)
    d_max = max((c["d"] for c in cells), default=0)
    s_max = max((c["s"] for c in cells), default=0)
    width, height = d_max + 1, s_max + 1
    gap_x, gap_y, header = 1.6, 0.8, 1.9
    by_t = {}
    for sector, cs in sectors.items():
        by_t.setdefault(cs[0]["t"], []).append(sector)
    columns = max(1, min(max_columns, max((len(v) for v in by_t.values()), default=1)))

    rects = {"universe": [], "kept": [], "needed": []}
    texts = []  # (x, y, text, kwargs)
    # the target's own cell: ringed, in red when the rule's seeds left it unreduced
    tm = measures(np.asarray([seed_map.target]))
    target_sector, target_d, target_s = (int(tm["sector"][0]), int(tm["d"][0]),
                                         int(tm["s"][0]))
    target_cell = None
    y = 0.0
    for t in sorted(by_t, reverse=True):
        group = sorted(by_t[t], reverse=True)
        y -= header
        kept_t = sum(c["kept"] for s in group for c in sectors[s])
        texts.append((0.3, y + 0.35, f"t = {t}   ({len(group)} sector"
                      f"{'s' if len(group) != 1 else ''}, {kept_t} seeds kept)",
                      dict(fontsize=10, fontweight="bold", ha="left", va="bottom")))
        for row_start in range(0, len(group), columns):
            y -= header + height
            for k, sector in enumerate(group[row_start:row_start + columns]):
                x0 = k * (width + gap_x) + gap_x
                cs = sectors[sector]
                kept = sum(c["kept"] for c in cs)
                needed = sum(c["needed"] for c in cs)
                universe = sum(c["universe"] for c in cs)
                own = sector == target_sector
                texts.append((x0, y + height + 0.15,
                              f"{sector_label(sector, n)}\n{kept} kept, {needed} needed / "
                              f"{universe}" + ("\n(the target's sector)" if own else ""),
                              dict(fontsize=8, ha="left", va="bottom",
                                   color=UNREDUCED_COLOR if own and not seed_map.reduced
                                   else "black")))
                rects["universe"].append(Rectangle((x0, y), width, height, fill=False))
                if own:
                    target_cell = (x0 + target_d, y + target_s)
                for c in cs:
                    cx, cy = x0 + c["d"], y + c["s"]
                    full = 0.86
                    rects["universe"].append(Rectangle((cx + 0.06, cy + 0.07), 0.28, full))
                    if c["kept"]:
                        h = max(full * c["kept"] / c["universe"], 0.08)
                        rects["kept"].append(Rectangle((cx + 0.36, cy + 0.07), 0.28, h))
                    if c["needed"]:
                        h = max(full * c["needed"] / c["universe"], 0.08)
                        rects["needed"].append(Rectangle((cx + 0.66, cy + 0.07), 0.28, h))
                for d in range(width):
                    texts.append((x0 + d + 0.5, y - 0.1, str(d),
                                  dict(fontsize=7.5, ha="center", va="top", color="#333")))
                for s in range(height):
                    texts.append((x0 - 0.12, y + s + 0.5, str(s),
                                  dict(fontsize=7.5, ha="right", va="center", color="#333")))
            y -= gap_y
    total_width = columns * (width + gap_x) + gap_x
    total_height = -y + 0.3
    # inches per cell (tick labels of 7.5 pt need about 0.4 in); inches above the panels
    unit, top = 0.42, 1.0
    fig_w, fig_h = max(10.0, total_width * unit), total_height * unit + top
    fig = Figure(figsize=(fig_w, fig_h))
    ax = fig.add_axes((0.0, 0.0, total_width * unit / fig_w, total_height * unit / fig_h))
    frames = [r for r in rects["universe"] if not r.get_fill()]
    bars = [r for r in rects["universe"] if r.get_fill()]
    ax.add_collection(PatchCollection(frames, facecolor="none", edgecolor="#999",
                                      linewidth=0.5))
    ax.add_collection(PatchCollection(bars, facecolor=UNIVERSE_COLOR, edgecolor="none"))
    ax.add_collection(PatchCollection(rects["kept"], facecolor=KEPT_COLOR, edgecolor="none"))
    ax.add_collection(PatchCollection(rects["needed"], facecolor=NEEDED_COLOR,
                                      edgecolor="none"))
    if target_cell is not None:
        color = UNREDUCED_COLOR if not seed_map.reduced else "black"
        ax.add_patch(Rectangle(target_cell, 1.0, 1.0, fill=False, edgecolor=color,
                               linewidth=2.0 if not seed_map.reduced else 1.2))
    for x, yy, text, kw in texts:
        ax.text(x, yy, text, **kw)
    ax.set_xlim(0.0, total_width)
    ax.set_ylim(-total_height, 0.0)
    ax.set_axis_off()
    state = ("not solved (more than max_seeds)" if not seed_map.solved else
             f"{seed_map.n_needed} needed (mark and sweep)"
             + ("" if seed_map.reduced else "; the target is NOT REDUCED (ringed in red)"))
    # one line per text, so that only the verdict on the target turns red
    lines = ([(title, "black")] if title else []) + [
        (f"target {integral_name(seed_map.target)}: {seed_map.n_kept} seeds kept of "
         f"{seed_map.n_universe} candidates, {state}.",
         "black" if seed_map.reduced else UNREDUCED_COLOR),
        ("One panel per sector (indices 1..N: 1 = line); in a panel, x = dots d, "
         "y = numerator power s; the target's own cell is ringed", "black")]
    for k, (text, color) in enumerate(lines):
        fig.text(0.1 / fig_w, 1 - (0.08 + 0.155 * k) / fig_h, text, fontsize=9, ha="left",
                 va="top", color=color)
    fig.legend(handles=[Patch(color=UNIVERSE_COLOR, label="candidate universe"),
                        Patch(color=KEPT_COLOR, label="kept by the rule (share of the cell)"),
                        Patch(color=NEEDED_COLOR, label="needed by the reduction (share)")],
               loc="upper right", ncol=3, fontsize=8.5, frameon=False,
               bbox_to_anchor=(1.0, 1 - 0.5 / fig_h))
    return fig


def figure_bytes(fig, fmt: str = "png", dpi: int = 110, salt: str = "ibp-evolve") -> bytes:
    """Render a Figure to PNG or SVG bytes (headless; SVG text kept as text, ids salted so that
    several SVGs can live inline in one HTML page)."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": salt}):
        fig.savefig(buf, format=fmt, dpi=dpi, metadata={"Date": None} if fmt == "svg"
                    else None)
    return buf.getvalue()


# ----------------------------------------------------------------------------- inspection

@dataclass
class Inspection:
    """Everything ``ibp-evolve inspect`` shows about one rule on one suite."""
    rule: Rule
    suite: str
    objective: str
    formula: str | None
    report: ScoreReport
    seed_maps: list = field(default_factory=list)
    constants: list = field(default_factory=list)  # SuiteConstant: what the suite never varied

    def figure(self, target: int = 0):
        """The seed map of the ``target``-th target of the suite as a matplotlib Figure."""
        return draw_seed_map(self.seed_maps[target],
                             title=f"rule {rule_label(self.rule)} on suite {self.suite}")

    def save(self, folder, formats=("png", "svg"), progress=None) -> list[Path]:
        """Write the seed maps (one file per target and format) and ``<rule>.json``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for i in range(len(self.seed_maps)):
            if progress:
                progress(f"drawing seed map {i + 1}/{len(self.seed_maps)}")
            fig = self.figure(i)
            for fmt in formats:
                path = folder / f"{self.rule.name}.seedmap-{i + 1}.{fmt}"
                atomic_write_bytes(path, figure_bytes(fig, fmt, salt=f"{self.rule.name}-{i}"))
                written.append(path)
        path = folder / f"{self.rule.name}.json"
        atomic_write_bytes(path, (json.dumps(self.to_json(), indent=1) + "\n").encode())
        written.append(path)
        return written

    def to_json(self) -> dict:
        return {"rule": self.rule.name, "source": self.rule.source, "formula": self.formula,
                "constant_on_suite": [{"text": c.text, "value": c.value, "clause": c.clause}
                                      for c in self.constants],
                "score": self.report.to_json(),
                "seed_maps": [m.to_json() for m in self.seed_maps]}

    def summary(self) -> str:
        """The rule, its formula and its scores per target as plain text."""
        lines = [f"rule {rule_label(self.rule)} ({self.rule.kind}) on suite {self.suite}"
                 + (f", from {self.rule.path}" if self.rule.path else ""),
                 "", self.rule.source.rstrip(), "",
                 f"formula: {self.formula or '(see the source)'}"]
        constant = constants_line(self.constants, self.suite)
        lines += ([constant] if constant else []) + [""]
        # kept: the rule's own seeds; with symmetries "solved" counts the seeds the reduction
        # solves (mirror-sector seeds replaced by their images, each once: the score's seeds)
        solved = self.report.symmetries
        header = ("target", "kept") + (("solved",) if solved else ()) + (
            "needed", "universe", "equations", "trimmed", "mult-adds", "seconds", "reduced")
        rows = [header]
        for t, m in zip(self.report.targets, self.seed_maps):
            rows.append((integral_name(t.target), str(m.n_kept))
                        + ((str(t.seeds),) if solved else ())
                        + (str(m.n_needed),
                         str(m.n_universe), str(t.equations), str(t.trimmed_equations),
                         str(t.multiply_adds), f"{t.seconds:.4f}",
                         "yes" if t.reduced else
                         f"NO ({t.reason or f'{t.n_survivors} survivors'})"))
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        for row in rows:
            lines.append("  ".join(c.ljust(w) if k == 0 else c.rjust(w)
                                   for k, (c, w) in enumerate(zip(row, widths))).rstrip())
        from ibp_evolve.runs.progress import verdict
        r = self.report
        lines.append(verdict(r.fitness, r.complete, r.targets)
                     + (f"  fitness ({r.objective}) {r.fitness:g}" if r.complete else ""))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        kept = ", ".join(str(m.n_kept) for m in self.seed_maps)
        return (f"<Inspection of rule {rule_label(self.rule)} on suite {self.suite}: seeds kept "
                f"{kept}, {'complete' if self.report.complete else 'incomplete'}>")

    def _repr_html_(self) -> str:
        import html
        svg = figure_bytes(self.figure(0), "svg", salt=f"nb-{self.rule.name}").decode()
        return (f"<pre>{html.escape(self.summary())}</pre>"
                f"<div style='max-width:100%;overflow:auto'>{_strip_xml_prolog(svg)}</div>")


def _strip_xml_prolog(svg: str) -> str:
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg


def inspect_rule(rule, suite="triangle_box_paper", objective: str = "seeds",
                 judge: Judge | None = None, progress=None,
                 limits: dict | None = None) -> Inspection:
    """Score ``rule`` on ``suite`` and compute its seed maps (no drawing yet)."""
    rule = as_rule(rule)
    if judge is None:
        judge = judge_for(suite, progress=progress, limits=limits)
    if progress:
        progress(f"scoring rule {rule.name}")
    masks = rule_masks(judge, rule)
    report = judge.score_masks(masks, objective)
    report.rule = rule.name
    if progress:
        progress("mark and sweep: which kept seeds the reduction needed")
    maps = seed_maps(judge, masks)
    return Inspection(rule, judge.suite.name, objective, rule_formula(rule, judge), report,
                      maps, suite_constants(rule, judge.features))


def stderr_progress(message: str) -> None:
    print(f"  {message} ...", file=sys.stderr, flush=True)
