"""The README's measured figures, rendered from the benchmarks' JSON (issue 10: figures that cannot drift).

The README holds blocks between ``<!-- figures:NAME -->`` and ``<!-- /figures -->``; each is
rendered here from ``benchmarks/results/*.json`` and nowhere typed by hand.

    python benchmarks/readme_figures.py            # print the blocks
    python benchmarks/readme_figures.py --write    # rewrite them in README.md
    python benchmarks/readme_figures.py --check    # exit 1 when README.md differs (tests do this)

After re-running a benchmark, run ``--write``.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
README = ROOT / "README.md"
BLOCK = re.compile(r"(<!-- figures:(?P<name>[a-z_]+) -->\n)(?P<body>.*?)(<!-- /figures -->)", re.S)


def _load(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _n(x) -> str:
    """Integers with thousands separators, floats to 2 significant decimals."""
    if isinstance(x, bool) or x is None:
        return str(x)
    if isinstance(x, int) or float(x).is_integer() and abs(x) >= 1:
        return f"{int(x):,}"
    return f"{x:,.2f}" if abs(x) < 10 else f"{x:,.0f}"


def _target(t) -> str:
    return "I(" + ",".join(str(i) for i in t) + ")"


def _formula(rule_source: str) -> str:
    """A rule's one-line formula from its header (exports write ``# formula: ...``)."""
    for line in rule_source.splitlines():
        if line.startswith("# formula:"):
            return line.split(":", 1)[1].strip()
    return rule_source.strip().splitlines()[-1].strip()


def _table(header: list[str], rows: list[list]) -> list[str]:
    """A Markdown table's lines."""
    return (["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
            + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows])


def _labelled(pairs) -> list[tuple[str, dict]]:
    """(label, document) for each (label, results name) whose JSON exists."""
    return [(label, doc) for label, doc in ((label, _load(name)) for label, name in pairs)
            if doc]


def _missing(source: str) -> str:
    return f"_Not measured yet: run `python benchmarks/{source}.py`._\n"


def _seed_rows(pattern: str) -> tuple[list, list]:
    """(rows by seed, files) of the evolve_seeds.py outputs matching ``pattern``; a later
    file's row for a seed replaces an earlier one."""
    files = sorted(RESULTS.glob(pattern))
    runs = {}
    for path in files:
        for row in json.loads(path.read_text())["results"]:
            if not row.get("exit"):
                runs[row["seed"]] = row
    return [runs[s] for s in sorted(runs)], files


def evolve_seeds() -> str:
    """Every evolve_seeds*.json file together: one line per seed and the goal."""
    rows, files = _seed_rows("evolve_seeds*.json")
    if not files:
        return _missing("evolve_seeds")
    seeds = [r["best_seeds"] for r in rows]
    goal = json.loads(files[0].read_text())["goal"]
    over = [f"seed {r['seed']} ends at {r['best_seeds']}" for r in rows if r["best_seeds"] > 92]
    started = sum(1 for r in rows if r.get("from_start_rule"))
    command = " ".join(json.loads(files[0].read_text())["command"].split())
    lines = [
        f"`{command}` for {len(rows)} seeds "
        f"({', '.join(str(r['seed']) for r in rows)}; files "
        f"{', '.join('`' + p.name + '`' for p in files)}): "
        f"{sum(s <= 92 for s in seeds)} of {len(rows)} end at <= 92 seeds, median "
        f"{_median_cell(seeds)}, max {max(seeds)}, median wall time "
        f"{_n(statistics.median(r['wall_seconds'] for r in rows))} s"
        + (f"; {', '.join(over)}" if over else "") + f". Goal: {goal}."
        + (f" In {started} of them the best rule descends from improved seeding (which joins "
           f"a population at a restart and every 20 generations); the others found theirs "
           f"from random trees." if started else "")
        + (f" The polish (the last {rows[0]['settings']['polish']} generations) scored a median "
           f"{100 * statistics.median(r['polish_evaluations'] / r['evaluations'] for r in rows):.0f}"
           f" % of a run's distinct seed selections and took a median "
           f"{_n(statistics.median(r['polish_seconds'] for r in rows))} s of its wall time."
           if all(r.get("evaluations") for r in rows) else ""),
    ]
    # the same seeds under earlier defaults, newest first
    earlier = [("main_job_60_generations.json", "60 generations, no polish"),
               ("main_job_40_generations.json", "40 generations, restarts from random trees "
                                                "only")]
    table = [["now"] + [str(r["best_seeds"]) for r in rows]]
    if all(r.get("before_polish") is not None for r in rows):
        table.append(["now, before its polish"] + [str(r["before_polish"]) for r in rows])
    for name, label in earlier:
        path = RESULTS / name
        if path.exists():
            old = {r["seed"]: r for r in json.loads(path.read_text())["results"]
                   if not r.get("exit")}
            table.append([f"{label} (`{name}`)"]
                         + [str(old[r["seed"]]["best_seeds"]) if r["seed"] in old else "–"
                            for r in rows])
    lines += ["", "Per seed (the median of each row last):", ""]
    lines += _table(["seed"] + [str(r["seed"]) for r in rows] + ["median"],
                    [row + [_median_cell(row[1:])] for row in table])
    return "\n".join(lines) + "\n"


def _median_cell(cells: list) -> str:
    """The median of seed counts, a half kept (71.5 is not the goal's 70, nor 72)."""
    values = [int(c) for c in cells if c != "–"]
    return f"{statistics.median(values):g}" if values else "–"


def islands_seeds() -> str:
    """Islands (islands_seeds*.json, evolve_seeds.py --extra '--engine gp:3 ...') beside the
    default main job on the same seeds."""
    rows, files = _seed_rows("islands_seeds*.json")
    if not files:
        return _missing("evolve_seeds")
    default = {r["seed"]: r for r in _seed_rows("evolve_seeds*.json")[0]}
    command = json.loads(files[0].read_text())["command"].replace("  ", " ").strip()
    seeds = [r["best_seeds"] for r in rows]
    same = [r for r in rows if r["seed"] in default]
    lines = [f"`{command}` for {len(rows)} seeds (files "
             f"{', '.join('`' + p.name + '`' for p in files)}): "
             f"{sum(x <= 92 for x in seeds)} of {len(rows)} end at <= 92 seeds, median "
             f"{_n(statistics.median(seeds))}, max {_n(max(seeds))}, median wall time "
             f"{_n(statistics.median(r['wall_seconds'] for r in rows))} s (2 cores shared with "
             f"other jobs). On the same seeds the default main job: median "
             f"{_n(statistics.median(default[r['seed']]['best_seeds'] for r in same))}, max "
             f"{_n(max(default[r['seed']]['best_seeds'] for r in same))}.", "",
             "| seed | " + " | ".join(str(r["seed"]) for r in rows) + " |",
             "|---|" + "---|" * len(rows),
             "| islands gp:3 | " + " | ".join(str(r["best_seeds"]) for r in rows) + " |",
             "| default | " + " | ".join(str(default[r["seed"]]["best_seeds"])
                                        if r["seed"] in default else "–" for r in rows) + " |"]
    return "\n".join(lines) + "\n"


