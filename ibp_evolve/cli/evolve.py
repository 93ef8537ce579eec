"""``ibp-evolve evolve``: evolve seeding rules on a suite, in a durable run folder.

    ibp-evolve evolve [--engine deap] [--suite triangle_box_paper] [--population N]
                      [--generations G] [--time-limit T] [--workers W] [--seed S]
                      [--out runs/NAME | --resume runs/NAME] [--dask tcp://HOST:8786 |
                      --dask-local N] [--start RULE ...] [--export [K]]
                      [--validate SUITE [--validate-rules K]] [--features NAMES]
                      [--restart-rules RULE,... | --restart-rules none]

Prints live progress on stderr and, at the end, a table of the best rules as formulas and the
best rule file on stdout.  Exit status 0 whenever the run ended normally — the generation
budget spent or the time limit reached (then in-flight evaluations are stopped and the best
rules found so far are exported); 2 for bad input or a refused job (nothing is left behind: a
new run's folder is only kept once it holds a generation); 3 for a missing optional dependency
or an unreachable service; 130 for Ctrl-C (the last complete generation and ``best/`` are
kept, and the message says how to continue).
"""

from __future__ import annotations

import gc
import os
import re
import sqlite3
import sys
import time
from pathlib import Path

DEFAULT_RUNS_DIR = "runs"
# Evolution only: a seed selection larger than this per target is failed without solving.
# Selections of thousands of seeds cost up to a second each to solve and are never the answer.
GP_MAX_SEEDS = 2000
# What a run's config.json fixes: refused with --resume (given ones would be silently ignored).
FIXED_BY_THE_RUN = ("suite", "objective", "seed", "ordering", "population", "start",
                    "selection", "max_height", "stagnation", "max_seeds", "validate",
                    "validate_rules", "features", "migrate_every", "migrants", "island_budget",
                    "island_floor", "restart_rules")
# Defaults of a new run for options that default to None (so that --resume can tell them
# given); the suite's and the ordering's come from their modules.
NEW_RUN_DEFAULTS = {"objective": "seeds", "seed": 0, "start": []}
# Options of a run of islands only, and the IslandsConfig fields they set.
ISLAND_OPTIONS = {"migrate_every": "migrate_every", "migrants": "migrants",
                  "island_budget": "budget", "island_floor": "budget_floor"}


