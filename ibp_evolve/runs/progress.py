"""Live progress of an evolution run, and the final summary table.

On a terminal the current generation is redrawn in place (candidates scored, evaluations per
second); every finished generation prints one line: generation, best fitness, best seed count,
share of complete rules in the population, evaluations per second and the ETA (from the
generation budget or the time limit, whichever comes first).  Off a terminal (logs, CI) only the
per-generation lines are printed.
"""

from __future__ import annotations

import sys
import time


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
    f = float(f)
    if f.is_integer() and abs(f) < 1e12:
        return str(int(f))
    return f"{f:.4g}"


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
        self.started = time.monotonic()
        if done_generations:
            self._print(f"resuming after generation {done_generations - 1}")

    def start_batch(self, n_jobs: int, n_candidates: int) -> None:
        self._batch = (n_jobs, n_candidates)
        self._done = 0
        self._batch_start = time.monotonic()

    def result(self, evaluation) -> None:
        self._done += 1
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
        self._gen_seconds.append(stats["seconds"])
        remaining = self.total_generations - self.done_generations
        recent = self._gen_seconds[-5:]
        eta = remaining * sum(recent) / len(recent) if recent else None
        if self.time_limit is not None:
            left = self.time_limit - (time.monotonic() - self.started)
            eta = left if eta is None else min(eta, left)
        seeds = stats.get("best_seeds")
        state = "complete" if stats.get("best_complete") else "incomplete"
        self._print(
            f"gen {stats['generation']:>3}/{self.total_generations - 1}  best "
            f"{fmt_fitness(stats['best_fitness'])} ({seeds} seeds, {state}, size "
            f"{stats['best_size']})  complete {100 * stats['share_complete']:.0f}%  "
            f"{stats['evals_per_second']:.0f} evals/s ({stats['evaluations']} new masks, "
            f"{stats['cache_hits']} cached)  ETA {_fmt_seconds(eta)}")


def summary_table(rules, stream=None, width: int = 100) -> None:
    """The best rules, one per line, as formulas."""
    stream = stream or sys.stdout
    header = ("rank", "fitness", "complete", "seeds", "size", "formula")
    rows = [header] + [(str(k), fmt_fitness(r.fitness), "yes" if r.complete else "no",
                        str(r.seeds), str(r.size), r.formula) for k, r in enumerate(rules, 1)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    for row in rows:
        cells = [c.rjust(w) for c, w in zip(row[:-1], widths)]
        stream.write("  ".join(cells) + "  " + row[-1] + "\n")
