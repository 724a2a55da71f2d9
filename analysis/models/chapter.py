"""The models chapter (06): opening its inputs with a notice for the reader, the sweeps and
comparisons over the set-ups, and the chapter's tables, texts and results entries.
"""

from __future__ import annotations

import pandas as pd

from .._utils import DataError
from ..provenance import timed
from .profiles import comparison_table, describe_row
from .registry import HUB_MODELS, registry_table
from .setups import frank_setup, simulated_setup

__all__ = ["open_frank", "open_simulated", "open_finetuned", "swept_entries", "registry_overview",
           "registry_texts", "sweep_texts", "profile_models", "profile_panels", "profile_texts",
           "finetuned_alignments", "finetuned_texts", "MAIN_COLUMNS", "main_tables",
           "main_display", "main_texts", "models_results"]


# --------------------------------------------------------------------------- chapter
def _opened(open_fn, errors, notice):
    """``(open_fn(), None)``, or ``(None, notice)`` with the error's text filled in."""
    from ..display import escape_markdown

    try:
        return open_fn(), None
    except errors as err:
        return None, notice.format(err=escape_markdown(err))


def open_frank(path=None, n_words=0, fit_kw=None, device="auto", timer=None):
    """:func:`frank_setup`, or the chapter's notice when the data are not found.

    Parameters
    ----------
    path, n_words, fit_kw, device
        As for :func:`frank_setup`.
    timer : StepTimer | None
        Times the step ``"open Frank et al. (2015)"``.

    Returns
    -------
    setup : FrankSetup | None
        None when the data are not found or malformed (a :class:`DataError`).
    notice : str | None
        Markdown for the reader (the error's text escaped) when ``setup`` is None.
    """
    def open_fn():
        with timed(timer, "open Frank et al. (2015)"):
            return frank_setup(path, n_words, fit_kw, device=device)

    return _opened(open_fn, DataError,
                   "**Frank et al. (2015): data not found.** {err} The real-data parts "
                   "of this chapter are skipped.")


def open_simulated(results_dir, fit_kw=None, map_channels=0, seed=0, backend="numpy",
                   device="auto", timer=None):
    """:func:`simulated_setup`, or the chapter's notice when the encoding outputs are missing.

    Parameters
    ----------
    results_dir, fit_kw, map_channels, seed, backend, device
        As for :func:`simulated_setup`.
    timer : StepTimer | None
        Times the step ``"simulated: reopen the encoding study"``.

    Returns
    -------
    setup : SimulatedSetup | None
        None when the encoding chapter's outputs are missing or do not match
        (:class:`analysis.contracts.ContractError`).
    notice : str | None
        Markdown for the reader (the error's text escaped) when ``setup`` is None.
    """
    from ..contracts import ContractError

    def open_fn():
        with timed(timer, "simulated: reopen the encoding study"):
            return simulated_setup(results_dir, fit_kw, map_channels, seed, backend,
                                   device=device)

    return _opened(open_fn, ContractError,
                   "*The encoding chapter's outputs are missing ({err}); the simulated "
                   "parts are skipped.*")


def open_finetuned(results_dir):
    """The fine-tuning chapter's models, or the chapter's notice when there are none.

    Parameters
    ----------
    results_dir : str | Path
        Where the fine-tuning chapter wrote its outputs.

    Returns
    -------
    tuned : analysis.contracts.FinetunedModels | None
        None when its outputs are missing or do not match
        (:class:`analysis.contracts.ContractError`).
    notice : str | None
        Markdown for the reader (the error's text escaped) when ``tuned`` is None.
    """
    from ..contracts import ContractError, FinetunedModels

    return _opened(lambda: FinetunedModels.read(results_dir), ContractError,
                   "*No fine-tuned models to compare ({err}).*")


def swept_entries(entries, finetuned=False):
    """The models whose layers are swept: all but the fine-tuned ones unless ``finetuned``."""
    return [e for e in entries if e.kind != "finetuned" or finetuned]


def registry_overview(entries, hub=()):
    """The models compared, then the documented hub models not named in ``hub``.

    Parameters
    ----------
    entries : list of ModelEntry
        :func:`model_registry`.
    hub : sequence of str
        Hub models opted into (names or sources).

    Returns
    -------
    pandas.DataFrame
        :func:`registry_table` columns ``kind``, ``parameters``, ``task``, ``accuracy``,
        ``licence``, ``origin``, ``loaded``.
    """
    rest = [h for h in HUB_MODELS if h.name not in hub and h.source not in hub]
    table = pd.concat([registry_table(entries), registry_table(rest)])
    return table[["kind", "parameters", "task", "accuracy", "licence", "origin", "loaded"]]


def registry_texts(entries):
    """``n_models`` and ``n_finetuned`` of the registry (the chapter's texts)."""
    return {"n_models": len(entries),
            "n_finetuned": sum(e.kind == "finetuned" for e in entries)}