def add_parser(subparsers) -> None:
    from ibp_evolve.cli.dask_options import add_dask_options
    from ibp_evolve.engines import ENGINE_NAMES
    from ibp_evolve.reducer.ordering import DEFAULT_ORDERING
    from ibp_evolve.judge.score import OBJECTIVES
    p = subparsers.add_parser(
        "evolve", help="evolve seeding rules (strongly typed GP) on a suite",
        description="Evolve seeding rules on a suite. A run lives in a folder (config, SQLite "
                    "database of every candidate, checkpoints, best rules in RUN/best/) and can "
                    "be resumed after any interruption with --resume.")
    p.add_argument("--engine", metavar="ENGINE",
                   help=f"rule generator: {', '.join(ENGINE_NAMES)} (default deap; with "
                        f"--resume: the run's own), or islands of several in one run, e.g. "
                        f"gp:3 or gp:2,llm:1 (--population is per island)")
    p.add_argument("--migrate-every", type=int, metavar="K",
                   help="islands: every K generations each island's best programs go to the "
                        "others (default 5; 0: never)")
    p.add_argument("--migrants", type=int, metavar="M",
                   help="islands: best distinct programs each island sends (default 3)")
    p.add_argument("--island-budget", choices=("equal", "adaptive"),
                   help="islands: equal (default): every island runs every generation; "
                        "adaptive: an island that lately brought few programs into the run's "
                        "best runs less often, down to --island-floor")
    p.add_argument("--island-floor", type=float, metavar="SHARE",
                   help="islands, adaptive budget: the share of generations a weak island "
                        "still runs (default 0.25)")
    from ibp_evolve.cli.limits import add_suite_option
    add_suite_option(p, default=None)
    p.add_argument("--objective", choices=OBJECTIVES,
                   help="what the fitness of a complete rule counts (default seeds)")
    p.add_argument("--validate", metavar="SUITE",
                   help="after each generation score the best rules on this suite (built-in "
                        "name or .toml path) and export the rule that is best on it")
    p.add_argument("--validate-rules", type=int, metavar="K",
                   help="distinct best rules validated after each generation (default 3)")
    p.add_argument("--features", metavar="NAMES",
                   help="deap engine: vocabulary features added to the GP's terminals, comma "
                        "separated; a per-index name alone means all its positions, e.g. "
                        "offset,removed,tube,distance (see ibp-evolve features)")
    p.add_argument("--population", type=int, help="individuals per generation (default 300)")
    p.add_argument("--generations", type=int,
                   help="generations after the initial one (default 65 for deap: 60 of "
                        "breeding, then 5 that polish the best rule; or until the time limit "
                        "when only --time-limit is given; with --resume: extend the run to "
                        "this many)")
    p.add_argument("--time-limit", type=float,
                   help="seconds; a hard deadline for this invocation: in-flight evaluations "
                        "are stopped and the best rules exported.  Alone (no --generations) "
                        "the run evolves until this deadline")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes (default: the number of cores; 0: score in this "
                        "process)")
    p.add_argument("--force-workers", action="store_true",
                   help="allow --workers or --dask-local above the number of cores")
    p.add_argument("--seed", type=int, help="random seed of the run (default 0)")
    p.add_argument("--out", help="run folder to create (default runs/SUITE-ENGINE-TIME)")
    p.add_argument("--resume", metavar="RUN", help="continue the run in this folder")
    add_dask_options(p, "evaluate")
    p.add_argument("--start", action="append", metavar="RULE",
                   help="start rule injected into the first generation: a file (e.g. "
                        "seeds/improved_seeding_start.py) or a library rule name (repeatable; "
                        "default: a random start)")
    p.add_argument("--selection", choices=("lexicographic", "nsga2"),
                   help="rank by (fitness, size) lexicographically (default) or NSGA-II")
    p.add_argument("--max-height", type=int, help="tree height limit (default 8)")
    p.add_argument("--stagnation", type=int, metavar="K",
                   help="deap: restart the population from fresh random trees, the start "
                        "rules and the library's improved seeding after K generations without "
                        "a better best rule (default 8; 0: never)")
    p.add_argument("--restart-rules", metavar="RULES",
                   help="deap: rules that join a restarted population and visit it every 20 "
                        "generations, comma-separated library rules or files (e.g. "
                        "improved_seeding,seeds/improved_seeding_start.py); 'none': fresh "
                        "random trees only (default improved_seeding)")
    p.add_argument("--max-seeds", type=int,
                   help="evolution's cap on seeds per target: larger selections are failed "
                        "without solving (default: the smaller of the suite's and 2000)")
    from ibp_evolve.cli.limits import add_judge_limits
    add_judge_limits(p)
    p.add_argument("--candidate-timeout", type=float, default=60.0,
                   help="seconds one candidate may take before it is failed (default 60)")
    p.add_argument("--ordering", help=f"integral ordering criteria (default {DEFAULT_ORDERING})")
    p.add_argument("--export", nargs="?", const="1", metavar="RANKS",
                   help="copy best rules into this project's rules/evolved/ folder "
                        "($IBP_EVOLVE_RULES/evolved/ when set): a count K "
                        "(ranks 1..K, default 1) or a comma list of ranks, e.g. 1,3")
    p.add_argument("--no-baselines", action="store_true",
                   help="end without scoring laporta and improved_seeding for comparison")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=cmd_evolve)


def _start_sources(names: list[str]) -> list[str]:
    from ibp_evolve.language.library import resolve_rule
    from ibp_evolve.resources import seeds_dir
    out = []
    for name in names:
        path = Path(name)
        if not path.exists() and not name.endswith(".py"):
            seed_file = seeds_dir() / f"{name}.py"
            if seed_file.is_file():
                path = seed_file
        out.append(resolve_rule(str(path) if path.exists() else name).source)
    return out


