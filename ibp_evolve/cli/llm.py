"""Command line of the LLM mutator: ``serve-llm``, ``train-mutator`` and the options of
``evolve --engine llm``.

    ibp-evolve evolve --engine llm --backend transformers --model DIR [--lora ADAPTER] ...
    ibp-evolve evolve --engine llm --backend openai --url http://HOST:PORT/v1 [--model NAME] ...
    ibp-evolve serve-llm --model DIR [--host H] [--port P] [--max-batch B] [--slice-tokens T]
                         [--batch-wait S] [--no-grammar] [request limits: --max-n ... ]
    ibp-evolve train-mutator --out DIR [--runs RUN ...] [--run-examples N] [--edit-share F]
                             [--neighbours RULE ... --neighbour-suite SUITE] [--hold-out SUITE]
                             [--random-rules N] [--minutes M]
                             [--base MODEL]   (LoRA fine-tuning instead of training from scratch)
"""

from __future__ import annotations

import sys

from llm_mutator.server import Limits


def add_parser(subparsers) -> None:
    _add_evolve_options(subparsers)

    p = subparsers.add_parser(
        "serve-llm", help="serve a causal LM as an OpenAI-compatible completions server",
        description="Hold one model (on the GPU when present) and answer POST /v1/completions "
                    "from many evolution workers. Requests are split into sequences that "
                    "share bounded batches round-robin, so one large request cannot starve "
                    "the others; a request whose client disconnects or that runs past "
                    "--request-timeout is cancelled; a malformed or oversized request gets a "
                    "4xx JSON error. Prompts that end in a rule header are sampled under the "
                    "rule-language grammar (--no-grammar turns it off).")
    p.add_argument("--model", required=True, help="model directory (or hub name)")
    p.add_argument("--lora", help="LoRA adapter directory applied on top of the model")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; 0.0.0.0 for a cluster)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--device", help="torch device (default: cuda when present, else cpu)")
    p.add_argument("--max-batch", type=int, default=32,
                   help="sequences generated together at most (default 32)")
    p.add_argument("--slice-tokens", type=int, default=256,
                   help="tokens a batch generates before the next batch is formed; a long "
                        "sequence continues in later batches (default 256)")
    p.add_argument("--batch-wait", type=float, default=0.02,
                   help="seconds an idle server waits for more requests after the first "
                        "(default 0.02)")
    p.add_argument("--no-grammar", action="store_true",
                   help="sample without the rule-language constraint")
    d = Limits()
    g = p.add_argument_group("request limits (a request beyond them gets a 4xx error)")
    g.add_argument("--max-body-bytes", type=int, default=d.max_body_bytes,
                   help=f"request body size (default {d.max_body_bytes}: 1 MiB; 413 beyond)")
    g.add_argument("--max-prompt-chars", type=int, default=d.max_prompt_chars,
                   help=f"characters per prompt (default {d.max_prompt_chars})")
    g.add_argument("--max-prompts", type=int, default=d.max_prompts,
                   help=f"prompts per request (default {d.max_prompts})")
    g.add_argument("--max-n", type=int, default=d.max_n,
                   help=f"samples per prompt, n (default {d.max_n})")
    g.add_argument("--max-tokens", type=int, default=d.max_tokens,
                   help=f"new tokens per sample, max_tokens (default {d.max_tokens})")
    g.add_argument("--max-sequences", type=int, default=d.max_sequences,
                   help=f"prompts x n per request (default {d.max_sequences})")
    g.add_argument("--max-waiting", type=int, default=d.max_waiting_sequences,
                   help=f"sequences queued over all requests; 429 beyond "
                        f"(default {d.max_waiting_sequences})")
    g.add_argument("--request-timeout", type=float, default=d.request_timeout,
                   help=f"seconds from a request's arrival to its answer; it is cancelled and "
                        f"answered 504 beyond (default {d.request_timeout:g})")
    g.add_argument("--read-timeout", type=float, default=d.read_timeout,
                   help=f"seconds a client may take to send its request (default "
                        f"{d.read_timeout:g})")
    g.add_argument("--backlog", type=int, default=128,
                   help="listen backlog: connections the kernel queues (default 128)")
    p.add_argument("--model-name", help="name reported by /v1/models (default: --model)")
    p.add_argument("--verbose", action="store_true", help="log every request")
    p.set_defaults(func=cmd_serve_llm)

    p = subparsers.add_parser(
        "train-mutator", help="train a small code model (or a LoRA adapter) on rule programs",
        description="Train a causal LM for the LLM mutator on the rule library, the seed "
                    "programs, random GP rules and improvement examples from scored runs of "
                    "any engine (programs of one run shown worse first, the better one as the "
                    "completion); the tokenizer is trained here too. With --base, fine-tune "
                    "that model with LoRA instead.")
    p.add_argument("--out", required=True, help="model directory to write")
    p.add_argument("--base", help="base model directory: LoRA fine-tuning instead of training "
                                  "from scratch")
    p.add_argument("--runs", action="append", default=[], metavar="RUN",
                   help="run folder (or its run.sqlite) of any engine: improvement examples "
                        "from its scored rules (repeatable)")
    p.add_argument("--run-examples", type=int, default=2000, metavar="N",
                   help="improvement examples drawn from the --runs, shared equally among "
                        "them (default 2000)")
    p.add_argument("--edit-share", type=float, default=0.5, metavar="F",
                   help="share of each run's examples whose completion is an improving edit "
                        "of the last program shown (its child in the run's lineage; "
                        "default 0.5), the rest ranked programs of the run")
    p.add_argument("--neighbours", action="append", default=[], metavar="RULE",
                   help="rule file (a GP tree, e.g. seeds/tube_seeding_start.py): examples "
                        "from its GP mutants scored on --neighbour-suite, each completion a "
                        "close edit of the programs shown (repeatable)")
    p.add_argument("--neighbour-suite", metavar="SUITE",
                   help="training suite the --neighbours' mutants are scored on")
    p.add_argument("--neighbour-examples", type=int, default=1000, metavar="N",
                   help="examples from the --neighbours, shared equally (default 1000)")
    p.add_argument("--neighbour-mutants", type=int, default=150, metavar="M",
                   help="mutants scored per --neighbours rule (default 150)")
    p.add_argument("--hold-out", action="append", default=[], metavar="SUITE",
                   help="refuse --runs scored on this suite or sharing a target with it, "
                        "and leave out of the corpus the rule files whose header says they "
                        "were evolved on such a suite, e.g. the suite a benchmark measures "
                        "(repeatable)")
    p.add_argument("--rules", action="append", default=None, metavar="DIR",
                   help="folder of rule files (repeatable; default rules/ and seeds/)")
    p.add_argument("--random-rules", type=int, default=0, metavar="N",
                   help="add N random rules of the GP primitive set to the corpus")
    p.add_argument("--variations", type=int, default=0, metavar="N",
                   help="add N examples whose completion is a GP crossover or mutation of "
                        "the two programs shown")
    p.add_argument("--documents", type=int, default=4000,
                   help="training examples drawn from the corpus (default 4000)")
    p.add_argument("--minutes", type=float, default=6.0,
                   help="training time budget (default 6); see --steps and --epochs")
    p.add_argument("--epochs", type=float, default=3.0,
                   help="passes over the documents at most (default 3)")
    p.add_argument("--steps", type=int, help="optimizer steps (overrides --minutes)")
    p.add_argument("--vocab-size", type=int, default=1024)
    p.add_argument("--hidden-size", type=int, default=96)
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--max-length", type=int, default=128,
                   help="tokens per training example (default 128)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--learning-rate", type=float, default=3e-3)
    p.add_argument("--lora-rank", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int,
                   help="torch CPU threads (1 is fastest on a small, busy machine)")
    p.set_defaults(func=cmd_train_mutator)


