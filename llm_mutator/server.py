"""``ibp-evolve serve-llm``: an OpenAI-compatible completions server that batches requests fairly.

One process holds one model (:class:`~llm_mutator.backends.TransformersBackend`, on the GPU when
there is one) and serves ``POST /v1/completions`` to any number of evolution workers, possibly
on other machines (``evolve --engine llm --backend openai --url http://HOST:PORT/v1``).

Scheduling (:class:`Scheduler`): a request of ``P`` prompts and ``n`` samples becomes ``P * n``
*sequences*.  One generation thread runs batches of at most ``max_batch`` sequences for at most
``slice_tokens`` new tokens each (a *slice*); a sequence that is not finished after its slice
goes back to the pool and continues in a later batch from its text so far.  Each batch is filled
round-robin, one sequence per request in turn, starting one request further every batch, so a
request of 64 long samples shares every batch with whatever else is waiting instead of holding
the model for minutes: a small request waits for one slice at most.  When the model is idle the
first arrival waits ``batch_wait`` seconds for company, so concurrent clients share a batch.

Bounds: every request is checked before it is queued (body size, JSON shape, prompt length,
``n``, ``max_tokens``, prompts per request, sequences waiting in total); a malformed one gets a
4xx JSON error and the server keeps serving.  A request that runs longer than ``request_timeout``
seconds, or whose client disconnects, is cancelled: its sequences leave the next batch, and the
running batch stops them at the next token.  The listen backlog is ``backlog`` (128).

Grammar: prompts that end in a rule function's header (what the LLM engine sends) are sampled
under the rule-language constraint of :mod:`llm_mutator.grammar` when the backend supports it
(``grammar`` in the body, default ``"auto"``; ``"none"`` turns it off).

The HTTP layer is the standard library's :class:`http.server.ThreadingHTTPServer` (one thread
per connection, which only waits on its request): the API is four JSON routes.  Routes:
``POST /v1/completions`` (``prompt`` a string or a list, ``n``, ``max_tokens``, ``temperature``,
``top_p``, ``stop``, ``grammar``; ``model``, ``seed`` and other OpenAI fields are accepted and
ignored, since a batch mixes requests), ``GET /v1/models``, ``GET /health`` and
``GET /v1/stats`` (batches, sequences per batch, cancellations — what the tests read).
"""

from __future__ import annotations

import json
import math
import select
import socket
import threading
import time
import uuid
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["CompletionServer", "Limits", "Scheduler", "RequestError", "parse_request", "serve"]


@dataclass(frozen=True)
class Limits:
    """What one request may ask for (defaults documented in ``serve-llm --help`` and README)."""
    max_body_bytes: int = 1 << 20       # 1 MiB of JSON
    max_prompt_chars: int = 32_000      # per prompt
    max_prompts: int = 64               # prompts per request
    max_n: int = 64                     # samples per prompt
    max_tokens: int = 4096              # new tokens per sample
    max_sequences: int = 256            # prompts x n per request
    max_waiting_sequences: int = 4096   # sequences queued over all requests (429 beyond)
    request_timeout: float = 600.0      # seconds from arrival to answer (504 beyond)
    read_timeout: float = 30.0          # seconds a client may take to send its request


class RequestError(ValueError):
    """A request the server refuses: ``code`` is the HTTP status (4xx)."""

    def __init__(self, message: str, code: int = 400):
        super().__init__(message)
        self.code = code


# ----------------------------------------------------------------------------- request parsing

def _integer(body: dict, key: str, default: int, low: int, high: int) -> int:
    value = body.get(key, default)
    # JSON has one number type: 3.0 is accepted as 3, but not 3.5, 1e400 (inf) or true
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError(f"'{key}' must be an integer, not {json.dumps(value)[:40]}")
    if not low <= value <= high:
        raise RequestError(f"'{key}' = {value} is outside [{low}, {high}]")
    return value


def _number(body: dict, key: str, default: float, low: float, high: float,
            open_low: bool = False) -> float:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RequestError(f"'{key}' must be a number, not {json.dumps(value)[:40]}")
    value = float(value)
    above_low = low < value if open_low else low <= value
    if not (math.isfinite(value) and above_low and value <= high):
        interval = f"({low}, {high}]" if open_low else f"[{low}, {high}]"
        raise RequestError(f"'{key}' = {value} is outside {interval}")
    return value


