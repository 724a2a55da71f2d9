"""The fine-tuning chapter's tables and texts: accuracies, the tasks and an example item,
training every run, the re-test table, the power note and the fine-tuned models handed
to later chapters."""

from __future__ import annotations

from .retest import CATEGORY_OF_TASK, SHUFFLED_CONTROL, TASK_NAMES
from .training import finetune

__all__ = ["accuracy_table", "task_table", "example_markdown", "train_all", "training_texts",
           "retest_table", "power_note", "finetuned_for_later", "chapter_results"]


def accuracy_table(accuracy, runs):
    """Held-out accuracy before and after fine-tuning, one row per task.

    Parameters
    ----------
    accuracy : dict of str to dict
        :meth:`FinetuneResult.accuracy_interval` per task.
    runs : dict of str to FinetuneResult

    Returns
    -------
    pandas.DataFrame
        Items, chance, base and fine-tuned accuracy with 95 % Wilson intervals and the
        paired-bootstrap gain interval (in percentage points), for the summed score and (``per token``
        columns) the length-normalised one; the pick-the-shorter-option baseline with its
        Wilson interval; the training time (s). "n/a" where a record lacks a score.
    """
    import pandas as pd

    def ci(v, lo, hi, sign=""):
        return f"{v:{sign}.3f} [{lo:{sign}.3f}, {hi:{sign}.3f}]"

    def points(v, lo, hi):  # accuracy gains in percentage points, as everywhere in the book
        return f"{100 * v:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}]"

    def row(t, a):
        out = {"held-out items": a["n"], "chance": round(a["chance"], 3)}
        for suffix, s in (("", a), (" (per token)", a.get("per_token"))):
            out.update({f"base{suffix}": ci(s["base"], *s["base_ci"]) if s else "n/a",
                        f"fine-tuned{suffix}": ci(s["fine_tuned"], *s["ci"]) if s else "n/a",
                        f"gain, points{suffix}": points(s["gain"], *s["gain_ci"]) if s else "n/a"})
        short = a.get("shorter")
        out["shorter option"] = ci(short["accuracy"], *short["ci"]) if short else "n/a"
        out["training (s)"] = round(runs[t].seconds, 1)
        return out

    return pd.DataFrame({TASK_NAMES.get(t, t): row(t, a) for t, a in accuracy.items()}).T


def task_table(data):
    """The fine-tuning data of each task, one row per task.

    Parameters
    ----------
    data : dict of str to tuple
        :func:`task_data` per task: ``(train, held_out, info)``.

    Returns
    -------
    pandas.DataFrame
        Source, split, training and held-out items and chance accuracy, by task name.
    """
    import pandas as pd

    return pd.DataFrame([{"task": TASK_NAMES.get(t, t), "source": info["source"],
                          "split": info["split"], "train items": info["n_train"],
                          "held-out items": info["n_eval"], "chance": f"{info['chance']:.2f}"}
                         for t, (_, _, info) in data.items()]).set_index("task")


def example_markdown(task, item):
    """One item as markdown, the correct option in bold; item text is escaped.

    Parameters
    ----------
    task : str
    item : MCItem

    Returns
    -------
    str
    """
    from ..display import escape_markdown

    options = "; ".join(f"**{escape_markdown(o)}**" if i == item.label else escape_markdown(o)
                        for i, o in enumerate(item.options))
    return (f"Example ({TASK_NAMES.get(task, task)}): *{escape_markdown(item.question)}* — "
            f"options: {options}")


def train_all(data, recipe, control=False):
    """Fine-tune one model per task, and the shuffled-answer control when asked.

    Parameters
    ----------
    data : dict of str to tuple
        :func:`task_data` per task.
    recipe : dict
        Keyword arguments of :func:`finetune` shared by every run (model, epochs, lr, ...).
    control : bool
        Also train on the Social IQa items with their answers shuffled (same items and
        budget): the reference a knowledge model must beat (:data:`SHUFFLED_CONTROL`).

    Returns
    -------
    dict of str to FinetuneResult
        By task, and :data:`SHUFFLED_CONTROL` for the control.
    """
    runs = {task: finetune(task, train, held, data_info=info, **recipe)
            for task, (train, held, info) in data.items()}
    if control and "siqa" in data:
        train, held, info = data["siqa"]
        runs[SHUFFLED_CONTROL] = finetune("siqa", train, held, data_info=info,
                                          label_shuffle=True, **recipe)
    return runs


