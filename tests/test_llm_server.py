"""``serve-llm``: an OpenAI-compatible completions server that batches concurrent requests
fairly, refuses malformed or oversized requests with a 4xx JSON error and keeps serving, and
stops generating for a client that left; and the ``openai`` backend that talks to it."""

import json
import socket
import threading
import time
import urllib.request

import pytest

from llm_mutator.backends import STOP_STRINGS, BackendError, OpenAIBackend
from llm_mutator.prompt import build_prompt
from llm_mutator.server import CompletionServer, Limits


class EchoBackend:
    """Stands in for a model: completion k of a prompt is a rule returning k."""
    description = "echo"

    def __init__(self):
        self.calls = []

    def generate_raw(self, prompts, n, temperature=None, top_p=None, max_new_tokens=None,
                     done=None, stop_rows=None):
        self.calls.append(len(prompts))
        return [[(f"    return {k}\n\ndef priority_v9(seed, target):\n", 5, False)
                 for k in range(n)] for _ in prompts]


class TokenBackend:
    """Stands in for a model that never ends a sequence on its own: each call writes one
    'x' per token of every row's budget, unless the row's request was cancelled.  Records which
    prompts (request labels) each batch held."""
    description = "tokens"

    def __init__(self):
        self.batches = []
        self.lock = threading.Lock()

    def generate_raw(self, prompts, n, temperature=None, top_p=None, max_new_tokens=None,
                     done=None, stop_rows=None):
        with self.lock:
            self.batches.append([p.split("|")[0] for p in prompts])
        time.sleep(0.002)   # pacing only: what the tests assert is order, not time
        out = []
        for k, budget in enumerate(max_new_tokens):
            tokens = 0 if stop_rows(k) else budget
            out.append([("x" * tokens, tokens, False)])
        return out

    def batches_with(self, label):
        with self.lock:
            return sum(label in b for b in self.batches)


@pytest.fixture(scope="module")
def tiny_backend(tiny_mutator):
    from llm_mutator.backends import TransformersBackend
    return TransformersBackend(tiny_mutator, max_new_tokens=12)


@pytest.fixture(params=["echo", "transformers"])
def server(request, tmp_path_factory):
    backend = (EchoBackend() if request.param == "echo"
               else request.getfixturevalue("tiny_backend"))
    # max_batch=4 sequences and a long window: the batch closes as soon as the second client
    # (2 samples each) arrives
    srv = CompletionServer(backend, port=0, batch_wait=60.0, max_batch=4)
    srv.start_background()
    yield srv
    srv.shutdown()
    srv.server_close()


def get(url):
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read().decode())


def wait_for(predicate, what, limit=120.0):
    """Poll until ``predicate()`` holds (the limit only guards against a hang)."""
    end = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.01)


def test_two_concurrent_clients_are_answered_from_one_batch(server):
    prompts = [build_prompt(["return 1\n"]), build_prompt(["return seed.s <= 1\n"])]
    answers, errors = {}, []

    def client(k):
        try:
            answers[k] = OpenAIBackend(server.url, timeout=120, retries=0).generate(
                [prompts[k]], n=2)
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors
    assert sorted(answers) == [0, 1]
    for k in range(2):
        assert len(answers[k]) == 1 and len(answers[k][0]) == 2
        assert all("def priority_v9" not in text for text in answers[k][0])  # cut at the end
    stats = get(server.url + "/stats")
    assert stats["requests"] == 2
    assert stats["max_batch_requests"] == 2 and stats["batches"] == 1
    assert get(server.url + "/models")["data"][0]["id"] == "ibp-mutator"


def test_bad_requests_get_a_400_and_no_retry():
    srv = CompletionServer(EchoBackend(), port=0, batch_wait=0.0)
    srv.start_background()
    try:
        request = urllib.request.Request(srv.url + "/completions", data=json.dumps(
            {"prompt": 3}).encode(), headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(request, timeout=30)
        assert err.value.code == 400
        backend = OpenAIBackend(srv.url, retries=3, backoff=0.0)
        answer = backend._post({"prompt": "x", "n": 1, "max_tokens": 4, "stop": STOP_STRINGS})
        assert answer["choices"][0]["text"] == "    return 0\n"   # stop string applied
        with pytest.raises(BackendError, match="HTTP 400") as refused:
            backend._post({"prompt": [], "n": 1})
        assert refused.value.exit_status == 2   # a bad request is bad input
    finally:
        srv.shutdown()
        srv.server_close()


def test_unreachable_server_fails_after_the_retries():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]   # closed again: nothing listens there
    backend = OpenAIBackend(f"http://127.0.0.1:{port}", retries=2, backoff=0.0, timeout=5)
    with pytest.raises(BackendError, match="failed") as unreachable:
        backend.generate(["def priority_v0(seed, target):\n"], n=1)
    assert unreachable.value.exit_status == 3   # an unreachable service