def parse_request(raw: bytes, limits: Limits) -> dict:
    """The validated fields of a completions request body; :class:`RequestError` otherwise."""
    try:
        body = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise RequestError("the body is not UTF-8") from None
    except RecursionError:
        raise RequestError("the body's JSON is nested too deeply") from None
    except ValueError as exc:   # JSONDecodeError, and ints of more than 4300 digits
        raise RequestError(f"the body is not JSON: {str(exc)[:120]}") from None
    if not isinstance(body, dict):
        raise RequestError(f"the body must be a JSON object, not {type(body).__name__}")
    prompts = body.get("prompt")
    if isinstance(prompts, str):
        prompts = [prompts]
    if not (isinstance(prompts, list) and prompts and all(isinstance(p, str) for p in prompts)):
        raise RequestError("'prompt' must be a string or a non-empty list of strings")
    if len(prompts) > limits.max_prompts:
        raise RequestError(f"{len(prompts)} prompts: at most {limits.max_prompts} per request")
    for k, p in enumerate(prompts):
        if len(p) > limits.max_prompt_chars:
            raise RequestError(f"prompt {k} has {len(p)} characters: at most "
                               f"{limits.max_prompt_chars}")
    n = _integer(body, "n", 1, 1, limits.max_n)
    if len(prompts) * n > limits.max_sequences:
        raise RequestError(f"{len(prompts)} prompts x n = {n} is {len(prompts) * n} "
                           f"sequences: at most {limits.max_sequences} per request")
    max_tokens = _integer(body, "max_tokens", 16, 1, limits.max_tokens)
    # temperature 0 means greedy in the OpenAI API; a tiny temperature is as good as greedy
    temperature = _number(body, "temperature", 1.0, 0.0, 100.0) or 1e-5
    top_p = _number(body, "top_p", 1.0, 0.0, 1.0, open_low=True)
    stop = body.get("stop")
    stop = [] if stop is None else [stop] if isinstance(stop, str) else stop
    if not (isinstance(stop, list) and len(stop) <= 16
            and all(isinstance(s, str) and 0 < len(s) <= 256 for s in stop)):
        raise RequestError("'stop' must be a string or a list of at most 16 non-empty strings")
    grammar = body.get("grammar", "auto")
    if grammar not in ("auto", "none", "rule"):
        raise RequestError("'grammar' must be \"auto\", \"rule\" or \"none\"")
    return {"prompts": prompts, "n": n, "max_tokens": max_tokens, "temperature": temperature,
            "top_p": top_p, "stop": stop, "grammar": grammar}


# ----------------------------------------------------------------------------- scheduling

def _truncate(text: str, stops) -> tuple[str, bool]:
    cut = len(text)
    for s in stops:
        k = text.find(s)
        if k >= 0:
            cut = min(cut, k)
    return text[:cut], cut < len(text)


class _Sequence:
    """One sample of one prompt, generated slice by slice."""
    __slots__ = ("request", "index", "prompt", "text", "tokens", "finished", "stopped")

    def __init__(self, request, index, prompt):
        self.request, self.index, self.prompt = request, index, prompt
        self.text, self.tokens, self.finished, self.stopped = "", 0, False, False

    @property
    def remaining(self) -> int:
        return self.request.max_tokens - self.tokens


class _Request:
    def __init__(self, fields_: dict, timeout: float):
        self.id = "cmpl-" + uuid.uuid4().hex[:24]
        self.max_tokens = fields_["max_tokens"]
        self.stop = fields_["stop"]
        self.grammar = fields_["grammar"]
        self.key = (fields_["temperature"], fields_["top_p"], fields_["grammar"])
        self.temperature, self.top_p = fields_["temperature"], fields_["top_p"]
        self.prompts, self.n = fields_["prompts"], fields_["n"]
        self.sequences = [_Sequence(self, k, p) for k, p in enumerate(self.prompts)
                          for _ in range(self.n)]
        self.future: Future = Future()
        self.cancelled = threading.Event()
        self.deadline = time.monotonic() + timeout

    def pending(self) -> list:
        return [s for s in self.sequences if not s.finished]


