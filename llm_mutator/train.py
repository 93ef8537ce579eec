"""``ibp-evolve train-mutator``: a code model for the mutator, trained here (no downloads).

Two ways:

* **from scratch** (default): a byte-level BPE tokenizer is trained on the corpus, then a small
  Llama-architecture causal LM (default ~1M parameters) learns the corpus on the CPU in a few
  minutes;
* **LoRA fine-tuning** (``--base MODEL``): a LoRA adapter (``peft``) on top of a given causal LM
  directory; the result is loaded with ``--model MODEL --lora OUT``.

The corpus is rule programs: the rule library (``rules/``), the seed programs (``seeds/``), and
optionally random rules drawn from the GP engine's primitive set (``--random-rules N``) and
*variation examples* (``--variations N``): two random rules and, as the completion, a crossover
or mutation of them by the GP's operators, which teach the model to edit the programs it is
shown rather than to write anything at all.  Training examples have exactly the prompt's format
(:func:`llm_mutator.prompt.training_document`): the preamble, programs as ``priority_v0``,
``priority_v1`` and a completed ``priority_v2``; corpus programs appear in random order.

*Improvement examples* (``--runs``, :mod:`llm_mutator.run_examples`) come from scored runs of
any engine: programs of one run ordered worse first, the better one as the completion; a share
(``--edit-share``) are *edits*: the completion is a child of the last program shown in the
run's lineage (a GP mutation or crossover that improved on it), which teaches the model to copy
the best program of its prompt and change a clause.  *Neighbour examples* (``--neighbours
RULE``, :mod:`llm_mutator.neighbours`) do the same around given rules: their GP mutants scored
on a training suite, shown and completed as a run's programs are.  Their
completion is what they teach, so one that does not fit ``max_length`` tokens is dropped rather
than cut; those trained on are listed in ``examples.jsonl`` (run, candidates, fitness, whether
the completion is complete and had a seed mask new to its run).

The output directory is a normal ``transformers`` model directory (``config.json``, weights,
tokenizer files) plus ``train_info.json`` (corpus size, steps, losses, seconds): pass it to
``evolve --engine llm --backend transformers --model DIR`` or ``serve-llm --model DIR``.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ibp_evolve.language.parse import RuleError, load_rule
from ibp_evolve.resources import seeds_dir, shipped_rules_dir

from .prompt import PREAMBLE, as_priority_body, header, training_document

__all__ = ["CorpusProgram", "TrainConfig", "collect_corpus", "add_program", "random_rules",
           "variation_documents", "make_documents", "train_tokenizer", "train_mutator"]


@dataclass(frozen=True)
class CorpusProgram:
    body: str                 # as a priority body, the form the prompts show


def add_program(out: dict, source: str) -> None:
    """Add a rule's priority body to ``out`` (body -> :class:`CorpusProgram`) when it is a
    valid rule program."""
    try:
        load_rule(source)
        body = as_priority_body(source)
    except (RuleError, SyntaxError, ValueError):
        return
    out.setdefault(body, CorpusProgram(body))


def default_corpus_dirs() -> tuple[Path, Path]:
    """The rule library and the start rules that ship with the package."""
    return shipped_rules_dir(), seeds_dir()


def collect_corpus(rule_dirs=None, held_out=None, skipped=None) -> list[CorpusProgram]:
    """Distinct valid rule programs from rule folders (default: the shipped rules and seeds).
    Scored programs of runs are not pooled here: their fitness compares only within a run
    (:mod:`llm_mutator.run_examples`).  ``held_out`` (a
    :class:`~llm_mutator.run_examples.HeldOutSuites`) leaves out the rule files whose header
    says they were evolved on a held-out suite (``rules/evolved``: answers to the benchmark's
    own targets); ``skipped`` (a list) receives ``(path, suite)`` for each."""
    out: dict[str, CorpusProgram] = {}
    for folder in default_corpus_dirs() if rule_dirs is None else rule_dirs:
        for path in sorted(Path(folder).rglob("*.py")):
            source = path.read_text()
            suite = held_out.evolved_on(source) if held_out is not None else None
            if suite is not None:
                if skipped is not None:
                    skipped.append((path, suite))
                continue
            add_program(out, source)
    return list(out.values())


def random_rules(n: int, n_indices: int = 7, seed: int = 0, min_height: int = 1,
                 max_height: int = 4) -> list[str]:
    """``n`` distinct random rules drawn like the GP's initial population."""
    from deap import gp

    from ibp_evolve.engines.gp import PrimitiveSet, tree_to_source
    pset = PrimitiveSet(n_indices)
    random.seed(seed)
    out, seen = [], set()
    for _ in range(50 * n):
        if len(out) >= n:
            break
        tree = gp.PrimitiveTree(gp.genHalfAndHalf(pset.pset, min_height, max_height))
        source = tree_to_source(tree)
        if source not in seen:
            seen.add(source)
            out.append(source)
    return out


