"""Edit examples synthesised around given rules: the GP's mutations of a rule, scored.

A small model shown a long, good program (the tube rule is ~170 tokens) writes a short program
of its own instead of copying it: the examples it learnt from rarely show a long program
followed by a close edit of it.  Here such examples are made from the rules themselves.  A
rule's *neighbourhood* is the rule and its mutants by the GP engine's operators (one or two of
node replacement, shrink, insert, uniform subtree mutation), all scored by the judge on a
*training* suite; neighbours of one rule are programs of one "run" (their fitness compares,
they share a suite) and become examples exactly as a run's programs do
(:func:`llm_mutator.run_examples.examples_from_run`): two or three of them worse first, the
better one as the completion.  Every program shown and the completion are within two
mutations of the rule, so the completion is always a close edit of what was shown.

A suite held out from training (``--hold-out``) cannot be the neighbourhood's suite.
"""

from __future__ import annotations

import random
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from .database import Cluster, Program, score_signature
from .prompt import as_priority_body
from .run_examples import (HeldOutSuites, RunExample, RunExamplesError, RunPrograms,
                           examples_from_run)

__all__ = ["rule_mutants", "neighbourhood", "neighbour_examples", "NEIGHBOUR_FEATURES"]

# the features the start rules are written in (seeds/*_start.py), as for `evolve --start`
NEIGHBOUR_FEATURES = ("offset", "removed", "tube", "distance")


def _primitives(n_indices: int, features=NEIGHBOUR_FEATURES):
    """The GP's primitive set with the classic terminals and ``features`` at every position
    (as ``evolve --features offset,removed,tube,distance`` makes it)."""
    from ibp_evolve.engines.gp import PrimitiveSet, feature_terminals
    return PrimitiveSet(n_indices, features=feature_terminals(",".join(features), n_indices))


def rule_mutants(source: str, n: int, n_indices: int, seed: int = 0,
                 max_mutations: int = 2, features=NEIGHBOUR_FEATURES) -> list[str]:
    """The rule and up to ``n`` distinct mutants of it (as rule sources) by one or two of the GP's
    mutation operators; the rule must convert to a GP tree (a keep rule in the GP's
    features, see :func:`ibp_evolve.engines.gp.tree_from_source`).  The first is the rule
    itself, printed as its mutants are."""
    from functools import partial

    from deap import gp

    from ibp_evolve.engines.gp import GPSourceError, simplify_tree, tree_from_source
    pset = _primitives(n_indices, features)

    def printed(tree) -> str:
        # the printer's flat form (``a and b and c``, constants folded), not the tree's
        # nested binary one: the programs a prompt shows read this way
        return simplify_tree(tree, pset)[1]
    try:
        nodes = tree_from_source(source, pset)
    except GPSourceError as exc:
        raise RunExamplesError(f"--neighbours: the rule is not a GP tree ({exc})") from None
    operators = [partial(gp.mutNodeReplacement, pset=pset.pset),
                 partial(gp.mutNodeReplacement, pset=pset.pset),   # the smallest edit: twice
                 gp.mutShrink, partial(gp.mutInsert, pset=pset.pset),
                 partial(gp.mutUniform, expr=partial(gp.genGrow, min_=0, max_=2),
                         pset=pset.pset)]
    rng = random.Random(seed)
    state = random.getstate()
    random.seed(seed)                 # DEAP's operators draw from the global generator
    try:
        original = printed(gp.PrimitiveTree(nodes))
        seen, out = {original}, [original]
        for _ in range(20 * n):
            if len(out) > n:
                break
            tree = gp.PrimitiveTree(nodes)
            for _ in range(rng.randint(1, max_mutations)):
                (tree,) = rng.choice(operators)(tree)
            text = printed(tree)
            if text not in seen:
                seen.add(text)
                out.append(text)
    finally:
        random.setstate(state)
    return out


def neighbourhood(source: str, suite_name: str, n_mutants: int, seed: int = 0,
                  objective: str = "seeds", judge=None, name: str = "rule") -> RunPrograms:
    """The rule and its mutants scored on the suite, clustered as a run's programs (``name``,
    e.g. the rule's file, stands for the run)."""
    from ibp_evolve.judge.score import Judge
    from ibp_evolve.judge.suites import load_suite
    suite = judge.suite if judge is not None else load_suite(suite_name)
    judge = judge or Judge(suite)
    sources = rule_mutants(source, n_mutants, suite.family.n, seed)
    out = RunPrograms(Path(name), suite.name, [])
    clusters: dict[tuple, Cluster] = {}
    seen_bodies = set()
    for cid, text in enumerate(sources):
        body = as_priority_body(text)
        if body in seen_bodies:
            continue
        seen_bodies.add(body)
        report = judge.score(text, objective)
        signature = score_signature([asdict(t) for t in report.targets], objective)
        program = Program(cid, text, body, signature, report.exact_fitness)
        cluster = clusters.setdefault(signature, Cluster(signature, program.fitness))
        cluster.programs.append(program)
        out.info[cid] = (bool(report.complete), int(sum(t.seeds for t in report.targets)),
                         None)
        out.n_complete += bool(report.complete)
        out.n_candidates += 1
    out.clusters = list(clusters.values())
    return out


def neighbour_examples(rule_files, suite_name: str, n_examples: int, n_mutants: int = 300,
                       held_out=(), seed: int = 0) -> list[RunExample]:
    """About ``n_examples`` examples (shared equally among the rules) from the scored
    neighbourhoods of ``rule_files`` on the suite ``suite_name``; each example's ``run``
    names the rule file.  Raises :class:`RunExamplesError` for a held-out suite, a rule file
    that cannot be read or is not a GP tree."""
    from ibp_evolve.judge.score import Judge
    from ibp_evolve.judge.suites import SuiteError, load_suite
    held = held_out if isinstance(held_out, HeldOutSuites) else HeldOutSuites(held_out)
    held.check(Path(f"--neighbour-suite {suite_name}"), {"suite": suite_name})
    try:
        judge = Judge(load_suite(suite_name))
    except (SuiteError, ValueError, OSError) as exc:
        raise RunExamplesError(f"--neighbour-suite {suite_name}: {exc}") from None
    rng = np.random.default_rng(seed)
    per_rule = -(-n_examples // max(1, len(rule_files)))
    out = []
    for k, path in enumerate(rule_files):
        try:
            source = Path(path).read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise RunExamplesError(f"--neighbours {path}: "
                                   f"{getattr(exc, 'strerror', None) or exc}") from None
        programs = neighbourhood(source, suite_name, n_mutants, seed + k, judge=judge,
                                 name=str(path))
        if len({c.fitness for c in programs.clusters}) < 2:
            continue
        out += [replace(e, kind="neighbour")
                for e in examples_from_run(programs, per_rule, rng)]
    return out
