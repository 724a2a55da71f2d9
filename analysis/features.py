"""Language-model features of words: layer-wise hidden states and surprisal (Methods page, language-model features).

For every analysed word the chosen causal language model reads a context that ends
with that word and we keep

* the word's vector in every layer: the mean of the hidden states over the tokens of
  the word (embedding output + the output of each block, so ``n_layers + 1`` vectors),
  and
* the word's surprisal: the sum over the word's tokens of ``-log p(token | preceding
  tokens)``, in nats (divide by ln 2 for bits).

Rules, in one place
-------------------
Presented text and rows
    Features are computed on the text as presented. A :class:`~analysis.data.WordDataset`
    whose rows are a subset of what was shown (sentence-initial words without a
    response, words left out by a published exclusion) carries the whole text in its
    :attr:`~analysis.data.WordDataset.stimulus`; the words that are not rows are still
    read as context, and features are returned for the rows only.
Context
    ``context="running"``: word *i* is preceded by words ``i-(n-1) ... i-1`` of the
    text; ``"sentence"``: only by the words of its own sentence inside that window (for
    isolated sentences, as in Frank et al. 2015); ``"story"``: by all the preceding
    words of its story (long context, as in Natural Stories). Words are stripped of
    surrounding whitespace and joined by one space; empty words keep their position in
    the word list but add no text.
Long context ("story")
    A story is tokenised once and read in overlapping windows of ``window_tokens``
    tokens whose starts are ``stride = window_tokens // 2`` tokens apart (a few forward
    passes per story, not one per word). A token belongs to the first window that
    reads it with at least ``window_tokens - stride`` tokens before it (the first window
    owns its first ``window_tokens`` tokens), and a word is computed in the window that
    owns its last token: so every word past the first window sees at least ``stride``
    tokens of its story, and all its tokens come from one pass. The result equals a
    separate forward pass over the tokens from that window's start to the word (tested).
Beginning of sequence
    If the tokenizer has a BOS token it is prepended to every context (and every
    window), so that the first word of a text has a surprisal and every context starts
    the same way. Without a BOS token (and without an instruction) a word whose first
    token opens the sequence has no prediction: its surprisal is NaN, a
    :class:`RuntimeWarning` says how many words are affected and
    ``Features.params["n_nan_surprisal"]`` records the count.
Instruction
    An optional instruction (Methods page, beyond the paper) is prepended to every context as
    ``instruction + "\\n"`` (after the BOS token). It enters the cache key; its tokens are
    never pooled, but they do condition every word, including the first one.
Pooling tokens
    The context is tokenised with character offsets. The word, stripped of surrounding
    punctuation and symbols (Unicode categories P* and S*), spans a range of characters;
    the word's tokens are the tokens whose character span overlaps that range. When the
    stripped word is empty (a punctuation-only word such as ``"--"`` or an empty word)
    or no token overlaps it, the last token of the word (or of the sequence) is used.
    Tokenizers without offsets (no "fast" tokenizer) fall back to the tokens that appear
    when the word is appended to the preceding text (punctuation included); the story
    mode needs offsets.
Surprisal tokens
    All tokens overlapping the whole word *including* its attached punctuation (the
    reader saw ``"Harry."``, not ``"Harry"``). The first of them is predicted from the
    preceding context. An empty word has no tokens and a surprisal of 0.
Logits
    Only the positions that predict the word's tokens go through the output layer
    (:func:`analysis.lm.forward_padded`). For Llama-type models in transformers 5,
    ``hidden_states[-1]`` is the output of the final norm (the same tensor that feeds
    ``lm_head``), so the last "layer" of the features is post-norm; the tests check
    both facts against a full forward pass.
Batching
    Contexts are sorted by token length and padded on the right with an attention mask
    and explicit position ids (:func:`analysis.lm.pad_right`); a word's vector does not
    depend on the batch size or on the other sequences in the batch (up to float
    rounding).

Cache
-----
Features are stored as ``<cache_dir>/<model-slug>-<key[:20]>.npz`` where ``key`` is the
SHA-256 of the model identity, the presented words, the sentence ids (sentence mode),
the story ids and window size (story mode), the rows (when they are not the whole text),
the context mode, ``n_context``, the instruction, the layer selection, the compute dtype
and :data:`FEATURE_VERSION`. A request for some rows is served from the cache of the
whole text when that exists. Work is done in chunks (of ``chunk_size`` rows, or one
story); each finished chunk is written atomically to ``<same name>.partial/chunk-<first
row>-<end row>.npz`` so that an interrupted run resumes where it stopped. The final file
is assembled at the end and the partial folder removed. A cache hit never loads the
model. A cache or chunk file that cannot be read or does not match its key and shapes
is moved aside to ``<name>.corrupt`` with a warning and recomputed: bad data are never
used silently.

The default ``cache_dir`` is ``$LIVING_PAPER_CACHE/features`` when that variable is set
(it names the root of the project's caches), otherwise ``<repo>/cache/features``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import unicodedata
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._utils import DataError, atomic_savez, check_array, resolve_device
from .data import CONTEXT_MODES, WordDataset
from .lm import (DEFAULT_MODEL, LoadedModel, ModelError, ModelSpec, describe_model,
                 forward_padded, load_model, pad_right, resolve_dtype, resolve_model)
from .provenance import cache_dir

__all__ = [
    "FEATURE_VERSION", "DEFAULT_MODEL", "DEFAULT_BATCH_SIZE", "DEFAULT_CHUNK_SIZE",
    "DEFAULT_WINDOW_TOKENS", "ModelError", "ModelSpec", "LoadedModel", "Features",
    "resolve_model", "load_model", "describe_model", "build_contexts", "extract_features",
    "feature_cache_key", "default_cache_dir", "strip_punctuation", "check_features",
]

#: Version of the feature code; part of every cache key. Bump it when results change.
FEATURE_VERSION = "2"
#: Contexts per forward pass on CPU (2-core CPU, SmolLM2-135M: 16, 32 and 64 all run at
#: about 22-25 words/s; 32 keeps activations small).
DEFAULT_BATCH_SIZE = 32
#: Words per resumable chunk of work.
DEFAULT_CHUNK_SIZE = 256
#: Tokens per window of the long ("story") context; windows start half of it apart.
DEFAULT_WINDOW_TOKENS = 1024


# ------------------------------------------------------------------------- contexts
def _is_strippable(ch):
    return ch.isspace() or unicodedata.category(ch)[0] in "PS"


def strip_punctuation(word):
    """Return ``(start, end)`` of ``word`` without surrounding punctuation and symbols.

    Parameters
    ----------
    word : str

    Returns
    -------
    tuple of int
        Character range; empty (``start == end``) for a punctuation-only word.
    """
    start, end = 0, len(word)
    while start < end and _is_strippable(word[start]):
        start += 1
    while end > start and _is_strippable(word[end - 1]):
        end -= 1
    return start, end


def _first_of_block(labels):
    """Index of the first word of each word's block (sentence or story)."""
    labels = np.asarray(labels)
    first = np.zeros(labels.size, dtype=int)
    for i in range(1, labels.size):
        first[i] = first[i - 1] if labels[i] == labels[i - 1] else i
    return first