def variation_documents(n: int, n_indices: int = 7, seed: int = 0, max_height: int = 8,
                        min_height: int = 1, init_height: int = 4) -> list[str]:
    """Examples that teach editing: two random GP rules as ``priority_v0``/``v1`` and, as the
    completion, a crossover of the two or a mutation of one (the GP engine's operators).  No
    scores are involved, so nothing about any suite's answers leaks into the model."""
    from functools import partial

    from deap import gp

    from ibp_evolve.engines.gp import PrimitiveSet, tree_to_source
    pset = PrimitiveSet(n_indices).pset
    rng = random.Random(seed)
    random.seed(seed)            # DEAP's operators draw from the global generator

    def tree():
        return gp.PrimitiveTree(gp.genHalfAndHalf(pset, min_height, init_height))

    mutations = [partial(gp.mutUniform, expr=partial(gp.genGrow, min_=0, max_=2), pset=pset),
                 partial(gp.mutNodeReplacement, pset=pset), partial(gp.mutInsert, pset=pset),
                 gp.mutShrink]
    docs = []
    while len(docs) < n:
        a, b = tree(), tree()
        if rng.random() < 0.5:
            child = gp.cxOnePoint(gp.PrimitiveTree(a), gp.PrimitiveTree(b))[rng.randrange(2)]
        else:
            child = rng.choice(mutations)(gp.PrimitiveTree(rng.choice((a, b))))[0]
        if child.height > max_height:
            continue
        try:
            bodies = [as_priority_body(tree_to_source(t)) for t in (a, b, child)]
        except (RuleError, SyntaxError, ValueError):
            continue
        docs.append(training_document(bodies))
    return docs


def make_documents(corpus: list[CorpusProgram], n_docs: int, seed: int = 0,
                   functions: int = 3) -> list[str]:
    """Training examples in the prompt's format (programs in random order)."""
    rng = random.Random(seed)
    docs = []
    for _ in range(n_docs):
        k = min(functions, len(corpus))
        picked = rng.sample(corpus, k) if k > 1 else [corpus[0]] * functions
        docs.append(training_document([p.body for p in picked]))
    return docs


