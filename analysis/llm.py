"""Language models that write and judge text (Methods page, divergent sentences and hypotheses): two backends, one interface, a disk cache.

The hypothesis chapter asks an instruction-tuned LLM two kinds of question:

* **generate**: write text for a chat prompt (the D5 proposer), with explicit sampling
  settings (``temperature``, ``max_tokens``, ``seed``);
* **p_yes**: the probability that the answer to a yes/no question is "Yes" (the D5
  verifier), read from the next-token distribution of the first answer token:
  ``P(Yes) = p(yes-like tokens) / (p(yes-like) + p(no-like))``.

Backends
--------
:class:`TransformersBackend`
    A local causal LM loaded with :func:`analysis.features.load_model` (the offline
    default SmolLM2-135M-Instruct GGUF, any ``.gguf`` file, a local Hugging Face
    directory, or a hub name when the user asks for one). Prompts go through the
    tokenizer's chat template.
:class:`OpenAIBackend`
    Any OpenAI-compatible ``/chat/completions`` endpoint (a local vLLM or llama.cpp
    server, or a hosted API) given by its base URL and model name; the API key, if
    any, is read from an environment variable whose *name* is a parameter. ``p_yes``
    needs the server to return ``logprobs``/``top_logprobs`` for the first answer
    token; when it returns none, an :class:`LLMError` says so, unless the backend was
    made with ``logprob_fallback=True``: then P(Yes) is 1.0 or 0.0 from the text of a
    greedy one-token answer (documented, coarser).

Every call goes through :class:`LLM`, which caches results on disk (:class:`LLMCache`):
one JSON file per call, named by the SHA-256 of (backend, model identity, operation,
prompt, sampling settings), written atomically; a file that does not parse or whose
stored key differs is moved aside and recomputed. A re-run costs nothing; a failed call
stores nothing: a call past its deadline (``timeout``, over the whole reply) and a NaN or
infinite log-probability or P(Yes) are errors, never cache entries. An endpoint's
identity is its URL and model name: if a server starts serving other weights under the
same name, delete the cache folder (or set another one).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import math
import os
import socket
import threading
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path

import numpy as np

from ._utils import atomic_write
from .provenance import cache_dir

__all__ = ["LLMError", "LLMCache", "TransformersBackend", "OpenAIBackend", "LLM", "make_llm",
           "default_cache_dir", "yes_no_probability"]

CACHE_VERSION = 1
_YES = ("yes",)
_NO = ("no",)


class LLMError(RuntimeError):
    """An LLM call failed or returned something unusable."""


def default_cache_dir():
    """``$LIVING_PAPER_CACHE/llm`` if set, else ``<repo>/cache/llm``."""
    return cache_dir("llm")


def _as_messages(prompt, system=None):
    if isinstance(prompt, str):
        messages = [{"role": "user", "content": prompt}]
    else:
        messages = [dict(m) for m in prompt]
        for m in messages:
            if set(m) != {"role", "content"} or not isinstance(m["content"], str):
                raise ValueError(f"a chat message must be {{'role': str, 'content': str}}, "
                                 f"got {m!r}")
    if system:
        messages = [{"role": "system", "content": system}] + messages
    return messages


def yes_no_probability(token_logprobs, source="the model"):
    """P(Yes) from log-probabilities of candidate first tokens.

    Parameters
    ----------
    token_logprobs : dict of str to float
        Token text to log-probability (e.g. the top candidates of the first answer
        token). Tokens count as "yes" or "no" after stripping white space and
        punctuation and lower-casing ("Yes", " yes", "YES." all count).
    source : str
        Named in the error message.

    Returns
    -------
    float
        ``p_yes / (p_yes + p_no)``.

    Raises
    ------
    LLMError
        If no candidate is a yes or a no, or a log-probability is not a finite number
        (NaN or infinite).
    """
    p_yes = p_no = 0.0
    for token, lp in token_logprobs.items():
        lp = _finite(lp, f"{source}: the log-probability of token {token!r}")
        word = str(token).strip().strip(".,!:;\"'").lower()
        if word in _YES:
            p_yes += float(np.exp(lp))
        elif word in _NO:
            p_no += float(np.exp(lp))
    if p_yes + p_no <= 0:
        shown = ", ".join(repr(t) for t in list(token_logprobs)[:8])
        raise LLMError(f"{source}: neither 'Yes' nor 'No' is among the candidate first tokens "
                       f"({shown}); cannot compute P(Yes).")
    return p_yes / (p_yes + p_no)


def _read_some(response, n):
    """Up to ``n`` bytes of an error reply (empty when it cannot be read)."""
    try:
        return response.read(n)
    except (OSError, ValueError):
        return b""


def _read_reply(request, deadline, chunk=1 << 16):
    """The body of ``request``'s reply, read in chunks until a monotonic ``deadline``.

    Each socket wait (connect, headers, each chunk) is bounded by the time left, and
    the deadline is checked after every chunk, so a server that trickles bytes raises
    :class:`TimeoutError` instead of holding the call for ever.
    """
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    parts = []
    with urllib.request.urlopen(request, timeout=left) as resp:
        while True:
            if time.monotonic() >= deadline:
                raise TimeoutError
            part = resp.read1(chunk)
            if not part:
                return b"".join(parts)
            parts.append(part)


def _finite(value, where):
    """``value`` as a finite float, else :class:`LLMError` naming ``where``."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise LLMError(f"{where} is {value!r}; expected a number.") from None
    if not math.isfinite(number):
        raise LLMError(f"{where} is {value!r}; expected a finite number (the reply is "
                       "refused and nothing is cached).")
    return number


