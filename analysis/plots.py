"""Figures shared by the chapters (MNE topomaps, time courses, coloured text)."""

from __future__ import annotations

import html as _html
import re

import matplotlib.pyplot as plt
import numpy as np

from .display import model_label

__all__ = ["as_evoked", "plot_evoked", "plot_window_topomaps", "plot_topographies",
           "window_topomaps", "has_positions", "grad_pairs", "topomap_values", "colour_limits",
           "tick_labels",
           "plot_sensor_layout", "coloured_text", "category_text", "plot_better_worse",
           "plot_r_scatter", "plot_category_effect", "use_book_style",
           "plot_instruction_deltas", "plot_model_profiles", "plot_alignment_vs_accuracy",
           "PAGE_WIDTH_IN", "BOOK_DPI", "panel_grid", "plot_better_worse_grid",
           "plot_layer_time_maps", "model_label", "plot_learning_curves",
           "plot_sentence_scores", "plot_validity", "plot_component_encoding", "positions_text",
           "plot_sentence_lengths", "plot_channel_amplitudes", "plot_significant_per_window",
           "plot_ceiling_comparison", "plot_rsa_timecourse", "plot_participant_differences"]


#: Width of the book's page column in inches (about 760 CSS px at a 1280 px window): every
#: figure is drawn at most this wide, so that the browser never shrinks its text below
#: the size it was drawn at (checked on the built book by :mod:`analysis.bookcheck`).
PAGE_WIDTH_IN = 7.5

#: Resolution of the book's figures (the built book refuses images below 150 dpi).
BOOK_DPI = 150


def use_book_style():
    """Figure defaults of the book: readable at page width (text >= 8 pt), 150 dpi."""
    plt.rcParams.update({"figure.dpi": BOOK_DPI, "savefig.dpi": BOOK_DPI,
                         "figure.figsize": (6.4, 3.2), "font.size": 10, "axes.titlesize": 11,
                         "axes.labelsize": 10, "xtick.labelsize": 9, "ytick.labelsize": 9,
                         "legend.fontsize": 9, "figure.titlesize": 12})


