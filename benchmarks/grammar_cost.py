"""What the rule-language constraint costs per generated token, without a model.

    python benchmarks/grammar_cost.py [--model DIR [--batch 64] [--random-sampler]]
                                      [--random-rules 300] [--others 2] [--runs RUN ...]
                                      [--repeats 5] [--paths P,...] [--out FILE.json]
                                      [--label TEXT]

On a GPU a batch's forward is cheap per sequence, and the grammar, checked on the host for every
sequence of the batch at every step, sets the pace.  This benchmark times the grammar alone: it
replays valid token sequences — the rule programs of ``rules/`` and ``seeds/``, random GP rules
(:func:`llm_mutator.train.random_rules`) and, with ``--runs``, the scored programs of run
databases, each written as a completion of ``priority_v2`` and tokenised, then the end of
sequence — through the sampler's own per-step code (:class:`llm_mutator.constrained.
RuleLogitsProcessor`: ``_allowed`` for each draw, ``_draw``, ``_advance_row``), no model forward
in the timed loop.  At each step ``--others`` tokens drawn from the tokens of the sequences
(their frequencies) are checked before the written one, as the draws the sampler checks and
rejects (the LLM benchmark's model needs about 3 checks per generated token, README
"Grammar-constrained sampling").  The budget is left open (no closing searches: they run only
in the last steps of a sequence whose budget runs short).

Times are CPU seconds of this process (torch on one thread), so that other work on a shared
machine slows the figures less than it would wall time.  Prints, per checker path
(``--paths``; ``reference``: the whole current line re-parsed at every check,
``incremental``: the line's parse carried along), the median over repeats of the
microseconds of grammar per generated token, the checks per token, and the implied ceilings
"constrained token-steps/s per CPU core" and "completions/s per core at 160 tokens"; writes them
as JSON (default ``benchmarks/results/grammar_cost.json``, rendered by
``benchmarks/readme_figures.py``), the first path being the baseline of the others.

Tokenizer: by default a byte-level BPE tokenizer trained on the same programs, as
``train-mutator`` trains one from scratch; ``--model DIR``: that model's tokenizer, and the
sampler's draws (:meth:`RuleLogitsProcessor._nucleus_draws`) timed on that model's next-token
distributions, ``--batch`` rows a step.  ``--random-sampler`` (with ``--model``): the whole
constrained sampler timed end to end on a tiny random model with that tokenizer (CPU seconds
per generated token, forward included) — a model as far from the rule language as the random
model of the issue's GPU goal, for which the checks per token, not their cost, decide.
"""

from __future__ import annotations

import argparse
import inspect
import os
import random
import statistics
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

TOKENS_PER_COMPLETION = 160     # the GPU goal: completions of 160 tokens
# the length of the current line (characters) before a step: the reference path re-parses the
# line at every check, so its cost per token grows with it; the incremental one should not
LINE_BUCKETS = (0, 40, 80, 160)


def completions(n_random: int, seed: int, runs=()) -> list[str]:
    """Rule bodies written as a model completes ``priority_v2`` (indented, ending in a
    newline): the library, random GP rules, the runs' scored programs."""
    from llm_mutator.prompt import as_priority_body
    from llm_mutator.train import collect_corpus, random_rules
    bodies = [p.body for p in collect_corpus()]
    for source in random_rules(n_random, seed=seed):
        try:
            bodies.append(as_priority_body(source))
        except (ValueError, SyntaxError):   # a random rule the prompt form cannot show
            continue
    if runs:
        from llm_mutator.run_examples import read_run
        for path in runs:
            programs = read_run(path)
            if programs is not None:
                bodies += [p.body for c in programs.clusters for p in c.programs]
    return list(dict.fromkeys(textwrap.indent(b, "    ") for b in bodies))


def tokenizer_for(model: str | None, texts: list[str]):
    if model:
        from transformers import AutoTokenizer
        return AutoTokenizer.from_pretrained(model)
    from llm_mutator.train import train_tokenizer
    return train_tokenizer(texts)