def _probability(value, where):
    """``value`` as a probability in [0, 1], else :class:`LLMError` naming ``where``."""
    p = _finite(value, where)
    if not 0.0 <= p <= 1.0:
        raise LLMError(f"{where} is {p!r}; expected a probability between 0 and 1.")
    return p


# --------------------------------------------------------------------------- backends
class TransformersBackend:
    """A local causal LM (anything :func:`analysis.features.resolve_model` accepts).

    The weights are loaded on first use, so a fully cached run never loads them.

    Parameters
    ----------
    model : str | Path | ModelSpec | LoadedModel
        ``"default"`` (SmolLM2-135M-Instruct GGUF), a ``.gguf`` file, a local model
        directory or a hub name; or an already loaded model.
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    top_k : int
        How many candidate first tokens :meth:`next_token_logprobs` returns by default.
    """

    kind = "transformers"

    def __init__(self, model="default", device="auto", top_k=20):
        from .lm import LoadedModel, resolve_model

        if isinstance(model, LoadedModel):
            self._lm, self.spec = model, model.spec
        else:
            self._lm, self.spec = None, resolve_model(model)
        self.device, self.top_k = device, int(top_k)
        self.calls = 0

    @property
    def identity(self):
        """The model's identity (file fingerprint or hub name and revision)."""
        return self.spec.identity

    @property
    def lm(self):
        """The loaded model (loaded on first access)."""
        if self._lm is None:
            from .lm import load_model

            self._lm = load_model(self.spec, device=self.device)
        return self._lm

    def _prompt_text(self, messages):
        tok = self.lm.tokenizer
        if getattr(tok, "chat_template", None):
            return tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return "\n\n".join(m["content"] for m in messages) + "\n\nAnswer:"

    def _input_ids(self, messages):
        # a base model without a chat template gets the turns as plain text
        ids = self.lm.tokenizer(self._prompt_text(messages), return_tensors="pt",
                                add_special_tokens=False)["input_ids"]
        return ids.to(self.lm.input_device)

    def _last_logits(self, ids):
        from .lm import accepts_logits_to_keep

        kw = {"logits_to_keep": 1} if accepts_logits_to_keep(self.lm.model) else {}
        return self.lm.model(ids, **kw).logits[0, -1].float()

    def generate(self, messages, temperature=0.7, max_tokens=512, seed=0):
        """Sample a reply to a chat (``temperature=0``: greedy)."""
        import torch

        self.calls += 1
        ids = self._input_ids(messages)
        kwargs = dict(max_new_tokens=int(max_tokens), pad_token_id=self.lm.tokenizer.pad_token_id,
                      attention_mask=torch.ones_like(ids))
        if temperature and temperature > 0:
            kwargs.update(do_sample=True, temperature=float(temperature), top_p=1.0, top_k=0)
        else:
            kwargs.update(do_sample=False)
        # fork_rng: the seed applies to this call only and leaves the global RNG alone
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            torch.manual_seed(int(seed))
            out = self.lm.model.generate(ids, **kwargs)
        return self.lm.tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)

    def next_token_logprobs(self, messages, top_k=None):
        """Log-probabilities of the most likely first tokens of the reply.

        Returns
        -------
        dict of str to float
            Decoded token text to log-probability, ``top_k`` entries.
        """
        import torch

        self.calls += 1
        ids = self._input_ids(messages)
        with torch.no_grad():
            logits = self._last_logits(ids)
        logp = torch.log_softmax(logits, dim=-1)
        vals, idx = torch.topk(logp, int(top_k or self.top_k))
        out = {}
        for v, i in zip(vals.tolist(), idx.tolist()):
            text = self.lm.tokenizer.decode([i])
            out[text] = float(np.logaddexp(out[text], v)) if text in out else v
        return out

    def _yes_no_ids(self):
        """Vocabulary ids of every token that reads as "yes" or "no" (computed once)."""
        if getattr(self, "_yn", None) is None:
            tok = self.lm.tokenizer
            texts = tok.batch_decode([[i] for i in range(len(tok))])
            norm = [t.strip().strip(".,!:;\"'").lower() for t in texts]
            self._yn = ([i for i, t in enumerate(norm) if t in _YES],
                        [i for i, t in enumerate(norm) if t in _NO])
        return self._yn

    def p_yes_batch(self, batch, batch_size=16):
        """:meth:`p_yes` for many chats, in padded batches (same values as one by one).

        Prompts are right-padded with an attention mask and explicit positions, sorted
        by length to waste little padding; the answer distribution is read at each
        prompt's last real token.
        """
        import torch

        from .lm import forward_padded, pad_right

        tok, model = self.lm.tokenizer, self.lm.model
        encoded = [tok(self._prompt_text(m), add_special_tokens=False)["input_ids"]
                   for m in batch]
        yes, no = self._yes_no_ids()
        pad = tok.pad_token_id if tok.pad_token_id is not None else 0
        out = np.empty(len(batch))
        order = sorted(range(len(batch)), key=lambda i: len(encoded[i]))
        for s in range(0, len(order), int(batch_size)):
            idx = order[s:s + int(batch_size)]
            ids, mask, positions = pad_right([encoded[i] for i in idx], pad)
            last = (mask.sum(1) - 1)[:, None]
            self.calls += len(idx)
            with torch.no_grad():
                logits, _ = forward_padded(model, ids, mask, positions, keep=last)
            probs = torch.softmax(logits[:, 0], dim=-1)
            p_yes, p_no = probs[:, yes].sum(1), probs[:, no].sum(1)
            out[idx] = (p_yes / (p_yes + p_no)).cpu().numpy()
            for i, y, n in zip(idx, p_yes.tolist(), p_no.tolist()):
                self._check_yes_no(y, n, f" for prompt {i} of the batch")
        return out.tolist()

    def _check_yes_no(self, p_yes, p_no, which=""):
        """Refuse non-finite P(yes) / P(no) (NaN or infinite logits) and both being 0."""
        if not (math.isfinite(p_yes) and math.isfinite(p_no)):
            raise LLMError(f"model {self.spec.name}: P(yes) = {p_yes}, P(no) = {p_no}{which} "
                           "are not finite numbers (the model's logits hold NaN or infinity, "
                           "e.g. an overflow in half precision; try float32 or another device).")
        if p_yes + p_no <= 0:
            raise LLMError(f"model {self.spec.name}: P(yes) and P(no) are both 0{which}.")

    def p_yes(self, messages):
        """P(Yes) for a yes/no question, from the first reply token's distribution.

        Sums the probabilities of all vocabulary tokens that read as yes ("Yes",
        " yes", ...) and as no, so the answer never depends on a top-k cut.
        """
        import torch

        self.calls += 1
        ids = self._input_ids(messages)
        with torch.no_grad():
            probs = torch.softmax(self._last_logits(ids), dim=-1)
        yes, no = self._yes_no_ids()
        p_yes, p_no = float(probs[yes].sum()), float(probs[no].sum())
        self._check_yes_no(p_yes, p_no)
        return p_yes / (p_yes + p_no)