def panel_grid(n, panel_height=2.8, max_cols=2, width=PAGE_WIDTH_IN, **kwargs):
    """Small multiples as a grid that fits the page column.

    Parameters
    ----------
    n : int
        Number of panels.
    panel_height : float
        Height of one row in inches.
    max_cols : int
        Panels per row; more panels wrap onto further rows.
    width : float
        Figure width in inches (at most :data:`PAGE_WIDTH_IN`).
    **kwargs
        Passed to :func:`matplotlib.pyplot.subplots` (``sharex``, ``sharey``, ...).

    Returns
    -------
    fig : matplotlib Figure
    axes : list of Axes
        The ``n`` panels in reading order; unused grid cells are hidden.
    """
    n = max(1, int(n))
    cols = min(n, max_cols)
    rows = -(-n // cols)
    fig, grid = plt.subplots(rows, cols, figsize=(min(width, PAGE_WIDTH_IN), panel_height * rows),
                             squeeze=False, **kwargs)
    axes = list(grid.ravel())
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def plot_layer_time_maps(sweeps, times, window_ms, titles=None, decided=None):
    """Mean r over channels for every layer and window, one map per model.

    Each fitted layer is one row, centred on its tick, whatever the spacing of the
    layers swept (every layer, or every n-th).

    Parameters
    ----------
    sweeps : dict of str to LayerSweep
        By model key (:func:`analysis.encoding.compare_models`).
    times : ndarray, shape (n_windows,)
        Window starts in ms.
    window_ms : float
        Window length (extends the last column).
    titles : dict of str to str | None
        Model key -> name shown in the title (e.g. the model's file name rather than
        ``"default"``).
    decided : dict of str to int | None
        Model key -> the layer decided for it, marked with a dashed line.

    Returns
    -------
    matplotlib Figure
    """
    fig, axes = panel_grid(len(sweeps), panel_height=3.4)
    for ax, (key, sw) in zip(axes, sweeps.items()):
        n = len(sw.layers)
        im = ax.imshow(sw.layer_time_map(), aspect="auto", origin="lower", cmap="magma",
                       extent=[times[0], times[-1] + window_ms, -0.5, n - 0.5])
        every = max(1, -(-n // 12))
        ax.set_yticks(range(0, n, every), [str(l) for l in sw.layers[::every]])
        if decided and decided.get(key) in sw.layers:
            ax.axhline(sw.layers.index(decided[key]), color="c", lw=0.9, ls="--",
                       label=f"decided layer {decided[key]}")
            ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), fontsize=8, frameon=False)
        name = model_label((titles or {}).get(key, key))
        ax.set(xlabel="window start (ms)", ylabel="layer (one row each)")
        ax.set_title(f"{name}: mean r over channels", fontsize=10, pad=18 if decided else 6)
        fig.colorbar(im, ax=ax, label="r")
    fig.tight_layout()
    return fig


def as_evoked(values, dataset, comment=""):
    """Wrap windowed values as an ``mne.EvokedArray`` (one sample per window).

    Parameters
    ----------
    values : ndarray, shape (n_channels, n_windows)
    dataset : WordDataset
        Supplies the Info and the window times.
    comment : str

    Returns
    -------
    mne.EvokedArray
    """
    import mne

    if dataset.info is None:
        raise ValueError(f"{dataset.source}: no sensor geometry (info is None); "
                         "topographic plots need an mne.Info.")
    info = dataset.info.copy()
    with info._unlock():
        info["sfreq"] = 1000.0 / dataset.window_ms  # one sample per window
    return mne.EvokedArray(np.asarray(values, float), info,
                           tmin=dataset.times[0] / 1000.0, comment=comment,
                           nave=dataset.n_words, verbose=False)


def plot_evoked(dataset, mask=None, title="Average response"):
    """Butterfly plot of the mean response over words, per sensor type.

    Parameters
    ----------
    dataset : WordDataset
    mask : ndarray of bool | None
        Words to average (all by default).
    title : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    resp = dataset.responses if mask is None else dataset.responses[mask]
    evoked = as_evoked(resp.mean(axis=0), dataset, title)
    fig = evoked.plot(spatial_colors="auto", show=False, titles=None, time_unit="ms",
                      verbose=False)
    fig.suptitle(title)
    return fig


#: Display scaling and unit of fields in SI units, per channel type (as MNE shows them).
FIELD_UNITS = {"mag": (1e15, "fT"), "grad": (1e13, "fT/cm"), "eeg": (1e6, "µV")}

_TYPE_NAMES = {"mag": "magnetometer", "grad": "gradiometer", "eeg": "EEG"}

# Neuromag planar gradiometers: MEGxxx2 and MEGxxx3 measure the two orthogonal field
# gradients at the location xxx (the magnetometer there is MEGxxx1).
_NEUROMAG_GRAD = re.compile(r"(MEG ?\d{3})[23]")


def _channels_of_type(info, ch_type):
    """Indices of the channels of one type (all data types when ``ch_type`` is None)."""
    types = info.get_channel_types()
    wanted = set(_TYPE_NAMES) if ch_type is None else {ch_type}
    return [i for i, t in enumerate(types) if t in wanted]


def has_positions(info, ch_type=None):
    """Whether every channel of a type has a sensor position a topomap can use.

    A position is usable when its three coordinates (``loc[:3]``, metres) are finite and
    not all 0: channels created without a montage have zeros or NaN there, and MNE
    then stops with "No valid channel positions found".

    Parameters
    ----------
    info : mne.Info | None
    ch_type : {"mag", "grad", "eeg"} | None
        Channel type; None: every MEG/EEG channel.

    Returns
    -------
    bool
        False when ``info`` is None, has no channel of the type, or one of them has no
        position.
    """
    return info is not None and _position_problem(info, ch_type) is None


def _position_problem(info, ch_type):
    """Why the channels of a type cannot be drawn as a topomap (None: they can)."""
    what = "MEG/EEG" if ch_type is None else _TYPE_NAMES.get(ch_type, ch_type)
    if info is None:
        return "the data have no sensor information (no mne.Info)"
    picks = _channels_of_type(info, ch_type)
    if not picks:
        return f"the data have no {what} channels"
    locs = np.array([info["chs"][i]["loc"][:3] for i in picks], float)
    missing = ~np.isfinite(locs).all(axis=1) | (np.abs(np.nan_to_num(locs)).sum(axis=1) == 0)
    if missing.any():
        return (f"{int(missing.sum())} of the {len(picks)} {what} channels have no position "
                "(no montage was set: see mne.Epochs.set_montage)")
    return None


def grad_pairs(info):
    """Planar-gradiometer pairs of a Neuromag Info, and the gradiometers without a partner.

    Pairs are found by name: Neuromag names the two gradiometers at a sensor location
    ``MEGxxx2`` and ``MEGxxx3`` (they share ``loc[:3]``). MNE pairs them the same way,
    but only in a private function (``mne.channels.layout._pair_grad_sensors``) that drops
    incomplete pairs silently; this one reports them. Gradiometers named otherwise count
    as unpaired.

    Parameters
    ----------
    info : mne.Info

    Returns
    -------
    pairs : list of (int, int)
        Indices into ``info`` of each complete pair, in channel order.
    unpaired : list of str
        Names of gradiometers whose partner is missing (e.g. dropped as bad).
    """
    groups = {}
    for i in _channels_of_type(info, "grad"):
        name = info["ch_names"][i]
        match = _NEUROMAG_GRAD.fullmatch(name)
        groups.setdefault(match.group(1) if match else name, []).append(i)
    pairs = [tuple(g) for g in groups.values() if len(g) == 2]
    unpaired = [info["ch_names"][i] for g in groups.values() if len(g) != 2 for i in g]
    return pairs, unpaired


def topomap_values(values, info, ch_type):
    """The channels a topomap of one type draws, and the values it shows at each sensor.

    Parameters
    ----------
    values : ndarray, shape (n_channels, ...)
        One row per channel of ``info``.
    info : mne.Info
    ch_type : {"mag", "grad", "eeg"}

    Returns
    -------
    picks : list of int
        Channels to give MNE (for gradiometers, the complete pairs, pair by pair).
    shown : ndarray, shape (n_sensors, ...)
        Values at each sensor: the channel's value, or for gradiometers the root mean
        square of the pair, sqrt((a**2 + b**2) / 2), as MNE combines them.
    left_out : list of str
        Gradiometers without a partner (not drawn).
    """
    values = np.asarray(values, float)
    if ch_type != "grad":
        picks = _channels_of_type(info, ch_type)
        return picks, values[picks], []
    pairs, unpaired = grad_pairs(info)
    picks = [i for pair in pairs for i in pair]
    a, b = values[[p[0] for p in pairs]], values[[p[1] for p in pairs]]
    return picks, np.sqrt((a ** 2 + b ** 2) / 2.0), unpaired


def colour_limits(shown, kind, ch_type, units=None):
    """Colour map, limits and colour-bar extension of a set of topomaps.

    Parameters
    ----------
    shown : ndarray
        The values drawn (after gradiometer pairs are combined and fields scaled).
    kind : {"field", "signed", "positive", "spread"}
        See :func:`plot_window_topomaps`.
    ch_type : {"mag", "grad", "eeg"}
    units : str | None
        ``"ratio"``: positive values whose reference is 1.

    Returns
    -------
    cmap : str
    vlim : (float, float)
    extend : {"neither", "both"}
        ``"both"`` when values beyond the limits are clipped (spread maps).
    """
    finite = np.asarray(shown, float)[np.isfinite(shown)]
    if finite.size == 0:
        return "magma", (0.0, 1.0), "neither"
    top = float(np.max(np.abs(finite))) or 1.0
    if kind == "spread":
        # a spread is positive everywhere and its large values are few: the 2nd-98th
        # percentiles keep the map from being one saturated colour
        lo, hi = np.percentile(finite, [2, 98])
        return "viridis", (float(lo), float(hi) if hi > lo else float(lo) + 1.0), "both"
    if ch_type != "grad" and kind in ("field", "signed"):
        return "RdBu_r", (-top, top), "neither"
    low = min(1.0, float(finite.min())) if units == "ratio" else 0.0
    return "magma", (low, top), "neither"


def tick_labels(ticks):
    """Labels of colour-bar ticks with the fewest decimals that keep them exact and distinct.

    Parameters
    ----------
    ticks : sequence of float

    Returns
    -------
    list of str
    """
    ticks = np.asarray(ticks, float)
    span = float(np.ptp(ticks)) if ticks.size > 1 else float(abs(ticks[0]) if ticks.size else 1)
    for decimals in range(0, 8):
        labels = [f"{t:.{decimals}f}" for t in ticks]
        exact = np.allclose(np.round(ticks, decimals), ticks, rtol=0, atol=1e-9 * (span or 1))
        if exact and len(set(labels)) == len(labels):
            labels = [lab if lab.strip("-0.") else lab.lstrip("-") for lab in labels]
            return [lab.replace("-", "\u2212") for lab in labels]  # a typographic minus
    return [f"{t:.3g}" for t in ticks]


def _honest_colorbar(fig, image, axes, vlim, extend, label):
    """A colour bar with MaxNLocator ticks inside the limits and distinct labels."""
    from matplotlib.ticker import FixedLocator, MaxNLocator

    cbar = fig.colorbar(image, ax=axes, shrink=0.85, aspect=18, extend=extend, pad=0.02)
    tol = 1e-9 * (vlim[1] - vlim[0])
    for nbins in (5, 8):  # at least 4 ticks inside the limits where 5 bins leave fewer
        ticks = [t for t in MaxNLocator(nbins=nbins).tick_values(*vlim)
                 if vlim[0] - tol <= t <= vlim[1] + tol]
        if len(ticks) >= 4:
            break
    cbar.ax.yaxis.set_major_locator(FixedLocator(ticks))
    cbar.ax.set_yticklabels(tick_labels(ticks))
    cbar.ax.tick_params(labelsize=8)
    cbar.set_label(label, fontsize=9)
    return cbar


def plot_window_topomaps(values, dataset, ch_type="mag", every=2, title=None, kind="field",
                         units=None, window=None):
    """Topomaps of windowed values, one per window (every ``every``-th window), in 2 rows.

    Parameters
    ----------
    values : ndarray, shape (n_channels, n_windows)
    dataset : WordDataset
    ch_type : {"mag", "grad", "eeg"}
        Gradiometer pairs are combined by root mean square, as MNE does (so their maps
        are positive: drawn with a sequential colour map from 0); gradiometers without
        a partner are left out, named in a printed note and in the title.
    every : int
        Plot one window in ``every``.
    title : str | None
    kind : {"field", "signed", "positive", "spread"}
        ``"field"``: fields in SI units (T, T/m, V), drawn in fT, fT/cm or µV, diverging
        colours symmetric around 0 (from 0 for gradiometer pairs); ``"signed"``: unitless
        values around 0 (e.g. r on magnetometers), diverging colours symmetric around 0;
        ``"positive"``: unitless values >= 0 (a variance ratio, RMS-combined r),
        sequential colours from 0 (or from 1 for a ratio, with ``units="ratio"``);
        ``"spread"``: a field's spread (e.g. the standard deviation over words), in
        field units, sequential colours between its 2nd and 98th percentiles.
    units : str | None
        Colour-bar label for the unitless kinds.
    window : tuple of float | None
        The analysis window (ms); its topomaps get a frame and "(window)" in the title.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        When the channels of ``ch_type`` have no positions (see :func:`has_positions`).
    """
    import mne

    problem = _position_problem(dataset.info, ch_type)
    if problem:
        raise ValueError(f"{dataset.source}: no {ch_type} topomap: {problem}.")
    idx = np.arange(0, dataset.n_windows, every)
    picks, shown, left_out = topomap_values(np.asarray(values, float)[:, idx], dataset.info,
                                            ch_type)
    given = np.asarray(values, float)[picks][:, idx]
    if kind in ("field", "spread"):
        scale, units = FIELD_UNITS[ch_type]
        given, shown = given * scale, shown * scale
    cmap, vlim, extend = colour_limits(shown, kind, ch_type, units)
    plot_info = mne.pick_info(dataset.info, picks)
    plot_info["bads"] = []  # every value given is drawn
    nrows = 2 if len(idx) > 1 else 1
    ncols = int(np.ceil(len(idx) / nrows))
    fig, axes = plt.subplots(nrows, ncols, figsize=(min(PAGE_WIDTH_IN, 1.3 * ncols + 1.0),
                                                    1.45 * nrows + 0.45),
                             dpi=BOOK_DPI, squeeze=False, layout="constrained")
    for k, (ax, t) in enumerate(zip(axes.flat, dataset.times[idx])):
        image, _ = mne.viz.plot_topomap(given[:, k], plot_info, axes=ax, show=False,
                                        cmap=cmap, vlim=vlim, contours=4, sensors=True)
        inside = window is not None and window[0] <= t <= window[1]
        ax.set_title(f"{t:g} ms" + (" (window)" if inside else ""), fontsize=8)
        if inside:  # MNE hides the frame of its maps: show it again, in red
            ax.set_frame_on(True)
            for spine in ax.spines.values():
                spine.set_visible(True)
                spine.set_edgecolor("C3")
                spine.set_linewidth(1.5)
    for ax in axes.flat[len(idx):]:
        ax.set_axis_off()
    _honest_colorbar(fig, image, axes, vlim, extend, units or "")
    if left_out:
        note = (f"{len(left_out)} gradiometer(s) without a partner not drawn: "
                f"{', '.join(left_out)}")
        print(f"Note: {note}.")
        title = f"{title}\n({note})" if title else note
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def window_topomaps(values, dataset, ch_type="mag", **kwargs):
    """Draw :func:`plot_window_topomaps`, or print why the data have no such topomap.

    The chapters call this one function: data without sensor positions (EEG without a
    montage, ERP components), or without channels of ``ch_type``, get a printed note
    instead of a figure, and the chapter goes on.

    Parameters
    ----------
    values, dataset, ch_type, **kwargs
        As for :func:`plot_window_topomaps`.

    Returns
    -------
    matplotlib.figure.Figure | None
        None when nothing was drawn.
    """
    problem = _position_problem(dataset.info, ch_type)
    if problem:
        print(f"No {_TYPE_NAMES.get(ch_type, ch_type)} topomap: {problem}.")
        return None
    return plot_window_topomaps(values, dataset, ch_type=ch_type, **kwargs)


def plot_topographies(topographies, info, titles, ch_type="mag"):
    """One topomap per named pattern (e.g. the simulation's planted sources).

    Parameters
    ----------
    topographies : list of ndarray, shape (n_channels,)
    info : mne.Info
    titles : list of str
    ch_type : {"mag", "grad", "eeg"}
        Gradiometer pairs are combined by root mean square (:func:`topomap_values`).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import mne

    picks, _, _ = topomap_values(np.zeros(len(info["ch_names"])), info, ch_type)
    sub = mne.pick_info(info, picks)
    fig, axes = plt.subplots(1, len(topographies), dpi=BOOK_DPI,
                             figsize=(min(PAGE_WIDTH_IN, 2.0 * len(topographies)), 2.3))
    axes = np.atleast_1d(axes)
    for ax, topo, title in zip(axes, topographies, titles):
        mne.viz.plot_topomap(np.asarray(topo)[picks], sub, axes=ax, show=False, contours=4)
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def plot_sensor_layout(info, title="Neuromag-306 sensor layout"):
    """Flat sensor layout coloured by channel type.

    Parameters
    ----------
    info : mne.Info
    title : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    import mne

    fig = mne.viz.plot_sensors(info, kind="topomap", ch_type=None, show_names=False,
                               title=title, show=False, verbose=False)
    return fig


def coloured_text(words, values, cmap="Reds", vmin=None, vmax=None, max_words=None,
                  label=None):
    """HTML of a text whose words are shaded by a per-word value.

    Parameters
    ----------
    words : list of str
    values : ndarray, shape (n_words,)
        NaN values are left unshaded.
    cmap : str
        Matplotlib colour map.
    vmin, vmax : float | None
        Colour limits (2nd and 98th percentiles by default).
    max_words : int | None
        Show only the first words.
    label : str | None
        What the shading is; adds a legend (the colours of the low and high ends).

    Returns
    -------
    str
        An HTML fragment (display it with ``IPython.display.HTML``).
    """
    values = np.asarray(values, float)
    n = len(words) if max_words is None else min(max_words, len(words))
    finite = values[np.isfinite(values)]
    lo = np.percentile(finite, 2) if vmin is None else vmin
    hi = np.percentile(finite, 98) if vmax is None else vmax
    cm = plt.get_cmap(cmap)

    def colour(frac):  # light enough for black text to stay readable
        r, g, b, _ = cm(0.05 + 0.55 * frac)
        return f"rgb({r * 255:.0f},{g * 255:.0f},{b * 255:.0f})"

    spans = []
    for w, v in zip(words[:n], values[:n]):
        if np.isfinite(v):
            frac = float(np.clip((v - lo) / ((hi - lo) or 1.0), 0, 1))
            spans.append(f'<span style="background: {colour(frac)}" title="{v:.3g}">'
                         f'{_html.escape(w)}</span>')
        else:
            spans.append(_html.escape(w))
    legend = ""
    if label:
        legend = (f'<p style="font-size:90%">{_html.escape(label)}: '
                  f'<span style="background:{colour(0)};padding:0 4px">{lo:.3g} or less</span> '
                  f'<span style="background:{colour(0.5)};padding:0 4px">…</span> '
                  f'<span style="background:{colour(1)};padding:0 4px">{hi:.3g} or more</span>'
                  "; unshaded: no value</p>")
    return legend + '<p style="line-height: 1.9">' + " ".join(spans) + "</p>"


CATEGORY_COLOURS = {"emotion": "#f4a3a3", "physical": "#9ec5f0", "sound": "#bfe3a6"}


def category_text(words, categories, names=("emotion", "physical", "sound"), max_words=None):
    """HTML of a text with the words of each category highlighted, and a legend.

    Parameters
    ----------
    words : list of str
    categories : dict of str to ndarray of bool
    names : sequence of str
        Categories shown (those present), each with its colour; a word in several
        categories takes the first.
    max_words : int | None

    Returns
    -------
    str
    """
    shown = [n for n in names if n in categories]
    n = len(words) if max_words is None else min(len(words), max_words)
    legend = " ".join(f'<span style="background:{CATEGORY_COLOURS.get(k, "#ddd")};'
                      f'padding:0 4px">{_html.escape(str(k))}</span>' for k in shown)
    spans = []
    for i in range(n):
        colour = next((CATEGORY_COLOURS.get(k, "#ddd") for k in shown if categories[k][i]),
                      None)
        w = _html.escape(str(words[i]))
        spans.append(f'<span style="background:{colour}">{w}</span>' if colour else w)
    more = " ..." if n < len(words) else ""
    return (f'<p style="font-size:90%">Legend: {legend}</p>'
            f'<p style="line-height:1.8">{" ".join(spans)}{more}</p>')


def plot_answer_shares(shares, title="Human judgements per hypothesis", simulated=False,
                       colors=("#c0392b", "#bdc3c7", "#2e86c1")):
    """The paper's stacked bars: per hypothesis, % Divergent / Equal / Convergent answers.

    Parameters
    ----------
    shares : DataFrame
        From :func:`analysis.validation.answer_shares` (index: hypothesis; columns
        ``group``, ``rank``, ``n``, ``Divergent``, ``Equal``, ``Convergent``).
    title : str
    simulated : bool
        Marks the title and the figure as made from simulated raters.
    colors : three colours for Divergent, Equal, Convergent.

    Returns
    -------
    matplotlib.figure.Figure
    """
    codes = ("Divergent", "Equal", "Convergent")
    groups = [g for g in ("top", "bottom") if (shares["group"] == g).any()]
    heights = [int((shares["group"] == g).sum()) for g in groups]
    fig, axes = plt.subplots(len(groups), 1, figsize=(PAGE_WIDTH_IN, 0.32 * sum(heights) + 1.8),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    for ax, g in zip(axes[:, 0], groups):
        part = shares[shares["group"] == g]
        y = np.arange(len(part))[::-1]
        left = np.zeros(len(part))
        for code, colour in zip(codes, colors):
            pct = 100 * part[code].to_numpy()
            ax.barh(y, pct, left=left, color=colour, label=code, height=0.75)
            for yi, li, p in zip(y, left, pct):
                if p >= 8:
                    ax.text(li + p / 2, yi, f"{p:.0f}", ha="center", va="center", fontsize=7,
                            color="white" if code != "Equal" else "black")
            left += pct
        ax.set_yticks(y, [f"{r}. {h}" for h, r in zip(part.index, part["rank"])], fontsize=8)
        ax.set_xlim(0, 100)
        ax.set_title(f"{'Top' if g == 'top' else 'Bottom'} {len(part)} hypotheses by validity V",
                     fontsize=9, loc="left")
        ax.set_xlabel("% of answers" if g == groups[-1] else "")
    axes[0, 0].legend(ncol=3, fontsize=8, loc="lower right", bbox_to_anchor=(1, 1.08), frameon=False)
    fig.suptitle(("SIMULATED raters: " if simulated else "") + title, fontsize=10,
                 color="#a1260d" if simulated else "black", x=0.01, ha="left")
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------ fine-tuning (§6)
_BW_COLOURS = (("better", "tab:green"), ("same", "0.8"), ("worse", "tab:red"))


def plot_better_worse(shares, times, title="", ax=None, window=None, window_label="planted window",
                      legend=True):
    """Stacked bars: percent of channels better / same / worse per window.

    Parameters
    ----------
    shares : dict with keys "better", "same", "worse", each ndarray (n_windows,)
        Percentages (from :func:`analysis.finetune.brain_retest`).
    times : ndarray, shape (n_windows,)
        Window starts in ms.
    title : str
    ax : matplotlib Axes | None
    window : (float, float) | None
        Start and end in ms of a window to mark (e.g. the planted one), drawn as a band
        above the bars so that the bars never hide it.
    window_label : str
    legend : bool
        Draw the legend outside the bars (above the axes).

    Returns
    -------
    matplotlib Axes
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 3))
    times = np.asarray(times, dtype=float)
    step = np.diff(times).min() if times.size > 1 else 1.0
    bottom = np.zeros(times.size)
    for key, colour in _BW_COLOURS:
        ax.bar(times, shares[key], width=0.8 * step, bottom=bottom, color=colour, label=key,
               align="edge")
        bottom += np.asarray(shares[key])
    ax.set(xlabel="window start (ms)", ylabel="% of channels", ylim=(0, 115), title=title)
    ax.set_yticks([0, 25, 50, 75, 100])
    if window is not None:
        ax.fill_between([window[0], window[1]], 103, 113, color="tab:orange", alpha=0.7, lw=0)
        # the label ends where the band starts: to the right of a late window it ran past
        # the panel's edge into its neighbour (chapter 04's grid)
        ax.text(window[0] - 0.2 * step, 108, window_label, va="center", ha="right", fontsize=8)
    if legend:
        ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=3, fontsize=8, frameon=False)
    return ax