def restart_rules(text: str, n_indices: int, features=None) -> tuple[str, ...]:
    """The restart rules of ``--restart-rules``: library rules by name (as config.json records
    them), start programs (``seeds/NAME.py``) and files by their source; ``none``: ().  A
    name that is no rule, or a rule the GP cannot hold as one tree over its features, is a
    ValueError naming it."""
    from ibp_evolve.engines.gp import GPSourceError, PrimitiveSet, restart_trees
    from ibp_evolve.language.library import resolve_rule
    from ibp_evolve.language.parse import RuleError
    from ibp_evolve.runs.configs import DEFAULT_CONSTANTS
    names = [n.strip() for n in text.split(",") if n.strip()]
    if names == ["none"]:
        return ()
    if not names:
        raise ValueError(f"'{text}': expected rule names such as improved_seeding, or none")
    rules = []
    for name in names:
        try:
            is_library = not Path(name).exists() and name == resolve_rule(name).name
        except (RuleError, FileNotFoundError):
            is_library = False
        try:
            rules.append(name if is_library else _start_sources([name])[0])
        except (RuleError, FileNotFoundError) as exc:
            raise ValueError(str(exc)) from None
    try:
        trees = restart_trees(rules, PrimitiveSet(n_indices, DEFAULT_CONSTANTS, features))
    except GPSourceError as exc:
        raise ValueError(str(exc)) from None
    for name, rule in zip(names, rules):
        if trees[rule] is None:
            raise ValueError(f"'{name}' is not one GP tree over the GP's features (a rule "
                             f"with local state, or features missing: see --features)")
    return tuple(rules)


def _parse_ranks(text: str) -> list[int]:
    from ibp_evolve.runs.store import RunError
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts or not all(p.isdigit() for p in parts):
        raise RunError(f"--export '{text}': expected a count K or ranks such as 1,3")
    if len(parts) == 1 and "," not in text:
        return list(range(1, int(parts[0]) + 1))
    return [int(p) for p in parts]


def cmd_evolve(args) -> int:
    from ibp_evolve.reducer.templates import CacheDirError, cache_dir
    try:
        cache_dir()   # every worker needs it: refuse now, not from inside the pool
    except CacheDirError as exc:
        print(f"ibp-evolve evolve: error: {exc}", file=sys.stderr)
        return 2
    try:
        return _evolve(args)
    except KeyboardInterrupt:   # before the run started: there is nothing to keep
        print("\ninterrupted", file=sys.stderr)
        return 130