def token_sequences(vocabulary, tokenizer, texts) -> list[list[int]]:
    """Each text as token ids whose vocabulary texts spell it exactly, then end of sequence
    (a text the vocabulary cannot spell token by token is left out)."""
    eos = sorted(vocabulary.eos_ids)
    out = []
    for text in texts:
        ids = tokenizer.encode(text, add_special_tokens=False)
        if all(vocabulary.texts[i] is not None for i in ids) and \
                "".join(vocabulary.texts[i] for i in ids) == text:
            out.append(ids + eos[:1])
    return out


def checker_paths() -> dict:
    """The checker variants this tree has: name -> factory."""
    from llm_mutator.grammar import RuleChecker
    if "incremental" not in inspect.signature(RuleChecker).parameters:
        return {"reference": RuleChecker}
    return {"reference": lambda: RuleChecker(incremental=False),
            "incremental": lambda: RuleChecker(incremental=True)}


def replay(vocabulary, sequences, others, make_checker) -> dict:
    """One pass over ``sequences``: per step, the checks of the rejected draws (``others[k]``
    for sequence k), then the written token as the sampler draws and advances it."""
    from llm_mutator.constrained import RuleLogitsProcessor
    tokens = checks = 0
    seconds = 0.0
    by_line = {b: [0.0, 0] for b in LINE_BUCKETS}   # bucket -> [seconds, tokens]
    # CPU time of this process, not wall time: the machine is shared, and a process that
    # waits for a core is not the grammar's cost
    clock = time.process_time
    for ids, drawn in zip(sequences, others):
        processor = RuleLogitsProcessor(vocabulary, [""], prompt_length=0)
        processor.checker = make_checker()
        processor.states = [processor.checker.start("")]
        for token, rejected in zip(ids, drawn):
            start = clock()
            state = processor.states[0]
            for other in rejected:
                processor.checks += 1
                processor._allowed(0, other, state)
            if processor._draw(0, state, [token], None) != [token]:
                raise AssertionError(f"the checker refused a valid program at "
                                     f"{state.text!r} + {vocabulary.texts[token]!r}")
            processor._advance_row(0, token)
            spent = clock() - start
            seconds += spent
            bucket = by_line[max(b for b in LINE_BUCKETS if b <= len(state.line))]
            bucket[0] += spent
            bucket[1] += 1
        tokens += len(ids)
        checks += processor.checks
    us = 1e6 * seconds / tokens
    return {"seconds": seconds, "tokens": tokens, "checks_per_token": checks / tokens,
            "us_per_token": us, "token_steps_per_s_per_core": 1e6 / us,
            "completions_per_s_per_core": 1e6 / us / TOKENS_PER_COMPLETION,
            "us_per_token_by_line_chars": {str(b): 1e6 * t / max(n, 1)
                                           for b, (t, n) in by_line.items()},
            "tokens_by_line_chars": {str(b): n for b, (_, n) in by_line.items()}}


def model_logits(model_dir: str, sequences, rows: int):
    """The model's next-token logits along the sequences (teacher forcing), ``rows`` of them:
    the distributions the sampler draws from (computed once, outside any timing)."""
    import torch
    from transformers import AutoModelForCausalLM
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    out, have = [], 0
    with torch.no_grad():
        for ids in sequences:
            logits = model(torch.tensor([ids])).logits[0]
            out.append(logits)
            have += len(ids)
            if have >= rows:
                break
    return torch.cat(out)[:rows].float()


def draw_cost(vocabulary, logits, batch: int) -> float:
    """Microseconds per row and step of the sampler's draws (:meth:`RuleLogitsProcessor.
    _nucleus_draws`, as its ``__call__`` makes them) over batches of ``batch`` rows."""
    import torch
    from llm_mutator.constrained import RuleLogitsProcessor
    processor = RuleLogitsProcessor(vocabulary, [""] * batch, prompt_length=0)
    k = min(processor.max_checks, logits.shape[1])
    steps = logits.shape[0] // batch
    torch.manual_seed(0)
    start = time.process_time()
    for j in range(steps):
        logp = torch.log_softmax(logits[j * batch:(j + 1) * batch] / processor.temperature, -1)
        processor._nucleus_draws(logp, k)
    return 1e6 * (time.process_time() - start) / (steps * batch)


