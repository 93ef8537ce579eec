"""Training examples from scored runs: what ``train-mutator --runs`` learns from.

Every engine (DEAP GP, symbolic regression, the LLM mutator) stores each scored candidate as a
rule-language program with its fitness on the run's suite (``candidates`` of ``run.sqlite``).
A fitness means something only against the suite it was measured on, so an example is built
from programs of **one run**: two or three of its scored programs with different fitness, shown
worse first exactly as the engine's prompt shows them (:func:`llm_mutator.prompt.training_document`,
ordered by :func:`llm_mutator.database.worse_first`), and the best of them as the completion.
The model thus sees ``priority_v0`` (and ``priority_v1``) followed by a better ``priority_v(k)``.

Programs are grouped like the engine's program database: by score signature (per-target
scores) into clusters, one program per cluster drawn with a preference for short programs.
The completion's cluster is drawn by a Boltzmann distribution over fitness ranks (good
completions are frequent, but any improvement can appear) among the clusters of *complete*
programs when the run has any (a completion should teach a rule that reduces every target;
short ones are preferred within a cluster), the shown ones among the worse
clusters the same way (close competitors rather than random failures, as in the engine's
prompts).  Each example records the run, the suite, the candidates and their fitness, whether
the completion is complete and whether its seed mask was *new to the run* when it was scored
(the first candidate of the run with that mask).

Held-out suites (``--hold-out``): a run on a held-out suite, or on any suite that shares a
target with it (same family, same indices), is refused, so that a benchmark never measures a
model that has seen good answers to its own targets.
"""

from __future__ import annotations

import bisect
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ibp_evolve.judge.suites import SuiteError, load_suite
from ibp_evolve.language.parse import RuleError
from ibp_evolve.runs.store import RunError, RunFolder, atomic_write_bytes

from .database import Cluster, Program, rank_probabilities, score_signature, worse_first
from .prompt import as_priority_body, training_document

__all__ = ["RunExample", "RunExamplesError", "RunPrograms", "HeldOutSuites", "read_run",
           "examples_from_run", "improving_edits", "edit_examples_from_run",
           "collect_run_examples", "write_examples"]

COMPLETION_TEMPERATURE = 0.25   # over fitness ranks in [0, 1]: the best cluster ~50x the worst
LENGTH_TEMPERATURE = 1.0        # within a cluster, as the engine's default


class RunExamplesError(ValueError):
    """A ``--runs`` or ``--hold-out`` argument that cannot be used; the message names it."""


def _json_number(value):
    """A fitness for JSON: a number, or its exact text (a fraction p/q)."""
    return value if isinstance(value, (int, float)) else str(value)


@dataclass(frozen=True)
class RunExample:
    """Programs of one run, worse first; the last one (the best) is the completion."""
    run: str
    suite: str
    candidates: tuple[int, ...]
    fitness: tuple[float, ...]
    bodies: tuple[str, ...]
    complete: bool            # the completion reduces every target of the suite
    seeds: int | None         # the completion's seeds (summed over targets)
    new_mask: bool | None     # the completion's seed mask was new to the run (None: unknown)
    kind: str = "ranked"      # ranked: any better program; edit: a child of the last shown

    @property
    def document(self) -> str:
        return training_document(list(self.bodies))

    def record(self) -> dict:
        return {"run": self.run, "suite": self.suite, "candidates": list(self.candidates),
                "fitness": [_json_number(f) for f in self.fitness], "complete": self.complete, "seeds": self.seeds,
                "new_mask": self.new_mask, "programs": len(self.bodies), "kind": self.kind}


@dataclass
class RunPrograms:
    """A run's scored programs, clustered by score signature."""
    path: Path
    suite: str                     # the suite as the run names it (name or file)
    clusters: list[Cluster]
    info: dict = field(default_factory=dict)   # candidate id -> (complete, seeds, new_mask)
    # every scored program with its parents (the run's lineage): id -> _Node
    lineage: dict = field(default_factory=dict)
    n_candidates: int = 0
    n_complete: int = 0


def _suite_key(suite) -> set:
    return {(suite.family.name, tuple(t)) for t in suite.targets}


@dataclass(frozen=True)
class _Node:
    """A scored program in the run's lineage."""
    program: Program
    parents: tuple[int, ...]
    complete: bool