def generalise() -> str:
    data = _load("generalise")
    if data is None:
        return _missing("generalise")
    base = data["baselines"]
    start = f", started from `{data['start']}`" if data.get("start") else ""
    lines = [f"Evolved on `{data['train']}` ({_n(data['minutes'])} min × {len(data['runs'])} "
             f"seeds, {data['workers']} workers, objective `{data['objective']}`, features "
             f"`{data['features']}`{start}; measured {data.get('measured_at', '?')}), scored on "
             f"`{data['validation']}`:", "",
             "| rule | complete | seeds | trimmed equations |", "|---|---|---|---|"]
    for run in data["runs"]:
        v = run["validation"]
        lines.append(f"| seed {run['seed']}: `{_formula(run['rule'])}` | {'yes' if v['complete'] else 'no'} | "
                     f"{_n(v['seeds'])} | {_n(v['trimmed_equations'])} |")
    for name, v in base.items():
        done = "yes" if v["complete"] else f"no ({v['unreduced']} unreduced)"
        lines.append(f"| `{name}` | {done} | {_n(v['seeds'])} | {_n(v['trimmed_equations'])} |")
    lines.append("")
    for name in ("improved_seeding_dots", "tube_seeding"):
        key = f"beats_{name}"
        if key in data:
            beats = data[key]
            lines.append(f"Fewer seeds and fewer trimmed equations than `{name}`, complete: "
                         + ("seed " + ", ".join(map(str, beats)) if beats else "no run")
                         + ".")
    return "\n".join(lines) + "\n"


LIBRARY_RULES = ("tube_seeding", "improved_seeding_dots", "improved_seeding", "laporta")


def cross_family() -> str:
    data = _load("cross_family")
    if data is None:
        return _missing("cross_family")
    names = list(data["rules"])
    reference = data["reference"]
    lines = [f"Triangle-box rules applied unchanged to other families: seeds (trimmed "
             f"equations), the seed ratio against `{reference}`; measured "
             f"{data.get('measured_at', '?')}:", "",
             "| suite | " + " | ".join(f"`{n}`" if n in LIBRARY_RULES else n
                                       for n in names) + " |",
             "|---" * (len(names) + 1) + "|"]
    for suite in data["suites"]:
        ref = suite["rules"][reference]["seeds"]
        cells = []
        for name in names:
            m = suite["rules"][name]
            ratio = f", ×{m['seeds'] / ref:.2f}" if ref and name != reference else ""
            cell = f"{_n(m['seeds'])} ({_n(m['trimmed_equations'])}){ratio}"
            if not m["complete"]:
                cell += " — unreduced " + ", ".join(_target(t) for t in m["unreduced_targets"])
            cells.append(cell)
        symmetric = ", sector symmetries" if suite.get("symmetries") else ""
        lines.append(f"| `{suite['suite']}` ({len(suite['targets'])} targets{symmetric}, load "
                     f"{_n(suite['load_avg_1min'])}) | " + " | ".join(cells) + " |")
    lines += [""] + [f"{n}: `{_formula(data['rules'][n])}`" for n in names
                     if n not in LIBRARY_RULES]
    return "\n".join(lines) + "\n"


