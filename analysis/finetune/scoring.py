"""Scoring a causal language model on multiple-choice items: encoding an item, batching,
the options' log-probabilities, correctness under the summed and per-token rules, the
shorter-option baseline, accuracy and the language-modelling loss."""

from __future__ import annotations

import numpy as np

from .._utils import DataError
from ..lm import forward_padded, pad_right

__all__ = ["encode_item", "encode_fitting", "collate", "option_scores", "SCORING_RULES",
           "choice_correctness", "shorter_option_correct", "accuracy", "lm_loss"]


class _TooLong(DataError):
    """An option that does not fit in ``max_length`` tokens."""


def _bos(tokenizer):
    return [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []


def encode_item(tokenizer, item, max_length=256):
    """Token ids of every option's sequence and where the option starts.

    Parameters
    ----------
    tokenizer : transformers tokenizer
    item : MCItem
    max_length : int
        Longest sequence; longer ones lose question tokens from the start (after BOS).

    Returns
    -------
    dict
        ``rows``: list (one per option) of ``(ids, start)``, where ``ids[start:]`` are the
        option's tokens; ``label``.
    """
    bos = _bos(tokenizer)
    q_ids = tokenizer(item.question, add_special_tokens=False)["input_ids"]
    rows = []
    for option in item.options:
        full = tokenizer(item.question + " " + option, add_special_tokens=False)["input_ids"]
        common = 0
        for a, b in zip(q_ids, full):
            if a != b:
                break
            common += 1
        ids = bos + full
        start = len(bos) + common
        if start >= len(ids):
            raise DataError(f"{item.source}: option {option!r} adds no token to the question.")
        excess = len(ids) - max_length
        if excess > 0:
            cut = min(excess, start - len(bos) - 1)  # keep at least one question token
            if cut < excess:
                raise _TooLong(f"{item.source}: option of {len(ids) - start} tokens does not "
                                f"fit in max_length={max_length}.")
            ids = bos + ids[len(bos) + cut:]
            start -= cut
        if start == 0:
            raise DataError(f"{item.source}: nothing precedes the option's first token (no "
                            "BOS token and an empty question).")
        rows.append((ids, start))
    return {"rows": rows, "label": item.label}


def encode_fitting(tokenizer, items, max_length, what):
    """Encode items; those whose option alone exceeds ``max_length`` are left out, loudly.

    Parameters
    ----------
    tokenizer : transformers tokenizer
    items : list of MCItem
    max_length : int
        Most tokens of one option's sequence (as in :func:`encode_item`).
    what : str
        What the items are ("training", "held-out"), for the messages.

    Returns
    -------
    list of dict
        :func:`encode_item` of every item that fits, in order. A ``RuntimeWarning`` says how
        many were left out and names the first.

    Raises
    ------
    DataError
        If an item is malformed (from :func:`encode_item`) or no item fits.
    """
    import warnings

    out, skipped = [], []
    for it in items:
        try:
            out.append(encode_item(tokenizer, it, max_length))
        except _TooLong:
            skipped.append(it.source)
    if skipped:
        warnings.warn(f"{len(skipped)} of {len(items)} {what} items left out: an option is "
                      f"longer than max_length={max_length} tokens (first: {skipped[0]}). "
                      "Raise max_length to keep them.", RuntimeWarning, stacklevel=3)
    if not out:
        raise DataError(f"no {what} item fits in max_length={max_length} tokens.")
    return out


def collate(encoded, pad_id=0):
    """Pad a batch of encoded items into tensors (one row per option).

    Parameters
    ----------
    encoded : list of dict
        From :func:`encode_item`; all with the same number of options.
    pad_id : int

    Returns
    -------
    dict of torch.Tensor
        ``input_ids``, ``attention_mask``, ``position_ids`` (rows, length; from
        :func:`analysis.lm.pad_right`), ``target_mask`` (rows, length: True on the
        option's tokens), ``mc_labels`` (items,), ``n_options`` (scalar).
    """
    import torch

    rows = [r for e in encoded for r in e["rows"]]
    n_opt = {len(e["rows"]) for e in encoded}
    if len(n_opt) != 1:
        raise ValueError(f"collate: items with {sorted(n_opt)} options in one batch.")
    input_ids, mask, positions = pad_right([ids for ids, _ in rows], pad_id)
    target = torch.zeros(input_ids.shape, dtype=torch.bool)
    for i, (ids, start) in enumerate(rows):
        target[i, start:len(ids)] = True
    return {"input_ids": input_ids, "attention_mask": mask, "position_ids": positions,
            "target_mask": target,
            "mc_labels": torch.tensor([e["label"] for e in encoded], dtype=torch.long),
            "n_options": torch.tensor(n_opt.pop())}


class _WrappedLM:
    """A causal LM inside a data-parallel wrapper, seen as the causal LM itself.

    DistributedDataParallel, FSDP (version 1) and DeepSpeed engines hold the model in
    ``.module`` and lack its methods (``get_input_embeddings``), which
    :func:`analysis.lm.forward_padded` needs; but the forward pass must go through the
    wrapper (DDP prepares the gradient all-reduce there, FSDP and ZeRO-3 gather the
    sharded weights). This view calls the wrapper and answers the rest from the model.
    """

    def __init__(self, wrapper, inner):
        import functools

        self._wrapper, self._inner = wrapper, inner
        # same signature as the model's forward (analysis.lm.accepts_logits_to_keep
        # reads it), but through the wrapper
        self.forward = functools.wraps(inner.forward)(lambda *a, **kw: wrapper(*a, **kw))

    def __call__(self, *args, **kwargs):
        return self._wrapper(*args, **kwargs)

    def get_input_embeddings(self):
        return self._inner.get_input_embeddings()


def _as_causal_lm(model):
    """``model`` itself, or a :class:`_WrappedLM` view of the LM inside a wrapper."""
    inner = model
    while not hasattr(inner, "get_input_embeddings") and hasattr(inner, "module"):
        inner = inner.module
    return model if inner is model else _WrappedLM(model, inner)


def option_scores(model, batch, per_token=False):
    """Sum (or mean) of the option tokens' log-probabilities, per item and option.

    Parameters
    ----------
    model : transformers causal LM
        Or the same model inside a data-parallel wrapper (the Trainer's
        ``model_wrapped``: DistributedDataParallel, FSDP, a DeepSpeed engine), which is
        called as it is so that gradients are synchronised and shards gathered.
    batch : dict
        From :func:`collate` (tensors on the model's device).
    per_token : bool
        Divide each option's sum by its number of tokens (the length-normalised score;
        see :func:`choice_correctness`).

    Returns
    -------
    torch.Tensor, shape (items, options), float32
        Differentiable when gradients are on.
    """
    total, n_tokens = _option_logprob_sums(model, batch)
    return total / n_tokens if per_token else total


def _option_logprob_sums(model, batch):
    """Summed log-probability of each option and its number of tokens, (items, options)."""
    import torch

    model = _as_causal_lm(model)
    ids, target = batch["input_ids"], batch["target_mask"]
    # logits at position t predict token t + 1: the option token at position t (t >= 1)
    # is scored by the log-softmax of the logits at t - 1. Only those positions go
    # through the output layer (analysis.lm.forward_padded), which saves most of the
    # (rows x length x vocabulary) logits of a full pass.
    pred = target[:, 1:]
    width = max(1, int(pred.sum(1).max()))
    keep = torch.zeros((ids.shape[0], width), dtype=torch.long, device=ids.device)
    valid = torch.zeros((ids.shape[0], width), dtype=torch.bool, device=ids.device)
    for r in range(ids.shape[0]):
        pos = pred[r].nonzero(as_tuple=True)[0]
        keep[r, :len(pos)] = pos
        valid[r, :len(pos)] = True
    logits, _ = forward_padded(model, ids, batch["attention_mask"],
                               batch.get("position_ids"), keep=keep)
    logp = torch.log_softmax(logits, dim=-1)
    next_ids = torch.take_along_dim(ids, (keep + 1).clamp(max=ids.shape[1] - 1), dim=1)
    token_logp = torch.take_along_dim(logp, next_ids.to(logp.device)[..., None], dim=2)[..., 0]
    per_row = torch.where(valid.to(logp.device), token_logp, 0.0).sum(dim=1)
    count = valid.sum(dim=1).clamp(min=1).to(per_row.device, per_row.dtype)
    n_opt = int(batch["n_options"])
    return per_row.view(-1, n_opt), count.view(-1, n_opt)


#: How an option's score is made from its tokens' log-probabilities: the sum (the
#: training objective, and the accuracy the paper reports) or the mean per token.
SCORING_RULES = ("sum", "per_token")


def choice_correctness(model, encoded, batch_size=8, pad_id=0):
    """0/1 correctness of every item under each scoring rule (:data:`SCORING_RULES`).

    The summed log-probability of an option falls with every token it has, so it favours
    short options (each PIQA item has two solutions of often very different length).
    The length-normalised rule divides the sum by the option's number of tokens: the
    mean log-probability per token. The lm-evaluation-harness (Gao et al., 2021/2024,
    "acc_norm") normalises by the option's length in characters (bytes in its first
    versions) instead; per token is chosen here because the scores compared are of one
    model and one tokenizer, the options' token counts are what is summed, and it needs
    no text beyond the encoded items.

    Parameters
    ----------
    model : transformers causal LM
        Or the same model inside a data-parallel wrapper (see :func:`option_scores`).
        Every process of a multi-process run scores ALL the items (the same items in the
        same order, so the wrappers' collective calls match).
    encoded : list of dict
        From :func:`encode_item`.
    batch_size : int
    pad_id : int

    Returns
    -------
    dict of str to list of int
        ``"sum"`` and ``"per_token"``: 1 where the correct option has the highest score,
        in the order of ``encoded``. Both come from one forward pass per batch.
    """
    import torch

    device = _as_causal_lm(model).get_input_embeddings().weight.device
    was_training = model.training
    model.eval()
    # score items in order of length (less padding), then put the answers back in order
    order = sorted(range(len(encoded)), key=lambda i: max(len(r[0]) for r in encoded[i]["rows"]))
    correct = {rule: [0] * len(encoded) for rule in SCORING_RULES}
    with torch.no_grad():
        for s in range(0, len(order), batch_size):
            idx = order[s:s + batch_size]
            batch = collate([encoded[i] for i in idx], pad_id)
            batch = {k: v.to(device) for k, v in batch.items()}
            total, n_tokens = _option_logprob_sums(model, batch)
            labels = batch["mc_labels"].to(total.device)
            for rule, scores in (("sum", total), ("per_token", total / n_tokens)):
                for i, ok in zip(idx, (scores.argmax(1) == labels).tolist()):
                    correct[rule][i] = int(ok)
    model.train(was_training)
    return correct


def shorter_option_correct(encoded, seed=0):
    """The "pick the shorter option" baseline: 0/1 correctness of every item.

    Each item's answer is its option with the fewest tokens (the tokens its score sums;
    ties broken at random, seeded). A model whose summed-score accuracy is near this
    baseline may be doing little more than preferring short options.

    Parameters
    ----------
    encoded : list of dict
        From :func:`encode_item`.
    seed : int
        Seed of the tie-breaks.

    Returns
    -------
    list of int
    """
    rng = np.random.default_rng(seed)
    out = []
    for e in encoded:
        n_tokens = np.array([len(ids) - start for ids, start in e["rows"]])
        shortest = np.flatnonzero(n_tokens == n_tokens.min())
        pick = shortest[0] if len(shortest) == 1 else rng.choice(shortest)
        out.append(int(pick == e["label"]))
    return out


def accuracy(model, encoded, batch_size=8, pad_id=0, per_item=False, rule="sum"):
    """Share of items whose correct option has the highest score.

    Parameters
    ----------
    model : transformers causal LM
        Or the same model inside a data-parallel wrapper (see :func:`option_scores`).
        Every process of a multi-process run scores ALL the items (the same items in the
        same order, so the wrappers' collective calls match): each process gets the
        accuracy of the whole held-out set, never of a shard, and all agree on it.
    encoded : list of dict
        From :func:`encode_item`.
    batch_size : int
    pad_id : int
    per_item : bool
        Return the 0/1 correctness of every item instead of the share.
    rule : {"sum", "per_token"}
        Scoring rule (:func:`choice_correctness`).

    Returns
    -------
    float, or list of int (``per_item``)
    """
    if rule not in SCORING_RULES:
        raise ValueError(f"rule={rule!r}; expected one of {SCORING_RULES}.")
    correct = choice_correctness(model, encoded, batch_size, pad_id)[rule]
    return correct if per_item else sum(correct) / max(1, len(encoded))


def lm_loss(model, tokenizer, text, max_length=256, stride=None):
    """Mean per-token negative log-likelihood of a text (nats per token).

    Parameters
    ----------
    model : transformers causal LM
    tokenizer : transformers tokenizer
    text : str
        Held-out narrative.
    max_length : int
        Tokens per window (BOS included).
    stride : int | None
        New tokens per window (default ``max_length // 2``): every token after the
        first window is predicted with at least ``max_length - stride`` tokens of context.

    Returns
    -------
    dict
        ``nll`` (mean over tokens), ``perplexity``, ``n_tokens``.
    """
    import torch

    bos = _bos(tokenizer)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    width = max_length - len(bos)
    stride = stride or width // 2
    device = model.get_input_embeddings().weight.device
    was_training = model.training
    model.eval()
    total, count, done = 0.0, 0, 0  # ``done``: tokens already scored
    with torch.no_grad():
        start = 0
        while done < len(ids):
            window = ids[start:start + width]
            seq = torch.tensor([bos + window], device=device)
            logp = torch.log_softmax(model(input_ids=seq, use_cache=False).logits[0].float(), -1)
            first = max(done - start, 0) + len(bos)  # first position scored in ``seq``
            first = max(first, 1)
            targets = seq[0, first:]
            total -= float(logp[first - 1:-1].gather(1, targets[:, None]).sum())
            count += len(targets)
            done = start + len(window)
            start += stride
    model.train(was_training)
    nll = total / max(count, 1)
    return {"nll": nll, "perplexity": float(np.exp(nll)), "n_tokens": count}