class Scheduler:
    """Runs the sequences of all requests on the backend in fair, bounded batches (module
    docstring).  ``backend.generate_raw`` continues sequences slice by slice; a backend with
    only ``generate`` gets whole requests, one batch each."""

    def __init__(self, backend, batch_wait: float = 0.02, max_batch: int = 32,
                 slice_tokens: int = 256, max_waiting_sequences: int = 4096):
        self.backend = backend
        self.batch_wait, self.max_batch = float(batch_wait), int(max_batch)
        self.slice_tokens, self.max_waiting = int(slice_tokens), int(max_waiting_sequences)
        self.sliced = hasattr(backend, "generate_raw")
        self.lock = threading.Condition()
        self.active: list[_Request] = []     # in arrival order; the pointer rotates
        self.pointer = 0
        self.stats = {"requests": 0, "batches": 0, "max_batch_requests": 0, "batch_sizes": [],
                      "completions": 0, "tokens": 0, "generation_seconds": 0.0,
                      "cancelled": 0, "timed_out": 0, "refused": 0, "finished": 0,
                      "active_requests": 0, "waiting_sequences": 0}
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="serve-llm-scheduler",
                                       daemon=True)
        self.thread.start()

    # -- requests -------------------------------------------------------------------------

    def submit(self, request: _Request) -> None:
        with self.lock:
            waiting = sum(len(r.pending()) for r in self.active)
            if waiting + len(request.sequences) > self.max_waiting:
                self.stats["refused"] += 1
                raise RequestError(f"the server has {waiting} sequences waiting: at most "
                                   f"{self.max_waiting}; retry later", 429)
            self.stats["requests"] += 1
            self.active.append(request)
            self._update_counts()
            self.lock.notify_all()

    def cancel(self, request: _Request, why: str = "cancelled") -> None:
        """Stop generating for ``request`` (client gone: ``cancelled``; ``timed_out``)."""
        with self.lock:
            if request.cancelled.is_set() or request.future.done():
                return
            request.cancelled.set()
            self.stats[why] += 1
            if request in self.active:
                self.active.remove(request)
            self._update_counts()
        request.future.cancel()

    def _update_counts(self) -> None:
        self.stats["active_requests"] = len(self.active)
        self.stats["waiting_sequences"] = sum(len(r.pending()) for r in self.active)

    # -- batches --------------------------------------------------------------------------

    def _expire(self) -> None:
        now = time.monotonic()
        for r in list(self.active):
            if now > r.deadline:
                self.cancel(r, "timed_out")    # the condition's lock is re-entrant

    def _next_batch(self) -> list:
        """Up to ``max_batch`` sequences, one per request in turn from the rotating pointer;
        all of one sampling key (temperature, top-p, grammar) — the first request's."""
        with self.lock:
            while not self.active and not self._stop.is_set():
                self.lock.wait(timeout=0.5)
            if self._stop.is_set():
                return []
            if self.batch_wait > 0 and not self._busy:
                # an idle model waits a moment for company (concurrent clients share a batch)
                limit = time.monotonic() + self.batch_wait
                while (sum(len(r.pending()) for r in self.active) < self.max_batch
                       and not self._stop.is_set()):
                    left = limit - time.monotonic()
                    if left <= 0:
                        break
                    self.lock.wait(timeout=left)
            self._expire()
            if not self.active:
                return []
            start = self.pointer % len(self.active)
            order = self.active[start:] + self.active[:start]
            self.pointer = (start + 1) % max(1, len(self.active))
            key = order[0].key
            queues = [r.pending() for r in order if r.key == key]
            if not self.sliced:
                return queues[0]      # a whole request per call: generate() has no slices
            batch = []
            while len(batch) < self.max_batch and any(queues):
                for q in queues:
                    if q and len(batch) < self.max_batch:
                        batch.append(q.pop(0))
            return batch

    _busy = False

    def _loop(self) -> None:
        while not self._stop.is_set():
            batch = self._next_batch()
            if not batch:
                self._busy = False
                continue
            self._busy = True
            requests = list(dict.fromkeys(s.request for s in batch))
            with self.lock:
                self.stats["batches"] += 1
                self.stats["batch_sizes"].append(len(batch))
                del self.stats["batch_sizes"][:-1000]
                self.stats["max_batch_requests"] = max(self.stats["max_batch_requests"],
                                                       len(requests))
            start = time.monotonic()
            try:
                if self.sliced:
                    self._run_slice(batch)
                else:
                    self._run_whole(batch)
            except BaseException as exc:    # the model failed: fail these requests, go on
                for r in requests:
                    self._finish(r, exc)
                continue
            with self.lock:
                self.stats["generation_seconds"] += time.monotonic() - start
            for r in requests:
                if not r.pending():
                    self._finish(r)
            if not self.active:
                self._busy = False

    def _run_slice(self, batch) -> None:
        first = batch[0].request
        stops = sorted({s for seq in batch for s in seq.request.stop})
        rows = [seq.prompt + seq.text for seq in batch]
        budgets = [min(self.slice_tokens, seq.remaining) for seq in batch]
        cancelled = [seq.request.cancelled for seq in batch]
        kwargs = {}
        if getattr(self.backend, "supports_grammar", False):
            kwargs["grammar"] = {"auto": None, "rule": True, "none": False}[first.grammar]
            kwargs["prefixes"] = [seq.text for seq in batch]
            kwargs["remaining"] = [seq.remaining for seq in batch]
        results = self.backend.generate_raw(
            rows, 1, temperature=first.temperature, top_p=first.top_p,
            max_new_tokens=budgets,
            done=(lambda t: any(s in t for s in stops)) if stops else (lambda t: False),
            stop_rows=lambda k: cancelled[k].is_set(), **kwargs)
        with self.lock:
            for seq, budget, group in zip(batch, budgets, results):
                text, n_tokens, finished = group[0]
                seq.text += text
                seq.tokens += n_tokens
                self.stats["tokens"] += n_tokens
                seq.text, seq.stopped = _truncate(seq.text, seq.request.stop)
                seq.finished = bool(finished or seq.stopped or seq.remaining <= 0
                                    or n_tokens < budget and not
                                    seq.request.cancelled.is_set())
            self._update_counts()

    def _run_whole(self, batch) -> None:
        request = batch[0].request
        n = request.n
        groups = self.backend.generate(request.prompts, n)
        with self.lock:
            for k, group in enumerate(groups):
                for j, text in enumerate(group):
                    seq = batch[k * n + j]
                    seq.text, seq.stopped = _truncate(text, request.stop)
                    seq.finished = True
            self._update_counts()

    def _finish(self, request: _Request, error: BaseException | None = None) -> None:
        with self.lock:
            if request in self.active:
                self.active.remove(request)
            self._update_counts()
            if request.future.done() or request.cancelled.is_set():
                return
            if error is None:
                self.stats["finished"] += 1
                self.stats["completions"] += len(request.sequences)
        if error is not None:
            request.future.set_exception(error)
            return
        choices = [{"index": k, "text": s.text, "logprobs": None,
                    "finish_reason": "stop" if s.stopped or s.remaining > 0 else "length"}
                   for k, s in enumerate(request.sequences)]
        request.future.set_result((choices, sum(s.tokens for s in request.sequences)))

    def snapshot(self) -> dict:
        with self.lock:
            return json.loads(json.dumps(self.stats))

    def close(self) -> None:
        self._stop.set()
        with self.lock:
            self.lock.notify_all()
            for r in self.active:
                r.cancelled.set()
        self.thread.join(timeout=10)


