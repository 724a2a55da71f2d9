"""Topomaps on the channel shapes users' MNE files have, and honest colour bars."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from analysis import plots  # noqa: E402
from analysis.loaders.mne_data import load_mne_epochs  # noqa: E402
from layouts import write_mne_epochs  # noqa: E402


@pytest.fixture(scope="module")
def user_data(tmp_path_factory):
    """One small dataset per channel shape of tests/layouts.py (60 words each)."""
    root = tmp_path_factory.mktemp("shapes")
    return {shape: load_mne_epochs(write_mne_epochs(root / f"{shape}-epo.fif", n_words=60,
                                                    shape=shape))
            for shape in ("odd_grad", "eeg_no_positions", "mag_only")}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _colorbar_axes(fig):
    return fig.axes[-1]  # added after the maps


def _inside(fig, artist):
    fig.canvas.draw()
    box = artist.get_window_extent(fig.canvas.get_renderer())
    frame = fig.bbox
    return (box.x0 >= frame.x0 - 1 and box.x1 <= frame.x1 + 1 and box.y0 >= frame.y0 - 1
            and box.y1 <= frame.y1 + 1)


def test_gradiometers_pair_by_name_and_the_one_without_partner_is_named(user_data):
    ds = user_data["odd_grad"]
    pairs, unpaired = plots.grad_pairs(ds.info)
    assert len(pairs) == 101 and unpaired == ["MEG0122"]  # MEG0123 was dropped
    names = ds.info["ch_names"]
    assert all(names[a][:-1] == names[b][:-1] for a, b in pairs)
    values = np.zeros((ds.n_channels, ds.n_windows))
    a, b = names.index("MEG0112"), names.index("MEG0113")
    values[a], values[b] = 0.3, 0.4
    picks, shown, left_out = plots.topomap_values(values, ds.info, "grad")
    assert left_out == ["MEG0122"] and len(picks) == 202 and shown.shape == (101, ds.n_windows)
    row = [k for k, (i, j) in enumerate(pairs) if {i, j} == {a, b}][0]
    assert shown[row, 0] == pytest.approx(np.sqrt((0.3 ** 2 + 0.4 ** 2) / 2))


def test_rms_r_map_of_an_odd_gradiometer_count_is_drawn_and_names_the_unpaired(user_data,
                                                                                capsys):
    """The encoding chapter's map failed here: 203 gradiometers cannot be reshaped in pairs."""
    ds = user_data["odd_grad"]
    r = np.random.default_rng(0).uniform(-0.1, 0.2, (ds.n_channels, ds.n_windows))
    fig = plots.plot_window_topomaps(r, ds, ch_type="grad", kind="positive",
                                     units="RMS r of the pair", window=(300, 425),
                                     title="r per gradiometer pair (RMS)")
    assert "MEG0122" in fig._suptitle.get_text()
    framed = [ax.get_title() for ax in fig.axes[:-1] if ax.get_frame_on()]
    assert framed == ["300 ms (window)", "350 ms (window)", "400 ms (window)"]
    assert "MEG0122" in capsys.readouterr().out
    assert fig.dpi >= 150 and fig.get_figwidth() <= plots.PAGE_WIDTH_IN
    cbar = _colorbar_axes(fig)
    low, high = cbar.get_ylim()
    assert low == 0.0 and high == pytest.approx(
        plots.topomap_values(r[:, ::2], ds.info, "grad")[1].max())
    labels = [t.get_text() for t in cbar.get_yticklabels()]
    assert len(labels) >= 4 and len(set(labels)) == len(labels)
    assert all(float(t) >= 0 for t in labels)
    assert _inside(fig, cbar.yaxis.label) and cbar.yaxis.label.get_text() == "RMS r of the pair"


def test_tick_labels_keep_distinct_ticks_distinct():
    # MNE's default format printed these as 0.0, 0.1, 0.1, 0.2, 0.2
    assert plots.tick_labels([0, 0.05, 0.1, 0.15, 0.2]) == ["0.00", "0.05", "0.10", "0.15",
                                                            "0.20"]
    assert plots.tick_labels([0, 50, 100]) == ["0", "50", "100"]
    assert plots.tick_labels([-0.0, 0.5]) == ["0.0", "0.5"]