class OpenAIBackend:
    """An OpenAI-compatible chat-completions endpoint.

    Parameters
    ----------
    url : str
        Base URL, e.g. ``"http://127.0.0.1:8000/v1"`` (vLLM), ``"http://127.0.0.1:8080/v1"``
        (llama.cpp ``llama-server``) or ``"https://api.openai.com/v1"``;
        ``/chat/completions`` is appended unless the URL already ends with it.
    model : str
        The model name the server expects.
    api_key_env : str | None
        Name of the environment variable holding the API key (sent as a bearer token);
        None sends no key. The key itself is never cached or logged.
    timeout : float
        Deadline in seconds for each call as a whole: connecting, waiting and reading
        the entire reply (not just each wait for data, so a server that trickles its
        reply byte by byte is stopped too). A call past it raises :class:`LLMError`
        naming the endpoint and the deadline, and nothing is cached.
    top_logprobs : int
        Candidates requested for the first answer token in :meth:`p_yes` (OpenAI allows
        at most 20).
    logprob_fallback : bool
        When the server returns no log-probabilities, take P(Yes) = 1.0 / 0.0 from the
        text of a greedy one-token answer instead of raising.
    """

    kind = "openai"

    def __init__(self, url, model, api_key_env=None, timeout=60.0, top_logprobs=20,
                 logprob_fallback=False):
        if not url or not str(url).startswith(("http://", "https://")):
            raise ValueError(f"llm_url must start with http:// or https://, got {url!r}.")
        if not model:
            raise ValueError("an OpenAI-compatible endpoint needs a model name (llm_model).")
        url = str(url).rstrip("/")
        self.endpoint = url if url.endswith("/chat/completions") else url + "/chat/completions"
        self.model, self.api_key_env = str(model), api_key_env
        self.timeout, self.top_logprobs = float(timeout), int(top_logprobs)
        self.logprob_fallback = bool(logprob_fallback)
        if api_key_env and not os.environ.get(api_key_env):
            raise LLMError(f"environment variable {api_key_env!r} (llm_api_key_env) is not set; "
                           "it should hold the endpoint's API key.")
        self.calls = 0

    @property
    def identity(self):
        """The endpoint and model name."""
        return f"{self.endpoint}#{self.model}"

    def _post(self, body):
        """POST ``body`` and return the parsed JSON reply, all within ``self.timeout`` s.

        A socket timeout bounds each single wait only, so a server that sends a byte now
        and then would never time out. Here the whole exchange (connect, headers, body)
        runs in a worker thread that reads the body in chunks and stops at a monotonic
        deadline, and the caller waits for it no longer than the deadline.
        """
        self.calls += 1
        headers = {"Content-Type": "application/json"}
        if self.api_key_env:
            headers["Authorization"] = "Bearer " + os.environ.get(self.api_key_env, "")
        req = urllib.request.Request(self.endpoint, data=json.dumps(body).encode(),
                                     headers=headers, method="POST")
        where = f"LLM endpoint {self.endpoint} (model {self.model!r})"
        late = LLMError(f"{where} did not answer within {self.timeout:g} s (the deadline for "
                        "the whole reply, connection included; raise timeout= for a slow "
                        "server).")
        deadline = time.monotonic() + self.timeout
        outcome, done = {}, threading.Event()

        def fetch():
            try:
                outcome["raw"] = _read_reply(req, deadline)
            except urllib.error.HTTPError as err:
                outcome["http"] = (err.code, err.reason, _read_some(err, 300))
            except BaseException as err:  # handed to the caller
                outcome["error"] = err
            finally:
                done.set()

        threading.Thread(target=fetch, name="llm-post", daemon=True).start()
        if not done.wait(max(deadline - time.monotonic(), 0.0)):
            raise late
        if "http" in outcome:
            code, reason, detail = outcome["http"]
            raise LLMError(f"{where} answered HTTP {code} {reason}: "
                           f"{detail.decode('utf-8', 'replace')}")
        err = outcome.get("error")
        if isinstance(err, urllib.error.URLError) and not isinstance(
                err.reason, (socket.timeout, TimeoutError)):
            raise LLMError(f"{where} cannot be reached: {err.reason}")
        if isinstance(err, (socket.timeout, TimeoutError, urllib.error.URLError)):
            raise late
        if isinstance(err, (OSError, http.client.HTTPException)):
            raise LLMError(f"{where} broke off its reply: {err!r}")
        if err is not None:
            raise err
        raw = outcome["raw"]
        try:
            return json.loads(raw)
        except ValueError:
            raise LLMError(f"{where} returned a body that is not JSON: "
                           f"{raw[:200].decode('utf-8', 'replace')!r}") from None

    def _choice(self, reply):
        where = f"LLM endpoint {self.endpoint}"
        try:
            choice = reply["choices"][0]
            content = choice["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise LLMError(f"{where}: reply lacks choices[0].message.content "
                           f"(got {json.dumps(reply)[:200]})") from None
        if not isinstance(content, str):
            raise LLMError(f"{where}: choices[0].message.content is {type(content).__name__}, "
                           "expected a string.")
        return choice, content

    def generate(self, messages, temperature=0.7, max_tokens=512, seed=0):
        """Sample a reply to a chat."""
        body = {"model": self.model, "messages": messages, "temperature": float(temperature),
                "max_tokens": int(max_tokens), "seed": int(seed)}
        return self._choice(self._post(body))[1]

    def p_yes(self, messages):
        """P(Yes) from ``top_logprobs`` of the first answer token."""
        body = {"model": self.model, "messages": messages, "temperature": 0.0, "max_tokens": 1,
                "logprobs": True, "top_logprobs": self.top_logprobs, "seed": 0}
        choice, content = self._choice(self._post(body))
        field = f"LLM endpoint {self.endpoint}: choices[0].logprobs.content[0]"
        try:
            first = choice["logprobs"]["content"][0]
            cands = {c["token"]: _finite(c["logprob"], f"{field}.top_logprobs[{i}].logprob")
                     for i, c in enumerate(first.get("top_logprobs") or [])}
            cands.setdefault(first["token"], _finite(first["logprob"], f"{field}.logprob"))
        except (KeyError, IndexError, TypeError, AttributeError):
            if self.logprob_fallback:
                word = content.strip().strip(".,!\"'").lower()
                if word.startswith(("yes", "no")):
                    return 1.0 if word.startswith("yes") else 0.0
                raise LLMError(f"LLM endpoint {self.endpoint}: answer {content!r} is neither "
                               "Yes nor No.") from None
            raise LLMError(
                f"LLM endpoint {self.endpoint} returned no logprobs for the first token "
                "(choices[0].logprobs.content[0].top_logprobs); P(Yes) needs them. Use a "
                "server that supports 'logprobs' (vLLM, llama.cpp llama-server, OpenAI), or "
                "pass logprob_fallback=True to score 1/0 from the answer text.") from None
        return yes_no_probability(cands, source=f"LLM endpoint {self.endpoint}")