def _add_evolve_options(subparsers) -> None:
    evolve = getattr(subparsers, "choices", {}).get("evolve")
    if evolve is None:
        return
    g = evolve.add_argument_group("LLM engine (--engine llm)")
    g.add_argument("--backend", choices=("transformers", "openai"),
                   help="where completions come from (default transformers)")
    g.add_argument("--model", help="transformers: model directory or hub name; openai: the "
                                   "server's model name")
    g.add_argument("--url", help="openai backend: server URL, e.g. http://localhost:8000/v1")
    g.add_argument("--lora", help="transformers backend: LoRA adapter directory")
    g.add_argument("--device", help="transformers backend: torch device (default cuda if "
                                    "present)")
    g.add_argument("--temperature", type=float, help="sampling temperature (default 1.0)")
    g.add_argument("--top-p", type=float, help="nucleus sampling (default 0.95)")
    g.add_argument("--max-new-tokens", type=int, help="tokens per completion (default 160)")
    g.add_argument("--samples-per-prompt", type=int, help="completions per prompt (default 4)")
    g.add_argument("--prompts-per-batch", type=int,
                   help="prompts per backend call (default 2)")
    g.add_argument("--functions-per-prompt", type=int,
                   help="programs a prompt shows before the one to write (default 2)")
    g.add_argument("--islands", type=int, help="islands of the program database (default 10)")
    g.add_argument("--reset-period", type=int,
                   help="prompts between resets of the weaker half of the islands "
                        "(default 200; 0: never)")
    g.add_argument("--deterministic", action="store_true", default=None,
                   help="synchronous sampling and evaluation with fixed sampling seeds: "
                        "reproducible from --seed (slower)")
    g.add_argument("--queue-size", type=int,
                   help="backend batches waiting for evaluation at most (default 4)")
    g.add_argument("--request-timeout", type=float,
                   help="openai backend: seconds per request (default 120)")


