"""Who writes the completions: a model in this process, or any OpenAI-compatible server.

Every backend has one verb, ``generate(prompts, n, seed=None) -> list[list[str]]``: ``n``
sampled completions for each prompt, each already cut where the completed function ends.

* :class:`TransformersBackend` — any causal LM that ``transformers`` loads: a local directory
  (what works offline; ``ibp-evolve train-mutator`` writes one) or a hub name.  On CUDA when
  present, in bfloat16 there, float32 on the CPU.  All prompts of a call and their ``n`` samples
  are generated as one batch (left padding); sampling stops per sequence at the end of the
  function.  An optional LoRA adapter (``peft``) is applied on top.  A fixed ``seed`` makes the
  samples reproducible on the CPU.
* :class:`OpenAIBackend` — ``POST URL/v1/completions`` of an OpenAI-compatible server (vLLM,
  llama.cpp's server, ``ibp-evolve serve-llm``, a hosted model), with a timeout per request and
  retries with exponential back-off on connection errors, 429 and 5xx answers.
* :class:`ReplayBackend` — hands out fixed completions in order: for tests, and for replaying
  the completions of another run.

torch and transformers are imported only when a :class:`TransformersBackend` is made.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.error
import urllib.request
from pathlib import Path

from .model_memory import misfit
from .prompt import cut_function

__all__ = ["Backend", "BackendError", "TransformersBackend", "OpenAIBackend", "ReplayBackend",
           "make_backend", "check_loadable", "check_model_folder", "STOP_STRINGS"]

# Stop strings for servers that only know fixed strings: a new top-level definition.
STOP_STRINGS = ["\ndef ", "\nclass ", "\nif __name__", "\n@", "\nprint("]


def _evaluation_error():
    from ibp_evolve.runs.evaluation import EvaluationError
    return EvaluationError


class BackendError(_evaluation_error()):
    """The model cannot be loaded or the server cannot be reached (after retries).  A kind of
    :class:`~ibp_evolve.runs.evaluation.EvaluationError`, so ``evolve`` reports it and exits,
    with ``exit_status`` 3 for a server that does not answer, 2 for a request it refuses."""

    def __init__(self, message: str, exit_status: int = 2):
        super().__init__(message)
        self.exit_status = exit_status


class Backend:
    description = "backend"

    def generate(self, prompts: list[str], n: int = 1, seed: int | None = None) -> list:
        raise NotImplementedError

    def close(self) -> None:
        pass


# ----------------------------------------------------------------------------- transformers

def _function_done(text: str) -> bool:
    return re.search(r"\n[^\s#]", text) is not None


# any one of these lets AutoTokenizer build the model's tokenizer
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json")


def check_model_folder(model: str) -> None:
    """A path that names no model folder is said as such (the hub's loader would call it a
    malformed repository id, or list the tokenizer files it could not find)."""
    path = Path(model).expanduser()
    # only org/name can be a hub id; anything else that is missing here (a mistyped folder, a
    # run's model not trained yet) was sent to the hub, which retried for most of a minute
    # offline before failing in a dozen lines
    hub_id = len(path.parts) == 2 and not path.parent.is_dir()
    looks_like_path = (path.is_absolute() or model.startswith((".", "~")) or path.exists()
                       or not hub_id)
    if not looks_like_path:
        return   # a hub id such as org/name
    if not path.is_dir():
        raise BackendError(f"cannot load model '{model}': no such model folder (a Hugging "
                           f"Face model is named org/name)")
    if (path / "run.sqlite").is_file():
        raise BackendError(f"cannot load model '{model}': a run folder, not a model (give the "
                           f"folder that ibp-evolve train-mutator --out wrote)")
    if not (path / "config.json").is_file():
        raise BackendError(f"cannot load model '{model}': the folder holds no model (no "
                           f"config.json; give the folder that ibp-evolve train-mutator --out "
                           f"wrote, or a Hugging Face model folder)")
    if not any((path / name).is_file() for name in _TOKENIZER_FILES):
        raise BackendError(f"cannot load model '{model}': the folder holds no tokenizer (none "
                           f"of {', '.join(_TOKENIZER_FILES)}; train-mutator --out writes "
                           f"one beside the model, a Hugging Face folder has its own)")


def check_loadable(model: str, dtype_bytes: int | None, device: str, torch=None,
                   remedy: str | None = None) -> None:
    """A model folder that cannot be loaded on ``device`` is refused before loading: no model
    or tokenizer there (:func:`check_model_folder`), an unreadable weights file, or weights
    (at ``dtype_bytes`` per parameter; None: as stored) larger than the device's free memory
    allows (:func:`llm_mutator.model_memory.misfit`); ``remedy``: a way out the caller offers
    besides a smaller model or a larger machine."""
    check_model_folder(model)
    try:
        too_large = misfit(model, dtype_bytes, device, torch)
    except ValueError as exc:
        raise BackendError(f"cannot load model '{model}': {exc}") from None
    if too_large:
        raise BackendError(f"{too_large}; use a smaller model, "
                           + (f"{remedy} " if remedy else "") + "or a machine with more memory")


class TransformersBackend(Backend):
    """A causal LM loaded with ``transformers`` (see the module docstring)."""
    supports_grammar = True

    def __init__(self, model: str, *, device: str | None = None, lora: str | None = None,
                 temperature: float = 1.0, top_p: float = 0.95, max_new_tokens: int = 160,
                 dtype: str | None = None, max_batch: int = 64, grammar: bool = True):
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:
            raise BackendError(f"the transformers backend needs the llm extra "
                               f"(pip install 'ibp-evolve[llm]'): {exc}") from None
        self.torch = torch
        if not temperature > 0:
            raise BackendError("temperature must be positive")
        if not 0 < top_p <= 1:
            raise BackendError("top_p must lie in (0, 1]")
        self.temperature, self.top_p = float(temperature), float(top_p)
        self.max_new_tokens = int(max_new_tokens)
        self.max_batch = int(max_batch)
        self.grammar = bool(grammar)     # constrain prompts that open a rule function
        self._vocabulary = None          # token texts for the constraint, built on first use
        self.last_processor = None       # the constraint of the last batch (its counters)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if dtype is None:
            dtype = "bfloat16" if self.device.startswith("cuda") else "float32"
        self.dtype = getattr(torch, dtype)
        local = os.path.isdir(model)
        check_loadable(model, self.dtype.itemsize, self.device, torch,
                       remedy="another device (--device)")
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model, local_files_only=local)
            self.model = AutoModelForCausalLM.from_pretrained(model, dtype=self.dtype,
                                                              local_files_only=local)
        except Exception as exc:
            raise BackendError(f"cannot load model '{model}': {type(exc).__name__}: "
                               f"{' '.join(str(exc).split())[:300]}") from None
        if lora:
            try:
                from peft import PeftModel
                self.model = PeftModel.from_pretrained(self.model, lora)
            except Exception as exc:
                raise BackendError(f"cannot load LoRA adapter '{lora}': "
                                   f"{type(exc).__name__}: {str(exc)[:300]}") from None
        self.model.to(self.device).eval()
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.name = model
        self.description = (f"transformers model {model} on {self.device} ({dtype})"
                            + (f" + LoRA {lora}" if lora else ""))

    def _stopping(self, prompt_length: int, done, n: int, budgets, stop_rows):
        """Stops a row at the end of its function (``done``), at its own token budget, or when
        ``stop_rows(prompt)`` says its request was cancelled."""
        from transformers import StoppingCriteria, StoppingCriteriaList
        torch, tokenizer = self.torch, self.tokenizer
        budgets = torch.tensor([b for b in budgets for _ in range(n)], dtype=torch.long)

        class FunctionEnd(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                if done is _function_done:
                    # the function ends where a new line starts in column 0: the last few
                    # tokens tell (decoding every sequence in full each step costs more than
                    # a small model's forward pass)
                    start = max(prompt_length - 1, input_ids.shape[1] - 3)
                else:
                    start = prompt_length
                texts = tokenizer.batch_decode(input_ids[:, start:], skip_special_tokens=True)
                stop = [done(t) for t in texts]
                if stop_rows is not None:
                    stop = [s or stop_rows(k // n) for k, s in enumerate(stop)]
                stop = torch.tensor(stop, dtype=torch.bool)
                stop |= budgets <= input_ids.shape[1] - prompt_length
                return stop.to(input_ids.device)
        return StoppingCriteriaList([FunctionEnd()])

    def generate_raw(self, prompts: list[str], n: int = 1, seed: int | None = None,
                     temperature: float | None = None, top_p: float | None = None,
                     max_new_tokens=None, done=_function_done, stop_rows=None,
                     grammar: bool | None = None, prefixes: list[str] | None = None,
                     remaining: list[int] | None = None) -> list:
        """``n`` completions per prompt, uncut, with the number of generated tokens:
        ``[[(text, n_tokens, finished), ...], ...]``.

        ``max_new_tokens``: one budget, or one per prompt.  ``done(text)`` stops a sequence;
        ``stop_rows(k)`` stops prompt k's sequences (a cancelled request).  ``grammar``: sample
        under the rule-language constraint (None: the backend's setting, for prompts that end
        in a rule header); ``prefixes[k]``: completion text prompt k already carries at its end
        (a continued sequence), which the constraint starts from; ``remaining[k]``: the tokens
        prompt k's sequences may still write in all, later calls included (default: this
        call's budget) — the constraint closes the rule within it."""
        torch = self.torch
        prompts = list(prompts)
        if max_new_tokens is None or isinstance(max_new_tokens, int):
            budgets = [int(max_new_tokens or self.max_new_tokens)] * len(prompts)
        else:
            budgets = [int(b) for b in max_new_tokens]
        use_grammar = self.grammar if grammar is None else bool(grammar)
        out = []
        per_call = max(1, self.max_batch // max(1, n))
        for start in range(0, len(prompts), per_call):
            chunk = prompts[start:start + per_call]
            chunk_budgets = budgets[start:start + per_call]
            enc = self.tokenizer(chunk, return_tensors="pt", padding=True)
            enc = {k: v.to(self.device) for k, v in enc.items() if k in ("input_ids",
                                                                         "attention_mask")}
            length = enc["input_ids"].shape[1]
            rows = (None if stop_rows is None else
                    (lambda k, s=start: stop_rows(s + k)))
            extra = {}
            if use_grammar:
                processor = self._grammar_processor(
                    chunk, n, length, temperature or self.temperature, top_p or self.top_p,
                    None if prefixes is None else prefixes[start:start + per_call],
                    chunk_budgets if remaining is None else remaining[start:start + per_call])
                if processor is not None:
                    from transformers import LogitsProcessorList
                    extra["logits_processor"] = LogitsProcessorList([processor])
            if seed is not None:
                torch.manual_seed(int(seed) + start)
            with torch.no_grad():
                ids = self.model.generate(
                    **enc, do_sample=True, temperature=temperature or self.temperature,
                    top_p=top_p or self.top_p, max_new_tokens=max(chunk_budgets),
                    num_return_sequences=n, pad_token_id=self.tokenizer.pad_token_id,
                    stopping_criteria=self._stopping(length, done, n, chunk_budgets, rows),
                    **extra)
            new = ids[:, length:]
            texts = self.tokenizer.batch_decode(new, skip_special_tokens=True)
            pad = self.tokenizer.pad_token_id
            eos = self.tokenizer.eos_token_id
            for k in range(len(chunk)):
                group = []
                for j in range(n):
                    row = new[k * n + j]
                    n_tokens = int((row != pad).sum()) if pad is not None else len(row)
                    n_tokens = min(n_tokens, chunk_budgets[k])
                    text = texts[k * n + j]
                    finished = done(text) or (eos is not None and bool((row == eos).any()))
                    group.append((text, n_tokens, finished))
                out.append(group)
        return out

    def _grammar_processor(self, prompts, n, prompt_length, temperature, top_p, prefixes,
                           budgets):
        """The rule-language logits processor for the rows whose prompt opens a rule function
        (None when there is none)."""
        from .constrained import RuleLogitsProcessor
        from .grammar import opens_rule
        starts = []
        for k, prompt in enumerate(prompts):
            prefix = "" if prefixes is None else prefixes[k]
            opened = opens_rule(prompt[:len(prompt) - len(prefix)] if prefix else prompt)
            starts.extend([prefix if opened else None] * n)
        if all(s is None for s in starts):
            return None
        if self._vocabulary is None:
            from .constrained import TokenVocabulary
            self._vocabulary = TokenVocabulary(self.tokenizer)
        self.last_processor = RuleLogitsProcessor(
            self._vocabulary, starts, prompt_length, temperature,
            budgets=[b for b in budgets for _ in range(n)], coverage=max(top_p, 0.9))
        return self.last_processor

    def generate(self, prompts, n=1, seed=None):
        return [[cut_function(text) for text, _, _ in group]
                for group in self.generate_raw(list(prompts), n, seed)]


# ----------------------------------------------------------------------------- OpenAI-compatible

class OpenAIBackend(Backend):
    """Completions from an OpenAI-compatible ``/v1/completions`` endpoint."""

    def __init__(self, url: str, *, model: str | None = None, api_key: str | None = None,
                 temperature: float = 1.0, top_p: float = 0.95, max_new_tokens: int = 160,
                 timeout: float = 120.0, retries: int = 4, backoff: float = 1.0):
        if not re.match(r"https?://", url or ""):
            raise BackendError(f"--url '{url}': expected http://HOST:PORT or https://...")
        base = url.rstrip("/")
        if base.endswith("/completions"):
            self.endpoint = base
        elif base.endswith("/v1"):
            self.endpoint = base + "/completions"
        else:
            self.endpoint = base + "/v1/completions"
        self.model = model or "default"
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self.temperature, self.top_p = float(temperature), float(top_p)
        self.max_new_tokens = int(max_new_tokens)
        self.timeout, self.retries, self.backoff = float(timeout), int(retries), float(backoff)
        self.description = f"OpenAI-compatible server {self.endpoint} (model {self.model})"

    def _post(self, payload: dict) -> dict:
        data = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        last, unreachable = None, False
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            request = urllib.request.Request(self.endpoint, data=data, headers=headers,
                                             method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return json.loads(response.read().decode())
            except urllib.error.HTTPError as exc:
                body = exc.read().decode(errors="replace")[:300]
                last = f"HTTP {exc.code}: {body}"
                unreachable = exc.code == 429 or exc.code >= 500   # busy or broken: retried
                if not unreachable:
                    break   # the request itself is wrong: retrying will not help
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
                last = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
                unreachable = True
            except json.JSONDecodeError as exc:
                last, unreachable = f"the server's answer is not JSON: {exc}", False
        raise BackendError(f"completions request to {self.endpoint} failed: {last}",
                           exit_status=3 if unreachable else 2)

    def generate(self, prompts, n=1, seed=None):
        prompts = list(prompts)
        payload = {"model": self.model, "prompt": prompts, "n": int(n),
                   "max_tokens": self.max_new_tokens, "temperature": self.temperature,
                   "top_p": self.top_p, "stop": STOP_STRINGS}
        if seed is not None:
            payload["seed"] = int(seed)
        answer = self._post(payload)
        choices = answer.get("choices")
        if not isinstance(choices, list) or len(choices) != len(prompts) * n:
            raise BackendError(f"the server answered {len(choices or [])} choices for "
                               f"{len(prompts)} prompts x {n} samples")
        # OpenAI numbers the choices prompt by prompt: index = prompt * n + sample
        choices = sorted(choices, key=lambda c: c.get("index", 0))
        texts = [cut_function(str(c.get("text", ""))) for c in choices]
        return [texts[k * n:(k + 1) * n] for k in range(len(prompts))]


# ----------------------------------------------------------------------------- replay

class ReplayBackend(Backend):
    """Hands out the given completions in order, cycling (tests, replays)."""

    def __init__(self, completions):
        self.completions = list(completions)
        if not self.completions:
            raise BackendError("ReplayBackend needs at least one completion")
        self.position = 0
        self.description = f"replay of {len(self.completions)} completions"
        self.prompts_seen: list[str] = []

    def generate(self, prompts, n=1, seed=None):
        out = []
        for prompt in prompts:
            self.prompts_seen.append(prompt)
            group = []
            for _ in range(n):
                group.append(cut_function(self.completions[self.position
                                                           % len(self.completions)]))
                self.position += 1
            out.append(group)
        return out


def make_backend(kind: str, *, model=None, url=None, lora=None, device=None,
                 temperature=1.0, top_p=0.95, max_new_tokens=160, timeout=120.0,
                 retries=4, api_key=None) -> Backend:
    """The backend ``--backend`` names."""
    if kind == "transformers":
        if not model:
            raise BackendError("--backend transformers needs --model (a local model directory "
                               "or a hub name)")
        return TransformersBackend(model, device=device, lora=lora, temperature=temperature,
                                   top_p=top_p, max_new_tokens=max_new_tokens)
    if kind == "openai":
        if not url:
            raise BackendError("--backend openai needs --url (e.g. http://localhost:8000/v1)")
        return OpenAIBackend(url, model=model, api_key=api_key, temperature=temperature,
                             top_p=top_p, max_new_tokens=max_new_tokens, timeout=timeout,
                             retries=retries)
    raise BackendError(f"unknown backend '{kind}' (choose transformers or openai)")