def _window_starts(n_words, sentence, context, n_context):
    if context not in ("running", "sentence"):
        raise ValueError(f"context must be 'running' or 'sentence' here, got {context!r}.")
    if n_context < 1:
        raise ValueError(f"n_context must be at least 1, got {n_context}.")
    starts = np.maximum(np.arange(n_words) - (n_context - 1), 0)
    if context == "sentence":
        if sentence is None:
            raise ValueError("context='sentence' needs the sentence index of every word.")
        sentence = np.asarray(sentence)
        if sentence.shape != (n_words,):
            raise ValueError(f"sentence has shape {sentence.shape}; expected ({n_words},).")
        starts = np.maximum(starts, _first_of_block(sentence))
    return starts


def _contexts_with_spans(words, sentence, context, n_context, rows=None):
    """Context text of each requested word with the character span of that word.

    Returns a list of ``(text, (w0, w1), (c0, c1))``: the whole word and the word
    stripped of punctuation, for ``rows`` (default: every word).
    """
    words = [str(w).strip() for w in words]
    starts = _window_starts(len(words), sentence, context, n_context)
    rows = range(len(words)) if rows is None else rows
    out = []
    for i in rows:
        text = " ".join(w for w in words[starts[i]:i + 1] if w)
        w0 = len(text) - len(words[i])
        c0, c1 = strip_punctuation(words[i])
        out.append((text, (w0, len(text)), (w0 + c0, w0 + c1)))
    return out


def build_contexts(words, sentence=None, context="running", n_context=20):
    """Context string of every word (``"running"`` and ``"sentence"`` modes).

    Parameters
    ----------
    words : list of str
    sentence : array-like of int | None
        Sentence index of each word (needed for ``context="sentence"``).
    context : {"running", "sentence"}
        ``"running"``: words ``i-(n-1) ... i`` of the text; ``"sentence"``: only those
        of word *i*'s own sentence (the sentence prefix up to *n* words).
    n_context : int
        Number of words in a full context, the word itself included.

    Returns
    -------
    list of str
        Words stripped of whitespace and joined by one space (empty words add no text).
    """
    return [c[0] for c in _contexts_with_spans(words, sentence, context, n_context)]