# --------------------------------------------------------------------------- cache
def _no_constant(name):
    """``json.loads`` hook: a cache entry holding NaN or Infinity is corrupt."""
    raise ValueError(f"holds {name}")


class LLMCache:
    """One JSON file per call under ``folder``, named by the SHA-256 of its key.

    Parameters
    ----------
    folder : str | Path
    """

    def __init__(self, folder):
        self.folder = Path(folder)

    @staticmethod
    def key(payload):
        """Canonical JSON of a call's key (sorted keys)."""
        return json.dumps(payload, sort_keys=True, ensure_ascii=False)

    def path(self, payload):
        """File that holds the entry of ``payload``."""
        digest = hashlib.sha256(self.key(payload).encode()).hexdigest()
        return self.folder / digest[:2] / f"{digest}.json"

    def get(self, payload):
        """The cached value, or None (a corrupted entry is moved aside with a warning)."""
        path = self.path(payload)
        if not path.exists():
            return None
        try:
            entry = json.loads(path.read_text(encoding="utf-8"), parse_constant=_no_constant)
            if entry["key"] != self.key(payload):
                raise ValueError("stored key differs")
            return entry["value"]
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as err:
            aside = path.with_name(path.name + ".corrupt")
            os.replace(path, aside)
            warnings.warn(f"{path}: corrupted LLM cache entry ({err}); moved to {aside} and "
                          "recomputing.", RuntimeWarning, stacklevel=3)
            return None

    def put(self, payload, value):
        """Store ``value`` atomically."""
        text = json.dumps({"key": self.key(payload), "value": value}, ensure_ascii=False,
                          allow_nan=False)
        atomic_write(self.path(payload), lambda tmp: tmp.write_text(text, encoding="utf-8"))