def training_texts(data, runs, accuracy, lr, epochs, batch_size, eval_every, lora, lora_rank):
    """The texts the fine-tuning chapter glues into its prose about training.

    Parameters
    ----------
    data : dict of str to tuple
        :func:`task_data` per task.
    runs : dict of str to FinetuneResult
    accuracy : dict of str to dict
        :meth:`FinetuneResult.accuracy_interval` per run.
    lr, epochs, batch_size, eval_every, lora, lora_rank
        The recipe's settings.

    Returns
    -------
    dict of str to str
        ``lr``, ``epochs``, ``n_train_txt``, ``batch``, ``eval_every_txt``, ``mode``,
        ``reused_txt``; ``acc0_<run>``, ``acc_<run>``, ``gain_<run>`` (gain in percentage
        points with its interval) for Social IQa, PIQA and the control, ``"n/a (not run)"``
        for those not run.
    """
    out = {"lr": f"{lr:g}", "epochs": str(epochs),
           "n_train_txt": ", ".join(f"{info['n_train']:,} ({TASK_NAMES.get(t, t)})"
                                    for t, (_, _, info) in data.items()),
           "batch": str(batch_size),
           "eval_every_txt": f"{eval_every:,}" if eval_every else "epoch's",
           "mode": (f"LoRA adapters of rank {lora_rank} on every linear layer (merged before "
                    "saving)" if lora else "all weights trained"),
           "reused_txt": ("The checkpoints were read from the cache (no training in this run)."
                          if runs and all(r.reused for r in runs.values()) else "")}
    for run in ("siqa", "piqa", SHUFFLED_CONTROL):
        a = accuracy.get(run)
        if a is None:
            out.update({f"{k}_{run}": "n/a (not run)" for k in ("acc0", "acc", "gain")})
            continue
        out[f"acc0_{run}"] = f"{a['base']:.3f}"
        out[f"acc_{run}"] = f"{a['fine_tuned']:.3f}"
        out[f"gain_{run}"] = (f"{100 * a['gain']:+.1f} points ({100 * a['gain_ci'][0]:+.1f} "
                              f"to {100 * a['gain_ci'][1]:+.1f})")
    return out


def retest_table(summaries):
    """The re-tests side by side, one row per test.

    Parameters
    ----------
    summaries : dict of str to dict
        :func:`retest_summary` by test name.

    Returns
    -------
    pandas.DataFrame
        Percent better and worse (with intervals), mean r of both models, and the windows
        where the category words gain or lose more (q < 0.05).
    """
    import pandas as pd

    from ..display import percent_text

    def windows(ms):
        return ", ".join(f"{t:g}" for t in ms) or "none"

    return pd.DataFrame({name: {
        "better (of all tests)": percent_text(v["percent_better"], v["percent_better_ci"]),
        "worse (of all tests)": percent_text(v["percent_worse"], v["percent_worse_ci"]),
        "mean r base": v["mean_r_base"], "mean r model": v["mean_r_finetuned"],
        "category better (q < 0.05)": windows(v["category_windows_ms"]),
        "category worse (q < 0.05)": windows(v["category_worse_windows_ms"])}
        for name, v in summaries.items()}).T


def power_note(powers):
    """One sentence per re-test on what it could detect (for a chapter's prose).

    Parameters
    ----------
    powers : dict of str to dict
        :func:`analysis.power.retest_power` by task.

    Returns
    -------
    str
        ``"n/a"`` when there is none.
    """
    parts = []
    for task, p in powers.items():
        name = TASK_NAMES.get(task, task)
        text = f"{name}, Δr per test: {p['r']['sentence']}"
        if p["category"] is not None:
            text += f"; {name}, category effect per window: {p['category']['sentence']}"
        parts.append(text)
    return "; ".join(parts) or "n/a"