def random_sampler_cost(tokenizer_dir: str, seeds, prompts_per_seed: int = 2, n: int = 16,
                        tokens: int = TOKENS_PER_COMPLETION) -> dict:
    """The whole constrained sampler (model forward, draws, grammar, closings) on a tiny random
    model with ``tokenizer_dir``'s tokenizer: a model as far from the rule language as the
    random model of the issue's GPU goal, whose forward costs next to nothing here.  CPU
    seconds of this process per generated token (less sensitive to the machine's load than
    wall time), and what :func:`grammar_validity.measure` counts."""
    import tempfile
    from grammar_validity import measure
    from serve_llm import random_model
    from llm_mutator.backends import TransformersBackend
    from llm_mutator.prompt import build_prompt
    with tempfile.TemporaryDirectory() as tmp:
        random_model(tokenizer_dir, Path(tmp) / "random", 64, 2, 2)
        backend = TransformersBackend(str(Path(tmp) / "random"), max_new_tokens=tokens)
        prompts = [build_prompt(["return 1\n", "return seed.s <= 1\n"])] * prompts_per_seed
        cpu, rows = 0.0, []
        for seed in seeds:
            start = time.process_time()
            rows.append(measure(backend, prompts, n, seed, True, tokens))
            cpu += time.process_time() - start
    written = sum(r["tokens"] for r in rows)
    completions = sum(r["completions"] for r in rows)
    return {"completions": completions, "tokens": written, "cpu_seconds": cpu,
            "us_per_token": 1e6 * cpu / written,
            "checks_per_token": sum(r["checks_per_token"] * r["tokens"] for r in rows) / written,
            "closing_searches": sum(r["closing_searches"] for r in rows),
            "valid_share": sum(r["valid"] for r in rows) / completions}