def _evolve(args) -> int:
    from ibp_evolve.cli.dask_options import DaskOptionError, check_dask_options
    from ibp_evolve.engines import engines
    from ibp_evolve.runs.evaluation import EvaluationError, EvaluatorUnavailable, JudgeError, \
        SuiteSpec, available_cores, make_evaluator
    from ibp_evolve.engines import ENGINE_NAMES
    from ibp_evolve.engines.gp import GPSourceError
    from ibp_evolve.engines.islands import is_islands, parse_islands
    from ibp_evolve.engines.symbolic.backends import BackendUnavailable
    from ibp_evolve.resources import export_dir
    from ibp_evolve.language.sandbox import RuleSandboxError
    from ibp_evolve.judge.suites import suite_digest
    from ibp_evolve.runs.progress import Progress
    from ibp_evolve.language.parse import RuleError
    from ibp_evolve.runs.store import RunError, RunFolder

    def fail(message: str, status: int = 2) -> int:
        print(f"ibp-evolve evolve: error: {message}", file=sys.stderr)
        return status

    non_negative = ("workers", "generations", "seed", "stagnation", "migrate_every",
                    "migrants")
    for name in ("population", "generations", "workers", "max_height", "max_seeds",
                 "dask_local", "seed", "stagnation", "migrate_every", "migrants"):
        value = getattr(args, name)
        if value is not None and value < (0 if name in non_negative else 1):
            return fail(f"--{name.replace('_', '-')} must be "
                        f"{'non-negative' if name in non_negative else 'positive'}")
    if args.time_limit is not None and not (0 < args.time_limit < float("inf")):
        return fail("--time-limit must be a positive number of seconds")
    try:
        check_dask_options(args)
    except DaskOptionError as exc:
        return fail(str(exc))
    if args.out and args.resume:
        return fail("--out and --resume exclude each other")
    if args.resume:
        for option in FIXED_BY_THE_RUN:
            if getattr(args, option) is not None:
                return fail(f"--{option.replace('_', '-')}: a resumed run keeps its own (see "
                            f"its config.json)")
    else:
        from ibp_evolve.cli.limits import DEFAULT_SUITE
        from ibp_evolve.reducer.ordering import DEFAULT_ORDERING
        for option, default in {**NEW_RUN_DEFAULTS, "suite": DEFAULT_SUITE,
                                "ordering": DEFAULT_ORDERING}.items():
            if getattr(args, option) is None:
                setattr(args, option, default)
    if not 0 < args.candidate_timeout < float("inf"):
        return fail("--candidate-timeout must be a positive number of seconds")
    cores = available_cores()
    for option, count in (("--workers", args.workers), ("--dask-local", args.dask_local)):
        if count is not None and count > cores and not args.force_workers:
            return fail(f"{option} {count} is more than the {cores} cores of this machine "
                        f"(each worker holds a judge in memory); add --force-workers to "
                        f"start them anyway")

    def build_engine():
        """(engine, None), or (None, exit status) when the engine refuses the configuration."""
        try:
            return engine_cls(config), None
        except BackendUnavailable as exc:
            return None, fail(str(exc), 3)
        except ValueError as exc:
            return None, fail(str(exc))

    # The whole configuration is checked before a run folder exists: a refused command leaves
    # nothing behind, and the corrected command finds the folder free.
    try:
        if args.resume:
            run = RunFolder.open(args.resume, writer=True)
            try:
                args.engine = _resumed_engine(run, args.engine)
                engine_cls, config_cls = engines()[args.engine]
                config, suite_spec = _resumed_config(run, args, config_cls, SuiteSpec)
            except BaseException:
                run.close()
                raise
        else:
            args.engine = args.engine or "deap"
            island_names = []
            if is_islands(args.engine):
                try:
                    island_names = parse_islands(args.engine)
                except ValueError as exc:
                    return fail(f"--engine {exc}")
                args.engine = "islands"
            elif args.engine not in ENGINE_NAMES:
                return fail(f"--engine '{args.engine}': expected one of "
                            f"{', '.join(ENGINE_NAMES)}, or islands such as gp:3 or gp:2,llm:1")
            elif any(getattr(args, o) is not None for o in ISLAND_OPTIONS):
                return fail(f"{', '.join('--' + o.replace('_', '-') for o in ISLAND_OPTIONS)}"
                            f" are options of a run of islands (--engine gp:3)")
            engine_cls, config_cls = engines()[args.engine]
            try:
                starts = _start_sources(args.start)
            except (RuleError, FileNotFoundError) as exc:
                return fail(f"--start: {exc}")
            suite_spec = SuiteSpec.of(args.suite, args.ordering)
            suite = suite_spec.load()
            validator = _validator(args, suite)
            if args.features is not None:
                if args.engine != "deap" and "deap" not in island_names:
                    return fail(f"--features is an option of the deap engine, not of "
                                f"{args.engine}")
                from ibp_evolve.engines.gp import feature_terminals
                try:
                    args.features = feature_terminals(args.features, suite.family.n)
                except ValueError as exc:
                    return fail(f"--features: {exc}")
            if args.restart_rules is not None:
                if args.engine != "deap" and "deap" not in island_names:
                    return fail(f"--restart-rules is an option of the deap engine, not of "
                                f"{args.engine}")
                try:
                    args.restart_rules = restart_rules(args.restart_rules, suite.family.n,
                                                       args.features)
                except ValueError as exc:
                    return fail(f"--restart-rules: {exc}")
            cap = args.max_seeds or min(suite.max_seeds, GP_MAX_SEEDS)
            from ibp_evolve.cli.limits import judge_limits
            try:
                limits = judge_limits(args)
            except ValueError as exc:
                return fail(str(exc))
            suite_spec = SuiteSpec(suite_spec.suite, suite_spec.ordering, cap, **limits)
            if island_names:
                config = _islands_config(args, island_names, starts)
            else:
                config = _engine_config(args, args.engine, args.seed, starts)
            out = args.out or os.path.join(
                DEFAULT_RUNS_DIR, f"{suite.name}-{args.engine}-s{args.seed}-"
                f"{time.strftime('%Y%m%d-%H%M%S')}")
            RunFolder.check_new(out)
            config = config.replaced(time_limit=args.time_limit)
            engine, status = build_engine()   # the engine's own checks, before the folder
            if engine is None:
                return status
            judged = suite_spec.load()   # the suite as the judge sees it (cap, symmetries)
            run = RunFolder.create(out, {"engine": args.engine, "engine_config": config.to_json(),
                                         "suite_spec": {"suite": suite_spec.suite,
                                                        "ordering": suite_spec.ordering,
                                                        "max_seeds": suite_spec.max_seeds,
                                                        # the setting used, not the override
                                                        "symmetries": judged.symmetries},
                                         "suite": suite.name,
                                         "suite_digest": suite_digest(judged),
                                         "objective": args.objective,
                                         "seed": args.seed,
                                         **({"validate": validator.to_json()}
                                            if validator else {})})
            run.validator = validator
    except RunError as exc:
        return fail(str(exc))
    new_run = not args.resume
    if not new_run and run.config.get("validate"):
        try:   # the run's own validation suite, as when it started
            run.validator = _resumed_validator(run, config.objective)
        except RunError as exc:
            run.close()
            return fail(str(exc))
    if not new_run:
        config = config.replaced(time_limit=args.time_limit)
        engine, status = build_engine()
        if engine is None:
            run.close()
            return status
        done = run.db.get_meta("generation")
        if (not args.quiet and config.generations is not None and done is not None
                and run.db.get_meta("status") == "finished"
                and int(done) >= config.generations):
            # not an error (the summary is printed again), but nothing will evolve
            print(f"run {run.path} has spent its budget of {config.generations} generations: "
                  f"nothing to evolve; extend it with --resume {run.path} --generations "
                  f"{config.generations + 20}", file=sys.stderr)

    workers = cores if args.workers is None else args.workers
    deadline_start = time.monotonic()
    progress = Progress(quiet=args.quiet)
    status = None
    try:
        if not args.quiet:
            size = (f"islands {config.islands}" if args.engine == "islands"
                    else f"population {config.population}")
            print(f"run {run.path}  (engine {args.engine}, suite {run.config['suite']}, "
                  f"objective {config.objective}, seed {config.seed}, {size}, generations "
                  f"{'until the deadline' if config.generations is None else config.generations}"
                  + (f", time limit {args.time_limit:g} s" if args.time_limit else "") + ")",
                  file=sys.stderr)
        from contextlib import nullcontext
        in_process = not (args.dask or args.dask_local or workers >= 1)
        try:
            # in this process the judge is built right here (a pool's workers build theirs
            # below): the cold start gets its line either way
            with (progress.stage(f"building the judge for suite {run.config['suite']} in this "
                                 f"process (the solver compiles the first time)")
                  if in_process else nullcontext()):
                evaluator = make_evaluator(suite_spec, config.objective, workers=workers,
                                           dask=args.dask, dask_local=args.dask_local,
                                           candidate_timeout=args.candidate_timeout)
        except EvaluationError as exc:
            status = fail(str(exc), 3 if isinstance(exc, EvaluatorUnavailable) else 2)
            return status
        try:
            wait_ready = getattr(evaluator, "wait_ready", None)
            if not args.quiet and wait_ready is None:
                print(f"evaluating on {evaluator.description}", file=sys.stderr)
            if wait_ready is not None:
                # the silent part of a cold start: each worker compiles the numba solver (once
                # per machine: cached) and builds its judge for the suite
                with progress.stage(f"starting a {evaluator.description} (each compiles the "
                                    f"solver, cached after the first time, and builds its "
                                    f"judge)"):
                    wait_ready()
            if args.time_limit is not None:
                # the evaluator's start-up (judges being built) counts against the deadline
                engine.config = engine.config.replaced(time_limit=max(
                    0.0, args.time_limit - (time.monotonic() - deadline_start)))
            engine.evolve(suite_spec, evaluator=evaluator, run=run, progress=progress,
                          resume=bool(args.resume))
        except JudgeError as exc:   # the judge's fault, not a candidate's: the run stops
            status = fail(str(exc), exc.exit_status)
            return status
        except (GPSourceError, RuleError, RuleSandboxError, EvaluationError, RunError) as exc:
            # an unreachable service (exit 3: an LLM server): what the run did is kept
            status = getattr(exc, "exit_status", 2)
            kept = run.db.last_generation() if status == 3 else None
            done = "generation 0" if kept == 0 else f"generations 0-{kept}"
            return fail(str(exc) + (f"; the run keeps its {done}: continue with "
                                    f"ibp-evolve evolve --resume {run.path}"
                                    if kept is not None else ""), status)
        except (OSError, sqlite3.Error) as exc:   # e.g. a full or read-only disk
            status = fail(f"{run.path}: cannot write the run: {exc}")
            return status
        except BackendUnavailable as exc:
            status = fail(str(exc), 3)
            return status
        finally:
            evaluator.close()
        _report(engine, run, suite_spec, progress, baselines=not args.no_baselines)
        if args.export:
            try:
                copied, incomplete = run.export(_parse_ranks(args.export), export_dir())
            except RunError as exc:
                return fail(str(exc))
            for path in copied:
                print(f"exported {path}")
            if incomplete:
                print(f"not exported: rank {', '.join(map(str, incomplete))} (leaves a target "
                      f"of {run.config.get('suite')} unreduced)")
        status = 0
    except KeyboardInterrupt:
        status = _interrupted(engine, run, new_run)
    except Exception as exc:
        from ibp_evolve.cli.main import caused_by_ctrl_c   # Ctrl-C inside a numba call
        if not caused_by_ctrl_c(exc):
            raise
        status = _interrupted(engine, run, new_run)
    finally:
        if status == 130:
            # the interrupted frames form reference cycles that hold open database cursors;
            # freed now, closing the database checkpoints its WAL and removes -wal/-shm
            gc.collect()
        if status != 0 and status != 130 and new_run:
            run.discard()    # a refusal before the first generation leaves no folder
        else:
            run.close()
    return status


