"""The LLM layer (analysis.llm): both backends end to end with the small offline model.

These tests check mechanics, not quality: SmolLM2-135M-Instruct is far too small to
propose or verify hypotheses well. The HTTP backend talks to a small OpenAI-compatible
server started on 127.0.0.1 in a thread, which answers with the transformers backend
(``/good``) or with canned failures (HTTP 500, a non-JSON body, missing fields, no
logprobs, a slow reply).
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from analysis import hypotheses as H
from analysis.llm import LLM, LLMError, OpenAIBackend, TransformersBackend, make_llm

QUESTION = ('Property: the sentence expresses strong emotions.\nSentence: "She wept with '
            'joy."\n\nDoes the sentence have this property? Answer Yes or No.')


@pytest.fixture(scope="module")
def local():
    """The offline default model, loaded once (weights load on the first call)."""
    backend = TransformersBackend("default", device="cpu")
    _ = backend.lm
    return backend


class _Handler(BaseHTTPRequestHandler):
    backend = None
    requests = []

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _send(self, code, body, ctype="application/json"):
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        try:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client timed out (/slow)
            pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append((self.path, body, self.headers.get("Authorization")))
        mode = self.path.strip("/").split("/")[0]
        if mode == "e500":
            return self._send(500, "internal error", "text/plain")
        if mode == "nonjson":
            return self._send(200, "<html>not json</html>", "text/html")
        if mode == "missing":
            return self._send(200, {"choices": []})
        if mode == "slow":
            time.sleep(2.0)
            return self._send(200, {"choices": []})
        message = {"role": "assistant", "content": "Yes"}
        if mode == "nologprobs":
            return self._send(200, {"choices": [{"message": message}]})
        choice = {"index": 0, "message": message}
        if body.get("logprobs"):
            top = self.backend.next_token_logprobs(body["messages"], body["top_logprobs"])
            (tok, lp), = list(top.items())[:1]
            choice["logprobs"] = {"content": [{"token": tok, "logprob": lp, "top_logprobs": [
                {"token": t, "logprob": v} for t, v in top.items()]}]}
            message["content"] = tok
        else:
            message["content"] = self.backend.generate(
                body["messages"], temperature=body["temperature"],
                max_tokens=body["max_tokens"], seed=body["seed"])
        return self._send(200, {"choices": [choice]})


@pytest.fixture(scope="module")
def server(local):
    _Handler.backend = local
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _entries(folder):
    return sorted(p for p in folder.rglob("*.json"))


def test_transformers_backend_generates_reproducibly_and_caches(local, tmp_path):
    llm = LLM(local, cache_dir=tmp_path)
    before = llm.calls
    a = llm.generate("Name a colour.", temperature=0.9, max_tokens=8, seed=1)
    assert isinstance(a, str) and a.strip() and llm.calls == before + 1
    assert llm.generate("Name a colour.", temperature=0.9, max_tokens=8, seed=1) == a
    assert llm.calls == before + 1  # served from the cache
    fresh = LLM(local, cache_dir=False)
    assert fresh.generate("Name a colour.", temperature=0.9, max_tokens=8, seed=1) == a
    p = llm.p_yes(QUESTION)
    assert 0.0 < p < 1.0
    assert llm.p_yes(QUESTION) == p and llm.calls == before + 3
    assert len(_entries(tmp_path)) == 2


class CountingBackend:
    kind, identity = "fake", "fake-model"

    def __init__(self):
        self.calls = 0

    def p_yes(self, messages):
        self.calls += 1
        return 0.25


def test_batched_p_yes_equals_one_by_one_and_fills_the_cache(local, tmp_path):
    questions = [QUESTION, "Is the sky green? Answer Yes or No.",
                 QUESTION.replace("wept with joy", "sorted the forks, spoons and knives into "
                                  "three drawers before lunch")]
    single = [local.p_yes([{"role": "user", "content": q}]) for q in questions]
    llm = LLM(local, cache_dir=tmp_path)
    llm.p_yes(questions[1])
    before = llm.calls
    batched = llm.p_yes_many(questions, batch_size=2)
    np.testing.assert_allclose(batched, single, atol=1e-4)
    assert llm.calls == before + 2  # the cached question is not recomputed
    assert len(_entries(tmp_path)) == 3
    assert llm.p_yes(questions[2]) == pytest.approx(batched[2]) and llm.calls == before + 2


def test_corrupted_cache_entry_is_recomputed(tmp_path):
    llm = LLM(CountingBackend(), cache_dir=tmp_path)
    assert llm.p_yes(QUESTION) == 0.25 and llm.p_yes(QUESTION) == 0.25 and llm.calls == 1
    (entry,) = _entries(tmp_path)
    entry.write_text('{"key": "trunc')
    with pytest.warns(RuntimeWarning, match="corrupted LLM cache entry"):
        assert llm.p_yes(QUESTION) == 0.25
    assert llm.calls == 2 and json.loads(entry.read_text())["value"] == 0.25
    assert llm.p_yes(QUESTION) == 0.25 and llm.calls == 2


def test_http_backend_end_to_end_matches_local_model(local, server, tmp_path):
    llm = make_llm("smollm2", url=server + "/good/v1", cache_dir=tmp_path)
    n = len(_Handler.requests)
    text = llm.generate("Name a colour.", temperature=0.0, max_tokens=8, seed=0)
    assert text == local.generate([{"role": "user", "content": "Name a colour."}],
                                  temperature=0.0, max_tokens=8, seed=0)
    p_http = llm.p_yes(QUESTION)
    p_local = local.p_yes([{"role": "user", "content": QUESTION}])
    assert p_http == pytest.approx(p_local, abs=0.05)  # top-20 candidates vs the vocabulary
    path, body, auth = _Handler.requests[-1]
    assert path == "/good/v1/chat/completions" and body["max_tokens"] == 1 and auth is None
    assert body["logprobs"] is True and body["model"] == "smollm2"
    # re-running costs nothing: no request reaches the server
    assert llm.generate("Name a colour.", temperature=0.0, max_tokens=8, seed=0) == text
    assert llm.p_yes(QUESTION) == p_http
    assert len(_Handler.requests) == n + 2


def test_llm_verifier_through_http(server, tmp_path):
    verifier = H.LLMVerifier(make_llm("smollm2", url=server + "/good/v1", cache_dir=tmp_path))
    scores = verifier.score(["She wept with joy.", "The shop opens at seven."],
                            ["expresses strong emotions"])
    assert scores.shape == (1, 2) and np.all((scores >= 0) & (scores <= 1))


@pytest.mark.parametrize("mode, message", [
    ("e500", "answered HTTP 500"),
    ("nonjson", "not JSON"),
    ("missing", r"lacks choices\[0\].message.content"),
    ("nologprobs", "returned no logprobs"),
    ("slow", "did not answer within 0.5 s"),
])
def test_bad_endpoints_give_clear_errors_and_no_cache_entry(server, tmp_path, mode, message):
    backend = OpenAIBackend(server + f"/{mode}/v1", "m", timeout=0.5)
    llm = LLM(backend, cache_dir=tmp_path)
    with pytest.raises(LLMError, match=message):
        llm.p_yes(QUESTION)
    if mode != "nologprobs":
        with pytest.raises(LLMError, match=message):
            llm.generate("hello", max_tokens=4)
    assert _entries(tmp_path) == []


def test_logprob_fallback_and_api_key(server, tmp_path, monkeypatch):
    llm = LLM(OpenAIBackend(server + "/nologprobs/v1", "m", logprob_fallback=True),
              cache_dir=tmp_path)
    assert llm.p_yes(QUESTION) == 1.0  # the canned answer is "Yes"
    with pytest.raises(LLMError, match="'MY_TEST_KEY'.*not set"):
        OpenAIBackend(server + "/good/v1", "m", api_key_env="MY_TEST_KEY")
    monkeypatch.setenv("MY_TEST_KEY", "sekret")
    key_llm = LLM(OpenAIBackend(server + "/nologprobs/v1", "m", api_key_env="MY_TEST_KEY",
                                logprob_fallback=True), cache_dir=tmp_path / "k")
    key_llm.p_yes("Is water wet?")
    assert _Handler.requests[-1][2] == "Bearer sekret"
    assert "sekret" not in "".join(p.read_text() for p in _entries(tmp_path / "k"))
    with pytest.raises(ValueError, match="http"):
        OpenAIBackend("127.0.0.1:8000", "m")
