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
    lines = [
        f"`ibp-evolve evolve --seed S` for {len(rows)} seeds "
        f"({', '.join(str(r['seed']) for r in rows)}; files "
        f"{', '.join('`' + p.name + '`' for p in files)}): "
        f"{sum(s <= 92 for s in seeds)} of {len(rows)} end at <= 92 seeds, median "
        f"{_n(statistics.median(seeds))}, median wall time "
        f"{_n(statistics.median(r['wall_seconds'] for r in rows))} s"
        + (f"; {', '.join(over)}" if over else "") + f". Goal: {goal}."
        + (f" In {started} of them the best rule descends from improved seeding (which joins "
           f"a population at a restart and every 20 generations); the others found theirs "
           f"from random trees." if started else ""),
    ]
    before = RESULTS / "main_job_40_generations.json"
    if before.exists():
        # the same seeds before this main job's settings (40 generations, a random first
        # population with repeated selections, restarts from fresh trees only)
        old = {r["seed"]: r for r in json.loads(before.read_text())["results"]
               if not r.get("exit")}
        lines += ["", "Per seed, beside the earlier default (40 generations, restarts from "
                  "random trees only; `main_job_40_generations.json`):", ""]
        lines += _table(["seed"] + [str(r["seed"]) for r in rows],
                        [["now"] + [str(r["best_seeds"]) for r in rows],
                         ["before"] + [str(old[r["seed"]]["best_seeds"]) if r["seed"] in old
                                       else "–" for r in rows]])
    return "\n".join(lines) + "\n"


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
    columns = [c for c in ("improved_seeding", "improved_seeding_dots", "tube_seeding", "rule",
                           "floor") if any(c in row for row in data["rows"])]
    names = {"rule": f"rule: {data['rule']}", "floor": "`minimize` floor"}
    target = data.get("target", "I(1,1,1,1,1,1,-s)").replace("-", "−")
    loads = [row["load_avg_1min"] for row in data["rows"] if "load_avg_1min" in row]
    load = f", load average {_n(min(loads))}–{_n(max(loads))} on 2 cores" if loads else ""
    lines = [f"Seeds (trimmed equations) on {data['family']} {target}, measured "
             f"{data.get('measured_at', '?')}{load}:", "",
             "| s | " + " | ".join(names.get(c, f"`{c}`") for c in columns) + " |",
             "|---" * (len(columns) + 1) + "|"]
    for row in data["rows"]:
        cells = []
        for c in columns:
            v = row.get(c)
            cells.append("—" if not v else f"{_n(v['seeds'])} ({_n(v['trimmed_equations'])})"
                         + ("" if v.get("reduced", True) else " incomplete"))
        lines.append(f"| {row['s']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def rank_scan_dotted() -> str:
    return rank_scan("rank_scan_dots1")


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
    d = _load("llm_engine")
    if d is None:
        return _missing("llm_engine")
    engines = [e for e in ("llm-plain", "llm-runs", "deap") if e in d]
    points = d["points"]
    lines = [f"At equal candidates on `{d['suite']}` (population {d['population']}; "
             f"{d['machine']}): best complete rule's seeds after N candidates", "",
             "| engine | " + " | ".join(f"N = {n}" for n in points)
             + " | valid | new seed masks (of valid) |",
             "|---" * (len(points) + 3) + "|"]
    for e in engines:
        r = d[e]
        cells = ["—" if s is None else _n(s) for s in r["complete_seeds"]]
        valid = f"{r['valid_share']:.1%}" if "valid_share" in r else "—"
        new = (f"{r['new_mask_share_of_valid']:.1%}" if "new_mask_share_of_valid" in r
               else "—")
        lines.append(f"| {e} | " + " | ".join(cells) + f" | {valid} | {new} |")
    lines += ["", "Goals (issue 17): a complete rule ≤ 92 seeds within 2,000 candidates, ≥ 98% "
              "valid, ≥ 40% new masks; this run stopped at "
              f"{_n(points[-1])} candidates."]
    return "\n".join(lines) + "\n"


RENDERERS = {f.__name__: f for f in (masters, llm_engine, evolve_seeds, islands_seeds,
                                     generalise, cross_family, rank_scan, rank_scan_dotted,
                                     sailir, learn_once, small_reduce, analytic)}


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
