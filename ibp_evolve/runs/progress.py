"""Live progress of an evolution run, and the final summary table.

On a terminal the current generation is redrawn in place (candidates scored, evaluations per
second); every finished generation prints one line: generation, the best rule (its seeds, or
what it leaves unreduced), share of complete rules in the population, evaluations per second
and the ETA (from measured generation times and the time limit, whichever ends first).  The
slow steps of a cold start (workers compiling the solver and building their judges) each get a
line with their elapsed time.  Off a terminal (logs, CI) only whole lines are printed.
"""

from __future__ import annotations

import sys
import time

from ibp_evolve.runs.fitness import FAILED_FITNESS


def _fmt_seconds(x: float | None) -> str:
    if x is None:
        return "-"
    x = max(0.0, x)
    if x < 60:
        return f"{x:.0f}s"
    if x < 3600:
        return f"{x // 60:.0f}m{x % 60:02.0f}s"
    return f"{x // 3600:.0f}h{(x % 3600) // 60:02.0f}m"


def fmt_fitness(f) -> str:
    if f is None:
        return "-"
    try:
        whole = f == int(f)   # exact for ints and Fractions alike
    except (OverflowError, ValueError):   # inf, nan
        whole = False
    if whole and abs(f) < 10 ** 12:
        return str(int(f))
    return f"{float(f):.4g}"


