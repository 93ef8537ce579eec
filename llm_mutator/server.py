"""``ibp-evolve serve-llm``: an OpenAI-compatible completions server that batches requests.

One process holds one model (:class:`~llm_mutator.backends.TransformersBackend`, on the GPU when
there is one) and serves ``POST /v1/completions`` to any number of evolution workers, possibly
on other machines (``evolve --engine llm --backend openai --url http://HOST:PORT/v1``).

Batching: every request goes into one queue; a single generation thread takes the first waiting
request, then keeps collecting for up to ``batch_wait`` seconds (or until ``max_batch``
requests), groups what it has by sampling parameters (temperature, top-p, max tokens, n) and
generates each group as one batch on the model.  While the model is busy, new requests pile up
and form the next batch, so the GPU stays full under load without delaying a lone request by
more than ``batch_wait``.

The HTTP layer is the standard library's :class:`http.server.ThreadingHTTPServer` (one thread per
connection, which only waits on the batch): the whole API is three JSON routes, so no web
framework is needed.  Routes: ``POST /v1/completions`` (``prompt`` a string or a list, ``n``,
``max_tokens``, ``temperature``, ``top_p``, ``stop``; ``seed`` is accepted and ignored, since a
batch mixes requests), ``GET /v1/models``, ``GET /health`` and ``GET /v1/stats`` (batches formed,
requests per batch — what the tests read to see that batching happened).
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from concurrent.futures import Future
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["CompletionServer", "Batcher", "serve"]

MAX_PROMPTS_PER_REQUEST = 256
MAX_N = 64


class _Request:
    __slots__ = ("prompts", "n", "params", "stop", "future")

    def __init__(self, prompts, n, params, stop):
        self.prompts, self.n, self.params, self.stop = prompts, n, params, stop
        self.future = Future()


def _truncate(text: str, stops) -> tuple[str, bool]:
    cut = len(text)
    for s in stops:
        k = text.find(s)
        if k >= 0:
            cut = min(cut, k)
    return text[:cut], cut < len(text)


class Batcher:
    """Collects requests into batches and runs them on the backend in one thread."""

    def __init__(self, backend, batch_wait: float = 0.02, max_batch: int = 32):
        self.backend = backend
        self.batch_wait, self.max_batch = float(batch_wait), int(max_batch)
        self.queue: queue.Queue = queue.Queue()
        self.lock = threading.Lock()
        self.stats = {"requests": 0, "batches": 0, "max_batch_requests": 0,
                      "batch_sizes": [], "completions": 0, "tokens": 0,
                      "generation_seconds": 0.0}
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="serve-llm-batcher",
                                       daemon=True)
        self.thread.start()

    def submit(self, prompts, n, params, stop) -> Future:
        request = _Request(prompts, n, params, stop)
        self.queue.put(request)
        return request.future

    def _collect(self) -> list:
        try:
            first = self.queue.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        limit = time.monotonic() + self.batch_wait
        while len(batch) < self.max_batch:
            timeout = limit - time.monotonic()
            if timeout <= 0:
                break
            try:
                batch.append(self.queue.get(timeout=timeout))
            except queue.Empty:
                break
        return batch

    def _loop(self) -> None:
        while not self._stop.is_set():
            batch = self._collect()
            if not batch:
                continue
            with self.lock:
                self.stats["batches"] += 1
                self.stats["requests"] += len(batch)
                self.stats["batch_sizes"].append(len(batch))
                self.stats["max_batch_requests"] = max(self.stats["max_batch_requests"],
                                                       len(batch))
            groups: dict = {}
            for r in batch:
                groups.setdefault((r.n, r.params), []).append(r)
            for (n, params), requests in groups.items():
                self._run(n, dict(params), requests)

    def _run(self, n, params, requests) -> None:
        prompts = [p for r in requests for p in r.prompts]
        stops = sorted({s for r in requests for s in r.stop})
        start = time.monotonic()
        try:
            if hasattr(self.backend, "generate_raw"):
                results = self.backend.generate_raw(
                    prompts, n, temperature=params["temperature"], top_p=params["top_p"],
                    max_new_tokens=params["max_tokens"],
                    done=(lambda t: any(s in t for s in stops)) if stops else
                    (lambda t: False))
            else:   # any Backend: already cut texts
                results = [[(t, 0, True) for t in group]
                           for group in self.backend.generate(prompts, n)]
        except BaseException as exc:
            for r in requests:
                r.future.set_exception(exc)
            return
        seconds = time.monotonic() - start
        k = 0
        with self.lock:
            self.stats["generation_seconds"] += seconds
        for r in requests:
            choices, usage = [], 0
            for group in results[k:k + len(r.prompts)]:
                for text, n_tokens, finished in group:
                    text, stopped = _truncate(text, r.stop)
                    choices.append({"index": len(choices), "text": text, "logprobs": None,
                                    "finish_reason": "stop" if (stopped or finished)
                                    else "length"})
                    usage += n_tokens
            k += len(r.prompts)
            with self.lock:
                self.stats["completions"] += len(choices)
                self.stats["tokens"] += usage
            r.future.set_result((choices, usage))

    def close(self) -> None:
        self._stop.set()
        self.thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    server_version = "ibp-evolve-serve-llm/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet unless asked
        if self.server.verbose:
            super().log_message(fmt, *args)

    def _json(self, code: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, code: int, message: str) -> None:
        self._json(code, {"error": {"message": message, "type": "invalid_request_error"}})

    def do_GET(self):
        srv = self.server
        if self.path in ("/health", "/v1/health"):
            self._json(200, {"status": "ok"})
        elif self.path == "/v1/models":
            self._json(200, {"object": "list", "data": [
                {"id": srv.model_name, "object": "model", "owned_by": "ibp-evolve"}]})
        elif self.path == "/v1/stats":
            with srv.batcher.lock:
                self._json(200, json.loads(json.dumps(srv.batcher.stats)))
        else:
            self._error(404, f"no route {self.path}")

    def do_POST(self):
        if self.path not in ("/v1/completions", "/completions"):
            self._error(404, f"no route {self.path}")
            return
        try:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length).decode() or "{}")
            prompts = body.get("prompt")
            if isinstance(prompts, str):
                prompts = [prompts]
            if not (isinstance(prompts, list) and prompts and all(isinstance(p, str)
                                                                  for p in prompts)):
                raise ValueError("'prompt' must be a string or a non-empty list of strings")
            if len(prompts) > MAX_PROMPTS_PER_REQUEST:
                raise ValueError(f"at most {MAX_PROMPTS_PER_REQUEST} prompts per request")
            n = int(body.get("n", 1))
            if not 1 <= n <= MAX_N:
                raise ValueError(f"'n' must lie in [1, {MAX_N}]")
            params = (("max_tokens", int(body.get("max_tokens", 16))),
                      ("temperature", float(body.get("temperature", 1.0)) or 1e-5),
                      ("top_p", float(body.get("top_p", 1.0))))
            if not (params[0][1] >= 1 and 0 < params[2][1] <= 1):
                raise ValueError("'max_tokens' must be >= 1 and 'top_p' in (0, 1]")
            stop = body.get("stop") or []
            stop = [stop] if isinstance(stop, str) else list(stop)
            if not all(isinstance(s, str) and s for s in stop):
                raise ValueError("'stop' must be a string or a list of strings")
        except (ValueError, TypeError, json.JSONDecodeError) as exc:
            self._error(400, str(exc))
            return
        future = self.server.batcher.submit(prompts, n, params, stop)
        try:
            choices, tokens = future.result()
        except Exception as exc:
            self._error(500, f"generation failed: {type(exc).__name__}: {exc}")
            return
        self._json(200, {"id": "cmpl-" + uuid.uuid4().hex[:24], "object": "text_completion",
                         "created": int(time.time()), "model": self.server.model_name,
                         "choices": choices,
                         "usage": {"completion_tokens": tokens, "total_tokens": tokens}})


class CompletionServer(ThreadingHTTPServer):
    """The HTTP server with its batcher; ``serve_forever()`` or use as a context manager in a
    thread (tests)."""
    daemon_threads = True

    def __init__(self, backend, host: str = "127.0.0.1", port: int = 8000,
                 model_name: str = "ibp-mutator", batch_wait: float = 0.02,
                 max_batch: int = 32, verbose: bool = False):
        self.batcher = Batcher(backend, batch_wait, max_batch)
        self.model_name = model_name
        self.verbose = verbose
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start_background(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="serve-llm-http",
                                  daemon=True)
        thread.start()
        return thread

    def server_close(self) -> None:
        self.batcher.close()
        super().server_close()


def serve(model: str, host: str = "127.0.0.1", port: int = 8000, lora: str | None = None,
          device: str | None = None, batch_wait: float = 0.02, max_batch: int = 32,
          verbose: bool = False, model_name: str | None = None) -> None:
    """Load the model and serve until interrupted."""
    from .backends import TransformersBackend
    backend = TransformersBackend(model, device=device, lora=lora)
    server = CompletionServer(backend, host, port, model_name or model, batch_wait, max_batch,
                              verbose)
    print(f"serve-llm: {backend.description} at {server.url}/completions "
          f"(batches of up to {max_batch} requests, {batch_wait * 1000:g} ms window)",
          flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