def rank_scan(name: str = "rank_scan") -> str:
    data = _load(name)
    if data is None:
        return _missing("rank_scan")
    columns = [c for c in [*data.get("columns", ("improved_seeding", "improved_seeding_dots",
                                                 "tube_seeding", "rule")), "floor"]
               if any(c in row for row in data["rows"])]
    names = {"rule": f"rule: {data['rule']}", "floor": "`minimize` floor"}
    target = data.get("target", "I(1,1,1,1,1,1,-s)").replace("-", "−")
    loads = [row["load_avg_1min"] for row in data["rows"] if "load_avg_1min" in row]
    load = f", load average {_n(min(loads))}–{_n(max(loads))} on 2 cores" if loads else ""
    # with symmetries, seeds as the judge solves them (mirror-sector seeds as their images)
    sym = {True: " (sector symmetries on: seeds as solved, [as selected] where they differ)",
           False: " (sector symmetries off: IBP + LI alone)"}.get(data.get("symmetries"), "")
    lines = [f"Seeds (trimmed equations) on {data['family']} {target}{sym}, measured "
             f"{data.get('measured_at', '?')}{load}:", "",
             "| s | 30·s | " + " | ".join(names.get(c, f"`{c}`") for c in columns) + " |",
             "|---" * (len(columns) + 2) + "|"]
    for row in data["rows"]:
        cells = []
        for c in columns:
            v = row.get(c)
            selected = v and v.get("seeds_selected", v["seeds"])
            cells.append("—" if not v else f"{_n(v['seeds'])}"
                         + (f" [{_n(selected)}]" if selected != v["seeds"] else "")
                         + f" ({_n(v['trimmed_equations'])})"
                         + ("" if v.get("reduced", True) else " incomplete"))
        lines.append(f"| {row['s']} | {30 * row['s']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def rank_scan_dotted() -> str:
    return rank_scan("rank_scan_dots1")


def rank_scan_nosym() -> str:
    return rank_scan("rank_scan_nosym")


def rank_classes() -> str:
    """The class minimisation behind rules/rank_path*.py (benchmarks/rank_classes.py)."""
    docs = _labelled((("IBP + LI alone and with symmetries", "rank_classes"),
                      ("with symmetries, mirror sectors first", "rank_classes_mirror_first"),
                      ("the dotted target I(2,1,1,1,1,1,−s)", "rank_classes_dots1")))
    if not docs:
        return _missing("rank_classes")
    lines = []
    for label, doc in docs:
        off = [c for c in doc["kept"] if c["numerators"]]
        lines += [f"Classes kept when complete on s = {', '.join(map(str, doc['minimised_on']))}"
                  f" ({label}; {len(doc['runs'])} removal orders, measured "
                  f"{doc.get('measured_at', '?')}): {len(doc['kept']) - len(off)} sector paths"
                  f" and {len(off)} off-path classes (sector lines 1…6, nL: a numerator on "
                  "removed line L: " + ", ".join(c["class"] for c in off) + "); checked:", ""]
        rows = {}
        for r in doc["check"]:
            rows.setdefault(r["s"], {})[r["mode"]] = r
        modes = doc["modes"]
        lines += _table(["s", "30·s"] + [f"{m}: selected / solved (trimmed)" for m in modes],
                        [[s, 30 * s] + [
                            f"{_n(r[m]['seeds_selected'])} / {_n(r[m]['seeds'])} "
                            f"({_n(r[m]['trimmed_equations'])})"
                            + ("" if r[m]["reduced"] else " incomplete") for m in modes]
                         for s, r in sorted(rows.items())]) + [""]
    floors = docs[0][1].get("floors", {})
    for name, label in (("rank_floor_nosym", "IBP + LI alone"),
                        ("rank_floor", "with symmetries, as selected")):
        if not floors.get(name):
            continue
        kinds = sorted({k for row in floors[name] for k in row["by_missing"]})
        lines += [f"The `minimize` floors of the rank floor below ({label}) split the same way:"
                  " seeds on the path and off it, by number of removed lines:", ""]
        lines += _table(["s", "floor"] + [k.replace(" on", " removed, on path").replace(
                            " off", " removed, off path") for k in kinds],
                        [[row["s"], row["seeds"]] + [row["by_missing"].get(k, 0) for k in kinds]
                         for row in floors[name]]) + [""]
    return "\n".join(lines)


def _seeds_per_power(floor: dict) -> dict:
    """A floor's seeds per numerator power by lines removed (median over the powers it seeds):
    what each further unit of s costs if its pattern repeats."""
    levels = {}
    for key, count in floor["shape"]["by_missing_and_s"].items():
        removed, _ = key.split(",")
        levels.setdefault(int(removed), []).append(count)
    return {k: statistics.median(v) for k, v in sorted(levels.items())}


def rank_floor() -> str:
    """Floors of ``minimize`` on the rank scan (benchmarks/rank_floor.py), with IBP + LI alone
    and with sector symmetries, beside the goal 30 s and the counting figures."""
    docs = _labelled((("IBP + LI alone", "rank_floor_nosym"),
                      ("with sector symmetries", "rank_floor")))
    if not docs:
        return _missing("rank_floor")
    lines = []
    for label, doc in docs:
        starts = list(doc["starts"])
        loads = [row["load_avg_1min"] for row in doc["rows"]]
        lines += [f"Smallest complete seed sets `minimize` finds for {doc['family']} "
                  f"{doc['target'].replace('-', '−')}, {label} (measured "
                  f"{doc.get('measured_at', '?')}, load average {_n(min(loads))}–"
                  f"{_n(max(loads))} on 2 cores): the floor's seeds"
                  + (" as selected (and as the judge solves them: seeds of mirror sectors "
                     "replaced by their images, often several per seed)"
                     if doc["symmetries"] else "")
                  + " (trimmed equations, trimmed per solved seed), *per power* the seeds each further unit of s costs if the "
                  "floor's pattern repeats (per number of removed lines, the median of its "
                  "seeds per numerator power, summed), and per start the best minimal set of "
                  "its removal "
                  "orders that the judge confirms (— not run or none confirmed):", "",
                  "| s | 30·s | swap budget | floor | per power | "
                  + " | ".join(f"from `{name}`" for name in starts) + " |",
                  "|---" * (len(starts) + 5) + "|"]
        def floor_cell(f):
            if not f:
                return "—"
            solved = f.get("solved_seeds", f["seeds"])
            return (f"{_n(f['seeds'])}" + (f" / {_n(solved)} solved" if solved != f["seeds"]
                                           else "")
                    + f" ({_n(f['trimmed_equations'])}, {f['trimmed_equations'] / solved:.1f})")

        for row in doc["rows"]:
            floor = floor_cell(row.get("floor")) + " | " + (
                f"{sum(_seeds_per_power(row['floor']).values()):g}" if row.get("floor") else "—")
            cells = []
            for name in starts:
                runs = [r for r in row["runs"] if r["start"] == name]
                sizes = [r["minimal"] for r in runs if r.get("judge_complete")]
                cells.append(_n(min(sizes)) if sizes else "skipped"
                             if any("skipped" in r for r in runs) else "—")
            budgets = sorted({r["minimize_seconds"] for r in row["runs"] if "minimal" in r})
            budget = (f"{budgets[0]:g} s" if budgets[0] == budgets[-1]
                      else f"{budgets[0]:g}–{budgets[-1]:g} s")
            lines.append(f"| {row['s']} | {30 * row['s']} | {budget} | {floor} | "
                         + " | ".join(cells) + " |")
        # growth between floors found with the long swap budgets (at least half the longest):
        # a floor found in seconds is looser than one found in minutes
        longest = {row["s"]: max(r["minimize_seconds"] for r in row["runs"] if "minimal" in r)
                   for row in doc["rows"] if row.get("floor")}
        chosen = [s for s, b in longest.items() if b >= max(longest.values()) / 2]
        if len(chosen) < 3:
            chosen = list(longest)
        floors = [(row["s"], row["floor"]) for row in doc["rows"] if row["s"] in chosen]
        if len(floors) >= 2:
            (s0, first), (s1, last) = floors[0], floors[-1]
            seeds_step = (last["seeds"] - first["seeds"]) / (s1 - s0)
            trimmed_step = (last["trimmed_equations"] - first["trimmed_equations"]) / (s1 - s0)
            density = _seeds_per_power(last)
            parts = ", ".join(f"{v:g} " + ("in the target's sector" if k == 0 else
                                            f"with {k} line{'s' if k != 1 else ''} removed")
                              for k, v in density.items())
            line = (f"From s = {s0} to {s1} (swap budgets of "
                    f"{min(longest[s] for s in chosen):g} s or more) the floor "
                    f"grew by {seeds_step:.1f} seeds and "
                    f"{trimmed_step:.0f} trimmed equations per unit of s. Per numerator power "
                    f"the floor at s = {s1} keeps (median over powers) {parts}: "
                    f"{sum(density.values()):g} seeds per unit of s if the pattern repeats, "
                    "where 30·s allows 30")
            per_seed = last.get("equations_per_seed")
            if per_seed:
                # each trimmed equation pivots one integral the target needs and a seed has
                # per_seed equations: the bound if every equation of every seed pivoted
                full = last["trimmed_per_seed"].get(str(per_seed), 0)
                solved = last.get("solved_seeds", last["seeds"])
                line += (f"; a seed brings {per_seed} equations, of which the floor at s = "
                         f"{s1} pivots {last['trimmed_equations'] / solved:.1f} on "
                         f"average (all {per_seed} on {full} of its {solved} solved seeds), "
                         f"so at this growth of trimmed equations even a set whose every "
                         f"equation pivoted would need ≥ {trimmed_step / per_seed:.1f} solved "
                         "seeds per unit of s")
            lines += ["", line + "."]
        lines.append("")
    return "\n".join(lines[:-1]) + "\n"


def sailir() -> str:
    data = _load("sailir")
    if data is None:
        return _missing("sailir")
    lines = [f"Whole exact reductions at one rational point ({data['cores']} cores); Kira's "
             "equations, time and memory from the SAILIR paper's published benchmark (another "
             "setting and measure) as context:", "",
             "| integral | seeding | reduced | seeds | equations | trimmed | time | peak memory "
             "| load | Kira eqs / time / memory |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in data["rows"]:
        if "error" in r:
            lines.append(f"| {_target(r['target'])} | {r.get('seeding', r['seeding_kind'])} | "
                         f"{r['error']} | | | | | | | |")
            continue
        load = _n(r["load_avg_1min"]) if "load_avg_1min" in r else "—"
        lines.append(
            f"| {_target(r['target'])} | {r['seeding']} | {r['reduced']} | {_n(r['seeds'])} | "
            f"{_n(r['equations'])} | {_n(r['trimmed_equations'])} | {_n(r['seconds'])} s | "
            f"{_n(r['peak_rss_gib'])} GiB | {load} | "
            f"{_n(r['kira_equations'])} / {_n(r['kira_seconds'])} s / {_n(r['kira_gb'])} GB |")
    lines += ["", "Goals: all reduced exactly, peak < 4 GiB, I(1,1,2,1,1,1,−4) ≤ 2 s and each "
              "other ≤ 120 s."]
    return "\n".join(lines) + "\n"


def learn_once() -> str:
    d = _load("learn_once")
    if d is None:
        return _missing("learn_once")
    return (f"{d['system']} ({_n(d['seeds'])} seeds, {_n(d['equations'])} equations, "
            f"{_n(d['trimmed_equations'])} trimmed): first sample {_n(d['first_sample_s'])} s, "
            f"each further prime {d['further_prime_s'] * 1000:.1f} ms "
            f"({d['further_over_first']:.1%} of the first sample, goal "
            f"{d['goal_further_over_first']:.0%}; {d['further_over_finiteflow_median']:.1%} of "
            f"FiniteFlow's evaluation time as measured here, goal "
            f"{d['goal_further_over_finiteflow']:.0%}); rebuilding and solving instead: "
            f"{_n(d['rebuild_and_solve_s'])} s.\n")


def small_reduce() -> str:
    d = _load("small_reduce")
    if d is None:
        return _missing("small_reduce")
    cases = ", ".join(f"{c['family']} I({c['target']}) {_n(c['wall_median_s'])} s"
                      + (f" ({_n(c['symmetries_off']['wall_median_s'])} s with "
                         "`--symmetries off`)" if c.get("symmetries_off") else "")
                      + (f" ({_n(c['baseline']['wall_median_s'])} s before, same load)"
                         if c.get("baseline") else "")
                      for c in d["cases"])
    load = d.get("cpu_load")
    sympy = any(c.get("imports_sympy") or c.get("symmetries_off", {}).get("imports_sympy")
                for c in d["cases"])
    symmetric = "sector symmetries on, the default" if d["cases"][0].get("symmetries_off") \
        else "as measured"
    return (f"`ibp-evolve reduce` wall time with warm caches (median; {symmetric}; sympy "
            f"{'imported' if sympy else 'never imported'}): {cases}; goal "
            f"{_n(d['cases'][0]['goal_s'])} s" +
            (f" (load average {_n(load[0])} while measured)" if load else "") + ".\n")


def few_numerators() -> str:
    d = _load("few_numerators")
    if d is None:
        return _missing("few_numerators")
    tube, improved = d["rules"]

    def cells(c, rule):
        r = c[rule]
        return [_n(r["seeds"]), _n(r["multiply_adds"]), r["shells"],
                f"{_n(r['wall_median_s'])} s"]
    rows = [[f"I({','.join(map(str, c['target']))})"] + cells(c, tube) + cells(c, improved)
            + [f"{c[improved]['multiply_adds'] / c[tube]['multiply_adds']:.3g}×",
               "yes" if c["same_coefficients"] else "**NO**"] for c in d["cases"]]
    head = ["target"] + [f"{rule}: {what}" for rule in (tube, improved)
                         for what in ("seeds", "mult-adds", "shells", "time")]
    return "\n".join(_table(head + ["mult-adds ratio", "same coefficients"], rows)
                     + ["", f"Median of {d['repeats']} runs, measured {d['measured_at']} "
                            f"(load average {_n(d['cpu_load'][0])})."]) + "\n"


def analytic() -> str:
    d = _load("analytic")
    if d is None:
        return _missing("analytic")
    rows = [c for c in d["cases"]] + [d[k] for k in ("full", "full_replace_by_one",
                                                     "full_two_workers") if d.get(k)]
    return "\n".join(_table(
        ["case", "rule", "seeds", "trimmed", "samples", "primes", "time", "goal"],
        [[c["case"].strip(), c["rule"], _n(c["seeds"]), _n(c["trimmed_equations"]),
          _n(c["samples"]), c["primes"], f"{_n(c['seconds'])} s", f"≤ {_n(c['goal_s'])} s"]
         for c in rows])) + "\n"


def masters() -> str:
    d = _load("masters")
    if d is None:
        return _missing("masters")
    load = d.get("load_average")
    lines, rows = ["Cold master discovery (empty caches, numba compiled), median"
                   + (f"; load average {_n(load[0])} on {d['cpu_count']} cores while measured"
                      if load else "") + ":", ""], []
    for r in d["rows"]:
        if r.get("region_numerators") is not None:
            continue   # the same-run baseline (the previous discovery region)
        base = [b for b in d["rows"] if b["family"] == r["family"] and
                b["symmetries"] == r["symmetries"] and b.get("region_numerators") is not None]
        speed = (f" (previous region: {_n(base[0]['seconds_median'])} s)" if base else "")
        lit = f" ({r['literature']})" if r.get("literature") else ""
        rows.append([r["family"], "on" if r["symmetries"] else "off", f"{r['masters']}{lit}",
                     f"{_n(r['seconds_median'])} s{speed}", f"{_n(r['peak_rss_mib'])} MiB",
                     f"≤ {_n(r['goal_seconds'])} s"])
    lines += _table(["family", "symmetries", "masters (literature)", "time", "peak memory",
                     "goal"], rows)
    return "\n".join(lines) + "\n"


def llm_engine() -> str:
    return _llm_engine_block("llm_engine", levers=True)


def llm_engine_train() -> str:
    """The same benchmark on the generalisation work's training suite (``--suite
    triangle_box_train``), with its own model held out of that suite."""
    return _llm_engine_block("llm_engine_train", levers=False)


def _llm_engine_block(name: str, levers: bool) -> str:
    d = _load(name)
    if d is None:
        return _missing(name)
    reference = d.get("reference_seeds", 92)
    engines = [e for e in ("llm-plain", "llm-runs", "deap") if e in d]
    points = d["points"]
    lines = [f"At equal candidates on `{d['suite']}` (population {d['population']}; "
             f"{d['machine']}): best complete rule's seeds after N candidates", "",
             "| engine | " + " | ".join(f"N = {_n(n)}" for n in points)
             + " | valid | new seed masks (of valid) |",
             "|---" * (len(points) + 3) + "|"]
    for e in engines:
        r = d[e]
        cells = ["—" if s is None else _n(s) for s in r["complete_seeds"]]
        valid = f"{r['valid_share']:.1%}" if "valid_share" in r else "—"
        new = (f"{r['new_mask_share_of_valid']:.1%}" if "new_mask_share_of_valid" in r
               else "—")
        lines.append(f"| {e} | " + " | ".join(cells) + f" | {valid} | {new} |")
    times = [f"{e} {_n(round(d[e + '_seconds']))} s" for e in engines
             if d.get(e + "_seconds") is not None]
    if times:
        lines += ["", "Wall time of each run (the runs ran side by side): " + ", ".join(times)
                  + "."]
    starts = d.get("llm_start_programs") or []
    if starts:
        lines += ["", "The LLM runs were shown " + ", ".join(f"`{s}`" for s in starts)
                  + " as start programs (prompt exemplars); their rows count only the "
                  "model's own completions."]
    for e in engines:
        if e.startswith("llm") and d[e].get("edits"):
            lines += ["", f"{e}, its valid completions against the best program of their "
                      f"prompt (token edit distance, `llm_mutator/edits.py`): "
                      + _llm_edits(d[e], reference)]
    levers = _llm_engine_levers() if levers else []
    if levers:
        lines += ["", "What was varied, each row one run of the benchmark at the same protocol "
                  "(2,000 candidates, the same start programs). Training: share of neighbour examples and of lineage edits among the "
                  "run examples. Copies: whether a completion copying a shown program was "
                  "scored (runs before the engine rejected them) or rejected unscored; either "
                  "way it is counted among the valid completions, never as a new mask. Goals met: a "
                  "complete rule of ≤ 92 seeds whose seed mask no start program has within "
                  "2,000 candidates (the start programs keep 86 and 92 seeds, so an "
                  "equivalent rewrite of one does not count) and ≥ 40% new masks.", ""]
        lines += levers
    sampling = d.get("sampling")
    if sampling:
        lines += ["", f"Sampling: temperature {sampling['temperature']}, top-p "
                  f"{sampling['top_p']}, at most {sampling['max_new_tokens']} tokens per "
                  "completion."]
    reached = []
    for e in engines:
        if e.startswith("llm"):
            found = d[e].get("candidates_to_92_seeds")
            new_best = d[e].get("best_complete_not_a_start_mask") or {}
            fresh = new_best.get("candidates_to_92_seeds")
            reached.append(f"{e}: " + (f"after {_n(found)} candidates" if found else "not "
                                       "reached")
                           + (f", with a seed mask no start program has after {_n(fresh)}"
                              if fresh and fresh != found else ""))
    lines += ["", f"Goals (issue 17): a complete rule ≤ {_n(reference)} seeds within 2,000 "
              "candidates ("
              + "; ".join(reached) + "), ≥ 98% valid, ≥ 40% new masks; this run stopped at "
              f"{_n(points[-1])} candidates."]
    return "\n".join(lines) + "\n"


# runs of benchmarks/llm_engine.py at the same protocol with one lever changed
LLM_ENGINE_VARIANTS = ("llm_engine_neighbours", "llm_engine_seed1", "llm_engine_lineage_edits",
                       "llm_engine_mix", "llm_engine_lineage", "llm_engine_t07",
                       "llm_engine_three", "llm_engine_three_t085", "llm_engine_t12",
                       "llm_engine_t12_seed1")


def _llm_engine_levers() -> list[str]:
    """The table of the llm_engine variants whose JSON exists (llm-runs of each)."""
    rows, main = [], _load("llm_engine")
    for name in LLM_ENGINE_VARIANTS:
        d = _load(name)
        if d is None or "llm-runs" not in d:
            continue
        if d == main:
            name += ".json` = `llm_engine"   # the main row
        r, model = d["llm-runs"], d["models"]["runs"]["run_examples"]
        sampling = d.get("sampling", {})
        fresh = (r.get("best_complete_not_a_start_mask") or {}).get("candidates_to_92_seeds")
        goals = d["goals"]["llm-runs"]
        # the goal with a rule of the model's own: a seed mask no start program has (a
        # rewrite of the tube start rule keeps its 86 seeds and is no find)
        found = fresh is not None and fresh <= 2000
        rows.append([f"`{name}.json`", d["seed"],
                     f"{model.get('neighbour_share', 0):.0%} / {model['edit_share']:.0%}",
                     sampling.get("temperature"), sampling.get("functions_per_prompt", 2),
                     "rejected" if "copies_of_a_shown_program" in sampling else "scored",
                     _n(d["points"][-1]), _n(r["complete_seeds"][-1]),
                     _n(fresh) if fresh else "—", f"{r['valid_share']:.1%}",
                     f"{r['new_mask_share_of_valid']:.1%}",
                     f"{r['edits']['copy_share']:.1%}",
                     "both" if found and goals["new_masks_ge_40"] else
                     "≤ 92 only" if found else
                     "new masks only" if goals["new_masks_ge_40"] else "neither"])
    return _table(["run", "seed", "training: neighbours / edits", "temperature",
                   "programs shown", "copies", "candidates", "best complete seeds",
                   "first rule ≤ 92 with a mask no start program has, after", "valid", "new masks (of valid)",
                   "copies of the best shown (of valid)", "goals met"], rows) if rows else []


def _llm_edits(r: dict, reference: int = 92) -> str:
    """How far an LLM run's valid completions are from their prompt's best program, and its
    best complete rule that is not a start program's mask."""
    edits, new_best = r["edits"], r.get("best_complete_not_a_start_mask")
    return (f"median {_n(edits['median_tokens_from_best_shown'])} tokens apart, "
            f"{edits['copy_share']:.1%} copies, {edits['close_edit_share']:.1%} close edits "
            f"(1–{edits['close_edit_tokens']} tokens); {edits['complete_share_of_valid']:.1%} "
            "reduce the targets. Best complete rule with a seed mask no start program has: "
            + (f"{_n(new_best['seeds'])} seeds, `{new_best['formula']}`" if new_best
               else "none")
            + (f" (the first such rule of ≤ {_n(reference)} seeds after "
               f"{_n(new_best['candidates_to_92_seeds'])} candidates)"
               if new_best and new_best.get("candidates_to_92_seeds") else "") + ".")


def _load_range(loads) -> str:
    """'load average A–B' of a run's 1-minute load averages (one value: 'load average A')."""
    lo, hi = min(loads), max(loads)
    return f"load average {_n(lo)}" + ("" if _n(lo) == _n(hi) else f"–{_n(hi)}")


def evolve_paper() -> str:
    """GP against random search from a random start (benchmarks/evolve_paper.py)."""
    d = _load("evolve_paper")
    if d is None:
        return _missing("evolve_paper")
    runs = d["runs"]
    n = len(runs)
    loads = [x for r in runs for x in r["load_avg_1min"]]

    def reached(key):
        times = [r["first_seconds"][key] for r in runs if r["first_seconds"][key] is not None]
        median = f", median {_n(statistics.median(times))} s" if times else ""
        return f"{len(times)}/{n}{median}"

    gp = [r["best_seeds"] for r in runs if r["best_complete"]]
    rs = [r["random_search"]["best_seeds"] for r in runs
          if r.get("random_search") and r["random_search"]["best_seeds"] is not None]
    lines = [f"GP from a random start on `{d['suite']}` against random search ({n} seeds, "
             f"population {d['population']}, `--generations {d['generations']} --time-limit "
             f"{_n(d['time_limit'])}`, {d['workers']} workers on {d['cores']} cores shared with "
             f"other jobs, {_load_range(loads)}; measured {d.get('measured_at', '?')}): a "
             f"complete rule with ≤ 92 seeds (improved seeding) in {reached('92')}; ≤ 88 (the "
             f"GP of arXiv:2502.05121) in {reached('88')}; < 80 in {reached('79')} (wall time "
             f"from the start, pool start-up included)."
             + (f" Best {min(gp)} seeds (median {_n(statistics.median(gp))})." if gp else "")
             + (f" Random search with as many evaluations: best {min(rs)} (median "
                f"{_n(statistics.median(rs))})." if rs else ""), "",
             "| seed | wall | generations | evaluations | GP best | ≤ 92 at | ≤ 88 at | < 80 at "
             "| random search best |", "|---" * 9 + "|"]
    for r in runs:
        at = ["—" if r["first_seconds"][k] is None else f"{_n(r['first_seconds'][k])} s"
              for k in ("92", "88", "79")]
        best = _n(r["best_seeds"]) if r["best_complete"] else "incomplete"
        search = r.get("random_search") or {}
        lines.append(f"| {r['seed']} | {_n(r['wall_seconds'])} s | {r['generations']} | "
                     f"{_n(r['evaluations'])} | {best} | " + " | ".join(at) + " | "
                     f"{_n(search['best_seeds']) if search.get('best_seeds') else '—'} |")
    return "\n".join(lines) + "\n"


def sample_report() -> str:
    """The sample run report's timings (benchmarks/sample_report.py)."""
    d = _load("sample_report")
    if d is None:
        return _missing("sample_report")
    live = (f"; the mid-run report (no seed maps) took {_n(d['live_report_seconds'])} s while "
            f"sharing the cores with the running evolve, which it never blocks"
            if d.get("live_report_seconds") is not None else "")
    return (f"Measured {d.get('measured_at', '?')} (population {d['population']}, "
            f"{d['generations']} generations, seed {d['seed']}, {d['workers']} workers on "
            f"{d['cores']} cores shared with other jobs, {_load_range(d['load_avg_1min'])}): "
            f"evolve {_n(d['evolve_seconds'])} s ({_n(d['candidates'])} candidates, "
            f"{_n(d['distinct_masks'])} distinct masks; best complete rule "
            f"{_n(d['best_complete_seeds'])} seeds), report {_n(d['report_seconds'])} s "
            f"({_n(d['report_kib'])} KiB: {d['report_svgs']} inline SVG charts, "
            f"{d['report_pngs']} PNG seed maps; the judge build, the two baselines and the seed "
            f"maps included), `inspect` of the best rule {_n(d['inspect_seconds'])} s{live}.\n")


def minimize_paper() -> str:
    """Minimal complete sets from improved seeding on the paper target (benchmarks/minimize_paper.py)."""
    d = _load("minimize_paper")
    if d is None:
        return _missing("minimize_paper")

    def summary(search):
        runs = [r for r in d["runs"] if r["search"] == search]
        sizes = [r["minimal"] for r in runs]
        # median_low: a size some run reached (the mean of two middle sizes is none)
        return (f"{min(sizes)}–{max(sizes)} seeds (median {statistics.median_low(sizes)}), "
                f"median {_n(statistics.median_low(r['solves'] for r in runs))} solves and "
                f"{statistics.median(r['seconds'] for r in runs):.2f} s per run")

    first = d["runs"][0]
    loads = [r["load_avg_1min"] for r in d["runs"]]
    swaps = d["searches"]["swaps"]
    return (f"On `{d['suite']}`, `{d['rule']}`'s {first['start']} seeds prune to "
            f"{first['pruned']} by mark and sweep; over {len(loads) // 2} random seeds the greedy "
            f"pass alone leaves {summary('greedy')}, and the default search (`--swaps "
            f"{swaps['swaps']} --restarts {swaps['restarts']} --seconds {_n(swaps['seconds'])}`) "
            f"{summary('swaps')} ({d['cores']} cores shared with other jobs, "
            f"{_load_range(loads)}; measured {d.get('measured_at', '?')}).{_per_trial(d)}\n")


def _per_trial(d: dict) -> str:
    """minimize_paper's seconds per trial solve with and without sector symmetries."""
    trials = d.get("per_trial")
    if not trials:
        return ""
    ways = ("without_symmetries", "with_symmetries", "with_symmetries_rebuilt")
    parts = []
    for target in dict.fromkeys(tuple(t["target"]) for t in trials):
        mine = [t for t in trials if tuple(t["target"]) == target]
        ms = [statistics.median(t[w]["ms_per_trial"] for t in mine) for w in ways]
        parts.append(f"{_target(target)} {ms[0]:.2f} ms without symmetries, {ms[1]:.2f} ms "
                     f"with them, {ms[2]:.2f} ms with each trial's system rebuilt as before")
    identical = all(t["identical_sets"] for t in trials)
    loads = [t[w]["load_avg_1min"] for t in trials for w in ways]
    search = d["per_trial_search"]
    return (f" Per trial solve (greedy pass and {search['swaps']} swaps, median over "
            f"{len(trials) // len(parts)} random seeds): " + "; ".join(parts)
            + f" ({'identical' if identical else 'DIFFERENT'} minimal sets with and without "
            f"the rebuild; {_load_range(loads)}).")


def grammar_validity() -> str:
    """Constrained against unconstrained sampling in the same run: the code before the sampler
    drew its own tokens (grammar_validity_before.json) and now (grammar_validity.json), on
    the same briefly trained model, and now on the LLM benchmark's model
    (grammar_validity_trained.json) when present."""
    d = _load("grammar_validity")
    if d is None:
        return _missing("grammar_validity")
    docs = [("before", "briefly trained", _load("grammar_validity_before")),
            ("now", "briefly trained", d),
            ("now", "benchmark's", _load("grammar_validity_trained"))]
    rows = []
    for code, model, doc in docs:
        if doc is None:
            continue
        for mode in ("off", "on"):
            m = doc["median"][mode]
            rows.append([code, f"{model} ({doc['model']})", mode, f"{m['valid_share']:.1%}",
                         f"{m['completions_per_s']:.2f}", _n(round(m["tokens_per_s"])),
                         f"{m['checks_per_token']:.2f}",
                         f"{doc['prompts'] * doc['n']} × {doc['repeats']}"])
    lines = [f"At most {d['max_new_tokens']} tokens per completion, {d['machine']}; medians "
             "over repeats, the unconstrained run of each repeat as its baseline:", ""]
    lines += _table(["code", "model", "grammar", "valid", "completions/s", "tokens/s",
                     "checks per token", "completions × repeats"], rows)
    lines += [""] + [f"{code}, {model} model: {doc.get('label', '')} (measured "
                     f"{doc.get('measured_at', '?')}, {doc['machine']})."
                     for code, model, doc in docs if doc is not None]
    return "\n".join(lines) + "\n"


def grammar_cost() -> str:
    """The grammar's cost per generated token without a model: main's checker (its own run,
    grammar_cost_before.json) and now the reference and incremental paths in the same run
    (grammar_cost.json, the reference as the baseline)."""
    d = _load("grammar_cost")
    if d is None:
        return _missing("grammar_cost")
    docs = [("before", _load("grammar_cost_before")), ("now", d)]
    rows, lines = [], []
    for code, doc in docs:
        if doc is None:
            continue
        first = next(iter(doc["median"]))
        for path, m in doc["median"].items():
            by_line = m.get("us_per_token_by_line_chars")
            rows.append([code, path, _n(round(m["us_per_token"])),
                         f"{m['checks_per_token']:.2f}",
                         _n(round(m["token_steps_per_s_per_core"])),
                         f"{m['completions_per_s_per_core']:.1f}",
                         f"{doc['median'][first]['us_per_token'] / m['us_per_token']:.2f}",
                         " / ".join(_n(round(v)) for v in by_line.values()) if by_line
                         else "–"])
    buckets = " / ".join(f"{b}+" for b in d["tokens_by_line_chars"])
    shares = " / ".join(_n(n) for n in d["tokens_by_line_chars"].values())
    lines = [f"{d['completions']} valid completions ({_n(d['tokens'])} tokens: the rule library"
             f", random GP rules), replayed through the sampler's per-step code with "
             f"{d['others']} rejected draws checked per step, tokenizer "
             f"{d['tokenizer']}; no model forward, no closing searches; "
             f"{d.get('clock', 'wall time')}, medians over {d['repeats']} "
             "repeats; the first path of each run is its baseline:", ""]
    lines += _table(["code", "checker path", "µs of grammar per token", "checks per token",
                     "constrained token-steps/s per core",
                     f"completions/s per core at {d['tokens_per_completion']} tokens",
                     "× first path", f"µs per token when the line has {buckets} characters"],
                    rows)
    lines += ["", f"Tokens per line-length bucket: {shares}."]
    draws = [(code, doc) for code, doc in docs
             if doc is not None and "draws_median_us_per_row_step" in doc]
    if draws:
        lines += ["", "The sampler's draws from the model's next-token distributions "
                  f"({draws[-1][1]['draws_batch']} rows a step, torch on one CPU thread), per "
                  "row and step: " + ", ".join(
                      f"{code} {_n(round(doc['draws_median_us_per_row_step']))} µs"
                      for code, doc in draws) + "."]
    randoms = [(code, doc["random_sampler"]) for code, doc in docs
               if doc is not None and "random_sampler" in doc]
    if randoms:
        lines += ["", "The whole constrained sampler on a tiny random model with that tokenizer "
                  f"({randoms[-1][1]['completions']} completions of at most "
                  f"{d['tokens_per_completion']} tokens, CPU time of one process, the model's "
                  "forward included): " + "; ".join(
                      f"{code} {_n(round(r['us_per_token']))} µs per token, "
                      f"{r['checks_per_token']:.1f} checks per token, "
                      f"{r['closing_searches']} closing searches, {r['valid_share']:.0%} valid"
                      for code, r in randoms) + "."]
    lines += [""] + [f"{code}: {doc.get('label', '')} (measured {doc.get('measured_at', '?')}, "
                     f"{doc['machine']}{', ' + doc['machine_end'] if 'machine_end' in doc else ''}"
                     ")." for code, doc in docs if doc is not None]
    return "\n".join(lines) + "\n"


def serve_llm() -> str:
    d = _load("serve_llm")
    if d is None:
        return _missing("serve_llm")
    groups = {}
    for r in d["runs"]:
        groups.setdefault((r["grammar"], r["clients"]), []).append(r)
    rows = [["on" if g else "off", c, len(rs),
             f"{statistics.median(r['completions_per_s'] for r in rs):.3f}",
             f"{statistics.median(r['tokens_per_s'] for r in rs):.1f}"]
            for (g, c), rs in sorted(groups.items())]
    lines = [f"Random Llama model of {d['parameters'] / 1e6:.0f}M parameters ({d['hidden']} × "
             f"{d['layers']} layers, vocabulary {_n(d['vocab'])}) on `{d['device']}` "
             f"({d['machine_threads']} torch threads{', ' + d['machine'] if 'machine' in d else ''}"
             f"), {d['tokens']} tokens per completion; medians:", ""]
    lines += _table(["grammar", "clients", "rounds", "completions/s", "tokens/s"], rows)
    if d["device"] == "cpu":
        lines += ["", "Not measured on a GPU: no device was lent to this task."]
    return "\n".join(lines) + "\n"


def llm_gp_islands() -> str:
    return _islands_block("llm_gp_islands")


def llm_gp_islands_start() -> str:
    """The same comparison with the start rules on every island (``--start``)."""
    return _islands_block("llm_gp_islands_start")


def llm_gp_islands_adaptive_start() -> str:
    """The adaptive budget with the start rules and GP features on every island."""
    return _islands_block("llm_gp_islands_adaptive_start", gp_of="llm_gp_islands_start")


def _islands_verdicts(llm_runs, gp_runs, at, baseline: str,
                      equal_candidates: bool = True) -> list[str]:
    """Per comparison point, on how many seeds the "llm+gp" runs of ``llm_runs`` beat the "gp"
    runs of ``gp_runs`` (fewer seeds after as many candidates)."""
    verdicts = []
    for k in [*(str(k) for k in at)] + ([None] if equal_candidates else []):
        pairs = {}
        for runs, mix in ((llm_runs, "llm+gp"), (gp_runs, "gp")):
            for r in runs:
                if r["mix"] == mix:
                    pairs.setdefault(r["seed"], {})[mix] = (
                        r.get("best_at_equal_candidates") if k is None
                        else (r.get("best_at") or {}).get(k))
        pairs = [(m.get("llm+gp"), m.get("gp")) for m in pairs.values()]
        pairs = [(a, b) for a, b in pairs if a is not None and b is not None]
        if pairs:
            won = sum(1 for a, b in pairs if a < b)
            tied = sum(1 for a, b in pairs if a == b)
            where = "at equal candidates" if k is None else f"after {_n(int(k))} candidates"
            verdicts.append(f"LLM+GP islands beat {baseline} {where} on {won} of {len(pairs)} "
                            "seeds" + (f" ({tied} tied)" if tied else "") + ".")
    return verdicts


def llm_gp_islands_adaptive() -> str:
    """The same comparison with the adaptive island budget (``--island-budget adaptive``), and
    its LLM+GP runs against the GP runs of the equal budget (the first table)."""
    return _islands_block("llm_gp_islands_adaptive", gp_of="llm_gp_islands")


def _islands_block(name: str, gp_of: str | None = None) -> str:
    """The table and verdicts of one islands JSON; ``gp_of``: another JSON whose "gp" runs are
    a second baseline for this one's "llm+gp" runs (same seeds)."""
    d = _load(name)
    if d is None:
        return _missing(name)

    def seeds(best) -> str:
        return "—" if best is None else "incomplete" if best >= 1e15 else _n(best)
    def second_share(r) -> list:
        """The second island's share of the run's candidates (the LLM island of llm+gp)."""
        spent = r.get("candidates_by_island")
        if not shares:
            return []
        return [f"{100 * spent.get('1', 0) / max(1, sum(spent.values())):.0f}%"
                if spent else "—"]
    at = d.get("compared_at") or []
    shares = any(r.get("candidates_by_island") for r in d["runs"])
    rows = []
    for r in d["runs"]:
        rows.append([r["seed"], r["mix"]] + [seeds((r.get("best_at") or {}).get(str(k)))
                                            for k in at]
                    + [f"{seeds(r.get('best_at_equal_candidates'))} at "
                       f"{_n(r['equal_candidates'])}", _n(r["candidates"])]
                    + second_share(r)
                    + [f"{_n(round(r['seconds']))} s" if r.get("seconds") else "—"])
    lines = [f"`{d['suite']}`, population {d['population_per_island']} per island, "
             f"{d['generations']} generations, engines {d['mixes']}"
             + (f", temperature {d['sampling']['temperature']}" if d.get("sampling") else "")
             + (", start rules " + ", ".join(f"`{r}`" for r in d["start_rules"])
                if d.get("start_rules") else "")
             + (f", GP features + `{d['gp_features']}`" if d.get("gp_features") else "")
             + (f", adaptive island budget (floor {d.get('island_floor') or 0.25})"
                if d.get("island_budget") == "adaptive" else "")
             + (f" ({d['machine']}" + (f", {d['runs_at_a_time']} runs at a time"
                                       if d.get("runs_at_a_time", 1) > 1 else "") + ")"
                if "machine" in d else "") + ":", ""]
    lines += _table(["seed", "islands"] + [f"best after {_n(k)} candidates" for k in at]
                    + ["best at equal candidates", "candidates in all"]
                    + (["island 1's share"] if shares else []) + ["wall time"], rows)
    lines += [""] + _islands_verdicts(d["runs"], d["runs"], at, "GP alone")
    other = _load(gp_of) if gp_of else None
    if other is not None:
        lines += _islands_verdicts(d["runs"], other["runs"], at,
                                   f"GP alone with the equal budget (`{gp_of}.json`)",
                                   equal_candidates=False)
    model = d.get("model") or {}
    if model.get("parameters"):
        lines += [f"The model: {model['parameters'] / 1e6:.2f}M parameters, "
                  f"{_n(model.get('steps'))} training steps"
                  + (f", `{d['model_dir']}`" if d.get("model_dir") else "") + "."]
    return "\n".join(lines) + "\n"


RENDERERS = {f.__name__: f for f in (masters, few_numerators, llm_engine, llm_engine_train, grammar_validity,
                                     grammar_cost,
                                     serve_llm, llm_gp_islands, llm_gp_islands_start,
                                     llm_gp_islands_adaptive, llm_gp_islands_adaptive_start,
                                     evolve_seeds, islands_seeds,
                                     generalise, cross_family, rank_scan, rank_scan_dotted,
                                     rank_scan_nosym, rank_classes, rank_floor, sailir,
                                     learn_once, small_reduce, analytic,
                                     evolve_paper, sample_report, minimize_paper)}


def render(text: str) -> str:
    """``text`` with every figures block re-rendered; an unknown block name is an error."""
    def replace(m):
        name = m.group("name")
        if name not in RENDERERS:
            raise KeyError(f"README block figures:{name} has no renderer in {__file__}")
        return m.group(1) + RENDERERS[name]() + m.group(4)
    return BLOCK.sub(replace, text)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="rewrite the blocks in README.md")
    ap.add_argument("--check", action="store_true", help="exit 1 when README.md is stale")
    args = ap.parse_args(argv)
    text = README.read_text()
    new = render(text)
    if args.write:
        if new != text:
            tmp = README.with_suffix(".md.tmp")
            tmp.write_text(new)
            tmp.replace(README)
        print(f"README.md: {len(BLOCK.findall(new))} figure blocks rendered")
        return 0
    if args.check:
        if new != text:
            print("README.md figures are stale: run `python benchmarks/readme_figures.py "
                  "--write`", file=sys.stderr)
            return 1
        return 0
    for name, fn in RENDERERS.items():
        print(f"<!-- figures:{name} -->\n{fn()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