def sweep_texts(layer_step, simulated=None, rsa_words=1000):
    """Texts of the sweep settings: ``model_layer_step``, ``map_n_channels``, ``rsa_n``.

    Parameters
    ----------
    layer_step : int
    simulated : SimulatedSetup | None
        Supplies the channels used (``"n/a"`` without it).
    rsa_words : int
    """
    return {"model_layer_step": layer_step,
            "map_n_channels": "n/a" if simulated is None else int(simulated.channels.sum()),
            "rsa_n": f"{rsa_words:,}"}


def profile_models(entries, simulated=None, frank=None, layer_step=1, rsa_words=1000, seed=0,
                   device="auto", timer=None):
    """Layer sweeps of every model on every dataset that is there (their params printed).

    Parameters
    ----------
    entries : list of ModelEntry
        The models swept (:func:`swept_entries`).
    simulated : SimulatedSetup | None
    frank : FrankSetup | None
    layer_step : int
        Every n-th layer, plus the layer of the comparisons.
    rsa_words, seed : int
    device : str
    timer : StepTimer | None

    Returns
    -------
    dict
        ``"simulated"`` and ``"frank2015"``: dict of model name to :class:`ModelProfile`
        (empty for a dataset that is not there).
    """
    profiles = {"simulated": {}, "frank2015": {}}
    for e in entries:
        for key, setup in (("simulated", simulated), ("frank2015", frank)):
            if setup is not None:
                profiles[key][e.name] = setup.profile(e, layer_step, rsa_words, seed,
                                                      device=device, timer=timer)
                print(profiles[key][e.name].params)
    return profiles


def profile_panels(profiles):
    """The panels of the profile figure: ``(title, profile, "time" | "target")``.

    Parameters
    ----------
    profiles : dict
        :func:`profile_models`: on the simulated study layer x time maps, on the Frank
        data layer x target maps.

    Returns
    -------
    list of tuple
    """
    return ([(f"simulated: {n}", p, "time") for n, p in profiles["simulated"].items()]
            + [(f"Frank: {n}", p, "target") for n, p in profiles["frank2015"].items()])


def _rsa_text(summary):
    peak = summary["rsa_peak"]
    return "n/a" if peak is None else f"{peak['rsa']:.3f} at layer {peak['layer']}"


def profile_texts(profiles, base, simulated=None):
    """The chapter's texts of the base model's profiles.

    Parameters
    ----------
    profiles : dict
        :func:`profile_models` (a dataset without the base gets ``"n/a"`` texts).
    base : str
        The base model's name.
    simulated : SimulatedSetup | None
        Supplies the layer the simulation planted (``truth_layer``).

    Returns
    -------
    dict of str to object
        ``sim_peak``, ``sim_depth``, ``sim_peak_ms``, ``sim_truth``, ``sim_rsa``,
        ``fr_peak``, ``fr_depth``, ``fr_n400_peak``, ``fr_rsa``.
    """
    out = dict.fromkeys(("sim_peak", "sim_depth", "sim_peak_ms", "sim_truth", "sim_rsa",
                         "fr_peak", "fr_depth", "fr_n400_peak", "fr_rsa"), "n/a")
    if base in profiles["simulated"]:
        ps = profiles["simulated"][base].summary()
        truth = None if simulated is None else simulated.truth_layer
        out.update(sim_peak=ps["peak_layer"], sim_depth=f"{ps['relative_depth']:.2f}",
                   sim_peak_ms=f"{ps['peak_window_ms']:g}",
                   sim_truth="n/a" if truth is None else int(truth), sim_rsa=_rsa_text(ps))
    if base in profiles["frank2015"]:
        pf = profiles["frank2015"][base].summary(channel="N400")
        out.update(fr_peak=pf["peak_layer"], fr_depth=f"{pf['relative_depth']:.2f}",
                   fr_n400_peak=pf["N400"]["peak_layer"], fr_rsa=_rsa_text(pf))
    return out


def finetuned_alignments(entries, simulated=None, frank=None, n_words=0, n_boot=1000,
                         seed=0, device="auto", timer=None):
    """The fine-tuned models against their base on each dataset that is there.

    Parameters
    ----------
    entries : list of ModelEntry
        The registry (its first entry is the base).
    simulated : SimulatedSetup | None
    frank : FrankSetup | None
    n_words : int
        Simulated study: the first ``n_words`` words (0: all).
    n_boot, seed : int
    device : str
    timer : StepTimer | None
        Times ``"simulated: fine-tuned models"`` and ``"Frank: fine-tuned models"``.

    Returns
    -------
    dict of str to pandas.DataFrame
        ``"simulated"`` and ``"frank2015"`` (:func:`finetuned_alignment`), for the
        datasets present; empty (and nothing computed) without a fine-tuned model.
    """
    align = {}
    if not any(e.kind == "finetuned" for e in entries):
        return align
    if simulated is not None:
        with timed(timer, "simulated: fine-tuned models"):
            align["simulated"] = simulated.finetuned_alignment(
                entries, n_words, n_boot=n_boot, seed=seed, device=device)
    if frank is not None:
        with timed(timer, "Frank: fine-tuned models"):
            align["frank2015"] = frank.finetuned_alignment(entries, n_boot=n_boot, seed=seed,
                                                           device=device)
    return {k: v for k, v in align.items() if v is not None}


