"""``serve-llm``: an OpenAI-compatible completions server that batches concurrent requests,
and the ``openai`` backend that talks to it (retries, errors)."""

import json
import threading
import urllib.request

import pytest

from llm_mutator.backends import STOP_STRINGS, BackendError, OpenAIBackend
from llm_mutator.prompt import build_prompt
from llm_mutator.server import CompletionServer


class EchoBackend:
    """Stands in for a model: completion k of a prompt is a rule returning k."""
    description = "echo"

    def __init__(self):
        self.calls = []

    def generate_raw(self, prompts, n, temperature=None, top_p=None, max_new_tokens=None,
                     done=None):
        self.calls.append(len(prompts))
        return [[(f"    return {k}\n\ndef priority_v9(seed, target):\n", 5, False)
                 for k in range(n)] for _ in prompts]


def tiny_transformers(tmp_path_factory):
    pytest.importorskip("torch", reason="the llm extra (torch) is not installed")
    pytest.importorskip("transformers", reason="the llm extra (transformers) is not installed")
    from llm_mutator.backends import TransformersBackend
    from llm_mutator.train import TrainConfig, collect_corpus, train_mutator
    out = tmp_path_factory.mktemp("served") / "model"
    train_mutator(collect_corpus(), TrainConfig(out=str(out), steps=2, documents=20,
                                                hidden_size=32, layers=1, heads=2,
                                                vocab_size=300, batch_size=4, threads=1),
                  log=lambda *_: None)
    return TransformersBackend(str(out), max_new_tokens=12)


@pytest.fixture(params=["echo", "transformers"])
def server(request, tmp_path_factory):
    backend = EchoBackend() if request.param == "echo" else tiny_transformers(tmp_path_factory)
    # max_batch=2 and a long window: the batch closes as soon as the second client arrives
    srv = CompletionServer(backend, port=0, batch_wait=60.0, max_batch=2)
    srv.start_background()
    yield srv
    srv.shutdown()
    srv.server_close()


def get(url):
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read().decode())


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
        with pytest.raises(BackendError, match="HTTP 400"):
            backend._post({"prompt": [], "n": 1})
    finally:
        srv.shutdown()
        srv.server_close()


def test_unreachable_server_fails_after_the_retries():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]   # closed again: nothing listens there
    backend = OpenAIBackend(f"http://127.0.0.1:{port}", retries=2, backoff=0.0, timeout=5)
    with pytest.raises(BackendError, match="failed"):
        backend.generate(["def priority_v0(seed, target):\n"], n=1)