def plot_better_worse_grid(retests, times, window=None, window_label="planted window"):
    """The better / same / worse bars of several re-tests as small multiples.

    One panel per model in a grid two panels wide (so every panel keeps readable ticks
    at page width), one shared legend above the grid, the marked window drawn above
    the bars of every panel.

    Parameters
    ----------
    retests : dict of str to dict
        Panel title -> shares (``"better"``, ``"same"``, ``"worse"``; see
        :func:`plot_better_worse`).
    times : ndarray, shape (n_windows,)
    window : (float, float) | None
    window_label : str

    Returns
    -------
    matplotlib Figure
    """
    fig, axes = panel_grid(len(retests), panel_height=2.6, sharey=True)
    for ax, (name, shares) in zip(axes, retests.items()):
        plot_better_worse(shares, times, title=name, ax=ax, window=window,
                          window_label=window_label, legend=False)
        ax.title.set_fontsize(10)
    for ax in axes[1::2]:
        ax.set_ylabel("")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=3, fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    return fig


def plot_r_scatter(r_base, r_ft, times, classes=None, windows=None, title=""):
    """Per-window scatter of the base model's r against the fine-tuned model's r.

    Parameters
    ----------
    r_base, r_ft : ndarray, shape (n_channels, n_windows)
    times : ndarray, shape (n_windows,)
    classes : ndarray of int, shape (n_channels, n_windows) | None
        1 better, -1 worse, 0 same (colours the points).
    windows : list of int | None
        Windows shown (default: four spread over the epoch).
    title : str

    Returns
    -------
    matplotlib Figure
    """
    n_win = r_base.shape[1]
    if windows is None:
        windows = sorted(set(np.linspace(0, n_win - 1, min(4, n_win)).round().astype(int)))
    fig, flat = panel_grid(len(windows), panel_height=2.6, max_cols=2, width=5.6,
                           sharex=True, sharey=True)
    lo = float(np.nanmin([np.nanmin(r_base), np.nanmin(r_ft)]))
    hi = float(np.nanmax([np.nanmax(r_base), np.nanmax(r_ft)]))
    colours = {1: "tab:green", 0: "0.6", -1: "tab:red"}
    for ax, w in zip(flat, windows):
        cls = np.zeros(r_base.shape[0], int) if classes is None else classes[:, w]
        for value, colour in colours.items():
            sel = cls == value
            ax.scatter(r_base[sel, w], r_ft[sel, w], s=6, color=colour)
        ax.plot([lo, hi], [lo, hi], "k-", lw=0.5)
        ax.set(title=f"{times[w]:g} ms", xlabel="r base")
    for ax in flat[::2]:
        ax.set_ylabel("r fine-tuned")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_category_effect(cat, times, title="", alpha=0.05, ax=None):
    """Mean ± s.e. of a per-word effect for a category and the other words, over time.

    Parameters
    ----------
    cat : dict
        From :func:`analysis.stats.category_ttest` (optionally with ``"category"``).
    times : ndarray, shape (n_windows,)
    title : str
    alpha : float
        Windows with ``q < alpha`` (Benjamini–Hochberg over windows, when ``cat`` has
        ``q``) are marked.
    ax : matplotlib Axes | None

    Returns
    -------
    matplotlib Axes
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 3))
    name = cat.get("category", "category")
    for key, label, colour in (("in", f"{name} words", "tab:purple"),
                               ("out", "other words", "0.4")):
        m, se = cat[f"mean_{key}"], cat[f"se_{key}"]
        ax.plot(times, m, "o-", color=colour, label=label, ms=3)
        ax.fill_between(times, m - se, m + se, color=colour, alpha=0.25)
    sig = np.nan_to_num(cat.get("q", cat["p"]), nan=1.0) < alpha
    if sig.any():
        top = np.nanmax(cat["mean_in"] + cat["se_in"])
        ax.plot(np.asarray(times)[sig], np.full(sig.sum(), top * 1.1 if top > 0 else 0),
                "k*", label=f"q < {alpha:g} (BH over windows)" if "q" in cat else f"p < {alpha:g}")
    ax.axhline(0, color="k", lw=0.5)
    units = cat.get("units")
    ylabel = "ΔMSE, % of base error" if units else "ΔMSE (base − fine-tuned)"
    ax.set(xlabel="window start (ms)", ylabel=ylabel, title=title)
    ax.text(0.01, 0.02, "bands: ± 1 s.e. over words", transform=ax.transAxes, fontsize=8,
            color="0.35")
    ax.legend(fontsize="small")
    return ax


# ------------------------------------------------------------------ models (§7)
def plot_instruction_deltas(comparisons):
    """Per instruction, the difference in mean r from plain with its interval, per dataset.

    Parameters
    ----------
    comparisons : dict of str to InstructionComparison | None
        By panel title (:func:`analysis.instructions.compare_instructions`); None entries
        are left out. Each panel shows the instruction model (circles) and the two-band
        model (squares) against plain, with their bootstrap intervals.

    Returns
    -------
    matplotlib.figure.Figure | None
        None when there is no comparison.
    """
    comps = [(n, c) for n, c in comparisons.items() if c is not None]
    if not comps:
        return None
    fig, axes = panel_grid(len(comps), panel_height=3.0)
    for ax, (name, comp) in zip(axes, comps):
        s = comp.summary
        y = np.arange(len(s))
        ax.errorbar(s["mean_delta"], y, xerr=[s["mean_delta"] - s["delta_ci_low"],
                                              s["delta_ci_high"] - s["mean_delta"]],
                    fmt="o", color="C0", label="instruction alone")
        ax.errorbar(s["mean_delta_both"], y + 0.2,
                    xerr=[s["mean_delta_both"] - s["both_ci_low"],
                          s["both_ci_high"] - s["mean_delta_both"]],
                    fmt="s", color="C1", label="plain + instruction (two bands)")
        ax.axvline(0, color="k", lw=0.6)
        ax.set_yticks(y + 0.1, s.index)
        ax.set_ylim(-0.6, len(s) - 0.2)
        ax.set(xlabel="Δ mean r from plain (95 % interval)", title=name)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=2, fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.9))  # the legend sits above the panels, never on a row
    return fig


def plot_component_encoding(sweep, table):
    """The real-data chapter's encoding figure: the layer sweep and the components' r.

    Parameters
    ----------
    sweep : DataFrame, shape (n_layers, n_components)
        Within-fold r of baseline + each layer (a description, never tested;
        :func:`analysis.real_data.component_encoding`'s ``sweep``).
    table : DataFrame
        One row per component with ``r baseline``, ``r baseline + LM`` and its ``low`` /
        ``high`` interval, and ``ceiling`` where known
        (:class:`analysis.real_data.ErpEncoding`'s ``table``).

    Returns
    -------
    matplotlib.figure.Figure
        Left: r per layer and component; right: baseline and baseline + LM per component
        (bars, with the interval) and the noise ceiling (black ticks).
    """
    fig, axes = plt.subplots(1, 2, figsize=(PAGE_WIDTH_IN, 3.4))
    for c in sweep.columns:
        axes[0].plot(sweep.index, sweep[c], "o-", ms=3, label=c)
    axes[0].set(xlabel="language-model layer", ylabel="r (baseline + layer)",
                title="Layer sweep per component (description, not tested)")
    axes[0].legend(fontsize=8, ncol=2)
    x = np.arange(len(table))
    nested = table["r baseline + LM"]
    axes[1].bar(x - 0.2, table["r baseline"], 0.4, label="baseline", color="0.6")
    axes[1].bar(x + 0.2, nested, 0.4, label="baseline + LM", color="C0",
                yerr=[nested - table["r baseline + LM low"], table["r baseline + LM high"] - nested])
    if "ceiling" in table:
        axes[1].scatter(x, table["ceiling"], marker="_", s=400, color="k", zorder=3,
                        label="noise ceiling (r)")
    axes[1].set_xticks(x, table.index)
    axes[1].axhline(0, color="k", lw=0.5)
    axes[1].set(ylabel="out-of-fold r", title="Components: baseline vs baseline + LM")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_model_profiles(panels, window_ms=None):
    """Where each model aligns: a layer map (top) and r and RSA against depth (bottom).

    Parameters
    ----------
    panels : list of (str, ModelProfile, {"time", "target"})
        Title, profile and kind of map (:func:`analysis.models.profile_panels`):
        ``"time"`` draws layer x window (mean r over channels), ``"target"`` layer x
        target, each target against its own best layer (the targets' r differ too much
        for one colour scale).
    window_ms : float | None
        Length of a window (extends the last window of a ``"time"`` map).

    Returns
    -------
    matplotlib.figure.Figure | None
        None when there is no panel.
    """
    if not panels:
        return None
    fig, axes = plt.subplots(2, len(panels), figsize=(min(PAGE_WIDTH_IN, 3.75 * len(panels)), 6.4),
                             squeeze=False)
    for k, (title, p, kind) in enumerate(panels):
        ax = axes[0, k]
        if kind == "time":
            im = ax.imshow(p.layer_time_map(), aspect="auto", origin="lower", cmap="magma",
                           extent=[p.times[0], p.times[-1] + window_ms, -0.5,
                                   len(p.layers) - 0.5])
            ax.set(xlabel="window start (ms)")
            ax.set_title(f"{title}\nridge r, mean over channels", fontsize=9)
        else:
            m = p.layer_channel_map(0)
            im = ax.imshow(m - m.max(axis=0), aspect="auto", origin="lower", cmap="magma")
            ax.set_xticks(range(len(p.ch_names)), p.ch_names, rotation=60, fontsize=8)
            ax.set_title(f"{title}\nridge r minus each target's best layer", fontsize=9)
        every = max(1, -(-len(p.layers) // 12))  # at most about 12 labels, each on its row
        ax.set_yticks(range(0, len(p.layers), every), p.layers[::every], fontsize=8)
        ax.set(ylabel="layer (one row each)")
        fig.colorbar(im, ax=ax)
        ax = axes[1, k]
        depth = [p.relative_depth(l) for l in p.layers]
        ax.plot(depth, np.nanmean(p.r, axis=(1, 2)), "o-", label="ridge: mean r")
        ax.plot(depth, np.nanmax(p.rsa, axis=1), "s--", label="RSA: max over windows")
        ax.axvline(p.relative_depth(p.chosen_layer), color="0.5", lw=0.8)
        ax.set(xlabel="relative depth (0 embeddings, 1 last)", ylabel="r / Spearman")
        ax.legend(fontsize=8, loc="lower left", bbox_to_anchor=(0, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def plot_alignment_vs_accuracy(align):
    """Each fine-tuned model's change in alignment against its accuracy gain, per dataset.

    Parameters
    ----------
    align : dict of str to DataFrame
        By dataset, :func:`analysis.models.alignment_vs_accuracy` (rows without an
        accuracy gain, e.g. the base, are left out).

    Returns
    -------
    matplotlib.figure.Figure | None
        None when ``align`` is empty.
    """
    if not align:
        return None
    fig, axes = panel_grid(len(align), panel_height=3.2)
    for ax, (name, t) in zip(axes, align.items()):
        for i, (model, row) in enumerate(t.dropna(subset=["accuracy_gain"]).iterrows()):
            ax.errorbar(row["accuracy_gain"], row["delta_r"],
                        xerr=[[row["accuracy_gain"] - row["gain_ci_low"]],
                              [row["gain_ci_high"] - row["accuracy_gain"]]],
                        yerr=[[row["delta_r"] - row["delta_r_ci_low"]],
                              [row["delta_r_ci_high"] - row["delta_r"]]],
                        fmt="o", color=f"C{i}", label=model, capsize=3)
        ax.axhline(0, color="k", lw=0.6)
        ax.axvline(0, color="k", lw=0.6)
        ax.set(xlabel="accuracy gain (95 % interval)",
               ylabel="Δ mean r from base (95 % int.)", title=name)
        ax.legend(fontsize=8, loc="lower left", bbox_to_anchor=(0, 1.08), frameon=False)
    fig.tight_layout()
    return fig


def plot_learning_curves(runs, accuracy, names=None):
    """Held-out accuracy against training items seen, one line per fine-tuned model.

    Each line carries a 95 % normal band of a proportion over the held-out items, a dashed
    line at its accuracy before training and a dotted one at chance.

    Parameters
    ----------
    runs : dict of str to FinetuneResult
        ``accuracy`` holds the learning curve (records with ``items`` and ``accuracy``);
        ``chance`` the chance accuracy.
    accuracy : dict of str to dict
        Per run, ``n``: the number of held-out items.
    names : dict of str to str | None
        Display name per run key.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import pandas as pd

    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    for key, res in runs.items():
        curve = pd.DataFrame(res.accuracy)
        half = 1.96 * np.sqrt(curve["accuracy"] * (1 - curve["accuracy"]) / accuracy[key]["n"])
        line, = ax.plot(curve["items"], curve["accuracy"], "o-",
                        label=(names or {}).get(key, key))
        ax.fill_between(curve["items"], curve["accuracy"] - half, curve["accuracy"] + half,
                        color=line.get_color(), alpha=0.15)
        ax.axhline(curve["accuracy"].iloc[0], color=line.get_color(), ls="--", lw=0.8)
        ax.axhline(res.chance, color=line.get_color(), ls=":", lw=0.8)
    ax.set(xlabel="training items seen", ylabel="held-out accuracy",
           title="Learning curves (dashed: before training; dotted: chance)")
    ax.legend(fontsize=9)
    fig.tight_layout()
    return fig


def plot_sentence_scores(sentences, sentence_sets, window_text):
    """Histogram of every sentence's score, the two sentence sets drawn over it on the same bins.

    Parameters
    ----------
    sentences : DataFrame
        With a ``score`` column (NaN for unscored sentences).
    sentence_sets : DataFrame
        With ``set`` ("divergent" / "convergent") and ``score`` columns.
    window_text : str
        The window the words were scored over (axis label).

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = plt.subplots(figsize=(6, 2.8))
    scores = sentences["score"].dropna()
    bins = np.histogram_bin_edges(scores, bins=30)  # one set for all
    ax.hist(scores, bins=bins, color="0.7", label="all sentences")
    for name, colour in (("divergent", "C3"), ("convergent", "C0")):
        ax.hist(sentence_sets[sentence_sets["set"] == name]["score"], bins=bins, color=colour,
                alpha=0.8, label=name)
    ax.set(xlabel=f"sentence score (z of the mean word MSE, {window_text})",
           ylabel="sentences")
    ax.legend()
    fig.tight_layout()
    return fig


def plot_validity(table):
    """Each hypothesis's validity on the research against the validation sentences.

    Parameters
    ----------
    table : DataFrame
        :func:`analysis.hypotheses.evaluate`'s table (``V``, ``V_validation``, ``domain``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = plt.subplots(figsize=(6, 4))
    colours = {"social/emotional": "C3", "physical": "C0", "other": "0.6"}
    for dom, rows in table.groupby("domain"):
        ax.scatter(rows["V"], rows["V_validation"], color=colours.get(dom, "k"), label=dom,
                   s=18)
    ax.axhline(0, color="k", lw=0.5)
    ax.axvline(0, color="k", lw=0.5)
    ax.set(xlabel="V (research sentences)", ylabel="V (validation sentences)",
           title="Validity of each hypothesis")
    ax.legend()
    fig.tight_layout()
    return fig


def positions_text(info):
    """One sentence on whether the data can be drawn as topomaps.

    Parameters
    ----------
    info : mne.Info | None
        The dataset's measurement info (``None``: channels without geometry).

    Returns
    -------
    str
    """
    if has_positions(info):
        return "The sensors have positions (the topomaps below use them)."
    return ("These data have no sensor positions (components or measures are the "
            "channels, or EEG has no montage), so no topomap is drawn.")


def plot_sentence_lengths(sentence):
    """Histogram of the number of words per sentence.

    Parameters
    ----------
    sentence : ndarray of int, shape (n_words,)
        Sentence index of every word (``WordDataset.sentence``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    lengths = np.unique(np.asarray(sentence), return_counts=True)[1]
    fig, ax = plt.subplots(figsize=(5, 2.5))
    ax.hist(lengths, bins=np.arange(0, lengths.max() + 2), color="0.4")
    ax.set(xlabel="words per sentence", ylabel="sentences", title="Sentence lengths")
    fig.tight_layout()
    return fig


def plot_channel_amplitudes(dataset, title="Per-word amplitudes of each component"):
    """Box plot of every channel's per-word amplitudes (for channels without positions).

    Parameters
    ----------
    dataset : WordDataset
        ``responses`` of shape (n_words, n_channels, n_windows) and ``ch_names``.
    title : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = plt.subplots(figsize=(6, 2.8))
    ax.boxplot([dataset.responses[:, c, :].ravel() for c in range(dataset.n_channels)],
               tick_labels=dataset.ch_names, showfliers=False)
    ax.set(ylabel="amplitude", title=title)
    fig.tight_layout()
    return fig


def plot_significant_per_window(counts, times, window_ms, p_threshold, layer):
    """Bar chart of the number of significant channels in each window.

    Parameters
    ----------
    counts : ndarray of int, shape (n_windows,)
        Significant channels per window (``EncodingResult.significant.sum(axis=0)``).
    times : ndarray, shape (n_windows,)
        Window starts (ms).
    window_ms : float
        Window length (ms); bars fill 80 % of it.
    p_threshold : float
        The significance threshold, for the title.
    layer : int
        The layer of the model, for the title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = plt.subplots(figsize=(6, 2.8))
    ax.bar(times, counts, width=window_ms * 0.8, align="edge", color="0.35")
    ax.set(xlabel="window start (ms)", ylabel="significant channels",
           title=f"Significant channels per window (p < {p_threshold:g}), layer {layer}")
    fig.tight_layout()
    return fig


def plot_ceiling_comparison(r, ceiling_r, significant, times, layer, window=None):
    """Model r against the noise ceiling: per test, and the medians over time.

    Parameters
    ----------
    r, ceiling_r : ndarray, shape (n_channels, n_windows)
        Model r and the ceiling on r (:func:`analysis.stats.noise_ceiling`).
    significant : ndarray of bool, shape (n_channels, n_windows)
    times : ndarray, shape (n_windows,)
        Window starts (ms).
    layer : int
        The model's layer, for the axis label.
    window : tuple of float | None
        Window of interest (ms), shaded when given.

    Returns
    -------
    matplotlib.figure.Figure
    """
    sig = np.asarray(significant, bool)
    fig, axes = plt.subplots(1, 2, figsize=(PAGE_WIDTH_IN, 3.2))
    axes[0].scatter(ceiling_r[~sig], r[~sig], s=3, color="0.75", label="not significant")
    axes[0].scatter(ceiling_r[sig], r[sig], s=5, color="C3", label="significant")
    axes[0].plot([0, 1], [0, 1], "k--", lw=0.8, label="r = ceiling")
    axes[0].set(xlabel="noise ceiling (r)", ylabel=f"model r (layer {layer})",
                xlim=(0, max(0.05, float(np.nanmax(ceiling_r)) * 1.05)),
                title="Each channel x window")
    axes[0].legend(markerscale=3)
    axes[1].plot(times, np.nanmedian(ceiling_r, axis=0), "--", color="0.3",
                 label="median ceiling")
    axes[1].plot(times, np.nanmedian(r, axis=0), "o-", ms=3, label="median model r")
    if window is not None:
        axes[1].axvspan(*window, color="C3", alpha=0.08, label="window of interest")
    axes[1].set(xlabel="window start (ms)", ylabel="r", title="Over time (median over channels)")
    axes[1].legend()
    fig.tight_layout()
    return fig


def plot_rsa_timecourse(times, rsa, layer, lower=None):
    """RSA of a layer over time, with the lower bound of the noise ceiling.

    Parameters
    ----------
    times : ndarray, shape (n_windows,)
        Window starts (ms).
    rsa : ndarray, shape (n_windows,)
        Spearman rho per window (:func:`analysis.stats.rsa_timecourse`).
    layer : int
        The layer, for the legend.
    lower : ndarray, shape (n_windows,) | None
        Lower bound of the ceiling (:func:`analysis.stats.rsa_noise_ceiling`).

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = plt.subplots(figsize=(6, 3))
    if lower is not None:
        ax.plot(times, lower, "--", color="0.5", label="one subject vs the others (lower bound)")
    ax.plot(times, rsa, "o-", label=f"layer {layer} vs the average")
    ax.axhline(0, color="k", lw=0.5)
    ax.set(xlabel="window start (ms)", ylabel="Spearman rho", title="RSA over time")
    ax.legend()
    fig.tight_layout()
    return fig


def plot_participant_differences(diffs, test, label="Raters", seed=0):
    """One dot per participant: top-minus-bottom difference in % Divergent answers.

    The dots are jittered vertically (seeded); the diamond and its bar are the mean
    difference and its 95 % bootstrap interval.

    Parameters
    ----------
    diffs : Series
        Per participant, the difference in the share (0-1) of Divergent answers, from
        :func:`analysis.validation.participant_differences`.
    test : analysis.validation.TopBottomTest
        From :func:`analysis.validation.top_bottom_test` on the same answers.
    label : str
        Who answered ("SIMULATED raters", "Human raters"); starts the title.
    seed : int
        Seed of the vertical jitter.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = plt.subplots(figsize=(6, 2.6))
    ax.axvline(0, color="k", lw=0.6)
    ax.plot(100 * diffs.to_numpy(), np.random.default_rng(seed).uniform(-0.3, 0.3, len(diffs)),
            "o", alpha=0.6, color="C3")
    mean = 100 * test.mean_difference
    ax.errorbar(mean, 0, xerr=[[mean - 100 * test.ci_low], [100 * test.ci_high - mean]],
                fmt="D", color="k", capsize=4)
    ax.set(yticks=[], ylim=(-0.6, 0.6), xlabel="top minus bottom: % Divergent answers",
           title=f"{label}: one dot per participant (p = {test.p_value:.2g})")
    fig.tight_layout()
    return fig