def train_tokenizer(texts: list[str], vocab_size: int = 1024):
    """A byte-level BPE tokenizer trained on ``texts``, as a transformers fast tokenizer."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2,
                                  special_tokens=["<|endoftext|>", "<|pad|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>",
                                   bos_token="<|endoftext|>", unk_token="<|endoftext|>",
                                   pad_token="<|pad|>")
    # The preamble and the function headers are the same in every prompt: one token each, so
    # that a small model spends its context (and its training time) on the programs.  The
    # prompt text is unchanged; only this tokenizer reads it this way.
    fast.add_tokens([AddedToken(text, normalized=False, special=False)
                     for text in (PREAMBLE,) + tuple(header(k) for k in range(4))])
    return fast


@dataclass
class TrainConfig:
    out: str
    base: str | None = None         # LoRA fine-tuning of this model when given
    documents: int = 4000
    vocab_size: int = 1024
    hidden_size: int = 96
    layers: int = 3
    heads: int = 4
    max_length: int = 128
    batch_size: int = 32
    learning_rate: float = 3e-3
    steps: int | None = None        # None: as many as fit in ``minutes``
    minutes: float = 4.0
    epochs: float = 3.0             # upper bound on passes over the documents
    lora_rank: int = 8
    seed: int = 0
    threads: int | None = None


def _model_from_scratch(cfg: TrainConfig, tokenizer):
    from transformers import LlamaConfig, LlamaForCausalLM
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=cfg.hidden_size,
                         intermediate_size=cfg.hidden_size * 8 // 3 // 8 * 8,
                         num_hidden_layers=cfg.layers, num_attention_heads=cfg.heads,
                         num_key_value_heads=cfg.heads,
                         # prompts are about as long as training examples, completions add to
                         # them: room for both (rotary positions need no learned table)
                         max_position_embeddings=max(512, 2 * cfg.max_length),
                         bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True)
    return LlamaForCausalLM(config)


def _run_examples_summary(examples) -> dict:
    def share(flags):
        flags = [f for f in flags if f is not None]
        return round(sum(flags) / len(flags), 4) if flags else None
    return {"examples": len(examples), "runs": sorted({e.run for e in examples}),
            "suites": sorted({e.suite for e in examples}),
            "complete_share": share([e.complete for e in examples]),
            "edit_share": share([e.kind == "edit" for e in examples]),
            "neighbour_share": share([e.kind == "neighbour" for e in examples]),
            "new_mask_share": share([e.new_mask for e in examples])}


def train_mutator(corpus: list[CorpusProgram], cfg: TrainConfig, log=print,
                  extra_documents=(), run_examples=()) -> dict:
    """Train (or LoRA fine-tune) a mutator model on ``corpus`` (``cfg.documents`` examples),
    ``extra_documents`` (e.g. :func:`variation_documents`) and ``run_examples``
    (:class:`llm_mutator.run_examples.RunExample`); writes ``cfg.out``."""
    import torch

    from .run_examples import write_examples
    if not corpus:
        raise ValueError("the corpus is empty: no valid rule programs found")
    torch.manual_seed(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    started = time.monotonic()
    docs = make_documents(corpus, cfg.documents, cfg.seed) + list(extra_documents)
    run_examples = list(run_examples)
    run_docs = [e.document for e in run_examples]
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    if cfg.base:
        from peft import LoraConfig, get_peft_model
        from transformers import AutoModelForCausalLM, AutoTokenizer
        tokenizer = AutoTokenizer.from_pretrained(cfg.base)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        model = AutoModelForCausalLM.from_pretrained(cfg.base)
        model = get_peft_model(model, LoraConfig(r=cfg.lora_rank, lora_alpha=2 * cfg.lora_rank,
                                                 target_modules="all-linear",
                                                 task_type="CAUSAL_LM"))
    else:
        tokenizer = train_tokenizer(docs + run_docs + [PREAMBLE], cfg.vocab_size)
        model = _model_from_scratch(cfg, tokenizer)
    eos = tokenizer.eos_token or ""
    # an improvement example teaches its completion: one that would be cut is dropped
    if run_docs:
        sizes = [len(x) for x in tokenizer([d + eos for d in run_docs])["input_ids"]]
        kept = [e for e, n in zip(run_examples, sizes) if n <= cfg.max_length]
        if len(kept) < len(run_examples):
            log(f"train-mutator: {len(run_examples) - len(kept)} of {len(run_examples)} run "
                f"examples are longer than --max-length {cfg.max_length} tokens; dropped")
        run_examples = kept
        docs += [e.document for e in kept]
        write_examples(out / "examples.jsonl", kept)
    n_params = sum(p.numel() for p in model.parameters())
    n_trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    encoded = tokenizer([d + eos for d in docs], truncation=True, max_length=cfg.max_length)
    lengths = [len(x) for x in encoded["input_ids"]]
    log(f"train-mutator: {len(corpus)} programs, {len(run_examples)} run examples, "
        f"{len(docs)} documents of {min(lengths)}-{max(lengths)} tokens, model "
        f"{n_params / 1e6:.2f}M parameters ({n_trainable / 1e6:.2f}M trained)")
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                  lr=cfg.learning_rate, weight_decay=0.01)
    per_epoch = math.ceil(len(docs) / cfg.batch_size)
    max_steps = cfg.steps or int(cfg.epochs * per_epoch)
    warmup = max(1, min(20, max_steps // 10))
    rng = random.Random(cfg.seed)
    order: list[int] = []
    losses, step = [], 0
    deadline = None if cfg.steps else started + 60.0 * cfg.minutes
    pad = tokenizer.pad_token_id
    model.train()
    while step < max_steps:
        if deadline is not None and time.monotonic() >= deadline:
            break
        if len(order) < cfg.batch_size:
            order += rng.sample(range(len(docs)), len(docs))
        idx, order = order[:cfg.batch_size], order[cfg.batch_size:]
        width = max(lengths[i] for i in idx)
        ids = torch.full((len(idx), width), pad, dtype=torch.long)
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        for row, i in enumerate(idx):
            x = encoded["input_ids"][i]
            ids[row, :len(x)] = torch.tensor(x)
            mask[row, :len(x)] = 1
        labels = ids.masked_fill(mask == 0, -100)
        # linear warm-up, then cosine decay over the step budget (or the time budget)
        if deadline is not None:
            progress = (time.monotonic() - started) / (deadline - started)
        else:
            progress = step / max_steps
        lr = cfg.learning_rate * min(1.0, (step + 1) / warmup) * \
            0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
        for group in optimizer.param_groups:
            group["lr"] = max(lr, cfg.learning_rate * 0.02)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(float(loss.detach()))
        step += 1
        if step % 50 == 0 or step == 1:
            log(f"  step {step}: loss {sum(losses[-50:]) / len(losses[-50:]):.3f} "
                f"({time.monotonic() - started:.0f} s)")
    model.eval()
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    info = {"programs": len(corpus), "documents": len(docs), "steps": step,
            "first_loss": losses[0] if losses else None,
            "final_loss": sum(losses[-20:]) / max(1, len(losses[-20:])),
            "parameters": n_params, "trained_parameters": n_trainable,
            "seconds": round(time.monotonic() - started, 1), "lora": bool(cfg.base),
            "run_examples": _run_examples_summary(run_examples), "config": asdict(cfg)}
    (out / "train_info.json").write_text(json.dumps(info, indent=2) + "\n")
    log(f"train-mutator: {step} steps, loss {info['first_loss']:.3f} -> "
        f"{info['final_loss']:.3f}, {info['seconds']} s; wrote {out}")
    return info