def cmd_serve_llm(args) -> int:
    import math

    from llm_mutator.backends import BackendError
    from llm_mutator.server import Limits, serve

    def fail(message):
        print(f"ibp-evolve serve-llm: error: {message}", file=sys.stderr)
        return 2
    if not 0 <= args.port <= 65535:
        return fail(f"--port {args.port}: expected 0..65535")
    for option in ("max_batch", "slice_tokens", "max_body_bytes", "max_prompt_chars",
                   "max_prompts", "max_n", "max_tokens", "max_sequences", "max_waiting",
                   "backlog"):
        if getattr(args, option) < 1:
            return fail(f"--{option.replace('_', '-')} {getattr(args, option)}: must be >= 1")
    for option in ("request_timeout", "read_timeout", "batch_wait"):
        value = getattr(args, option)
        if not (math.isfinite(value) and value >= (0 if option == "batch_wait" else 1e-3)):
            return fail(f"--{option.replace('_', '-')} {value}: must be a positive number")
    limits = Limits(max_body_bytes=args.max_body_bytes, max_prompt_chars=args.max_prompt_chars,
                    max_prompts=args.max_prompts, max_n=args.max_n, max_tokens=args.max_tokens,
                    max_sequences=args.max_sequences, max_waiting_sequences=args.max_waiting,
                    request_timeout=args.request_timeout, read_timeout=args.read_timeout)
    try:
        serve(args.model, args.host, args.port, lora=args.lora, device=args.device,
              batch_wait=args.batch_wait, max_batch=args.max_batch, verbose=args.verbose,
              model_name=args.model_name, limits=limits, slice_tokens=args.slice_tokens,
              backlog=args.backlog, grammar=not args.no_grammar)
    except BackendError as exc:
        return fail(str(exc))
    except OSError as exc:
        return fail(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
    except KeyboardInterrupt:
        return 130
    return 0


def cmd_train_mutator(args) -> int:
    from pathlib import Path

    from llm_mutator.run_examples import HeldOutSuites, RunExamplesError, collect_run_examples
    from llm_mutator.train import (TrainConfig, add_program, collect_corpus,
                                   default_corpus_dirs, random_rules, train_mutator,
                                   variation_documents)

    def fail(message, status=2):
        print(f"ibp-evolve train-mutator: error: {message}", file=sys.stderr)
        return status
    for option in ("documents", "steps", "vocab_size", "hidden_size", "layers", "heads",
                   "max_length", "batch_size", "lora_rank", "threads", "run_examples",
                   "neighbour_examples", "neighbour_mutants"):
        value = getattr(args, option, None)
        if value is not None and value < 1:
            return fail(f"--{option.replace('_', '-')} {value}: must be at least 1")
    for option in ("minutes", "epochs"):
        value = getattr(args, option, None)
        if value is not None and not 0 < value < float("inf"):
            return fail(f"--{option} {value}: must be a positive number")
    if not 0 <= args.edit_share <= 1:
        return fail(f"--edit-share {args.edit_share}: must be between 0 and 1")
    if args.neighbours and not args.neighbour_suite:
        return fail("--neighbours needs --neighbour-suite (a training suite to score the "
                    "mutants on)")
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:   # a missing optional dependency: exit status 3
        return fail("training needs the llm extra: pip install 'ibp-evolve[llm]'", 3)
    if args.base:   # before the corpus and the examples are built: they take minutes
        from llm_mutator.backends import BackendError, check_loadable
        try:
            check_loadable(args.base, None, "cpu")   # loaded as stored, trained on the CPU
        except BackendError as exc:
            return fail(f"--base: {exc}")
    dirs = args.rules or [str(d) for d in default_corpus_dirs()]
    for d in dirs:
        if not Path(d).is_dir():
            return fail(f"--rules {d}: not a folder")

    def warn(message):
        print(f"ibp-evolve train-mutator: warning: {message}", file=sys.stderr)
    try:
        held_out = HeldOutSuites(args.hold_out)
    except RunExamplesError as exc:
        return fail(str(exc))
    skipped = []
    try:
        corpus = collect_corpus(dirs, held_out, skipped)
    except OSError as exc:
        return fail(str(exc))
    for path, suite in skipped:
        warn(f"{path}: left out of the corpus (evolved on the held-out suite '{suite}' or "
             f"one sharing its targets)")
    try:
        examples = collect_run_examples(args.runs, args.run_examples, held_out, args.seed,
                                        warn, edit_share=args.edit_share) if args.runs else []
        if args.neighbours:
            from llm_mutator.neighbours import neighbour_examples
            examples += neighbour_examples(args.neighbours, args.neighbour_suite,
                                           args.neighbour_examples, args.neighbour_mutants,
                                           held_out, args.seed)
    except RunExamplesError as exc:
        return fail(str(exc))
    if args.random_rules:
        known = {c.body: c for c in corpus}
        for src in random_rules(args.random_rules, seed=args.seed):
            add_program(known, src)
        corpus = list(known.values())
    if not corpus:
        return fail("the corpus is empty: no valid rule programs found")
    cfg = TrainConfig(out=args.out, base=args.base, documents=args.documents,
                      vocab_size=args.vocab_size, hidden_size=args.hidden_size,
                      layers=args.layers, heads=args.heads, max_length=args.max_length,
                      batch_size=args.batch_size, learning_rate=args.learning_rate,
                      steps=args.steps, minutes=args.minutes, epochs=args.epochs,
                      lora_rank=args.lora_rank,
                      seed=args.seed, threads=args.threads)
    extra = variation_documents(args.variations, seed=args.seed) if args.variations else []
    train_mutator(corpus, cfg, log=lambda text: print(text, file=sys.stderr, flush=True),
                  extra_documents=extra, run_examples=examples)
    print(args.out)
    return 0