class LLM:
    """A backend plus its disk cache: the interface the proposer and verifier use.

    Parameters
    ----------
    backend : TransformersBackend | OpenAIBackend
    cache_dir : str | Path | None
        Cache folder (default :func:`default_cache_dir`); ``False`` disables caching.
    """

    def __init__(self, backend, cache_dir=None):
        self.backend = backend
        self.cache = None if cache_dir is False else LLMCache(cache_dir or default_cache_dir())

    def __repr__(self):
        return f"<LLM {self.backend.kind}: {self.backend.identity}>"

    @property
    def calls(self):
        """Calls that reached the backend (cache misses)."""
        return self.backend.calls

    def _payload(self, op, messages, settings):
        """The cache key of one call: backend, model identity, prompt, settings."""
        return {"version": CACHE_VERSION, "backend": self.backend.kind,
                "model": self.backend.identity, "op": op, "messages": messages,
                "settings": settings}

    def _cached(self, op, messages, settings, compute):
        payload = self._payload(op, messages, settings)
        if self.cache is not None:
            hit = self.cache.get(payload)
            if hit is not None:
                return hit
        value = compute()  # raises on failure, so nothing is stored
        if self.cache is not None:
            self.cache.put(payload, value)
        return value

    def generate(self, prompt, temperature=0.7, max_tokens=512, seed=0, system=None):
        """Reply text for a prompt (str, or a list of chat messages).

        Parameters
        ----------
        prompt : str | list of dict
        temperature : float
            0 is greedy.
        max_tokens : int
        seed : int
            Sampling seed (different seeds give different cached samples).
        system : str | None
            Optional system message.

        Returns
        -------
        str
        """
        messages = _as_messages(prompt, system)
        settings = {"temperature": float(temperature), "max_tokens": int(max_tokens),
                    "seed": int(seed)}
        return self._cached("generate", messages, settings,
                            lambda: self.backend.generate(messages, **settings))

    def p_yes(self, question, system=None):
        """P(Yes) for a yes/no question (a float in [0, 1])."""
        messages = _as_messages(question, system)
        return float(self._cached("p_yes", messages, {},
                                  lambda: self._checked(self.backend.p_yes(messages))))

    def _checked(self, p):
        """A backend's P(Yes), refused unless a probability (nothing bad is cached)."""
        return _probability(p, f"P(Yes) from {self.backend.kind} model "
                               f"{self.backend.identity}")

    def p_yes_many(self, questions, system=None, batch_size=16):
        """P(Yes) for many questions; cache misses go to the backend in batches.

        Each finished batch is cached before the next starts, so an interrupted run
        resumes where it stopped.

        Returns
        -------
        ndarray of float, shape (len(questions),)
        """
        msgs = [_as_messages(q, system) for q in questions]
        payloads = [self._payload("p_yes", m, {}) for m in msgs]
        out = np.full(len(msgs), np.nan)
        if self.cache is not None:
            for i, p in enumerate(payloads):
                hit = self.cache.get(p)
                if hit is not None:
                    out[i] = hit
        todo = np.flatnonzero(np.isnan(out))
        batched = getattr(self.backend, "p_yes_batch", None)
        for s in range(0, len(todo), int(batch_size)):
            idx = todo[s:s + int(batch_size)]
            values = (batched([msgs[i] for i in idx]) if batched is not None
                      else [self.backend.p_yes(msgs[i]) for i in idx])
            values = [self._checked(v) for v in values]  # the whole batch, before caching
            for i, v in zip(idx, values):
                out[i] = v
                if self.cache is not None:
                    self.cache.put(payloads[i], v)
        return out


def make_llm(model="default", url=None, api_key_env=None, device="auto", cache_dir=None,
             timeout=60.0, logprob_fallback=False):
    """Build an :class:`LLM` from the chapter's parameters.

    Parameters
    ----------
    model : str
        With ``url``: the endpoint's model name; without: anything
        :func:`analysis.features.resolve_model` accepts (``"default"``, a ``.gguf`` file,
        a model directory, a hub name).
    url : str | None
        Base URL of an OpenAI-compatible endpoint; None uses a local transformers model.
    api_key_env : str | None
        Environment variable holding the endpoint's API key.
    device, cache_dir, timeout, logprob_fallback
        See the backends and :class:`LLM`.

    Returns
    -------
    LLM
    """
    if url:
        backend = OpenAIBackend(url, model, api_key_env=api_key_env, timeout=timeout,
                                logprob_fallback=logprob_fallback)
    else:
        backend = TransformersBackend(model, device=device)
    return LLM(backend, cache_dir=cache_dir)