def finetuned_for_later(runs, base_model, layer):
    """The :class:`~analysis.contracts.FinetunedModels` later chapters read.

    Parameters
    ----------
    runs : dict of str to FinetuneResult
        Keyed by task, or :data:`SHUFFLED_CONTROL` for the shuffled-answer control.
    base_model : str
    layer : int

    Returns
    -------
    analysis.contracts.FinetunedModels
        One entry per run, with ``task`` (the task trained on), ``name`` (for display)
        and ``control`` (``"shuffled answers"`` for the control, else None).
    """
    from ..contracts import FinetunedModels

    models = {}
    for run, res in runs.items():
        shuffled = bool(res.params.get("label_shuffle"))
        models[run] = {"model_dir": res.model_dir, "accuracy": res.final_accuracy,
                       "accuracy_base": res.accuracy[0]["accuracy"],
                       "n_eval": int(res.params["n_eval"]), "chance": res.chance,
                       "category": CATEGORY_OF_TASK[run], "params": res.params,
                       "task": res.task, "name": TASK_NAMES.get(run, run),
                       "control": "shuffled answers" if shuffled else None}
    return FinetunedModels(str(base_model), int(layer), models)


def chapter_results(*, layer, base_model, n_words, n_permutations, recipe, n_train, accuracy,
                    summaries, powers, verdicts, lm_rows, times, data, runs):
    """The fine-tuning chapter's results (``finetuning.json``,
    :class:`analysis.results.FinetuningResults`).

    Parameters
    ----------
    layer : int
        The layer of the re-test (the encoding chapter's).
    base_model : str
    n_words : int
        Words of the brain re-test.
    n_permutations : int
        Permutations of the re-test.
    recipe : dict
        The training recipe of :func:`train_all` (``lora``, ``lora_rank``, ``lr``,
        ``epochs`` are recorded).
    n_train : int
        Training items per task asked for.
    accuracy : dict of str to dict
        :meth:`FinetuneResult.accuracy_interval` per run.
    summaries : dict of str to dict
        :func:`retest_summary` per re-test: ``"positive control"`` and ``"null
        control"`` where the controls ran, and ``"fine-tuned on <task name>"`` for every
        run.
    powers : dict of str to dict
        :func:`analysis.power.retest_power` per run.
    verdicts : dict of str to RetestVerdict
        :func:`retest_verdicts`.
    lm_rows : list of dict
        Language-modelling loss of the base model, then of each fine-tuned one
        (:func:`lm_loss` with a ``model`` label).
    times : array_like, shape (n_windows,)
        Window start times of the re-test (ms).
    data : dict of str to tuple
        :func:`task_data` per task: ``(train, held_out, info)``.
    runs : dict of str to FinetuneResult
        Keyed by task, or :data:`SHUFFLED_CONTROL`.

    Returns
    -------
    dict
        ``layer``, ``base_model``, ``n_words``, ``n_permutations``, ``recipe``,
        ``accuracy``, ``positive_control`` and ``null_control`` (None where not run),
        ``better_worse`` (the re-test summary of each run), ``power``, ``verdicts``,
        ``lm_loss``, ``times`` and ``tasks`` (each run's data, learning curve, kept
        step, chance, model folder, training time and whether it was reused).

    Raises
    ------
    KeyError
        A run without its re-test summary.
    """
    from dataclasses import asdict

    import numpy as np

    from ..provenance import portable_path

    return {
        "layer": layer,
        "base_model": base_model,
        "n_words": n_words,
        "n_permutations": n_permutations,
        "recipe": {**{k: recipe[k] for k in ("lora", "lora_rank", "lr", "epochs")},
                   "n_train": n_train},
        "accuracy": dict(accuracy),
        "positive_control": summaries.get("positive control"),
        "null_control": summaries.get("null control"),
        "better_worse": {task: summaries[f"fine-tuned on {TASK_NAMES[task]}"] for task in runs},
        "power": powers,
        "verdicts": {run: asdict(v) for run, v in verdicts.items()},
        "lm_loss": lm_rows,
        "times": np.asarray(times).tolist(),
        "tasks": {task: {"data": data[res.task][2], "learning_curve": res.accuracy,
                         "best_step": res.best_step, "chance": res.chance,
                         "model_dir": portable_path(res.model_dir),
                         "training_seconds": res.seconds, "reused_checkpoint": res.reused}
                  for task, res in runs.items()},
    }