# ------------------------------------------------------------------------- encoding
@dataclass
class _Item:
    """One tokenised context: ids, positions to pool, positions of the word's tokens."""

    ids: list
    pool: list
    targets: list


def _overlapping(offsets, lo, hi, shift):
    lo, hi = lo + shift, hi + shift
    return [k for k, (a, b) in enumerate(offsets) if b > a and a < hi and b > lo]


def _encode_fast(tokenizer, contexts, prefix, head):
    texts = [prefix + text for text, _, _ in contexts]
    enc = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)
    items = []
    shift = len(prefix)
    for ids, offsets, (_, word, core) in zip(enc["input_ids"], enc["offset_mapping"], contexts):
        seq = head + list(ids)
        off = len(head)
        pool = [k + off for k in _overlapping(offsets, core[0], core[1], shift)]
        targets = [k + off for k in _overlapping(offsets, word[0], word[1], shift)]
        items.append(_Item(seq, pool, targets))
    return items


def _encode_slow(tokenizer, contexts, prefix, head):
    items = []
    for text, word, _ in contexts:
        before = tokenizer(prefix + text[:word[0]].rstrip(),
                           add_special_tokens=False)["input_ids"]
        full = tokenizer(prefix + text, add_special_tokens=False)["input_ids"]
        seq = head + list(full)
        off = len(head)
        if word[1] > word[0] and full[:len(before)] == before and len(full) > len(before):
            targets = list(range(off + len(before), off + len(full)))
        else:
            targets = []
        items.append(_Item(seq, list(targets), targets))
    return items


def _encode(tokenizer, contexts, instruction):
    """Tokenise contexts and find the pooled and predicted positions of each last word."""
    prefix = f"{instruction}\n" if instruction else ""
    bos = tokenizer.bos_token_id
    head = [bos] if bos is not None else []
    encode = _encode_fast if getattr(tokenizer, "is_fast", False) else _encode_slow
    items = encode(tokenizer, contexts, prefix, head)
    filler = next(t for t in (bos, tokenizer.eos_token_id, tokenizer.pad_token_id, 0)
                  if t is not None)
    for it in items:
        if not it.ids:  # an empty text and no BOS: feed one placeholder token
            it.ids = [filler]
        if not it.pool:
            it.pool = [len(it.ids) - 1]
    return items


# -------------------------------------------------------------------------- forward
def _forward(lm, items, layer_idx):
    """Pooled hidden states ``(n_sel_layers, B, d)`` and surprisal ``(B,)`` of a batch."""
    import torch

    pad = lm.tokenizer.pad_token_id if lm.tokenizer.pad_token_id is not None else 0
    ids, mask, positions = pad_right([it.ids for it in items], pad)
    n, length = ids.shape
    weights = torch.zeros((n, length), dtype=torch.float32)
    preds = [[p - 1 for p in it.targets if p >= 1] for it in items]
    width = max(1, max(len(p) for p in preds))
    keep = torch.zeros((n, width), dtype=torch.long)
    valid = torch.zeros((n, width), dtype=torch.bool)
    for b, it in enumerate(items):
        weights[b, it.pool] = 1.0 / len(it.pool)
        keep[b, :len(preds[b])] = torch.tensor(preds[b], dtype=torch.long)
        valid[b, :len(preds[b])] = True
    logits, states = forward_padded(lm.model, ids, mask, positions, keep=keep,
                                    hidden_states=True)
    hidden = torch.stack([
        torch.einsum("bl,bld->bd", weights.to(states[k].device), states[k].float()).cpu()
        for k in layer_idx
    ])
    logp = torch.log_softmax(logits, dim=-1).cpu()
    target_ids = torch.take_along_dim(ids, (keep + 1).clamp(max=length - 1), dim=1)
    token_logp = torch.take_along_dim(logp, target_ids[..., None], dim=2)[..., 0]
    surprisal = -torch.where(valid, token_logp, 0.0).sum(dim=1)
    no_context = torch.tensor([0 in it.targets for it in items])
    surprisal[no_context] = float("nan")
    return hidden.numpy(), surprisal.numpy()


def _compute_items(lm, items, layer_idx, batch_size, bar=None, n_blocks=None):
    """Features of tokenised contexts, batched by token length, in input order.

    ``n_blocks``: run only that many blocks (no surprisal then, see :class:`analysis.lm.truncated`).
    """
    import torch

    from .lm import truncated

    order = sorted(range(len(items)), key=lambda i: len(items[i].ids))
    d = lm.model.config.hidden_size
    hidden = np.zeros((len(layer_idx), len(items), d), dtype=np.float32)
    surprisal = np.zeros(len(items), dtype=np.float32)
    with torch.inference_mode(), truncated(lm.model, n_blocks):
        for s in range(0, len(order), batch_size):
            idx = order[s:s + batch_size]
            h, srp = _forward(lm, [items[i] for i in idx], layer_idx)
            hidden[:, idx] = h
            surprisal[idx] = srp if n_blocks is None else np.nan
            if bar is not None:
                bar.update(len(idx))
    return hidden, surprisal