def _engine_config(args, name: str, seed: int, starts, island: bool = False):
    """The config of one engine from the command line (``island``: one of a run of
    islands, which takes only its own engine's options)."""
    from ibp_evolve.engines import engines
    config_cls = engines()[name][1]
    gp_only = ("selection", "max_height", "features", "stagnation", "restart_rules")
    overrides = {k: v for k, v in (("population", args.population),
                                   ("generations", args.generations),
                                   ("selection", args.selection),
                                   ("max_height", args.max_height),
                                   ("features", args.features),
                                   ("stagnation", args.stagnation),
                                   ("restart_rules", getattr(args, "restart_rules", None)))
                 if v is not None
                 and not (island and name != "deap" and k in gp_only)}
    # engine-specific options (e.g. the LLM engine's --backend, --model)
    overrides.update(getattr(config_cls, "cli_options", lambda a: {})(args))
    if args.time_limit is not None and args.generations is None and name == "deap":
        overrides["generations"] = None   # a time limit alone: until the deadline
    return config_cls(seed=seed, objective=args.objective, start_rules=tuple(starts),
                      **overrides)


def _islands_config(args, names: list[str], starts):
    """The config of a run of islands (``--engine gp:2,llm:1``): each island's own config
    with its own seed, the migration settings, one generation budget for all."""
    from ibp_evolve.engines.islands import island_entries, island_seed
    from ibp_evolve.runs.configs import IslandsConfig
    configs = [_engine_config(args, name, island_seed(args.seed, k), starts, island=True)
               for k, name in enumerate(names)]
    generations = args.generations if args.generations is not None else (
        None if args.time_limit is not None else IslandsConfig.generations)
    migration = {field: getattr(args, option) for option, field in ISLAND_OPTIONS.items()
                 if getattr(args, option) is not None}
    return IslandsConfig(seed=args.seed, objective=args.objective, generations=generations,
                         islands=",".join(f"{n}:{names.count(n)}" for n in dict.fromkeys(names)),
                         island_configs=island_entries(configs, names), **migration)


