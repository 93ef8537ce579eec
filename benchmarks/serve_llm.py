"""Throughput of ``serve-llm``: completions/s and tokens/s against concurrent clients.

    python benchmarks/serve_llm.py [--tokenizer DIR] [--hidden 768 --layers 12 --heads 12]
                                   [--clients 1 4 16] [--tokens 160] [--repeats 3]
                                   [--device cpu|cuda] [--out FILE.json]

The model is random (a Llama configuration only, no weights to download: ``--hidden 768
--layers 12 --heads 12`` is GPT-2-small-sized, ~110M parameters with a 1k-token vocabulary)
with the tokenizer of a model directory that ``ibp-evolve train-mutator`` wrote (``--tokenizer``;
one is trained here in a few seconds when absent).  A real :class:`CompletionServer` runs in
this process on localhost; for each number of clients C, C threads each send one request at
the same moment (the LLM engine's prompt, ``n`` = 1, ``max_tokens`` = ``--tokens``) and the
wall time until the last answer gives completions/s and generated tokens/s — with the rule
grammar off and on.  A random model never ends a function by itself, so every completion runs
to the token budget (with the grammar on, it is closed into a rule near the budget).  Prints
the median over ``--repeats`` and writes all runs as JSON (default
``benchmarks/results/serve_llm.json``, which ``benchmarks/readme_figures.py`` renders).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def random_model(tokenizer_dir: str, out: Path, hidden: int, layers: int, heads: int) -> int:
    """Write a randomly initialised Llama model with the given tokenizer; its parameters."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden,
                         intermediate_size=4 * hidden, num_hidden_layers=layers,
                         num_attention_heads=heads, num_key_value_heads=heads,
                         max_position_embeddings=2048, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True)
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return sum(p.numel() for p in model.parameters())


def tiny_tokenizer(out: Path) -> str:
    from llm_mutator.train import TrainConfig, collect_corpus, train_mutator
    train_mutator(collect_corpus(), TrainConfig(out=str(out), steps=1, documents=50,
                                                hidden_size=32, layers=1, heads=2,
                                                vocab_size=1024, batch_size=4, threads=1),
                  log=lambda *_: None)
    return str(out)


def one_round(url: str, prompt: str, clients: int, tokens: int, grammar: bool) -> dict:
    from llm_mutator.backends import OpenAIBackend
    answers, errors = [], []
    start_gate = threading.Barrier(clients + 1)

    def client():
        backend = OpenAIBackend(url, retries=0, timeout=3600)
        start_gate.wait()
        try:
            answers.append(backend._post({"prompt": prompt, "n": 1, "max_tokens": tokens,
                                          "grammar": "rule" if grammar else "none"}))
        except Exception as exc:   # reported below
            errors.append(str(exc))
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    start_gate.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - start
    if errors:
        raise RuntimeError(errors[0])
    generated = sum(a["usage"]["completion_tokens"] for a in answers)
    return {"clients": clients, "grammar": grammar, "seconds": seconds,
            "completions_per_s": clients / seconds, "tokens_per_s": generated / seconds,
            "tokens": generated}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokenizer", help="model directory whose tokenizer to use")
    ap.add_argument("--hidden", type=int, default=768)
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--tokens", type=int, default=160)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--max-batch", type=int, default=64)
    ap.add_argument("--device", default=None)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--workdir", default="runs/bench-serve-llm")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    import torch
    if args.threads:
        torch.set_num_threads(args.threads)
    from llm_mutator.backends import TransformersBackend
    from llm_mutator.prompt import build_prompt
    from llm_mutator.server import CompletionServer, Limits

    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    tokenizer = args.tokenizer or tiny_tokenizer(work / "tokenizer-model")
    model_dir = work / f"random-{args.hidden}x{args.layers}"
    parameters = random_model(tokenizer, model_dir, args.hidden, args.layers, args.heads)
    backend = TransformersBackend(str(model_dir), device=args.device,
                                  max_batch=args.max_batch)
    # no request timeout to speak of: a slow machine measures slowly rather than not at all
    server = CompletionServer(backend, port=0, batch_wait=0.05, max_batch=args.max_batch,
                              slice_tokens=args.tokens, limits=Limits(request_timeout=86400.0))
    server.start_background()
    prompt = build_prompt(["return seed.d <= target.d\n",
                           "return seed.d <= target.d and seed.s <= target.s\n"])
    import os
    results = {"machine": f"{os.cpu_count()} CPU cores, load average "
                          f"{os.getloadavg()[0]:.1f} at the start",
               "parameters": parameters, "hidden": args.hidden, "layers": args.layers,
               "heads": args.heads, "vocab": len(backend.tokenizer), "device": backend.device,
               "tokens": args.tokens, "max_batch": args.max_batch, "runs": [],
               "machine_threads": torch.get_num_threads()}
    out = Path(args.out) if args.out else ROOT / "benchmarks/results/serve_llm.json"
    from bench_io import write_result

    def save():   # after every round: a long benchmark keeps what it measured
        write_result(out, results, stamp=True)

    print(f"random model: {parameters / 1e6:.1f}M parameters on {backend.device} "
          f"({torch.get_num_threads()} torch threads)", flush=True)
    try:
        for grammar in (False, True):
            for clients in args.clients:
                rows = [one_round(server.url, prompt, clients, args.tokens, grammar)
                        for _ in range(args.repeats)]
                results["runs"].extend(rows)
                save()
                med = {k: statistics.median(r[k] for r in rows)
                       for k in ("completions_per_s", "tokens_per_s", "seconds")}
                print(f"grammar {'on ' if grammar else 'off'} clients {clients:3}: "
                      f"{med['completions_per_s']:.2f} completions/s, "
                      f"{med['tokens_per_s']:.0f} tokens/s "
                      f"(median of {args.repeats}; {med['seconds']:.1f} s)", flush=True)
    finally:
        server.shutdown()
        server.server_close()
    save()


if __name__ == "__main__":
    main()
