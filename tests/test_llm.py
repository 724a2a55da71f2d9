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

    def _drip(self, head=False, every=0.3, n_bytes=40, max_seconds=6.0):
        """A valid reply sent one byte every ``every`` s (at most ``n_bytes``, ``max_seconds``).

        ``head``: the status line and headers trickle too, else only the body.
        """
        data = json.dumps({"choices": []}).encode().ljust(n_bytes)
        start = time.monotonic()
        try:
            headers = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                       b"Content-Length: %d\r\n\r\n" % len(data))
            if head:
                data = headers + data
            else:
                self.wfile.write(headers)
            for i in range(min(len(data), n_bytes)):
                if time.monotonic() - start > max_seconds:
                    break
                self.wfile.write(data[i:i + 1])
                self.wfile.flush()
                time.sleep(every)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up
            pass

    #: log-probabilities the next /canned replies use for "Yes", one per reply, before
    #: the healthy -0.5 (a test puts NaN or infinities here)
    poison = []

    def _canned(self, body):
        """A fixed answer: "Yes" with logprob -0.5 (or a queued poison), "No" with -1.5."""
        message = {"role": "assistant", "content": "Yes"}
        if not body.get("logprobs"):
            return {"choices": [{"index": 0, "message": message}]}
        yes = type(self).poison.pop(0) if type(self).poison else -0.5
        top = [{"token": "Yes", "logprob": yes}, {"token": "No", "logprob": -1.5}]
        return {"choices": [{"index": 0, "message": message, "logprobs": {"content": [
            {"token": "Yes", "logprob": yes, "top_logprobs": top}]}}]}

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
        if mode in ("drip", "driphead"):
            return self._drip(head=mode == "driphead")
        if mode == "canned":
            return self._send(200, self._canned(body))
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


def _serve():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def server(local):
    _Handler.backend = local
    yield from _serve()


@pytest.fixture(scope="module")
def canned_server():
    """The test server for the canned modes only: no model is loaded."""
    yield from _serve()


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


@pytest.mark.parametrize("mode", ["drip", "driphead"])
def test_trickling_server_hits_the_deadline_over_the_whole_reply(canned_server, tmp_path, mode):
    # one byte every 0.3 s (of the body, or of the whole reply): every single wait is
    # short, so only a deadline over the whole reply stops it
    llm = LLM(OpenAIBackend(canned_server + f"/{mode}/v1", "m", timeout=1.0), cache_dir=tmp_path)
    start = time.monotonic()
    with pytest.raises(LLMError, match=rf"LLM endpoint http://127\.0\.0\.1:\d+/{mode}/v1/chat/"
                                       r"completions \(model 'm'\) did not answer within 1 s "
                                       r"\(the deadline for the whole reply"):
        llm.generate("hello", max_tokens=4)
    assert time.monotonic() - start < 1.8
    assert _entries(tmp_path) == []
    # a healthy reply within the deadline is read whole
    ok = LLM(OpenAIBackend(canned_server + "/canned/v1", "m", timeout=1.0), cache_dir=tmp_path)
    assert ok.generate("hello", max_tokens=4) == "Yes"


@pytest.mark.parametrize("poison", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_logprob_is_refused_and_never_cached(canned_server, tmp_path, poison):
    llm = LLM(OpenAIBackend(canned_server + "/canned/v1", "m"), cache_dir=tmp_path)
    _Handler.poison[:] = [poison]  # Python's json writes it as the bare word NaN / Infinity
    with pytest.raises(LLMError, match=r"LLM endpoint http://127\.0\.0\.1:\d+/canned/v1/chat/"
                                       r"completions: choices\[0\]\.logprobs\.content\[0\]"
                                       r"\.top_logprobs\[0\]\.logprob is (nan|-?inf); expected "
                                       r"a finite number"):
        llm.p_yes(QUESTION)
    assert _entries(tmp_path) == [] and _Handler.poison == []
    # the next call, with the server healthy again, works and is cached
    p = llm.p_yes(QUESTION)
    assert p == pytest.approx(1 / (1 + np.exp(-1.0)))
    assert len(_entries(tmp_path)) == 1 and llm.p_yes(QUESTION) == p


class FixedBackend(CountingBackend):
    def __init__(self, value):
        super().__init__()
        self.value = value

    def p_yes(self, messages):
        self.calls += 1
        return self.value


def test_non_finite_p_yes_of_any_backend_is_refused_and_never_cached(tmp_path):
    for bad in (float("nan"), float("inf"), 1.5):
        llm = LLM(FixedBackend(bad), cache_dir=tmp_path)
        with pytest.raises(LLMError, match=r"P\(Yes\) from fake model fake-model is"):
            llm.p_yes(QUESTION)
        with pytest.raises(LLMError, match=r"P\(Yes\) from fake model fake-model is"):
            llm.p_yes_many([QUESTION, "Is it?"])
        assert _entries(tmp_path) == []
    # a NaN that reached the cache before (older code) counts as a corrupted entry
    llm = LLM(FixedBackend(0.25), cache_dir=tmp_path)
    path = llm.cache.path(llm._payload("p_yes", [{"role": "user", "content": QUESTION}], {}))
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"key": llm.cache.key(llm._payload(
        "p_yes", [{"role": "user", "content": QUESTION}], {})), "value": float("nan")}))
    with pytest.warns(RuntimeWarning, match="corrupted LLM cache entry.*NaN"):
        assert llm.p_yes(QUESTION) == 0.25


def test_local_model_with_non_finite_logits_is_refused(local, tmp_path, monkeypatch):
    import torch

    from analysis import lm

    vocab = len(local.lm.tokenizer)
    monkeypatch.setattr(local, "_last_logits", lambda ids: torch.full((vocab,), float("nan")))
    llm = LLM(local, cache_dir=tmp_path)
    with pytest.raises(LLMError, match=r"P\(yes\) = nan, P\(no\) = nan are not finite"):
        llm.p_yes(QUESTION)
    real = lm.forward_padded

    def overflowing(*args, **kwargs):
        logits, rest = real(*args, **kwargs)
        return logits.masked_fill(torch.ones_like(logits, dtype=torch.bool), float("inf")), rest

    monkeypatch.setattr(lm, "forward_padded", overflowing)
    with pytest.raises(LLMError, match=r"P\(yes\) = nan, P\(no\) = nan for prompt 0 of the "
                                       r"batch are not finite"):
        llm.p_yes_many([QUESTION])
    assert _entries(tmp_path) == []