def finetuned_texts(entries, simulated=None, n_words=0):
    """The chapter's texts of the fine-tuned comparison: ``ft_sim_n``, ``acc_method``.

    Parameters
    ----------
    entries : list of ModelEntry
    simulated : SimulatedSetup | None
        None when the simulated study is missing; then, or without a fine-tuned model,
        ``ft_sim_n`` is ``"n/a"``.
    n_words : int
        Simulated study: the first ``n_words`` words compared (0: all).
    """
    tuned = [e for e in entries if e.kind == "finetuned"]
    compared = simulated is not None and tuned
    return {"ft_sim_n": f"{simulated.first(n_words):,}" if compared else "n/a",
            "acc_method": tuned[0].accuracy["method"] if tuned else "no fine-tuned model"}


#: Columns of the main table that the chapter shows (those present).
MAIN_COLUMNS = ["layers_fitted", "peak_layer", "relative_depth", "max_r", "max_r_target",
                "rsa_peak_layer",
                "rsa_peak", "N400_peak_layer", "mean_r", "delta_r", "delta_r_ci_low",
                "delta_r_ci_high", "accuracy", "accuracy_gain", "gain_ci_low", "gain_ci_high"]


def main_tables(profiles, align):
    """:func:`comparison_table` of each dataset with profiles or fine-tuned comparisons.

    Parameters
    ----------
    profiles : dict
        :func:`profile_models`.
    align : dict of str to pandas.DataFrame
        :func:`finetuned_alignments`.

    Returns
    -------
    dict of str to pandas.DataFrame
        ``"simulated"`` and ``"frank2015"`` (with the N400's peak layer), where present.
    """
    main = {}
    if profiles["simulated"] or "simulated" in align:
        main["simulated"] = comparison_table(profiles["simulated"], align.get("simulated"))
    if profiles["frank2015"] or "frank2015" in align:
        main["frank2015"] = comparison_table(profiles["frank2015"], align.get("frank2015"),
                                             channel="N400")
    return main


def main_display(main):
    """The main tables stacked (index: dataset, model), the shown columns, rounded."""
    table = pd.concat(main, names=["dataset"]) if main else pd.DataFrame()
    return table[[c for c in MAIN_COLUMNS if c in table.columns]].round(4)


def main_texts(main, entries):
    """The closing note's texts: the base model's rows and the fine-tuned series.

    Parameters
    ----------
    main : dict of str to pandas.DataFrame
        :func:`main_tables`.
    entries : list of ModelEntry
        The registry (its first entry is the base).

    Returns
    -------
    dict of str to object
        ``main_sim_base``, ``main_fr_base``, ``main_fr_n400_layer``, ``main_ft``.
    """
    base = entries[0].name
    frank = main.get("frank2015")
    lines = [f"{e.name} ({ds}): {describe_row(main[ds], e.name)}" for ds in main
             for e in entries if e.kind == "finetuned" and e.name in main[ds].index]
    return {"main_sim_base": describe_row(main.get("simulated"), base),
            "main_fr_base": describe_row(frank, base),
            "main_fr_n400_layer": (int(frank.loc[base, "N400_peak_layer"])
                                   if frank is not None and base in frank.index else "n/a"),
            "main_ft": "; ".join(lines) if lines else "no fine-tuned model was compared"}


def models_results(main, profiles, entries):
    """The model comparison as entries of the chapter's results file.

    Parameters
    ----------
    main : dict of str to pandas.DataFrame
        :func:`main_tables`.
    profiles : dict of str to dict of str to ModelProfile
        By dataset (:func:`profile_models`), then by model name.
    entries : list of ModelEntry

    Returns
    -------
    dict
        ``models`` (per dataset and model, the row with NaN as None), ``model_profiles``
        (per dataset and model, :meth:`ModelProfile.summary`; only when ``main`` has a
        dataset), ``registry`` and ``hub_models_documented`` (records).
    """
    out = {"models": {}}
    for ds, table in main.items():
        out["models"][ds] = {
            name: {k: (None if pd.isna(v) else v) for k, v in row.items()}
            for name, row in table.to_dict(orient="index").items()}
        out.setdefault("model_profiles", {})[ds] = {
            n: p.summary() for n, p in profiles.get(ds, {}).items()}
    out["registry"] = registry_table(entries).reset_index().to_dict(orient="records")
    out["hub_models_documented"] = registry_table().reset_index().to_dict(orient="records")
    return out