# ------------------------------------------------------------------ long context
def _story_text(words):
    """The story as one string (words joined by single spaces) and each word's spans."""
    parts, spans, pos = [], [], 0
    for w in words:
        w = str(w).strip()
        if w:
            if parts:
                pos += 1
            parts.append(w)
            c0, c1 = strip_punctuation(w)
            spans.append(((pos, pos + len(w)), (pos + c0, pos + c1)))
            pos += len(w)
        else:
            spans.append(((pos, pos), (pos, pos)))
    return " ".join(parts), spans


def _story_windows(n_tokens, width, stride):
    """Window starts and, for each token, the window that owns it."""
    starts = [0]
    while starts[-1] + width < n_tokens:
        starts.append(starts[-1] + stride)
    owner = np.zeros(n_tokens, dtype=int)
    for k, s in enumerate(starts[1:], start=1):
        owner[s + width - stride:] = k
    return starts, owner


def _story_items(tokenizer, words, rows, window_tokens, instruction):
    """Tokenised windows over one story and, per requested row, where its tokens are.

    Returns ``(windows, plan)``: ``windows`` is a list of token-id lists; ``plan`` holds
    one ``(window, pool positions, target positions)`` per row in ``rows``.
    """
    if not getattr(tokenizer, "is_fast", False):
        raise ModelError("context='story' needs a tokenizer with character offsets "
                         "(a 'fast' tokenizer).")
    text, spans = _story_text(words)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = list(enc["input_ids"]), enc["offset_mapping"]
    bos = tokenizer.bos_token_id
    head = ([bos] if bos is not None else [])
    if instruction:
        head += tokenizer(f"{instruction}\n", add_special_tokens=False)["input_ids"]
    width = int(window_tokens) - len(head)
    if width < 8:
        raise ValueError(f"window_tokens={window_tokens} leaves {width} tokens of text per "
                         "window after the BOS token and the instruction; expected at least 8.")
    stride = width // 2
    starts, owner = _story_windows(len(ids), width, stride)
    windows = [head + ids[s:s + width] for s in starts]
    plan = []
    for i in rows:
        (w0, w1), (c0, c1) = spans[i]
        targets = _overlapping(offsets, w0, w1, 0)
        pool = _overlapping(offsets, c0, c1, 0) or targets[-1:]
        if not targets:  # an empty word: pool the last token before it, no surprisal
            before = [k for k, (a, b) in enumerate(offsets) if b <= w0 and b > a]
            last = before[-1] if before else 0
            k = int(owner[last]) if len(ids) else 0
            plan.append((k, [last - starts[k] + len(head)], []))
            continue
        k = int(owner[targets[-1]])
        if targets[0] < starts[k] + (1 if k else 0):
            raise DataError(f"word {i} ({words[i]!r}) has {len(targets)} tokens, more than a "
                            f"window's stride ({stride}); raise window_tokens.")
        shift = len(head) - starts[k]
        plan.append((k, [t + shift for t in pool], [t + shift for t in targets]))
    return windows, plan