class HeldOutSuites:
    """Suites whose targets no training run may have been scored on."""

    def __init__(self, names=()):
        self.suites = []
        for name in names:
            try:
                self.suites.append(load_suite(name))
            except (SuiteError, ValueError, OSError) as exc:
                raise RunExamplesError(f"--hold-out {name}: {exc}") from None

    def check(self, run_path: Path, config: dict) -> None:
        """Raise when the run was scored on a held-out suite (or shares a target with one)."""
        if not self.suites:
            return
        name = str(config.get("suite", ""))
        spec = config.get("suite_spec")
        spec = spec.get("suite") if isinstance(spec, dict) else None
        try:
            run_targets = _suite_key(load_suite(str(spec or name)))
        except (SuiteError, ValueError, OSError):
            run_targets = None     # the suite file moved: only its name can be compared
        for held in self.suites:
            shared = None if run_targets is None else run_targets & _suite_key(held)
            if name == held.name or shared:
                what = (f"shares target I{tuple(sorted(shared)[0][1])} with" if shared
                        and name != held.name else "was scored on")
                raise RunExamplesError(
                    f"--runs {run_path}: the run {what} the held-out suite '{held.name}'; "
                    f"leave it out of the training runs")

    def evolved_on(self, source: str) -> str | None:
        """The held-out suite a rule file was evolved on, by its header (the comment lines
        above the code: ``rules/evolved`` files say "Evolved ..." and name the suites they
        were evolved and measured on), or None.  A suite that shares a target with a held-out
        one counts as it (a rule evolved on triangle_box_train has seen triangle_box_paper's
        target); hand-written library rules, measured on the same suites but found by no
        search, stay in the corpus."""
        if not self.suites:
            return None
        from ibp_evolve.language.library import leading_comments
        head = "\n".join(leading_comments(source))
        if not _EVOLVED.search(head):
            return None
        from ibp_evolve.judge.suites import builtin_suites
        named = set(re.findall(r"[A-Za-z0-9_]+", head)) & set(builtin_suites())
        for name in sorted(named):
            try:
                targets = _suite_key(load_suite(name))
            except (SuiteError, ValueError, OSError):
                continue
            for held in self.suites:
                if name == held.name or targets & _suite_key(held):
                    return held.name
        return None


# a header that says the rule came out of a search (not "a starting rule for evolution")
_EVOLVED = re.compile(r"\bevolved\b|\bfound by evolution\b", re.IGNORECASE)


def read_run(path, held_out: HeldOutSuites | None = None, warn=print) -> RunPrograms | None:
    """The scored programs of a run folder (or its ``run.sqlite``).  A folder that is not a
    run raises :class:`RunExamplesError`; a run with nothing to learn from is reported through
    ``warn`` and gives None."""
    path = Path(path)
    if path.name == RunFolder.DATABASE and path.is_file():
        path = path.parent
    try:
        run = RunFolder.open(path)
    except RunError as exc:
        raise RunExamplesError(f"--runs {path}: {exc}") from None
    try:
        (held_out or HeldOutSuites()).check(path, run.config)
        records = run.db.candidates()
    finally:
        run.close()
    suite = str(run.config.get("suite", "?"))
    if not records:
        warn(f"--runs {path}: the run has no candidates; skipped")
        return None
    first_of_mask: dict[str, int] = {}
    for rec in records:
        if rec.mask_hash is not None:
            first_of_mask.setdefault(rec.mask_hash, rec.id)
    out = RunPrograms(path, suite, [], n_candidates=len(records))
    clusters: dict[tuple, Cluster] = {}
    seen_bodies = set()
    for rec in records:
        if rec.status != "ok" or rec.fitness is None or (
                isinstance(rec.fitness, float) and not math.isfinite(rec.fitness)):
            continue
        try:
            body = as_priority_body(rec.source)
        except (RuleError, SyntaxError, ValueError):
            continue   # a run of an older rule language: nothing to show the model
        signature = score_signature(rec.scores or [], rec.objective or "seeds")
        program = Program(rec.id, rec.source, body, signature, rec.fitness)
        new_mask = None if rec.mask_hash is None else first_of_mask[rec.mask_hash] == rec.id
        out.info[rec.id] = (bool(rec.complete), rec.seeds, new_mask)
        out.lineage[rec.id] = _Node(program, tuple(int(p) for p in rec.parents or ()),
                                    bool(rec.complete))
        if body in seen_bodies:
            continue
        seen_bodies.add(body)
        cluster = clusters.get(signature)
        if cluster is None:
            cluster = clusters[signature] = Cluster(signature, program.fitness)
        cluster.programs.append(program)
        out.n_complete += bool(rec.complete)
    out.clusters = list(clusters.values())
    if not out.clusters:
        warn(f"--runs {path}: none of its {len(records)} candidates was scored; skipped")
        return None
    if len({c.fitness for c in out.clusters}) < 2:
        warn(f"--runs {path}: all its scored rules have the same fitness, none is better "
             f"than another; skipped")
        return None
    if not out.n_complete:
        warn(f"--runs {path}: no complete rule (none reduces every target): its examples "
             f"only rank incomplete rules")
    return out