class Progress:
    """Receives the engine's events and prints them to ``stream``."""

    def __init__(self, stream=None, live: bool | None = None, quiet: bool = False):
        self.stream = stream or sys.stderr
        self.live = (self.stream.isatty() if live is None else live) and not quiet
        self.quiet = quiet
        self.total_generations = None
        self.time_limit = None
        self._batch = (0, 0)
        self._done = 0
        self._batch_start = time.monotonic()
        self._last_draw = 0.0
        self._gen_seconds = []
        self.started = time.monotonic()
        self.done_generations = 0

    def _print(self, text: str) -> None:
        if self.quiet:
            return
        if self.live:
            self.stream.write("\r\x1b[K")
        self.stream.write(text + "\n")
        self.stream.flush()

    # -- engine events -----------------------------------------------------------------------
    def begin(self, engine, done_generations: int, total_generations: int,
              time_limit: float | None) -> None:
        self.total_generations = total_generations
        self.done_generations = done_generations
        self.time_limit = time_limit
        self.objective = getattr(getattr(engine, "config", None), "objective", "seeds")
        self.started = time.monotonic()
        if done_generations:
            self._print(f"resuming after generation {done_generations - 1}")

    def start_batch(self, n_jobs: int, n_candidates: int) -> None:
        self._batch = (n_jobs, n_candidates)
        self._done = 0
        self._batch_start = time.monotonic()

    def result(self, evaluation) -> None:
        self._done += 1
        if getattr(evaluation, "status", "ok") == "crashed":
            # rare, and the one failure that is not the rule's doing (e.g. out of memory): the
            # log says why, and that the run goes on
            self._print(f"  a candidate crashed its worker ({evaluation.reason}); it is "
                        f"failed and the run goes on")
        if not self.live:
            return
        now = time.monotonic()
        if now - self._last_draw < 0.2 and self._done < self._batch[0]:
            return
        self._last_draw = now
        rate = self._done / max(1e-9, now - self._batch_start)
        self.stream.write(f"\r\x1b[K  generation {self.done_generations}: scored "
                          f"{self._done}/{self._batch[0]} distinct masks of {self._batch[1]} "
                          f"candidates, {rate:.0f} evals/s")
        self.stream.flush()

    def generation(self, stats: dict) -> None:
        self.done_generations = stats["generation"] + 1
        if stats["generation"] > 0:
            # generation 0 carries the cold start (compilation, judges, a population of fresh
            # trees, every mask new): it is no measure of the generations to come
            self._gen_seconds.append(stats["seconds"])
        eta = self.eta()
        best = stats.get("best_fitness")
        seeds = stats.get("best_seeds")
        if best is None:
            best_text = "no rule scored yet"
        elif stats.get("best_complete"):
            objective = getattr(self, "objective", "seeds")
            best_text = f"{seeds} seeds" + ("" if objective == "seeds" else
                                            f", {objective} {fmt_fitness(best)}")
        else:
            best_text = f"{verdict(best, False)} ({seeds} seeds)"
        total = ("" if self.total_generations is None
                 else f"/{self.total_generations - 1}")
        self._print(
            f"gen {stats['generation']:>3}{total}  best {best_text}, size {stats['best_size']}"
            f"  complete {100 * stats['share_complete']:.0f}% of the population  "
            f"{stats['evals_per_second']:.0f} evals/s ({stats['evaluations']} new masks, "
            f"{stats['cache_hits']} cached)"
            + (f"  ETA {_fmt_seconds(eta)}" if eta is not None else ""))

    def eta(self) -> float | None:
        """Seconds left, from measured generation times only: none before a generation after
        the initial one has been timed; the time limit caps it (and alone gives it when the
        run has no generation budget)."""
        left = None
        if self.time_limit is not None:
            left = self.time_limit - (time.monotonic() - self.started)
        if self.total_generations is None or not self._gen_seconds:
            return left
        recent = sorted(self._gen_seconds[-5:])
        per_generation = recent[len(recent) // 2]   # median: one slow generation is no trend
        estimate = (self.total_generations - self.done_generations) * per_generation
        return estimate if left is None else min(estimate, left)

    # -- cold start ----------------------------------------------------------------------------
    def stage(self, what: str):
        """A context manager around a slow step of the start (compiling, building judges):
        says what is being done, ticks the elapsed time on a terminal, and how long it took."""
        return _Stage(self, what)


class _Stage:
    def __init__(self, progress: Progress, what: str):
        self.progress, self.what = progress, what

    def __enter__(self):
        import threading
        self.start = time.monotonic()
        self._stop = threading.Event()
        p = self.progress
        if p.quiet:
            return self
        if p.live:
            def tick():
                while not self._stop.wait(1.0):
                    p.stream.write(f"\r\x1b[K{self.what}... "
                                   f"{_fmt_seconds(time.monotonic() - self.start)}")
                    p.stream.flush()
            p.stream.write(f"{self.what}...")
            p.stream.flush()
            self._thread = threading.Thread(target=tick, daemon=True)
            self._thread.start()
        else:
            p._print(f"{self.what}...")
        return self

    def __exit__(self, kind, value, tb):
        self._stop.set()
        if getattr(self, "_thread", None) is not None:
            self._thread.join()
        if kind is None:
            self.progress._print(f"{self.what}: done in "
                                 f"{_fmt_seconds(time.monotonic() - self.start)}")
        elif self.progress.live:
            self.progress.stream.write("\n")
        return False


def _get(target, key, default=None):
    return target.get(key, default) if isinstance(target, dict) else getattr(target, key, default)


def stop_reason(stopped: str | None) -> str:
    """Why a run stopped (the engine's ``stopped_``, the database's ``stopped``) in words."""
    return {"generations": "generation budget spent", "time_limit": "time limit reached",
            "interrupted": "interrupted (Ctrl-C)"}.get(stopped, stopped or "?")


def verdict(fitness, complete, targets=None) -> str:
    """"complete", or what an incomplete rule leaves: "incomplete: 3 targets not reduced, 45
    survivors" (survivors: non-master integrals left in the targets that were solved), never
    the judge's raw penalised fitness.  ``targets``: the per-target scores (dicts or
    ``TargetScore``); without them the counts are read back from the fitness, which
    ``judge.score.fitness_of`` builds as PENALTY * unreduced + SURVIVOR_WEIGHT * survivors + ..."""
    from ibp_evolve.judge.score import PENALTY, SURVIVOR_WEIGHT
    if complete:
        return "complete"
    over_cap = 0
    if targets:
        unreduced = [t for t in targets if not _get(t, "reduced", False)]
        over_cap = sum(1 for t in unreduced if _get(t, "reason"))
        survivors = sum(int(_get(t, "n_survivors", 0) or 0) for t in unreduced
                        if not _get(t, "reason"))
        n_unreduced = len(unreduced)
    elif fitness is None or fitness >= FAILED_FITNESS:   # never scored
        return "not scored"
    else:
        # exact arithmetic: a float of the fitness loses the survivors past 2^53
        n_unreduced = int(fitness // PENALTY)
        survivors = int((fitness % PENALTY) // SURVIVOR_WEIGHT)
    text = f"incomplete: {n_unreduced} target{'' if n_unreduced == 1 else 's'} not reduced"
    if over_cap:
        text += f" ({over_cap} over max_seeds)"
        if over_cap == n_unreduced:   # none was solved: there are no survivors to count
            return text
    return text + f", {survivors} survivor{'' if survivors == 1 else 's'}"


def totals(targets, joint: bool = False) -> dict:
    """Seeds, equations, trimmed equations and multiply-adds summed over per-target scores (a
    joint suite's targets all carry its one system's figures: counted once), as the rule
    headers' "Measured" lines count them."""
    from types import SimpleNamespace

    from ibp_evolve.judge.measured import measurement_of
    keys = ("target", "seeds", "equations", "trimmed_equations", "multiply_adds", "reduced",
            "n_survivors", "reason")
    rows = [SimpleNamespace(**{k: _get(t, k, 0) for k in keys}) for t in targets or []]
    m = measurement_of(SimpleNamespace(targets=rows, joint=joint, suite=""))
    return {"seeds": m.seeds, "equations": m.equations, "trimmed": m.trimmed_equations,
            "multiply_adds": m.multiply_adds}


def _n(value) -> str:
    return "-" if value is None else f"{int(value):,}"


def summary_table(rules, stream=None, objective: str = "seeds", joint: bool = False) -> None:
    """The best rules, one per line, as formulas: status, seeds, trimmed equations, multiply-
    adds (plus the objective when it is none of these), size.  ``rules``: records with
    ``complete``, ``fitness``, ``seeds``, ``size``, ``formula`` and ``scores`` (per target)."""
    stream = stream or sys.stdout
    extra = objective if objective in ("equations", "seconds") else None
    header = ("rank", "status", "seeds", "trimmed", "mult-adds") + \
        ((extra,) if extra else ()) + ("size", "formula")
    rows = [header]
    for k, r in enumerate(rules, 1):
        scores = getattr(r, "scores", None) or []
        t = totals(scores, joint) if scores else {}
        row = (str(k), verdict(r.fitness, r.complete, scores), _n(r.seeds),
               _n(t.get("trimmed")), _n(t.get("multiply_adds")))
        if extra:
            row += (fmt_fitness(getattr(r, "objective_value", None)) if extra == "seconds"
                    else _n(t.get("equations")),)
        rows.append(row + (str(r.size), r.formula or "(see the rule file)"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    for row in rows:
        cells = [c.ljust(w) if i == 1 else c.rjust(w)
                 for i, (c, w) in enumerate(zip(row[:-1], widths))]
        stream.write("  ".join(cells) + "  " + row[-1] + "\n")