def test_spread_maps_use_robust_limits_and_a_sequential_map():
    rng = np.random.default_rng(1)
    spread = np.exp(rng.standard_normal(1000))  # a heavy right tail, like an SD over words
    cmap, (low, high), extend = plots.colour_limits(spread, "spread", "grad")
    assert cmap == "viridis" and extend == "both"
    assert low == pytest.approx(np.percentile(spread, 2))
    assert high == pytest.approx(np.percentile(spread, 98))
    assert 0.01 <= np.mean(spread >= high) <= 0.03  # 2 % saturate, not the whole map


def test_sd_map_of_gradiometers_is_drawn_in_field_units(user_data):
    ds = user_data["odd_grad"]
    sd = ds.responses.std(axis=0)
    fig = plots.plot_window_topomaps(sd, ds, ch_type="grad", kind="spread")
    cbar = _colorbar_axes(fig)
    assert cbar.yaxis.label.get_text() == "fT/cm"
    shown = plots.topomap_values(sd[:, ::2], ds.info, "grad")[1] * 1e13
    assert cbar.get_ylim() == pytest.approx(tuple(np.percentile(shown, [2, 98])))


def test_eeg_without_positions_skips_topomaps_with_a_note(user_data, capsys):
    """The data chapter stopped with MNE's "No valid channel positions found"."""
    ds = user_data["eeg_no_positions"]
    assert not plots.has_positions(ds.info, "eeg") and not plots.has_positions(ds.info)
    assert plots.window_topomaps(ds.responses.mean(axis=0), ds, ch_type="eeg") is None
    note = capsys.readouterr().out
    assert "32 of the 32 EEG channels have no position" in note and "set_montage" in note
    with pytest.raises(ValueError, match="no position"):
        plots.plot_window_topomaps(ds.responses.mean(axis=0), ds, ch_type="eeg")
    plots.plot_evoked(ds)  # the butterfly plot needs no positions
    with_montage = ds.info.copy().set_montage("colin27_1020")
    assert plots.has_positions(with_montage, "eeg")


def test_eeg_with_a_montage_is_drawn_in_microvolts(user_data):
    ds = user_data["eeg_no_positions"]
    ds.info.set_montage("colin27_1020")
    try:
        fig = plots.window_topomaps(ds.responses.mean(axis=0), ds, ch_type="eeg")
    finally:
        ds.info.set_montage(None)
    assert fig is not None and _colorbar_axes(fig).yaxis.label.get_text() == "µV"


def test_magnetometers_only_skip_the_gradiometer_map_with_a_note(user_data, capsys):
    ds = user_data["mag_only"]
    assert plots.window_topomaps(ds.responses.std(axis=0), ds, ch_type="grad") is None
    assert "no gradiometer channels" in capsys.readouterr().out
    fig = plots.window_topomaps(ds.responses.mean(axis=0), ds, ch_type="mag")
    low, high = _colorbar_axes(fig).get_ylim()
    assert low == pytest.approx(-high)  # a field: symmetric around 0


def test_layer_time_maps_put_each_layer_on_its_tick_and_name_the_model():
    from analysis import plots

    class Sweep:
        layers = [0, 5, 10, 15]

        def layer_time_map(self):
            return np.arange(4 * 3, dtype=float).reshape(4, 3)

    times = np.array([0.0, 25.0, 50.0])
    fig = plots.plot_layer_time_maps({"default": Sweep()}, times, 25.0,
                                     titles={"default": "gguf:/x/y/SmolLM2-135M-Instruct.Q4_1.gguf:9:ab"},
                                     decided={"default": 10})
    ax = fig.axes[0]
    assert list(ax.get_yticks()) == [0, 1, 2, 3]  # row i is centred on tick i
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0", "5", "10", "15"]
    assert ax.get_images()[0].get_extent()[2:] == [-0.5, 3.5]
    assert "SmolLM2-135M-Instruct.Q4_1" in ax.get_title() and "default" not in ax.get_title()
    assert fig.get_size_inches()[0] <= plots.PAGE_WIDTH_IN


def test_learning_curves_draw_one_line_per_run_with_its_band():
    from types import SimpleNamespace

    runs = {"siqa": SimpleNamespace(accuracy=[{"items": 0, "accuracy": 0.4},
                                              {"items": 200, "accuracy": 0.5}], chance=1 / 3)}
    fig = plots.plot_learning_curves(runs, {"siqa": {"n": 300}}, {"siqa": "Social IQa"})
    ax = fig.axes[0]
    assert [l.get_label() for l in ax.get_lines()][0] == "Social IQa"
    assert len(ax.collections) == 1  # the 95 % band
    plt.close(fig)