def rejected_draws(sequences, k: int, seed: int) -> list:
    """Per sequence and step, ``k`` tokens drawn by the sequences' own token frequencies
    (whether the checker accepts them does not matter: the cost of a check is wanted)."""
    rng = random.Random(seed)
    pool = [t for ids in sequences for t in ids[:-1]]
    return [[[rng.choice(pool) for _ in range(k)] for _ in ids] for ids in sequences]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="use this model's tokenizer (default: train one), and "
                                    "time the sampler's draws on its next-token distributions")
    ap.add_argument("--batch", type=int, default=64, help="rows per step for the draws")
    ap.add_argument("--random-sampler", action="store_true",
                    help="with --model: also time the whole constrained sampler on a tiny "
                         "random model with that tokenizer")
    ap.add_argument("--random-rules", type=int, default=300)
    ap.add_argument("--runs", nargs="*", default=[], help="run folders whose programs to add")
    ap.add_argument("--others", type=int, default=2,
                    help="rejected draws checked per step before the written token")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--paths", default="", help="checker paths, comma separated "
                                                "(default: all this tree has)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/grammar_cost.json"))
    ap.add_argument("--label", default="", help="what this measurement is (saved in the JSON)")
    args = ap.parse_args()
    from llm_mutator.constrained import TokenVocabulary
    paths = checker_paths()
    chosen = [p for p in args.paths.split(",") if p] or list(paths)
    unknown = [p for p in chosen if p not in paths]
    if unknown:
        sys.exit(f"--paths: {unknown[0]!r} is not one of {', '.join(paths)}")
    texts = completions(args.random_rules, seed=0, runs=args.runs)
    tokenizer = tokenizer_for(args.model, texts)
    vocabulary = TokenVocabulary(tokenizer)
    sequences = token_sequences(vocabulary, tokenizer, texts)
    lines = sum(t.count("\n") for t in texts)
    print(f"{len(sequences)} completions ({sum(map(len, sequences))} tokens, "
          f"{lines} lines), {args.others} rejected draws per step", flush=True)
    load = os.getloadavg()[0]
    results = {"label": args.label, "completions": len(sequences), "clock": "process CPU time",
               "tokens": sum(map(len, sequences)), "others": args.others,
               "repeats": args.repeats, "tokenizer": args.model or "trained on the programs",
               "tokens_per_completion": TOKENS_PER_COMPLETION,
               "machine": f"{os.cpu_count()} CPU cores, load average {load:.1f} at the start, "
                          "one process",
               "runs": {p: [] for p in chosen}}
    logits = None
    if args.model:
        import torch
        torch.set_num_threads(1)
        logits = model_logits(args.model, sequences, 32 * args.batch)
        results.update(draws_batch=args.batch, draws_rows=int(logits.shape[0]),
                       draws_us_per_row_step=[])
    for repeat in range(args.repeats):
        if logits is not None:
            results["draws_us_per_row_step"].append(draw_cost(vocabulary, logits, args.batch))
            print(f"repeat {repeat} draws: {results['draws_us_per_row_step'][-1]:.0f} µs per "
                  f"row and step ({args.batch} rows a step)", flush=True)
        others = rejected_draws(sequences, args.others, seed=repeat)
        for name in chosen:      # interleaved: the paths share the machine's load
            row = replay(vocabulary, sequences, others, paths[name])
            results["runs"][name].append(row)
            print(f"repeat {repeat} {name:12}: {row['us_per_token']:.0f} µs per token, "
                  f"{row['checks_per_token']:.2f} checks per token, "
                  f"{row['completions_per_s_per_core']:.1f} completions/s per core", flush=True)
    results["median"] = {
        name: {key: statistics.median(r[key] for r in rows)
               for key in ("us_per_token", "checks_per_token", "token_steps_per_s_per_core",
                           "completions_per_s_per_core")}
        for name, rows in results["runs"].items()}
    for name, rows in results["runs"].items():
        results["median"][name]["us_per_token_by_line_chars"] = {
            str(b): statistics.median(r["us_per_token_by_line_chars"][str(b)] for r in rows)
            for b in LINE_BUCKETS}
    results["tokens_by_line_chars"] = results["runs"][chosen[0]][0]["tokens_by_line_chars"]
    base = results["median"][chosen[0]]["us_per_token"]
    for name, m in results["median"].items():
        m["speedup"] = base / m["us_per_token"]
        print(f"median {name:12}: {m['us_per_token']:.0f} µs of grammar per token, "
              f"{m['checks_per_token']:.2f} checks per token, ceiling "
              f"{m['token_steps_per_s_per_core']:.0f} constrained token-steps/s per core = "
              f"{m['completions_per_s_per_core']:.1f} completions/s per core at "
              f"{TOKENS_PER_COMPLETION} tokens ({m['speedup']:.1f}x {chosen[0]}); by line "
              f"length (chars from): " + ", ".join(
                  f"{b}: {us:.0f} µs" for b, us in m["us_per_token_by_line_chars"].items()))
    if args.random_sampler and args.model:
        row = random_sampler_cost(args.model, seeds=(11, 12, 13))
        results["random_sampler"] = row
        print(f"random model, whole sampler: {row['us_per_token']:.0f} µs of CPU per token "
              f"(forward included), {row['checks_per_token']:.1f} checks per token, "
              f"{row['closing_searches']} closing searches, {100 * row['valid_share']:.0f}% "
              f"valid, {row['completions']} completions", flush=True)
    if logits is not None:
        results["draws_median_us_per_row_step"] = statistics.median(
            results["draws_us_per_row_step"])
        print(f"median draws: {results['draws_median_us_per_row_step']:.0f} µs per row and "
              f"step, {args.batch} rows a step, torch on one thread")
    results["machine_end"] = f"load average {os.getloadavg()[0]:.1f} at the end"
    from bench_io import write_result
    write_result(Path(args.out), results, stamp=True)


if __name__ == "__main__":
    main()