def _validator(args, suite):
    """The validator of --validate (None without it); RunError for a suite that does not
    load or a bad --validate-rules."""
    from ibp_evolve.runs.store import RunError
    from ibp_evolve.runs.validation import DEFAULT_VALIDATED, make_validator
    if args.validate is None:
        if args.validate_rules is not None:
            raise RunError("--validate-rules needs --validate SUITE")
        return None
    n_rules = DEFAULT_VALIDATED if args.validate_rules is None else args.validate_rules
    if n_rules < 1:
        raise RunError("--validate-rules must be positive")
    return make_validator(args.validate, args.ordering, args.objective, suite.family.name,
                          n_rules)


def _resumed_validator(run, objective: str):
    from ibp_evolve.runs.store import RunError
    from ibp_evolve.runs.validation import Validator
    data = run.config["validate"]
    try:
        return Validator.from_json(data, objective)
    except (KeyError, TypeError, ValueError, OSError) as exc:
        raise RunError(f"{run.path / run.CONFIG}: validation suite "
                       f"{data.get('suite') if isinstance(data, dict) else data!r} does not "
                       f"load ({exc})") from None


def _resumed_engine(run, asked: str | None) -> str:
    """The engine of a run to resume: its own (``--engine``, when given, must agree)."""
    from ibp_evolve.engines import ENGINE_NAMES
    from ibp_evolve.runs.store import RunError
    from ibp_evolve.engines.islands import ENGINE as ISLANDS, is_islands
    made_by = run.config.get("engine")
    if made_by not in ENGINE_NAMES + (ISLANDS,):
        raise RunError(f"{run.path / run.CONFIG}: unknown engine {made_by!r}")
    if asked is not None and is_islands(asked):
        asked = ISLANDS   # the run's islands are in its config.json
    if asked is not None and asked != made_by:
        raise RunError(f"run {run.path} was made by engine {made_by}, not {asked}")
    return made_by


