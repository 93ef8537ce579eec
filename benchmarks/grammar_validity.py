"""Share of valid rule completions, and completions/s, with and without grammar-constrained sampling.

    python benchmarks/grammar_validity.py --model DIR [--prompts 32] [--n 4] [--repeats 3]
                                          [--max-new-tokens 160] [--out FILE.json]
                                          [--label TEXT]

Prompts are built as the LLM engine builds them (two programs as ``priority_v0``/``_v1``, the
header of ``priority_v2``), from the rule library, the seed programs and random GP rules.  For
each repeat (sampling seed) the same prompts are completed by the model without and with the
rule-language constraint (:mod:`llm_mutator.grammar`); a completion is *valid* when
:func:`llm_mutator.prompt.parse_completion` accepts it, as the engine requires.  Prints the
median over repeats of the valid share, the share cut by the token budget, the seconds,
completions/s and generated tokens/s (all prompts of a repeat in one batch, as the engine asks),
the candidate tokens the constraint checked per generated token and the closing searches it ran,
and writes them as JSON (default ``benchmarks/results/grammar_validity.json``, which
``benchmarks/readme_figures.py`` renders; the unconstrained run of the same repeat is the
baseline of the constrained one).

Model: ``DIR`` from ``ibp-evolve train-mutator`` (e.g. the one ``benchmarks/llm_engine.py``
trains).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def prompts_for(count: int, seed: int) -> list[str]:
    from llm_mutator.prompt import as_priority_body, build_prompt
    from llm_mutator.train import collect_corpus, random_rules
    bodies = [p.body for p in collect_corpus()]
    for source in random_rules(200, seed=seed):
        try:
            bodies.append(as_priority_body(source))
        except Exception:   # a random rule the prompt form cannot show: skip it
            continue
    rng = random.Random(seed)
    return [build_prompt(rng.sample(bodies, 2)) for _ in range(count)]


def measure(backend, prompts, n, seed, grammar, max_new_tokens) -> dict:
    from llm_mutator.prompt import CompletionError, parse_completion
    start = time.perf_counter()
    groups = backend.generate_raw(prompts, n, seed=seed, grammar=grammar,
                                  max_new_tokens=max_new_tokens)
    seconds = time.perf_counter() - start
    valid = cut = tokens = total = 0
    reasons: dict[str, int] = {}
    for group in groups:
        for text, n_tokens, finished in group:
            total += 1
            tokens += n_tokens
            cut += not finished
            try:
                parse_completion(text)
                valid += 1
            except CompletionError as exc:
                key = exc.reason.split(":")[-1].strip()[:60]
                reasons[key] = reasons.get(key, 0) + 1
    processor = backend.last_processor if grammar else None
    return {"completions": total, "valid": valid, "valid_share": valid / total,
            "cut_by_budget": cut, "tokens": tokens, "seconds": seconds,
            "completions_per_s": total / seconds, "tokens_per_s": tokens / seconds,
            "checks_per_token": (processor.checks / max(1, tokens)) if processor else 0.0,
            "closing_searches": getattr(processor.checker, "searches", None) if processor else 0,
            "released_rows": processor.released if processor else 0,
            "top_reasons": dict(sorted(reasons.items(), key=lambda kv: -kv[1])[:5])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--max-new-tokens", type=int, default=160)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/grammar_validity.json"))
    ap.add_argument("--label", default="", help="what this measurement is (saved in the JSON)")
    args = ap.parse_args()
    import os
    import torch
    torch.set_num_threads(args.threads)
    from llm_mutator.backends import TransformersBackend
    backend = TransformersBackend(args.model, max_new_tokens=args.max_new_tokens)
    info_path = Path(args.model) / "train_info.json"
    info = json.loads(info_path.read_text()) if info_path.is_file() else {}
    results = {"model": args.model, "parameters": info.get("parameters"),
               "prompts": args.prompts, "n": args.n, "repeats": args.repeats,
               "max_new_tokens": args.max_new_tokens, "label": args.label,
               "machine": f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f} "
                          f"at the start, {args.threads} torch thread(s), no GPU",
               "runs": {"off": [], "on": []}}
    for repeat in range(args.repeats):
        prompts = prompts_for(args.prompts, seed=repeat)
        for mode, grammar in (("off", False), ("on", True)):
            row = measure(backend, prompts, args.n, 1000 + repeat, grammar,
                          args.max_new_tokens)
            results["runs"][mode].append(row)
            print(f"repeat {repeat} grammar {mode:3}: {row['valid']}/{row['completions']} "
                  f"valid ({100 * row['valid_share']:.1f}%), {row['cut_by_budget']} cut by the "
                  f"budget, {row['seconds']:.1f} s ({row['completions_per_s']:.2f} completions/s"
                  f"), {row['checks_per_token']:.2f} checks per "
                  f"token; {row['top_reasons']}", flush=True)
    summary = {}
    for mode, rows in results["runs"].items():
        summary[mode] = {key: statistics.median(r[key] for r in rows)
                         for key in ("valid_share", "cut_by_budget", "seconds",
                                     "completions_per_s", "tokens_per_s", "checks_per_token")}
    results["median"] = summary
    for mode, s in summary.items():
        print(f"median, grammar {mode:3}: {100 * s['valid_share']:.1f}% valid, "
              f"{s['cut_by_budget']:g} cut by the budget, {s['seconds']:.1f} s, "
              f"{s['completions_per_s']:.2f} completions/s, {s['tokens_per_s']:.0f} tokens/s, "
              f"{s['checks_per_token']:.2f} checks per token")
    from bench_io import write_result
    write_result(Path(args.out), results, stamp=True)


if __name__ == "__main__":
    main()