def examples_from_run(programs: RunPrograms, n: int, rng: np.random.Generator,
                      max_tries: int = 20) -> list[RunExample]:
    """Up to ``n`` distinct examples (pairs and triples) from one run."""
    clusters = sorted(programs.clusters, key=lambda c: c.fitness)   # best first
    fitness = [c.fitness for c in clusters]
    levels = sorted(set(fitness))
    n_worse = {f: len(levels) - 1 - k for k, f in enumerate(levels)}   # distinct worse levels
    # what a completion should teach is a rule that works: when the run has complete rules,
    # only those are completions (an incomplete one is still shown as a worse program)
    complete = [programs.info[c.programs[0].candidate][0] for c in clusters]
    usable = complete if any(complete) else [True] * len(clusters)
    eligible, probs = {}, {}
    for size in (2, 3):
        eligible[size] = [i for i, f in enumerate(fitness)
                          if n_worse[f] >= size - 1 and usable[i]]
        if eligible[size]:
            probs[size] = rank_probabilities([fitness[i] for i in eligible[size]],
                                             COMPLETION_TEMPERATURE)
    out, seen = [], set()
    for _ in range(max_tries * n):
        if len(out) >= n:
            break
        # triples are the engine's prompt (two programs shown); pairs its first prompts
        if not eligible[2]:
            break
        size = 3 if eligible[3] and rng.random() < 0.5 else 2
        best = eligible[size][int(rng.choice(len(eligible[size]), p=probs[size]))]
        chosen, taken = [best], {fitness[best]}
        worse = list(range(bisect.bisect_right(fitness, fitness[best]), len(fitness)))
        for _ in range(size - 1):
            worse = [i for i in worse if fitness[i] not in taken]
            pick = worse[int(rng.choice(len(worse), p=rank_probabilities(
                [fitness[i] for i in worse], COMPLETION_TEMPERATURE)))]
            chosen.append(pick)
            taken.add(fitness[pick])
        shown = worse_first([clusters[i].sample(rng, LENGTH_TEMPERATURE) for i in chosen])
        key = tuple(p.candidate for p in shown)
        if key in seen:
            continue
        seen.add(key)
        complete, seeds, new_mask = programs.info[shown[-1].candidate]
        out.append(RunExample(str(programs.path), programs.suite, key,
                              tuple(p.fitness for p in shown), tuple(p.body for p in shown),
                              complete, seeds, new_mask))
    return out


def _beats_parents(node: _Node, nodes: dict) -> bool:
    """Whether a program is better than each of its parents (all of them in ``nodes``)."""
    return all(node.program.fitness < nodes[p].program.fitness for p in node.parents)