def _resumed_config(run, args, config_cls, SuiteSpec):
    """The engine configuration and suite of a run to resume (from its config.json)."""
    from ibp_evolve.runs.store import RunError
    from ibp_evolve.judge.suites import check_suite_unchanged
    try:
        config = config_cls.from_json(run.config["engine_config"])
        suite_spec = SuiteSpec(**run.config["suite_spec"])
        run.config["suite"]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise RunError(f"{run.path / run.CONFIG}: not a complete run configuration "
                       f"({type(exc).__name__}: {exc})") from None
    try:
        check_suite_unchanged(suite_spec.load(), run.config.get("suite_digest"),
                              suite_spec.suite)
    except ValueError as exc:
        raise RunError(f"run {run.path}: {exc}") from None
    run.load_checkpoint()   # a broken checkpoint is refused before anything is changed
    if config.generations is None and args.generations is None and args.time_limit is None:
        raise RunError(f"run {run.path} evolves until a deadline (it has no generation "
                       f"budget): give --time-limit SECONDS or --generations G")
    if args.generations is not None and args.generations != config.generations:
        config = config.replaced(generations=args.generations)
        run.update_config(engine_config=config.to_json())
    return config, suite_spec


def _interrupted(engine, run, new_run: bool) -> int:
    """Ctrl-C: keep the last complete generation, write ``best/``, say how to continue.

    The generation in progress is dropped (its rows were never committed, and a resume redoes
    it).  Writing the best rules is quick; a second Ctrl-C while it runs writes them
    unsimplified instead."""
    import signal
    done = run.db.last_generation()
    if done is None:
        print("\ninterrupted before the first generation was complete"
              + ("; nothing was kept" if new_run else ""), file=sys.stderr)
        if new_run:
            run.discard()
        return 130
    engine.stopped_ = "interrupted"
    suite = run.config.get("suite", "")
    try:
        if hasattr(engine, "suite"):   # the loop had started: the engine polishes its rules
            engine.finish(run)
        else:
            run.write_best(run.best_records(engine.config.n_best), suite)
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        run.write_best(run.best_records(engine.config.n_best), suite)
    run.db.set_meta(status="stopped", stopped="interrupted", generation=str(done))
    print(f"\ninterrupted — continue with: ibp-evolve evolve --resume {run.path}",
          file=sys.stderr)
    return 130


