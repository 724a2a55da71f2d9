"""Instruction-conditioned features and the question whether an instruction changes alignment.

Recent work on instruction-tuned models reads the same stimulus under different task
instructions and asks whether the brain is better predicted by one reading than by
another (Methods page, beyond the paper). Here an instruction is a sentence prepended to every context of the
language model (:func:`analysis.features.extract_features`, ``instruction=``): the words
and their contexts are unchanged, only what the model was told to do with them differs.

The instructions (:data:`INSTRUCTIONS`) were written for this project: thirteen ways of
reading a text, from following its meaning to guessing the next word. The ``default``
profile uses :data:`DEFAULT_SUBSET` (four of them).

The comparison (:func:`compare_instructions`), for one layer:

* the **plain** model: the encoding model of the features without instruction;
* one **instruction** model per instruction: the same fit on the instruction-conditioned
  features of the same layer;
* one **two-band** model per instruction: plain and instruction features side by side,
  each band with its own penalty (the banded ridge of :func:`analysis.encoding.ridge_oof`,
  ``second_band``): what the instruction adds beyond the plain features;
* every instruction and two-band model is tested against the plain model with
  :func:`analysis.stats.permutation_r_difference` (the responses permuted by the
  dataset's null scheme, :func:`analysis.datasets.null_design`, which keeps their serial
  dependence; the same permutations for every instruction: one ``seed``), per target
  (channel x window, or component) and for the mean over targets; Benjamini–Hochberg
  over instructions x targets;
* the mean difference in r over targets has a bootstrap interval over words (or over
  sentences with ``boot_groups``), all models sharing the same resamples
  (:func:`analysis.stats.bootstrap_mean_r`).

Every model uses the same folds, penalty grid and (optional) unpenalized baseline band,
so the differences come from the features alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ._utils import DataError, check_array
from .provenance import timed

__all__ = ["INSTRUCTIONS", "DEFAULT_SUBSET", "resolve_instructions", "instruction_features",
           "InstructionComparison", "compare_instructions", "SUMMARY_COLUMNS",
           "run_instruction_study", "setting_texts", "frank_texts", "simulated_texts",
           "instruction_lines", "select_targets", "power_texts"]

#: The project's instructions, by short name. Each is prepended to every context as its
#: own line, before the words (after the beginning-of-sequence token). They are kept
#: short (6 to 10 tokens) because every context carries them: on isolated sentences of
#: a few words, a long instruction would multiply the cost of the forward passes.
INSTRUCTIONS = {
    "meaning": "Read the text for its meaning.",
    "emotion": "Notice how the people in the text feel.",
    "physical": "Picture the physical events in the text.",
    "agents": "Track who does what to whom.",
    "grammar": "Attend to the grammar of each sentence.",
    "summary": "Read the text so you can summarise it.",
    "next_word": "Guess the next word at every point.",
    "scene": "Imagine what the scene looks like.",
    "sound": "Listen for the sounds the text describes.",
    "place_time": "Note where and when things happen.",
    "speaker": "Keep track of who is speaking.",
    "surprise": "Notice anything unexpected in the text.",
    "question": "Think of a question the text answers.",
}

#: The instructions of the ``default`` profile: two readings the fine-tuning chapter's
#: tasks target (feelings, physical events), the plain reading for meaning, and the
#: language model's own training objective.
DEFAULT_SUBSET = ("meaning", "emotion", "physical", "next_word")

#: Columns of :attr:`InstructionComparison.summary` that the chapter shows.
SUMMARY_COLUMNS = ["share_better", "share_worse", "mean_r_plain", "mean_r_instruction",
                   "mean_delta", "delta_ci_low", "delta_ci_high", "q_mean_better",
                   "q_mean_worse", "mean_r_both", "mean_delta_both", "q_mean_both",
                   "mean_delta_vs_control", "vs_control_ci_low", "vs_control_ci_high",
                   "q_mean_vs_control", "median_band_scale"]

#: Name of the two-band model whose second band is the parameter-matched control (rows of
#: an instruction band permuted: same width and covariance, no word).
CONTROL_BAND = "control band + plain"


def resolve_instructions(names=None):
    """Names and texts of the instructions asked for.

    Parameters
    ----------
    names : None | "all" | "default" | list of str
        ``None`` or ``"default"``: :data:`DEFAULT_SUBSET`; ``"all"``: every instruction;
        or names from :data:`INSTRUCTIONS`.

    Returns
    -------
    dict of str to str
        Name to instruction text, in the order asked.

    Raises
    ------
    ValueError
        An unknown name (the message lists the known ones), or an empty list.
    """
    if names is None or names == "default":
        names = list(DEFAULT_SUBSET)
    elif names == "all":
        names = list(INSTRUCTIONS)
    elif isinstance(names, str):
        names = [names]
    names = list(names)
    unknown = [n for n in names if n not in INSTRUCTIONS]
    if unknown or not names:
        raise ValueError(f"instructions {unknown or names!r}: expected names from "
                         f"{sorted(INSTRUCTIONS)} (or 'all', 'default').")
    return {n: INSTRUCTIONS[n] for n in dict.fromkeys(names)}


def instruction_features(data, names=None, layer=-1, model="default", device="auto",
                         cache_dir=None, batch_size=None, progress=False, loader=None):
    """One layer's word features under each instruction, from the cache when present.

    Parameters
    ----------
    data : WordDataset | list of str
        Words (a dataset supplies its presented text, rows and context mode; see
        :func:`analysis.features.extract_features`).
    names : None | str | list of str
        Instructions (:func:`resolve_instructions`).
    layer : int
        Hidden-state index (0 = embeddings; negatives count from the end).
    model : str | Path | LoadedModel
        Language model; loaded once, and only when some instruction is not cached.
    device : str
    cache_dir : str | Path | None | False
        Feature cache (default: the project's); ``False`` disables it.
    batch_size : int | None
        Contexts per forward pass.
    progress : bool
    loader : callable | None
        Called without arguments when the model is needed and must return the
        :class:`~analysis.lm.LoadedModel` of ``model`` (lets a caller load it once for
        several calls); default :func:`analysis.features.load_model`.

    Returns
    -------
    features : dict of str to ndarray of float32, shape (n_words, d)
        Per instruction name.
    seconds : dict of str to float
        Wall time per instruction (near 0 for a cache hit), without the time spent
        loading the model, which is under ``"load model"`` when it was loaded here.

    Notes
    -----
    Only the blocks up to ``layer`` run (``surprisal=False``), so a middle layer costs
    about half a full forward pass; the instruction makes every context longer by its
    own tokens. The instruction text is part of the cache key, so every instruction is
    cached separately from the others and from the plain features.
    """
    from .features import extract_features, load_model
    from .lm import LoadedModel

    chosen = resolve_instructions(names)
    kw = dict(layers=[int(layer)], surprisal=False, cache_dir=cache_dir, progress=progress,
              batch_size=batch_size)
    loaded = model if isinstance(model, LoadedModel) else None
    feats, seconds = {}, {}
    for name, text in chosen.items():
        t0 = time.perf_counter()
        got = None
        if loaded is None and cache_dir is not False:
            got = extract_features(data, model=model, device=device, instruction=text,
                                   cache_only=True, **kw)
        if got is None:
            if loaded is None:
                t1 = time.perf_counter()
                loaded = loader() if loader is not None else load_model(model, device=device)
                seconds["load model"] = round(time.perf_counter() - t1, 2)
                t0 += seconds["load model"]
            got = extract_features(data, model=loaded, instruction=text, **kw)
        feats[name] = np.asarray(got.hidden[0], dtype=np.float32)
        seconds[name] = round(time.perf_counter() - t0, 2)
    return feats, seconds


# --------------------------------------------------------------------------- comparison
@dataclass
class InstructionComparison:
    """Result of :func:`compare_instructions`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per instruction x target: ``instruction``, ``window_ms``, ``channel``,
        ``r_plain``, ``r_instruction``, ``r_both``, ``delta`` (instruction - plain),
        ``p_better``, ``p_worse``, ``q_better``, ``q_worse``, ``result`` ("better",
        "worse" or "same" at the false discovery rate), ``delta_both`` (two-band -
        plain), ``p_both``, ``q_both``, ``band_scale`` (median over folds of the second
        band's chosen scale: above 1 means the instruction band is penalized less than
        the plain one).
    summary : pandas.DataFrame
        One row per instruction (index): ``n_targets``, ``share_better``,
        ``share_worse`` (fractions of targets at q < ``q``), ``mean_r_plain``,
        ``mean_r_instruction``, ``mean_r_both``, ``mean_delta``, ``delta_ci_low``,
        ``delta_ci_high`` (bootstrap), ``p_mean_better``, ``p_mean_worse`` (permutation
        test of the mean over targets), ``q_mean_better``, ``q_mean_worse`` (BH over
        instructions), ``mean_delta_both``, ``both_ci_low``, ``both_ci_high``,
        ``p_mean_both``, ``q_mean_both``, ``share_both_better``, ``median_band_scale``.
    fits : dict
        ``"plain"``: EncodingResult; per instruction ``name``: the instruction model and
        ``name + " + plain"``: the two-band model.
    params : dict
        Settings and the seconds spent per step.
    """

    table: pd.DataFrame
    summary: pd.DataFrame
    fits: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)

    def summary_dict(self):
        """JSON-serialisable summary per instruction (for the results file)."""
        out = {}
        for name, row in self.summary.iterrows():
            out[name] = {k: (None if pd.isna(v) else (int(v) if k == "n_targets" else float(v)))
                         for k, v in row.items()}
        return out

    def to_results(self, layer, per_target=False, **extra):
        """The comparison as an entry of the chapter's results file.

        Parameters
        ----------
        layer : int
            Hidden-state index the features were read from.
        per_target : bool
            Also give every row of :attr:`table` (rounded to 6 decimals).
        **extra
            Further entries, placed after ``layer`` and ``n_words`` (e.g. ``targets``,
            ``window_ms``).

        Returns
        -------
        dict
            ``layer``, ``n_words``, the ``extra`` entries, ``summary``
            (:meth:`summary_dict`), ``per_target`` (when asked) and ``params``.
        """
        out = {"layer": layer, "n_words": self.params.get("n_words"), **extra,
               "summary": self.summary_dict()}
        if per_target:
            out["per_target"] = self.table.round(6).to_dict(orient="records")
        out["params"] = self.params
        return out

    def delta_table(self, channels=None, instructions=None):
        """Difference in r from plain per instruction (rows) and target channel (columns).

        Parameters
        ----------
        channels : list of str | None
            Column order (default: as in :attr:`table`).
        instructions : iterable of str | None
            Row order (default: as in :attr:`table`).

        Returns
        -------
        pandas.DataFrame
            One window per target is assumed (an ERP table); the values are ``delta``.
        """
        wide = self.table.pivot(index="instruction", columns="channel", values="delta")
        if channels is not None:
            wide = wide[list(channels)]
        if instructions is not None:
            wide = wide.loc[list(instructions)]
        return wide


def select_targets(data, windows, channels):
    """Responses restricted to the targets, with the targets' window starts and names."""
    if hasattr(data, "responses"):
        resp, times, names = data.responses, np.asarray(data.times, float), list(data.ch_names)
    else:
        resp = check_array(data, "compare_instructions responses", ndim=3)
        times = np.arange(resp.shape[2], dtype=float)
        names = [f"ch{i}" for i in range(resp.shape[1])]
    n_ch, n_win = resp.shape[1], resp.shape[2]
    win = np.ones(n_win, bool) if windows is None else np.asarray(windows, bool)
    ch = np.ones(n_ch, bool) if channels is None else np.asarray(channels, bool)
    if win.shape != (n_win,) or ch.shape != (n_ch,) or not win.any() or not ch.any():
        raise DataError(f"compare_instructions: windows {win.shape} and channels {ch.shape} "
                        f"masks; expected boolean masks of shapes ({n_win},) and ({n_ch},) "
                        "selecting at least one target each.")
    y = np.ascontiguousarray(resp[:, ch][:, :, win], dtype=np.float32)
    return y, times[win], [n for n, k in zip(names, ch) if k]


def compare_instructions(plain, by_instruction, data, windows=None, channels=None,
                         baseline=None, fit_kw=None, band_scales=(0.1, 1.0, 10.0),
                         n_permutations=1000, seed=0, q=0.05, n_boot=1000, boot_groups=None,
                         null="auto", n_refit=None, progress=False):
    """Does reading under an instruction change how well a layer predicts the responses?

    Parameters
    ----------
    plain : ndarray, shape (n_words, d)
        The layer's features without instruction.
    by_instruction : dict of str to ndarray, each (n_words, d2)
        The same layer read under each instruction (:func:`instruction_features`).
    data : WordDataset | ndarray, shape (n_words, n_channels, n_windows)
        The responses.
    windows, channels : ndarray of bool | None
        Targets fitted and tested (default: all): e.g. the window and channels of
        interest (:func:`analysis.datasets.window_of_interest`,
        :func:`~analysis.datasets.channels_of_interest`).
    baseline : ndarray, shape (n_words, d_b) | None
        Unpenalized nuisance band shared by every model (nested models).
    fit_kw : dict | None
        Passed to :func:`analysis.encoding.fit_encoding` for every model (folds,
        groups, alphas, ``n_inner``, threshold, backend).
    band_scales : sequence of float
        Scales of the instruction band relative to the plain band searched by the
        two-band model (:func:`analysis.encoding.ridge_oof`).
    n_permutations : int
        Permutations of the word order; the same permutations (``seed``) serve every
        instruction and target.
    seed : int
        Seed of the permutations and of the bootstrap.
    q : float
        False discovery rate (Benjamini–Hochberg over instructions x targets for the
        per-target tests, over instructions for the tests of the mean).
    n_boot : int
        Bootstrap resamples of the words (or of ``boot_groups``).
    boot_groups : array_like of int, shape (n_words,) | None
        Resampling units of the bootstrap (sentences, stories).
    null : {"auto", "refit", "fixed"}
        The permutation null of every comparison. "refit": each permutation moves the
        responses and every model is fitted again, penalties chosen again in the inner
        folds (:func:`analysis.encoding.refit_null_r`); "fixed": the permutations move
        the responses while the out-of-fold predictions stay fixed
        (:func:`analysis.stats.permutation_r_difference`), which misses the part of the
        variance that comes from each fold's model having been fitted to the other
        folds (too liberal: Methods page, the two nulls of a model comparison); "auto":
        refit when targets x ``n_refit`` is at most
        :data:`analysis.encoding.REFIT_MAX_FITS`. Responses and predictions are centred
        within the outer test folds before r in both.
    n_refit : int | None
        Permutations of the refit null (default ``n_permutations``); every model is
        fitted ``n_refit`` times per target.
    progress : bool
        Print one line per model fitted.

    Returns
    -------
    InstructionComparison

    Raises
    ------
    DataError
        Features whose rows do not match the responses, an empty ``by_instruction``.
    """
    from .datasets import null_design
    from .encoding import (REFIT_MAX_FITS, centre_within_folds, cv_splits, fit_encoding,
                           refit_null_r, refit_p_values)
    from .stats import (better_worse_same, bootstrap_mean_r, fdr_bh,
                        permutation_r_difference)

    if not by_instruction:
        raise DataError("compare_instructions: no instruction features given; expected a "
                        "dict of instruction name to features.")
    y, times, ch_names = select_targets(data, windows, channels)
    n = y.shape[0]
    plain = check_array(plain, "plain features", ndim=2, shape=(n, None))
    for name, f in by_instruction.items():
        check_array(f, f"features under instruction {name!r}", ndim=2, shape=(n, None))
    kw = dict(fit_kw or {})
    seconds = {}

    def fit(features, label, **extra):
        t0 = time.perf_counter()
        res = fit_encoding(features, y, baseline=baseline, **kw, **extra)
        seconds[label] = round(time.perf_counter() - t0, 2)
        if progress:
            print(f"  {label}: mean r {np.nanmean(res.r):.4f} ({seconds[label]:.1f} s)")
        return res

    fits = {"plain": fit(plain, "plain")}
    for name, f in by_instruction.items():
        fits[name] = fit(f, name)
        fits[f"{name} + plain"] = fit(plain, f"{name} + plain", second_band=f,
                                      band_scales=list(band_scales))
    # The parameter-matched control of the two-band model: a second band of the same width
    # and covariance (the first instruction's features) whose rows are permuted, so that it
    # belongs to no word. A two-band gain that this band also gets comes from the second
    # band's extra freedom, not from the instruction.
    first = next(iter(by_instruction.values()))
    control_band = np.asarray(first)[np.random.default_rng(seed).permutation(n)]
    fits[CONTROL_BAND] = fit(plain, CONTROL_BAND, second_band=control_band,
                             band_scales=list(band_scales))
    if null not in ("auto", "refit", "fixed"):
        raise DataError(f"compare_instructions: null={null!r}; expected 'auto', 'refit' "
                        "or 'fixed'.")
    n_targets = int(np.prod(y.shape[1:]))
    n_refit = int(n_permutations if n_refit is None else n_refit)
    refit = null == "refit" or (null == "auto" and n_targets * n_refit <= REFIT_MAX_FITS)
    t0 = time.perf_counter()
    # r within the outer test folds (as EncodingResult.r): the deltas are the fits' own
    splits = cv_splits(n, kw.get("n_folds", 10), kw.get("groups"), kw.get("cv"))
    yc = centre_within_folds(y, splits)
    pc = {k: centre_within_folds(v.predictions, splits) for k, v in fits.items()}
    pairs = {"tests": ("plain", "{}"), "tests_both": ("plain", "{} + plain"),
             "tests_control": (CONTROL_BAND, "{} + plain")}
    res = {key: {} for key in pairs}
    null_kw = null_design(data) if hasattr(data, "responses") else {}  # keeps serial dependence
    for name in by_instruction:  # the same seed: the same permutations for every model
        for key, (a, b) in pairs.items():
            res[key][name] = permutation_r_difference(
                yc, pc[a], pc[b.format(name)], n_permutations, seed=seed,
                mean_over_columns=True, **null_kw)
    if refit:
        models = {"plain": (plain, {}),
                  CONTROL_BAND: (plain, {"second_band": control_band,
                                         "band_scales": list(band_scales)})}
        for name, f in by_instruction.items():
            models[name] = (f, {})
            models[f"{name} + plain"] = (plain, {"second_band": f,
                                                 "band_scales": list(band_scales)})
        # about 4,500 permuted columns per fit: on 1,487 words and 576 features one plain
        # fit of 9,000 columns took 31 s and ten of 900 took 14 s (memory), while a
        # two-band fit pays about 6 s of decompositions per call whatever its columns
        draws = refit_null_r(yc.reshape(n, -1), models, splits, n_refit, seed=seed,
                             null=null_kw, chunk=max(1, 4500 // n_targets),
                             baseline=baseline, **kw)
        for name in by_instruction:
            for key, (a, b) in pairs.items():
                test = res[key][name]
                b = b.format(name)
                ref = refit_p_values(test["delta"].ravel(), draws[b] - draws[a])
                tail = test["delta"].shape
                test.update({k: (v.reshape(tail) if np.ndim(v) else v) for k, v in ref.items()})
                test["null"] = {**dict(test.get("null") or {}), "refit": True,
                                "n_permutations": n_refit}
    tests, tests_both, tests_control = res["tests"], res["tests_both"], res["tests_control"]
    seconds["permutations"] = round(time.perf_counter() - t0, 2)
    names = list(by_instruction)
    # (instructions, words, channels, windows) -> per instruction (channels, windows)
    pg = np.stack([tests[k]["p_greater"] for k in names])
    pl = np.stack([tests[k]["p_less"] for k in names])
    pb = np.stack([tests_both[k]["p_greater"] for k in names])
    classes = better_worse_same(pg, pl, q)
    qg, ql, qb = fdr_bh(pg, q)[1], fdr_bh(pl, q)[1], fdr_bh(pb, q)[1]

    rows = []
    for i, name in enumerate(names):
        scale = fits[f"{name} + plain"].band_scales  # (folds, channels, windows)
        med_scale = np.median(scale, axis=0)
        for c, ch in enumerate(ch_names):
            for w, t in enumerate(times):
                rows.append({
                    "instruction": name, "window_ms": float(t), "channel": ch,
                    "r_plain": float(fits["plain"].r[c, w]),
                    "r_instruction": float(fits[name].r[c, w]),
                    "r_both": float(fits[f"{name} + plain"].r[c, w]),
                    "delta": float(tests[name]["delta"][c, w]),
                    "null_sd": float(tests[name]["null_sd"][c, w]),
                    "p_better": float(pg[i, c, w]), "p_worse": float(pl[i, c, w]),
                    "q_better": float(qg[i, c, w]), "q_worse": float(ql[i, c, w]),
                    "result": {1: "better", -1: "worse", 0: "same"}[int(classes[i, c, w])],
                    "delta_both": float(tests_both[name]["delta"][c, w]),
                    "p_both": float(pb[i, c, w]), "q_both": float(qb[i, c, w]),
                    "band_scale": float(med_scale[c, w])})
    table = pd.DataFrame(rows)

    t0 = time.perf_counter()
    preds = {"plain": pc["plain"]}
    for name in names:
        preds[name] = pc[name]
        preds[f"{name} + plain"] = pc[f"{name} + plain"]
    boot = bootstrap_mean_r(yc, preds, reference="plain", n_boot=n_boot, seed=seed,
                            groups=boot_groups)
    boot_control = bootstrap_mean_r(
        yc, {CONTROL_BAND: pc[CONTROL_BAND],
            **{f"{k} + plain": preds[f"{k} + plain"] for k in names}},
        reference=CONTROL_BAND, n_boot=n_boot, seed=seed, groups=boot_groups)
    seconds["bootstrap"] = round(time.perf_counter() - t0, 2)
    summ = []
    for i, name in enumerate(names):
        both = f"{name} + plain"
        summ.append({
            "instruction": name, "n_targets": int(classes[i].size),
            "share_better": float((classes[i] == 1).mean()),
            "share_worse": float((classes[i] == -1).mean()),
            "mean_r_plain": float(np.nanmean(fits["plain"].r)),
            "mean_r_instruction": float(np.nanmean(fits[name].r)),
            "mean_r_both": float(np.nanmean(fits[both].r)),
            "mean_delta": boot[name]["diff"],
            "delta_ci_low": boot[name]["diff_ci"][0], "delta_ci_high": boot[name]["diff_ci"][1],
            "p_mean_better": tests[name]["p_mean_greater"],
            "null_sd_of_mean": tests[name].get("null_sd_of_mean", np.nan),
            "null_mean_of_mean": tests[name].get("null_mean_of_mean", np.nan),
            "p_mean_worse": tests[name]["p_mean_less"],
            "mean_delta_both": boot[both]["diff"],
            "both_ci_low": boot[both]["diff_ci"][0], "both_ci_high": boot[both]["diff_ci"][1],
            "p_mean_both": tests_both[name]["p_mean_greater"],
            "share_both_better": float((qb[i] < q).mean()),
            "mean_r_control_band": float(np.nanmean(fits[CONTROL_BAND].r)),
            "mean_delta_vs_control": boot_control[both]["diff"],
            "vs_control_ci_low": boot_control[both]["diff_ci"][0],
            "vs_control_ci_high": boot_control[both]["diff_ci"][1],
            "p_mean_vs_control": tests_control[name]["p_mean_greater"],
            "median_band_scale": float(np.median(fits[both].band_scales))})
    summary = pd.DataFrame(summ).set_index("instruction")
    for col, src in (("q_mean_better", "p_mean_better"), ("q_mean_worse", "p_mean_worse"),
                     ("q_mean_both", "p_mean_both"), ("q_mean_vs_control", "p_mean_vs_control")):
        summary[col] = fdr_bh(summary[src].to_numpy(), q)[1]
    params = {"n_permutations": int(n_permutations), "seed": int(seed), "q": float(q),
              "n_boot": int(n_boot), "band_scales": [float(s) for s in band_scales],
              "n_words": int(n), "n_targets": int(y.shape[1] * y.shape[2]),
              "boot_unit": "word" if boot_groups is None else "group",
              "baseline_columns": 0 if baseline is None else int(np.shape(baseline)[1]),
              "null": "refit" if refit else "fixed predictions",
              "n_refit": n_refit if refit else 0, "seconds": seconds}
    return InstructionComparison(table=table, summary=summary, fits=fits, params=params)


# --------------------------------------------------------------------------- chapter
def run_instruction_study(setup, names, n_words=0, device="auto", loader=None, timer=None,
                          **compare_kw):
    """Instruction features and their comparison with the plain ones, on one dataset.

    Parameters
    ----------
    setup : analysis.models.FrankSetup | analysis.models.SimulatedSetup
        The dataset's shared settings: ``label``, ``layer``, ``model`` and
        ``instruction_inputs(n_words)``.
    names : iterable of str
        Instructions (:func:`resolve_instructions`).
    n_words : int
        Words read under the instructions (see the setup's ``instruction_inputs``; 0: all).
    device : str
    loader : callable | None
        Passed to :func:`instruction_features` (loads the model once for several calls).
    timer : analysis.provenance.StepTimer | None
        Times the steps ``"<label>: instruction features"`` and
        ``"<label>: instruction models"``.
    **compare_kw
        Passed to :func:`compare_instructions` (``band_scales``, ``n_permutations``,
        ``seed``, ``q``, ``n_boot``).

    Returns
    -------
    InstructionComparison
        The seconds per instruction and per step are printed.
    """

    data, kw = setup.instruction_inputs(n_words)
    with timed(timer, f"{setup.label}: instruction features"):
        feats, seconds = instruction_features(data, list(names), layer=setup.layer,
                                               model=setup.model, device=device,
                                               loader=loader)
    print("seconds per instruction:", seconds)
    with timed(timer, f"{setup.label}: instruction models"):
        comp = compare_instructions(by_instruction=feats, **kw, **compare_kw)
    print("seconds per step:", comp.params["seconds"])
    return comp


def setting_texts(chosen, n_permutations, band_scales):
    """The chapter's texts of the instruction settings.

    Parameters
    ----------
    chosen : dict of str to str
        :func:`resolve_instructions`.
    n_permutations : int
    band_scales : sequence of float

    Returns
    -------
    dict of str to object
        ``n_instr``, ``instr_names``, ``instr_perm``, ``band_scales_txt``.
    """
    return {"n_instr": len(chosen),
            "instr_names": "; ".join(f'{k}: "{v}"' for k, v in chosen.items()),
            "instr_perm": f"{n_permutations:,}",
            "band_scales_txt": ", ".join(f"{v:g}" for v in band_scales)}


def null_text(comp):
    """One phrase naming the permutation null an instruction comparison used.

    Parameters
    ----------
    comp : InstructionComparison

    Returns
    -------
    str
        For the refit null, how many permuted responses every model was fitted to; for
        fixed predictions, that the test is liberal and is read beside the control band.
    """
    if comp.params.get("null") == "refit":
        return (f"the refit null: every model is fitted again, penalties included, to each "
                f"of {comp.params['n_refit']:,} permuted responses")
    return ("predictions held fixed while the responses are permuted (too many targets to "
            "refit every model; on out-of-fold predictions this null can be liberal, so "
            "these tests are read beside the control band)")


FRANK_KEYS = ("frank_layer", "frank_layer_source", "frank_n", "fr_n_sent", "fr_r_plain",
              "fr_best", "fr_best_delta", "fr_best_ci", "fr_n_better", "fr_n_worse",
              "fr_n_tests", "fr_n_mean_sig", "fr_n_both_sig", "fr_n_both_vs_control",
              "fr_n400_range", "fr_null")
SIMULATED_KEYS = ("sim_layer", "sim_instr_n", "sim_window", "sim_n_targets",
                  "sim_max_better", "sim_max_worse", "sim_n_mean_better", "sim_n_mean_worse",
                  "sim_delta_range", "sim_n_both_sig", "sim_n_both_vs_control", "sim_null")


def frank_texts(comp, setup=None, q=0.05):
    """The chapter's texts of the instruction comparison on the Frank et al. (2015) data.

    Parameters
    ----------
    comp : InstructionComparison | None
        None when the data were not found (every text is then ``"n/a"``).
    setup : analysis.models.FrankSetup | None
        Supplies ``layer``, ``layer_source`` and the sentence ``groups``.
    q : float
        False discovery rate of the counts.

    Returns
    -------
    dict of str to object
        The keys of :data:`FRANK_KEYS`.
    """
    if comp is None or setup is None:
        return dict.fromkeys(FRANK_KEYS, "n/a")
    s, t = comp.summary, comp.table
    n = comp.params["n_words"]
    best = s["mean_delta"].abs().idxmax()
    n400 = t[t["channel"] == "N400"]
    return {
        "frank_layer_source": setup.layer_source, "frank_layer": setup.layer,
        "frank_n": f"{n:,}", "fr_n_sent": len(np.unique(setup.groups[:n])),
        "fr_r_plain": f"{s['mean_r_plain'].iloc[0]:.3f}", "fr_best": best,
        "fr_best_delta": f"{s.loc[best, 'mean_delta']:+.4f}",
        "fr_best_ci": f"{s.loc[best, 'delta_ci_low']:+.4f} to "
                      f"{s.loc[best, 'delta_ci_high']:+.4f}",
        "fr_n_better": int((t["result"] == "better").sum()),
        "fr_n_worse": int((t["result"] == "worse").sum()), "fr_n_tests": len(t),
        "fr_n_mean_sig": int(((s["q_mean_better"] < q) | (s["q_mean_worse"] < q)).sum()),
        "fr_n_both_sig": int((s["q_mean_both"] < q).sum()),
        "fr_n_both_vs_control": int((s["q_mean_vs_control"] < q).sum()),
        "fr_n400_range": f"{n400['delta'].min():+.4f} to {n400['delta'].max():+.4f}",
        "fr_null": null_text(comp)}


def simulated_texts(comp, setup=None, q=0.05):
    """The chapter's texts of the instruction comparison on the simulated study.

    The parameters are those of :func:`frank_texts`; here ``setup`` is an
    :class:`analysis.models.SimulatedSetup`, which supplies ``layer`` and ``window`` (the
    window of interest in ms, or None).

    Returns
    -------
    dict of str to object
        The keys of :data:`SIMULATED_KEYS` (each ``"n/a"`` without ``comp`` or ``setup``).
    """
    if comp is None or setup is None:
        return dict.fromkeys(SIMULATED_KEYS, "n/a")
    s, window = comp.summary, setup.window
    return {
        "sim_layer": setup.layer, "sim_instr_n": f"{comp.params['n_words']:,}",
        "sim_window": f"{window[0]:g}–{window[1]:g} ms" if window else "all windows",
        "sim_n_targets": f"{int(s['n_targets'].iloc[0]):,}",
        "sim_max_better": f"{100 * s['share_better'].max():.1f} %",
        "sim_max_worse": f"{100 * s['share_worse'].max():.1f} %",
        "sim_n_mean_better": int((s["q_mean_better"] < q).sum()),
        "sim_n_mean_worse": int((s["q_mean_worse"] < q).sum()),
        "sim_delta_range": f"{s['mean_delta'].min():+.4f} to {s['mean_delta'].max():+.4f}",
        "sim_n_both_sig": int((s["q_mean_both"] < q).sum()),
        "sim_n_both_vs_control": int((s["q_mean_vs_control"] < q).sum()),
        "sim_null": null_text(comp)}


def power_texts(power=None):
    """The chapter's text of what the instruction test on the Frank data can detect.

    Parameters
    ----------
    power : dict | None
        From :func:`analysis.power.instruction_power` (``instruction``, ``sentence``);
        None when the Frank data were not found.

    Returns
    -------
    dict of str to str
        ``fr_power``: ``"for *<instruction>*, the largest change of the mean r: <sentence>"``,
        or ``"n/a"``.
    """
    if power is None:
        return {"fr_power": "n/a"}
    return {"fr_power": f"for *{power['instruction']}*, the largest change of the mean r: "
                        f"{power['sentence']}"}

def instruction_lines(comparisons):
    """Every instruction's difference in mean r from plain, in words (the closing note).

    Parameters
    ----------
    comparisons : dict of str to InstructionComparison | None
        By dataset label; None entries are left out.

    Returns
    -------
    dict of str to str
        ``main_instr``: ``"<instruction> on <dataset> +0.0012 [-0.0030, +0.0050]"``
        joined by ``"; "``, or ``"n/a"`` when there is no comparison.
    """
    lines = [f"{k} on {name} {r['mean_delta']:+.4f} "
             f"[{r['delta_ci_low']:+.4f}, {r['delta_ci_high']:+.4f}]"
             for name, comp in comparisons.items() if comp is not None
             for k, r in comp.summary.iterrows()]
    return {"main_instr": "; ".join(lines) if lines else "n/a"}