# ----------------------------------------------------------------------------- malformed requests

def raw_http(port, data: bytes, half_close=False):
    """Send raw bytes, return (status, JSON body) of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        s.sendall(data)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body.decode())


def post(body: bytes, headers=None):
    headers = {"Content-Length": str(len(body)), **(headers or {})}
    lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items() if v is not None)
    return (f"POST /v1/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{lines}"
            f"\r\n").encode() + body


def js(payload):
    return json.dumps(payload).encode()


NESTED = b"[" * 100_000 + b"]" * 100_000
MALFORMED = [
    ("a list body", post(b"[1,2,3]"), 400, "JSON object"),
    ("null", post(b"null"), 400, "JSON object"),
    ("not JSON", post(b'{"prompt": '), 400, "not JSON"),
    ("not UTF-8", post(b'{"prompt": "\xff\xfe"}'), 400, "UTF-8"),
    ("100k nested brackets", post(NESTED), 400, "nested too deeply"),
    ("an int of 5000 digits", post(b'{"prompt": "x", "n": 1' + b"0" * 5000 + b"}"), 400,
     "not JSON"),
    ("n = 1e400", post(b'{"prompt": "x", "n": 1e400}'), 400, "'n' must be an integer"),
    ("n a string", post(js({"prompt": "x", "n": "2"})), 400, "'n' must be an integer"),
    ("n true", post(js({"prompt": "x", "n": True})), 400, "'n' must be an integer"),
    ("n 0", post(js({"prompt": "x", "n": 0})), 400, "outside"),
    ("n above the cap", post(js({"prompt": "x", "n": 65})), 400, "outside [1, 64]"),
    ("max_tokens 10^6", post(js({"prompt": "x", "max_tokens": 10 ** 6})), 400, "outside"),
    ("max_tokens 1.5", post(js({"prompt": "x", "max_tokens": 1.5})), 400, "integer"),
    ("temperature NaN", post(b'{"prompt": "x", "temperature": NaN}'), 400, "temperature"),
    ("temperature a word", post(js({"prompt": "x", "temperature": "hot"})), 400, "number"),
    ("top_p 0", post(js({"prompt": "x", "top_p": 0})), 400, "top_p"),
    ("stop a number", post(js({"prompt": "x", "stop": 5})), 400, "'stop'"),
    ("grammar unknown", post(js({"prompt": "x", "grammar": "json"})), 400, "'grammar'"),
    ("missing prompt", post(js({"n": 1})), 400, "'prompt'"),
    ("prompt a number", post(js({"prompt": 3})), 400, "'prompt'"),
    ("empty prompt list", post(js({"prompt": []})), 400, "'prompt'"),
    ("prompt too long", post(js({"prompt": "x" * 32_001})), 400, "characters"),
    ("too many prompts", post(js({"prompt": ["x"] * 65})), 400, "prompts"),
    ("too many sequences", post(js({"prompt": ["x"] * 8, "n": 64})), 400, "sequences"),
    ("Content-Length -1", post(b"{}", {"Content-Length": "-1"}), 400, "Content-Length"),
    ("Content-Length a word", post(b"{}", {"Content-Length": "ten"}), 400, "Content-Length"),
    ("no Content-Length", post(b"", {"Content-Length": None}), 411, "Content-Length"),
    ("an oversized body", post(b"{}", {"Content-Length": str(2 << 20)}), 413, "bytes"),
    ("chunked", post(b"{}", {"Transfer-Encoding": "chunked"}), 411, "chunked"),
    ("a body shorter than announced", post(b'{"pro', {"Content-Length": "100"}), 400,
     "ended after"),
    ("an unknown route", b"POST /v1/chat HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", 404, "route"),
    ("an unknown method", b"PUT /v1/completions HTTP/1.1\r\n\r\n", 501, ""),
    ("a garbage request line", b"GARBAGE\r\n\r\n", 400, ""),
]


@pytest.fixture(scope="module")
def real_server(tiny_backend):
    srv = CompletionServer(tiny_backend, port=0, batch_wait=0.0)
    srv.start_background()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.mark.parametrize("what,data,code,message", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_a_malformed_request_gets_a_json_4xx_and_the_server_keeps_serving(
        real_server, what, data, code, message):
    port = real_server.server_address[1]
    status, body = raw_http(port, data, half_close=what == "a body shorter than announced")
    assert status == code
    assert message in body["error"]["message"]
    assert get(real_server.url.replace("/v1", "/health")) == {"status": "ok"}
    answer = OpenAIBackend(real_server.url, retries=0, max_new_tokens=4).generate(
        [build_prompt(["return 1\n"])], n=1)
    assert len(answer) == 1 and len(answer[0]) == 1


def test_limits_are_the_servers_own():
    srv = CompletionServer(EchoBackend(), port=0, batch_wait=0.0,
                           limits=Limits(max_n=2, max_tokens=8))
    srv.start_background()
    try:
        port = srv.server_address[1]
        assert raw_http(port, post(js({"prompt": "x", "n": 3})))[0] == 400
        assert raw_http(port, post(js({"prompt": "x", "max_tokens": 9})))[0] == 400
        assert raw_http(port, post(js({"prompt": "x", "n": 2, "max_tokens": 8})))[0] == 200
        assert srv.socket.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1
        assert srv.request_queue_size == 128
    finally:
        srv.shutdown()
        srv.server_close()


# ----------------------------------------------------------------------------- fairness

def test_a_small_request_is_answered_while_a_huge_one_is_generating_and_a_client_that_leaves_stops_its_generation():
    backend = TokenBackend()
    srv = CompletionServer(backend, port=0, batch_wait=0.0, max_batch=8, slice_tokens=16)
    srv.start_background()
    port = srv.server_address[1]
    big = socket.create_connection(("127.0.0.1", port), timeout=60)
    try:
        # 64 samples of 3000 tokens: 12,000 slices of 16 tokens, 1,500 batches of 8
        big.sendall(post(js({"prompt": "BIG|", "n": 64, "max_tokens": 3000})))
        wait_for(lambda: backend.batches_with("BIG") >= 3, "the big request is generating")
        small = OpenAIBackend(srv.url, retries=0)._post({"prompt": "SMALL|", "n": 1,
                                                         "max_tokens": 16})
        assert small["choices"][0]["text"] == "x" * 16
        stats = get(srv.url + "/stats")
        assert stats["finished"] == 1 and stats["active_requests"] == 1   # big still going
        assert backend.batches_with("BIG") < 1500
        # the small request shared a batch with the big one instead of waiting for it
        assert any("SMALL" in b and "BIG" in b for b in backend.batches)
    finally:
        big.close()                                   # the client leaves
    wait_for(lambda: get(srv.url + "/stats")["cancelled"] == 1, "the big request is cancelled")
    wait_for(lambda: get(srv.url + "/stats")["active_requests"] == 0, "nothing is left")
    after = backend.batches_with("BIG")
    assert OpenAIBackend(srv.url, retries=0)._post({"prompt": "AFTER|", "max_tokens": 16})
    assert backend.batches_with("BIG") <= after + 1  # no more work for the client that left
    assert after < 1500
    srv.shutdown()
    srv.server_close()


def test_a_request_past_its_time_limit_is_cancelled_with_a_504():
    backend = TokenBackend()
    srv = CompletionServer(backend, port=0, batch_wait=0.0, max_batch=8, slice_tokens=4,
                           limits=Limits(request_timeout=0.3))
    srv.start_background()
    try:
        status, body = raw_http(srv.server_address[1],
                                post(js({"prompt": "LONG|", "n": 64, "max_tokens": 4000})))
        assert status == 504 and "request-timeout" in body["error"]["message"]
        wait_for(lambda: get(srv.url + "/stats")["active_requests"] == 0, "it is dropped")
        assert get(srv.url + "/stats")["timed_out"] == 1
    finally:
        srv.shutdown()
        srv.server_close()


def test_many_concurrent_clients_are_all_answered():
    srv = CompletionServer(EchoBackend(), port=0, batch_wait=0.01, max_batch=32)
    srv.start_background()
    codes, lock = [], threading.Lock()

    def client():
        status, _ = raw_http(srv.server_address[1], post(js({"prompt": "x", "n": 1})))
        with lock:
            codes.append(status)
    threads = [threading.Thread(target=client) for _ in range(150)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        assert codes.count(200) == 150
    finally:
        srv.shutdown()
        srv.server_close()


def test_a_rule_sampled_over_several_slices_stays_under_the_grammar(tiny_backend):
    """Each slice continues the constraint where the last one stopped: every choice is still
    a prefix of some rule, and a finished one is a rule."""
    from llm_mutator.grammar import RuleChecker
    from llm_mutator.prompt import CompletionError, parse_completion
    srv = CompletionServer(tiny_backend, port=0, batch_wait=0.0, max_batch=4, slice_tokens=8)
    srv.start_background()
    try:
        answer = OpenAIBackend(srv.url, retries=0)._post(
            {"prompt": build_prompt(["return seed.d == 0\n"]), "n": 4, "max_tokens": 96})
        assert get(srv.url + "/stats")["batches"] >= 2      # continued across slices
        rules = 0
        for choice in answer["choices"]:
            assert RuleChecker().start(choice["text"]) is not None
            try:
                parse_completion(choice["text"])
                rules += 1
            except CompletionError:
                assert choice["finish_reason"] == "length"  # only the budget cuts a rule
        assert rules >= 1
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.mark.parametrize("argv,message", [
    (["--port", "99999"], "--port 99999"),
    (["--max-n", "0"], "--max-n 0"),
    (["--request-timeout", "nan"], "--request-timeout nan"),
    (["--batch-wait", "-1"], "--batch-wait -1"),
])
def test_serve_llm_refuses_bad_options_with_one_line_and_exit_2(argv, message, capsys):
    from ibp_evolve.cli.main import main
    assert main(["serve-llm", "--model", "no-such-model"] + argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_serve_llm_with_a_model_that_cannot_be_loaded_exits_2(tmp_path, capsys):
    pytest.importorskip("transformers", reason="the llm extra (transformers) is not installed")
    from ibp_evolve.cli.main import main
    assert main(["serve-llm", "--model", str(tmp_path / "missing"), "--port", "0"]) == 2
    assert "cannot load model" in capsys.readouterr().err


@pytest.mark.parametrize("kind, words", [("missing", "no such model folder"),
                                         ("empty", "holds no model (no config.json"),
                                         ("run", "a run folder, not a model")])
def test_a_model_path_that_is_no_model_is_named_in_one_line(tmp_path, capsys, kind, words):
    """Not the hub's 'Repo id must use alphanumeric chars' nor a multi-line tokenizer error."""
    pytest.importorskip("transformers", reason="the llm extra (transformers) is not installed")
    from ibp_evolve.cli.main import main
    folder = tmp_path / kind
    if kind != "missing":
        folder.mkdir()
    if kind == "run":
        (folder / "config.json").write_text("{}")
        (folder / "run.sqlite").write_text("")
    assert main(["serve-llm", "--model", str(folder), "--port", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot load model" in err and words in err


def test_evolve_with_an_unreachable_server_is_exit_3_and_keeps_its_run(tmp_path, capsys,
                                                                      monkeypatch):
    import llm_mutator.backends as backends
    from ibp_evolve.cli.main import main
    monkeypatch.setattr(backends.time, "sleep", lambda s: None)   # the retries' backoff
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]   # closed again: nothing listens there
    out = tmp_path / "run"
    assert main(["evolve", "--engine", "llm", "--backend", "openai", "--url",
                 f"http://127.0.0.1:{port}/v1", "--model", "m", "--population", "2",
                 "--generations", "1", "--workers", "0", "--out", str(out), "--quiet",
                 "--no-baselines"]) == 3
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Connection refused" in err
    # generation 0 (the start programs) needed no server: it is kept, and resumable
    assert f"keeps its generation 0: continue with ibp-evolve evolve --resume {out}" in err