def _report(engine, run, suite_spec, progress, baselines: bool = True) -> None:
    """The end-of-run summary (stdout): why the run stopped, the best rules, the best rule's
    formula beside the baselines, and the command to run next."""
    from ibp_evolve.runs.progress import stop_reason, summary_table
    reason = stop_reason(engine.stopped_)
    print(f"run {run.path}: {reason} after generation {engine.generation_}, "
          f"{engine.n_candidates_:,} candidates, {engine.n_evaluations_:,} distinct masks "
          f"scored, {engine.elapsed_:.1f} s")
    records = run.db.best(engine.config.n_best)
    if not records:
        print("no rule was scored")
        return
    suite = suite_spec.load()
    print()
    summary_table(records, objective=engine.config.objective, joint=suite.joint)
    best = run.best_files()
    print()
    print(f"best rule ({best[0] if best else 'rank 1'}):")
    print(f"    {records[0].formula or '(no one-line formula: see the rule file)'}")
    print()
    from ibp_evolve.cli.baselines import baseline_lines
    for line in baseline_lines(records[0], suite, suite_spec, progress, baselines):
        print(line)
    print()
    from ibp_evolve.runs.island_budget import budget_lines
    generations = run.db.generations()
    hints = budget_lines(generations) + migrant_hints(generations, suite.family.n)
    for line in hints:
        print(line)
    if hints:
        print()
    print(f"next: ibp-evolve report {run.path}      (HTML: progress, seed maps, lineage)")


def migrant_hints(generations: list[dict], n_indices: int) -> list[str]:
    """End-of-run lines for a run of islands whose GP islands skipped other islands' programs
    (an LLM's rule reading ``seed.tube``, which the GP's default terminals lack): how many, what
    they read, and the ``--features`` that would let a GP island take them."""
    from ibp_evolve.engines.gp import feature_terminals
    from ibp_evolve.runs.islands import migration_totals

    def option_name(why: str) -> str | None:
        """The ``--features`` name of a seed feature a skipped program read, if it is one."""
        m = re.match(r"seed\.([a-z_]+)", why)
        if m is None:
            return None
        try:
            feature_terminals(m.group(1), n_indices)
        except ValueError:
            return None
        return m.group(1)
    lines = []
    for k, t in sorted(migration_totals(generations).items()):
        if t["engine"] != "deap" or not t["skipped"]:
            continue
        reads = {}
        for why, n in t["because"].items():
            if (name := option_name(why)) is not None:
                reads[name] = reads.get(name, 0) + n
        line = (f"island {k} (deap) took {t['taken']:,} of {t['taken'] + t['skipped']:,} "
                f"migrants")
        if reads:
            named = sorted(reads, key=lambda f: -reads[f])
            line += (f"; {sum(reads.values()):,} of the {t['skipped']:,} skipped read "
                     + ", ".join(f"seed.{f} ({reads[f]:,})" for f in named)
                     + f", not among its terminals (evolve --features {','.join(named)} adds "
                     f"them)")
        else:
            line += ": the others are not expressible as trees of its primitive set"
        lines.append(line)
    return lines