def _compute_story(lm, words, rows, layer_idx, batch_size, window_tokens, instruction,
                   bar=None):
    """Features of some words of one story, read in overlapping windows."""
    import torch

    windows, plan = _story_items(lm.tokenizer, words, rows, window_tokens, instruction)
    d = lm.model.config.hidden_size
    hidden = np.zeros((len(layer_idx), len(rows), d), dtype=np.float32)
    surprisal = np.zeros(len(rows), dtype=np.float32)
    by_window = {}
    for j, (k, _, _) in enumerate(plan):
        by_window.setdefault(k, []).append(j)
    needed = sorted(by_window)
    with torch.inference_mode():
        for s in range(0, len(needed), max(1, batch_size // 8)):
            ks = needed[s:s + max(1, batch_size // 8)]
            items = []
            owners = []
            for k in ks:
                for j in by_window[k]:
                    items.append(_Item(windows[k], plan[j][1], plan[j][2]))
                    owners.append(j)
            h, srp = _forward_windows(lm, [windows[k] for k in ks], ks, items, owners, plan,
                                      layer_idx)
            hidden[:, owners] = h
            surprisal[owners] = srp
            if bar is not None:
                bar.update(len(owners))
    return hidden, surprisal


def _forward_windows(lm, seqs, ks, items, owners, plan, layer_idx):
    """One padded pass over a few windows; pooled states and surprisal of their words."""
    import torch

    pad = lm.tokenizer.pad_token_id if lm.tokenizer.pad_token_id is not None else 0
    ids, mask, positions = pad_right(seqs, pad)
    row_of = {k: r for r, k in enumerate(ks)}
    # only the positions that predict a word's token go through the output layer
    needed = [set() for _ in seqs]
    for item, j in zip(items, owners):
        needed[row_of[plan[j][0]]].update(t - 1 for t in item.targets if t >= 1)
    needed = [sorted(p) or [0] for p in needed]
    keep = torch.zeros((len(seqs), max(len(p) for p in needed)), dtype=torch.long)
    for r, p in enumerate(needed):
        keep[r, :len(p)] = torch.as_tensor(p)
    column = [{q: c for c, q in enumerate(p)} for p in needed]
    logits, states = forward_padded(lm.model, ids, mask, positions, keep=keep,
                                    hidden_states=True)
    logp = torch.log_softmax(logits, dim=-1).cpu()
    n = len(items)
    hidden = np.zeros((len(layer_idx), n, states[0].shape[-1]), dtype=np.float32)
    surprisal = np.zeros(n, dtype=np.float32)
    for m, (item, j) in enumerate(zip(items, owners)):
        r = row_of[plan[j][0]]
        pool = torch.as_tensor(item.pool)
        for li, k in enumerate(layer_idx):
            hidden[li, m] = states[k][r, pool].float().mean(0).cpu().numpy()
        if item.targets and item.targets[0] == 0:
            surprisal[m] = np.nan
        elif item.targets:
            cols = [column[r][t - 1] for t in item.targets]
            surprisal[m] = -float(sum(logp[r, c, int(ids[r, t])]
                                      for c, t in zip(cols, item.targets)))
    return hidden, surprisal


# ---------------------------------------------------------------------------- cache
@dataclass
class Features:
    """Language-model features of a word list.

    Attributes
    ----------
    hidden : ndarray of float32, shape (n_selected_layers, n_words, d)
        Word vectors; ``hidden[j]`` belongs to hidden state ``layers[j]`` (0 = embedding
        output, *k* = output of block *k*).
    surprisal : ndarray of float32, shape (n_words,)
        Sum of ``-log p`` of the word's tokens, in nats (NaN only where no token preceded
        the word, see the module notes).
    layers : ndarray of int
        Hidden-state indices held in ``hidden``.
    model_identity : str
        :attr:`ModelSpec.identity` of the model.
    params : dict
        Everything else that defines the features (model name, context, ``n_context``,
        instruction, dtype, cache key, ``n_layers``, ``hidden_size``, ...).
    """

    hidden: np.ndarray
    surprisal: np.ndarray
    layers: np.ndarray
    model_identity: str
    params: dict = field(default_factory=dict)

    @property
    def n_words(self):
        """Number of words."""
        return self.hidden.shape[1]

    def layer(self, index):
        """Word vectors ``(n_words, d)`` of hidden state ``index`` (model numbering)."""
        where = np.flatnonzero(self.layers == index)
        if where.size == 0:
            raise KeyError(f"hidden state {index} was not extracted; "
                           f"have {self.layers.tolist()}.")
        return self.hidden[where[0]]

    def __repr__(self):
        return (f"<Features {self.params.get('model', '?')}: {self.n_words} words, "
                f"{len(self.layers)} hidden states x {self.hidden.shape[2]}>")


def default_cache_dir():
    """``$LIVING_PAPER_CACHE/features`` if set, else ``<repo>/cache/features``."""
    return cache_dir("features")


def _layers_param(layers):
    if isinstance(layers, str):
        if layers != "all":
            raise ValueError(f"layers must be 'all' or a list of ints, got {layers!r}.")
        return "all"
    if isinstance(layers, (int, np.integer)):
        layers = [layers]
    return [int(k) for k in layers]


def feature_cache_key(identity, words, sentence, context, n_context, instruction, layers,
                      dtype, story=None, rows=None, window_tokens=None, surprisal=True):
    """SHA-256 hex digest identifying a feature computation (see the module notes).

    Parameters
    ----------
    identity : str
        :attr:`analysis.lm.ModelSpec.identity`.
    words : list of str
        The presented words.
    sentence, story : array-like of int | None
        Sentence ids (enter the key in sentence mode) and story ids (story mode).
    context, n_context, instruction, layers, dtype
        As in :func:`extract_features`.
    rows : array-like of int | None
        Positions computed, when not every presented word.
    window_tokens : int | None
        Window size of the story mode.

    Returns
    -------
    str
    """
    def ints(a):
        return None if a is None else [int(v) for v in np.asarray(a)]

    payload = {
        "model": identity,
        "words": [str(w) for w in words],
        "sentence": ints(sentence) if context == "sentence" else None,
        "context": context,
        "n_context": int(n_context) if context != "story" else None,
        "instruction": instruction or None,
        "layers": _layers_param(layers),
        "dtype": dtype,
        "feature_version": FEATURE_VERSION,
    }
    if context == "story":
        payload["story"] = ints(story)
        payload["window_tokens"] = int(window_tokens)
    if rows is not None:
        payload["rows"] = ints(rows)
    if not surprisal:
        payload["surprisal"] = False
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _write_npz(path, hidden, surprisal, layers, meta):
    atomic_savez(path, hidden=hidden, surprisal=surprisal, layers=np.asarray(layers),
                 meta=np.array(json.dumps(meta, sort_keys=True)))


def _read_npz(path, key, n_words, n_layers=None):
    """Arrays of a cache file checked against its key and shapes; DataError if bad."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            hidden, surprisal = npz["hidden"], npz["surprisal"]
            layers, meta = npz["layers"], json.loads(str(npz["meta"]))
    except Exception as err:  # noqa: BLE001 - any read failure means a bad file
        raise DataError(f"{path}: unreadable feature cache ({type(err).__name__}: {err})")
    if not isinstance(meta, dict):
        raise DataError(f"{path}: bad feature cache: field 'meta' is a JSON "
                        f"{type(meta).__name__}, expected an object with the cache key")
    problems = []
    if meta.get("key") != key:
        problems.append("its key does not match")
    if hidden.dtype != np.float32 or hidden.ndim != 3 or hidden.shape[1] != n_words:
        problems.append(f"'hidden' has shape {hidden.shape}, expected (layers, {n_words}, d)")
    elif hidden.shape[0] != len(layers) or (n_layers is not None and len(layers) != n_layers):
        problems.append(f"'hidden' has {hidden.shape[0]} layers for {len(layers)} indices")
    if surprisal.shape != (n_words,):
        problems.append(f"'surprisal' has shape {surprisal.shape}, expected ({n_words},)")
    if hidden.size and not np.isfinite(hidden).all():
        problems.append("'hidden' holds NaN/inf")
    if problems:
        raise DataError(f"{path}: bad feature cache: {'; '.join(problems)}")
    return hidden, surprisal, np.asarray(layers, dtype=int), meta


def _load_or_quarantine(path, key, n_words, n_layers=None):
    """Read a cache file; a bad one is moved to ``*.corrupt`` with a warning (→ None)."""
    if not path.exists():
        return None
    try:
        return _read_npz(path, key, n_words, n_layers)
    except DataError as err:
        aside = path.with_name(path.name + ".corrupt")
        os.replace(path, aside)
        warnings.warn(f"{err}. Moved it to {aside} and recomputing.", RuntimeWarning,
                      stacklevel=3)
        return None


def _slug(name):
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-")[:40] or "model"


# ----------------------------------------------------------------------- extraction
def _presented(words, sentence, context, story):
    """Presented words, sentence and story ids, rows and context mode of the input."""
    if isinstance(words, WordDataset):
        st = words.presented()
        context = words.context if context is None else context
        return (st.words, st.sentence if sentence is None else sentence,
                st.story if story is None else story, st.index, context)
    words = [str(w) for w in words]
    return words, sentence, story, None, context or "running"


def _resolve_layers(layers, n_layers):
    n_states = n_layers + 1
    if layers == "all":
        return list(range(n_states))
    out = []
    for k in layers:
        if not -n_states <= k < n_states:
            raise ValueError(f"layer {k} out of range for {n_states} hidden states.")
        out.append(k % n_states)
    return out


def _warn_nan(surprisal):
    n_nan = int(np.isnan(surprisal).sum())
    if n_nan:
        warnings.warn(f"{n_nan} word(s) have no surprisal (NaN): the tokenizer has no BOS "
                      "token and nothing precedes their first token.", RuntimeWarning,
                      stacklevel=3)
    return n_nan


def check_features(features, n_words, name="features", words=None):
    """Check user features: shape (n_words, d) and finite values, naming the bad word.

    Parameters
    ----------
    features : array_like, shape (n_words, d)
    n_words : int
    name : str
        Used in the message.
    words : list of str | None
        Named in the message when given.

    Returns
    -------
    ndarray of float64

    Raises
    ------
    DataError
        Wrong rank, wrong number of rows, NaN or infinite entries (the first is named
        by word and column).
    """
    def row(i):
        return f"word {i}" + (f" ({words[i]!r})" if words is not None and i < len(words) else "")

    return check_array(features, name, shape=(n_words, None), row_name=row,
                       col_name=lambda j: f"column {j}")


def _chunks(rows, context, story, chunk_size):
    """Row ranges processed (and cached) together: fixed sizes, or one story each."""
    if context != "story":
        return [(s, min(s + chunk_size, len(rows))) for s in range(0, len(rows), chunk_size)]
    labels = np.zeros(len(rows), dtype=int) if story is None else np.asarray(story)[rows]
    cuts = np.r_[0, np.flatnonzero(np.diff(labels)) + 1, len(rows)]
    return [(int(a), int(b)) for a, b in zip(cuts[:-1], cuts[1:])]


def extract_features(words, sentence=None, context=None, model="default", n_context=20,
                     layers="all", batch_size=None, device="auto", dtype=None,
                     cache_dir=None, progress=True, instruction=None,
                     chunk_size=DEFAULT_CHUNK_SIZE, story=None,
                     window_tokens=DEFAULT_WINDOW_TOKENS, surprisal=True, cache_only=False):
    """Hidden states and surprisal of every analysed word, cached on disk.

    Parameters
    ----------
    words : list of str | WordDataset
        The words in order; a :class:`~analysis.data.WordDataset` supplies its presented
        text, which of its words are rows, the sentence and story ids and its context
        mode.
    sentence : array-like of int | None
        Sentence index of each presented word (needed for ``context="sentence"``).
    context : {"running", "sentence", "story"} | None
        Context mode (see the module notes); ``None``: the dataset's own mode, or
        ``"running"`` for a plain word list.
    model : str | Path | ModelSpec | LoadedModel
        Model to use; pass a :class:`~analysis.lm.LoadedModel` to reuse loaded weights.
    n_context : int
        Words per context, the word itself included (running and sentence modes).
    layers : "all" | int | list of int
        Hidden states to keep (0 = embedding output, *k* = block *k*, negatives count
        from the end).
    batch_size : int | None
        Contexts per forward pass; default :data:`DEFAULT_BATCH_SIZE` on CPU, 64 on GPU.
    device : {"auto", "cpu", "cuda"}
        Used when the model has to be loaded.
    dtype : str | None
        Compute dtype (default bfloat16 on CUDA, float32 on CPU); part of the cache key.
    cache_dir : str | Path | None | False
        Cache folder (default :func:`default_cache_dir`); ``False`` disables caching.
    progress : bool
        Show a tqdm progress bar.
    instruction : str | None
        Text prepended to every context (instruction-conditioned features, the Methods page (beyond the paper)).
    chunk_size : int
        Rows per resumable chunk (the story mode uses one chunk per story).
    story : array-like of int | None
        Story index of each presented word (story mode; default: one story).
    window_tokens : int
        Tokens per window in the story mode (:data:`DEFAULT_WINDOW_TOKENS`).
    surprisal : bool
        ``False`` with a list of ``layers`` runs only the blocks up to one above the
        deepest layer kept (the rest of the model and its output layer are skipped:
        about twice as fast for a middle layer) and returns NaN surprisal; the hidden
        states are the same as with ``True``.
    cache_only : bool
        Only read the cache: return ``None`` when the features are not cached (no model
        is loaded and nothing is computed). Lets a caller load a model once, and only
        when some of several requests miss the cache.

    Returns
    -------
    Features | None
        One row per analysed word (the dataset's rows, or every word of a list);
        ``None`` only with ``cache_only`` on a cache miss.

    Raises
    ------
    ValueError
        Unknown context mode or bad layer selection.
    ModelError
        The model cannot be found or loaded.
    """
    words, sentence, story, rows, context = _presented(words, sentence, context, story)
    if context not in CONTEXT_MODES:
        raise ValueError(f"context must be one of {CONTEXT_MODES}, got {context!r}.")
    all_rows = rows is None or (len(rows) == len(words) and np.array_equal(rows, np.arange(len(words))))
    rows = np.arange(len(words)) if rows is None else np.asarray(rows)
    if context == "story" and story is not None and np.shape(story) != (len(words),):
        raise ValueError(f"story has shape {np.shape(story)}; expected ({len(words)},).")
    loaded = model if isinstance(model, LoadedModel) else None
    spec = loaded.spec if loaded else resolve_model(model)
    device = loaded.device if loaded else resolve_device(device)
    dtype = loaded.dtype if loaded else resolve_dtype(dtype, device)
    layer_param = _layers_param(layers)
    if context != "story":
        _window_starts(len(words), sentence, context, n_context)  # validate early
    key_args = (spec.identity, words, sentence, context, n_context, instruction, layer_param,
                dtype)
    key_kw = dict(story=story, window_tokens=window_tokens)
    if not surprisal:
        key_kw["surprisal"] = False
    key = feature_cache_key(*key_args, rows=None if all_rows else rows, **key_kw)
    params = {"model": spec.name, "context": context,
              "n_context": int(n_context) if context != "story" else None,
              "window_tokens": int(window_tokens) if context == "story" else None,
              "instruction": instruction or None, "dtype": dtype, "key": key,
              "feature_version": FEATURE_VERSION}

    final = partial = None
    if cache_dir is not False:
        folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        final = folder / f"{_slug(spec.name)}-{key[:20]}.npz"
        partial = final.with_name(final.name[:-4] + ".partial")
        hit = _load_or_quarantine(final, key, len(rows))
        whole = None
        if hit is None and not all_rows:  # the whole text may be cached already
            whole_key = feature_cache_key(*key_args, rows=None, **key_kw)
            whole_file = folder / f"{_slug(spec.name)}-{whole_key[:20]}.npz"
            whole = _load_or_quarantine(whole_file, whole_key, len(words))
            if whole is not None:
                hit = (whole[0][:, rows], whole[1][rows], whole[2],
                       dict(whole[3], params=dict(whole[3]["params"], key=key,
                                                  n_words=len(rows))))
                final = whole_file
        if hit is not None:
            hidden, cached_surprisal, layer_idx, meta = hit
            if surprisal:
                _warn_nan(cached_surprisal)
            return Features(hidden, cached_surprisal, layer_idx, spec.identity,
                            dict(meta["params"], cache_file=str(final)))
    if cache_only:
        return None

    lm = loaded or load_model(spec, device=device, dtype=dtype)
    layer_idx = _resolve_layers(layer_param, lm.n_layers)
    n_blocks = None
    if not surprisal and context != "story":
        n_blocks = min(max(layer_idx) + 1, lm.n_layers)
    if batch_size is None:
        batch_size = 64 if str(lm.input_device).startswith("cuda") else DEFAULT_BATCH_SIZE
    from tqdm.auto import tqdm

    parts = []
    with tqdm(total=len(rows), disable=not progress, desc=f"features {spec.name}",
              unit="word") as bar:
        for lo, hi in _chunks(rows, context, story, chunk_size):
            chunk_file = partial / f"chunk-{lo:07d}-{hi:07d}.npz" if partial else None
            chunk_key = f"{key}:{lo}:{hi}"
            done = (_load_or_quarantine(chunk_file, chunk_key, hi - lo, len(layer_idx))
                    if chunk_file else None)
            if done is not None:
                parts.append(done[:2])
                bar.update(hi - lo)
                continue
            if context == "story":
                labels = np.zeros(len(words), int) if story is None else np.asarray(story)
                in_story = np.flatnonzero(labels == labels[rows[lo]])
                local = rows[lo:hi] - in_story[0]
                hidden, surprisal_part = _compute_story(
                    lm, [words[i] for i in in_story], local, layer_idx, batch_size,
                    window_tokens, instruction, bar)
            else:
                contexts = _contexts_with_spans(words, sentence, context, n_context,
                                                rows[lo:hi])
                items = _encode(lm.tokenizer, contexts, instruction)
                hidden, surprisal_part = _compute_items(lm, items, layer_idx, batch_size, bar,
                                                        n_blocks)
            if not np.isfinite(hidden).all():
                raise DataError(f"model {spec.name!r} produced NaN/inf hidden states for "
                                f"rows {lo}-{hi} (dtype {dtype}); try dtype='float32'.")
            if chunk_file:
                _write_npz(chunk_file, hidden, surprisal_part, layer_idx, {"key": chunk_key})
            parts.append((hidden, surprisal_part))

    d = lm.model.config.hidden_size
    hidden = (np.concatenate([p[0] for p in parts], axis=1) if parts
              else np.zeros((len(layer_idx), 0, d), dtype=np.float32))
    surprisal_all = (np.concatenate([p[1] for p in parts]) if parts
                     else np.zeros(0, dtype=np.float32))
    params.update(n_layers=lm.n_layers, hidden_size=int(d), n_words=len(rows),
                  bos_token=lm.tokenizer.bos_token, blocks_run=n_blocks or lm.n_layers,
                  n_nan_surprisal=_warn_nan(surprisal_all) if surprisal else None)
    if final is not None:
        _write_npz(final, hidden, surprisal_all, layer_idx, {"key": key, "params": params})
        shutil.rmtree(partial, ignore_errors=True)
        params["cache_file"] = str(final)
    return Features(hidden, surprisal_all, np.asarray(layer_idx, dtype=int), spec.identity,
                    params)