# ----------------------------------------------------------------------------- HTTP

class _Handler(BaseHTTPRequestHandler):
    server_version = "ibp-evolve-serve-llm/2"
    protocol_version = "HTTP/1.1"

    def setup(self):
        self.timeout = self.server.limits.read_timeout   # a slow or silent client lets go
        super().setup()

    def log_message(self, fmt, *args):  # quiet unless asked
        if self.server.verbose:
            super().log_message(fmt, *args)

    def _json(self, code: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
        except OSError:     # the client left while we answered
            self.close_connection = True

    def _error(self, code: int, message: str) -> None:
        kind = "invalid_request_error" if code < 500 else "server_error"
        self._json(code, {"error": {"message": message, "type": kind, "code": code}})

    def send_error(self, code, message=None, explain=None):
        """The standard library's own errors (bad request line, unknown method, oversized
        headers) as JSON too, with a status line even for a garbled (HTTP/0.9-like) one."""
        self.close_connection = True
        if getattr(self, "request_version", "HTTP/0.9") == "HTTP/0.9":
            self.request_version = "HTTP/1.0"
        self._error(code, message or self.responses.get(code, ("error",))[0])

    def do_GET(self):
        srv = self.server
        if self.path in ("/health", "/v1/health"):
            self._json(200, {"status": "ok"})
        elif self.path == "/v1/models":
            self._json(200, {"object": "list", "data": [
                {"id": srv.model_name, "object": "model", "owned_by": "ibp-evolve"}]})
        elif self.path == "/v1/stats":
            self._json(200, srv.scheduler.snapshot())
        else:
            self._error(404, f"no route {self.path[:100]}")

    def _read_body(self) -> bytes:
        limits = self.server.limits
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            raise RequestError("chunked bodies are not supported: send Content-Length", 411)
        length = self.headers.get("Content-Length")
        if length is None:
            raise RequestError("Content-Length is required", 411)
        if not length.strip().isdigit():
            raise RequestError(f"Content-Length '{length[:40]}' is not a non-negative integer")
        length = int(length)
        if length > limits.max_body_bytes:
            raise RequestError(f"the body has {length} bytes: at most {limits.max_body_bytes}",
                               413)
        try:
            raw = self.rfile.read(length)
        except (TimeoutError, socket.timeout):
            raise RequestError(f"the body did not arrive within {limits.read_timeout:g} s",
                               408) from None
        if len(raw) != length:
            raise RequestError(f"the body ended after {len(raw)} of {length} bytes")
        return raw

    def do_POST(self):
        if self.path not in ("/v1/completions", "/completions"):
            self.close_connection = True    # the body is not read: drop the connection
            self._error(404, f"no route {self.path[:100]}")
            return
        srv = self.server
        try:
            raw = self._read_body()
            request = _Request(parse_request(raw, srv.limits), srv.limits.request_timeout)
            srv.scheduler.submit(request)
        except RequestError as exc:
            if exc.code in (408, 411, 413) or "Content-Length" in str(exc):
                self.close_connection = True   # the stream is out of step with the protocol
            self._error(exc.code, str(exc))
            return
        try:
            choices, tokens = self._wait(request)
        except _ClientGone:
            srv.scheduler.cancel(request, "cancelled")
            self.close_connection = True
            return
        except FutureTimeout:
            srv.scheduler.cancel(request, "timed_out")
            self._error(504, f"the request took longer than {srv.limits.request_timeout:g} s "
                             f"(serve-llm --request-timeout)")
            return
        except Exception as exc:
            self._error(500, f"generation failed: {type(exc).__name__}: {str(exc)[:300]}")
            return
        self._json(200, {"id": request.id, "object": "text_completion",
                         "created": int(time.time()), "model": srv.model_name,
                         "choices": choices,
                         "usage": {"completion_tokens": tokens, "total_tokens": tokens}})

    def _wait(self, request):
        """The request's result; raises _ClientGone when the client closes its connection and
        FutureTimeout past the deadline."""
        from concurrent.futures import CancelledError
        while True:
            left = request.deadline - time.monotonic()
            if left <= 0:
                raise FutureTimeout()
            try:
                return request.future.result(timeout=min(0.1, left))
            except FutureTimeout:
                pass
            except CancelledError:   # the scheduler timed it out
                raise FutureTimeout() from None
            if self._client_gone():
                raise _ClientGone()

    def _client_gone(self) -> bool:
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return False
            # readable with nothing to read: the peer closed (a pipelined request reads data)
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True


class _ClientGone(Exception):
    pass


class CompletionServer(ThreadingHTTPServer):
    """The HTTP server with its scheduler; ``serve_forever()``, or ``start_background()`` in a
    thread (tests)."""
    daemon_threads = True
    request_queue_size = 128      # the listen backlog: bursts of clients are queued, not reset

    def __init__(self, backend, host: str = "127.0.0.1", port: int = 8000,
                 model_name: str = "ibp-mutator", batch_wait: float = 0.02,
                 max_batch: int = 32, verbose: bool = False, limits: Limits | None = None,
                 slice_tokens: int = 256, backlog: int = 128):
        self.limits = limits or Limits()
        self.request_queue_size = int(backlog)
        self.scheduler = Scheduler(backend, batch_wait, max_batch, slice_tokens,
                                   self.limits.max_waiting_sequences)
        self.model_name = model_name
        self.verbose = verbose
        try:
            super().__init__((host, port), _Handler)
        except BaseException:
            self.scheduler.close()
            raise

    @property
    def batcher(self):   # the name the first version used
        return self.scheduler

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/v1"

    def handle_error(self, request, client_address):
        if self.verbose:
            super().handle_error(request, client_address)

    def start_background(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="serve-llm-http",
                                  daemon=True)
        thread.start()
        return thread

    def server_close(self) -> None:
        self.scheduler.close()
        super().server_close()


LIMIT_FIELDS = tuple(f.name for f in fields(Limits))


def serve(model: str, host: str = "127.0.0.1", port: int = 8000, lora: str | None = None,
          device: str | None = None, batch_wait: float = 0.02, max_batch: int = 32,
          verbose: bool = False, model_name: str | None = None, limits: Limits | None = None,
          slice_tokens: int = 256, backlog: int = 128, grammar: bool = True) -> None:
    """Load the model and serve until interrupted."""
    from .backends import TransformersBackend
    backend = TransformersBackend(model, device=device, lora=lora, grammar=grammar)
    server = CompletionServer(backend, host, port, model_name or model, batch_wait, max_batch,
                              verbose, limits, slice_tokens, backlog)
    limits = server.limits
    print(f"serve-llm: {backend.description} at {server.url}/completions "
          f"(batches of up to {max_batch} sequences x {slice_tokens} tokens, "
          f"{batch_wait * 1000:g} ms window; n <= {limits.max_n}, max_tokens <= "
          f"{limits.max_tokens}, {limits.request_timeout:g} s per request)", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