def improving_edits(programs: RunPrograms, best_parents: int = 5) -> list[int]:
    """The children an edit example teaches: candidates better than each of their parents (a
    GP mutation or crossover, an LLM completion of its prompt) and different from them, and
    for each of the run's ``best_parents`` best programs that no child improved, its best
    distinct child when that is as good (the best-known edit of a program that is hard to
    beat: a model shown such a program should still change a clause rather than start anew).
    Complete children only when the run has complete rules, as for any completion."""
    nodes = programs.lineage
    children: dict[int, list] = {}
    out = []
    for cid, node in nodes.items():
        parents = [nodes.get(p) for p in node.parents]
        if not parents or None in parents or (programs.n_complete and not node.complete):
            continue
        if any(node.program.body == p.program.body for p in parents):
            continue
        if _beats_parents(node, nodes):
            out.append(cid)
        elif len(parents) == 1 and node.program.fitness <= parents[0].program.fitness:
            children.setdefault(node.parents[0], []).append(node.program)
    improved = {p for c in out for p in nodes[c].parents}
    best = sorted((c.programs[0] for c in programs.clusters),
                  key=lambda p: (p.fitness, p.length))[:best_parents]
    for parent in best:
        if parent.candidate not in improved and children.get(parent.candidate):
            out.append(min(children[parent.candidate],
                           key=lambda p: (p.fitness, p.length)).candidate)
    return out


def edit_examples_from_run(programs: RunPrograms, n: int, rng: np.random.Generator,
                           max_tries: int = 20) -> list[RunExample]:
    """Up to ``n`` examples whose completion is an improving *edit* of the last program shown
    (its child in the run's lineage), so that the model learns to copy the best program of
    the prompt and change a clause, as a FunSearch mutator does.  A mutation's parent is shown
    as ``priority_v1`` after its own improving parent (the lineage's previous step) or, when
    it has none, after a worse program of the run; a crossover's two parents are shown worse
    first."""
    nodes = programs.lineage
    edits = improving_edits(programs)
    if not edits:
        return []
    improved = {c for c in edits if _beats_parents(nodes[c], nodes)}
    worse_pool = sorted((nodes[c.programs[0].candidate].program for c in programs.clusters),
                        key=lambda p: p.fitness)
    fitness = [p.fitness for p in worse_pool]
    out, seen = [], set()
    for _ in range(max_tries * n):
        if len(out) >= n:
            break
        child = nodes[edits[int(rng.integers(len(edits)))]]
        parents = [nodes[p].program for p in child.parents]
        if len(parents) == 1:
            parent = child.parents[0]
            before = nodes[parent].parents if parent in improved else ()
            if len(before) == 1:
                parents = [nodes[before[0]].program] + parents
            else:
                worse = worse_pool[bisect.bisect_right(fitness, parents[0].fitness):]
                if worse and rng.random() < 0.75:
                    pick = rng.choice(len(worse), p=rank_probabilities(
                        [p.fitness for p in worse], COMPLETION_TEMPERATURE))
                    parents = [worse[int(pick)]] + parents
        shown = worse_first(parents) + [child.program]
        key = tuple(p.candidate for p in shown)
        if key in seen:
            continue
        seen.add(key)
        complete, seeds, new_mask = programs.info[child.program.candidate]
        out.append(RunExample(str(programs.path), programs.suite, key,
                              tuple(p.fitness for p in shown), tuple(p.body for p in shown),
                              complete, seeds, new_mask, kind="edit"))
    return out


def collect_run_examples(paths, n_examples: int, held_out=(), seed: int = 0,
                         warn=print, edit_share: float = 0.5) -> list[RunExample]:
    """About ``n_examples`` examples, shared equally among the usable runs of ``paths``;
    up to ``edit_share`` of each run's are improving edits (:func:`edit_examples_from_run`),
    the rest ranked programs (:func:`examples_from_run`).  Raises :class:`RunExamplesError`
    for a path that is not a run, a run on a held-out suite, or when no run has anything to
    learn from."""
    held = held_out if isinstance(held_out, HeldOutSuites) else HeldOutSuites(held_out)
    runs = [r for r in (read_run(p, held, warn) for p in paths) if r is not None]
    if not runs:
        raise RunExamplesError("--runs: no run has two scored rules of different fitness to "
                               "learn from")
    rng = np.random.default_rng(seed)
    per_run = -(-n_examples // len(runs))
    out = []
    for run in runs:
        edits = edit_examples_from_run(run, int(round(edit_share * per_run)), rng)
        out += edits + examples_from_run(run, per_run - len(edits), rng)
    return out


def write_examples(path: Path, examples) -> None:
    """The examples actually trained on, one JSON object a line (no program text)."""
    atomic_write_bytes(path, "".join(json.dumps(e.record()) + "\n" for e in examples).encode())