def test_plot_component_encoding_draws_the_sweep_bars_and_ceiling():
    import pandas as pd

    sweep = pd.DataFrame({"N400": [0.1, 0.3, 0.2], "PNP": [0.0, 0.05, 0.02]},
                         index=pd.Index([0, 2, 4], name="layer"))
    table = pd.DataFrame({"r baseline": [0.2, 0.0], "r baseline + LM": [0.3, 0.05],
                          "r baseline + LM low": [0.25, -0.02],
                          "r baseline + LM high": [0.35, 0.1], "ceiling": [0.5, np.nan]},
                         index=["N400", "PNP"])
    fig = plots.plot_component_encoding(sweep, table)
    left, right = fig.axes
    assert len(left.lines) == 2 and list(left.lines[0].get_xdata()) == [0, 2, 4]
    heights = [p.get_height() for p in right.patches]
    assert heights == pytest.approx([0.2, 0.0, 0.3, 0.05])
    assert [t.get_text() for t in right.get_xticklabels()] == ["N400", "PNP"]
    assert len(right.collections) >= 1  # the ceiling ticks
    no_ceiling = plots.plot_component_encoding(sweep, table.drop(columns="ceiling"))
    assert "noise ceiling (r)" not in [t.get_text() for t in
                                       no_ceiling.axes[1].get_legend().get_texts()]


def test_encoding_chapter_figures_draw_what_they_are_given():
    times = np.array([0.0, 25.0, 50.0])
    fig = plots.plot_significant_per_window(np.array([0, 3, 1]), times, 25.0, 1e-3, 7)
    assert [p.get_height() for p in fig.axes[0].patches] == [0, 3, 1]
    assert "layer 7" in fig.axes[0].get_title() and "p < 0.001" in fig.axes[0].get_title()
    r = np.array([[0.1, 0.3, 0.05], [0.2, 0.0, 0.1]])  # (n_channels, n_windows)
    sig = r > 0.15
    fig = plots.plot_ceiling_comparison(r, r + 0.2, sig, times, 7, window=(25.0, 50.0))
    assert len(fig.axes) == 2 and fig.get_size_inches()[0] <= plots.PAGE_WIDTH_IN
    assert len(fig.axes[0].collections[1].get_offsets()) == int(sig.sum())
    np.testing.assert_allclose(fig.axes[1].lines[1].get_ydata(), np.median(r, axis=0))
    fig = plots.plot_rsa_timecourse(times, np.array([0.1, 0.2, 0.0]), 7,
                                    lower=np.array([0.05, 0.1, 0.0]))
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == [
            "one subject vs the others (lower bound)", "layer 7 vs the average"]
    fig = plots.plot_sentence_lengths(np.array([0, 0, 0, 1, 2, 2]))
    assert [p.get_height() for p in fig.axes[0].patches] == [0, 1, 1, 1]  # lengths 3, 1, 2
    plt.close("all")


def test_positions_text_says_when_no_topomap_is_drawn():
    assert plots.positions_text(None).startswith("These data have no sensor positions")


def test_participant_differences_plot_marks_mean_and_interval():
    import pandas as pd

    from analysis.validation import TopBottomTest

    diffs = pd.Series([0.1, -0.05, 0.2, 0.0], index=list("abcd"))
    test = TopBottomTest(mean_difference=0.0625, ci_low=-0.02, ci_high=0.15, p_value=0.31,
                         n_participants=4, alternative="two-sided")
    fig = plots.plot_participant_differences(diffs, test, label="SIMULATED raters", seed=0)
    ax = fig.axes[0]
    dots, mean = ax.lines[1], ax.lines[2]
    assert np.allclose(dots.get_xdata(), [10, -5, 20, 0]) and np.allclose(mean.get_xdata(), 6.25)
    bar = ax.collections[0].get_segments()[0]
    assert np.allclose(bar[:, 0], [-2, 15])
    assert ax.get_title() == "SIMULATED raters: one dot per participant (p = 0.31)"
    plt.close(fig)
