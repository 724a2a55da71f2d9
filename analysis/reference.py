"""Published protocols and their reference values, to reproduce in the same run as ours.

A chapter that reports a language model's fit to human data on a public dataset should
show, beside its own numbers, the published numbers of the protocol it follows,
recomputed from the same files in the same run. This module holds those protocols and
the values published with them (Methods page, real-data protocols):

de Varda, Marelli & Amenta (2023), Behavior Research Methods -- the Frank et al. (2015) table
    :func:`devarda_exclusion` (which words enter the published correlations, and why the
    others do not), :func:`devarda_correlations` (Pearson r per predictor and measure),
    :data:`DEVARDA_MEASURES`, :data:`DEVARDA_REFERENCE_COLUMNS` (the surprisal columns
    shipped in ``all_measures.csv``) and :data:`DEVARDA_PUBLISHED` (their published r).

Brain-Score language, benchmark "Futrell2018-pearsonr" -- Natural Stories reading times
    :func:`futrell2018_sentence_initial` (the benchmark's sentence segmentation),
    :func:`futrell2018_score` (ceiling-normalised |r|), :data:`FUTRELL2018_CEILING` and
    :data:`FUTRELL2018_PUBLISHED` (published scores of distilgpt2 and gpt2-xl).

Noise ceilings
    :func:`split_half_ceiling` (defined in :mod:`analysis.stats`, re-exported here): the
    Spearman-Brown corrected split-half reliability of a mean over participants.

Where the numbers come from: the public repositories "prediction-resource" of de Varda
et al. (commit 7162734, 2024-04-10: ``plot.py``, ``get_LM_surprisal.py``,
``supplementary_materials/df_corr.csv``) and "brain-score/language" (commit 0e0bb4a:
``brainscore_language/benchmarks/futrell2018/benchmark.py``, ``.../data/futrell2018/
data_packaging.py``, ``utils/ceiling.py``, ``tests/test_integration.py``,
``examples/score.ipynb``). The protocols are re-implemented from their description; no
code is taken from those repositories.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

import numpy as np

from ._utils import DataError, check_array
from .loaders.frank2015 import PUBLISHED_EXCLUSION_CHARS, published_exclusion
from .stats import pearson_columns, split_half_ceiling

__all__ = [
    "devarda_exclusion", "devarda_correlations", "DEVARDA_MEASURES",
    "DEVARDA_REFERENCE_COLUMNS", "DEVARDA_SURPRISAL_UNIT", "DEVARDA_PUBLISHED",
    "PublishedCorrelations",
    "futrell2018_sentence_initial", "futrell2018_score", "FUTRELL2018_CEILING",
    "FUTRELL2018_CEILING_SOURCE", "FUTRELL2018_PUBLISHED",
    "split_half_ceiling",
]


# ============================================================== de Varda et al. (2023)
_DEVARDA_REPO = ("de Varda, Marelli & Amenta (2023), Behavior Research Methods; public "
                 "repository 'prediction-resource' (Andrea-de-Varda), commit 7162734")

#: The reason given for each character of the published exclusion, in the order in which
#: de Varda et al.'s ``plot.py`` tests them (a word is given the first that applies).
_EXCLUSION_REASONS = {
    ".": "sentence-final word (holds '.')",
    ",": "attached to a comma",
    "'": "clitic or possessive (holds \"'\")",
}
_MULTITOKEN_REASON = "split by the GPT-2 tokenizer"
_MULTITOKEN_COLUMN = "is_multitoken_GPT2"


def _frame_name(table):
    """The file a table was read from (``attrs["path"]``), for messages."""
    path = getattr(table, "attrs", {}).get("path")
    return str(path) if path else "the Frank et al. (2015) table"


def _require_frame(table, who):
    import pandas as pd

    if not isinstance(table, pd.DataFrame):
        raise DataError(f"{who}: table is a {type(table).__name__}; expected a pandas DataFrame "
                        "with one row per word, e.g. from "
                        "analysis.loaders.read_frank2015_table().")


def devarda_exclusion(table, exclude_multitoken=False):
    """Which rows of the Frank et al. (2015) table enter de Varda et al.'s correlations.

    De Varda, Marelli & Amenta (2023) leave out every word whose string holds a full
    stop, a comma or an apostrophe (their ``plot.py``, following Frank et al.'s rule of
    discarding sentence-final words, words attached to a comma and clitics). On the
    published ``all_measures.csv`` (1,726 rows) 205 words hold ".", 16 hold "," and 18
    hold "'"; 239 rows go and 1,487 stay. Sentence-initial words are not excluded here
    because they are not in the file at all (they have no cloze data): every row has
    ``context_length >= 1``.

    The file's own ``is_start_end`` column flags only the 205 sentence-final words
    (1,521 rows kept) and does not reproduce the published values; it is not used.

    the Methods page (real-data protocols) also names the words that the GPT-2 tokenizer splits into several tokens
    (the file's ``is_multitoken_GPT2``). That flag is *not* part of the published
    protocol: ``plot.py`` never filters on it, and applying it (1,481 rows kept) moves
    the published correlations by up to 0.016. It is offered here as an option so that
    a chapter can show both, with the published protocol as the default.

    Parameters
    ----------
    table : pandas.DataFrame, shape (n_rows, ...)
        One row per word with a ``word`` column (e.g. from
        :func:`analysis.loaders.read_frank2015_table`); with ``exclude_multitoken``
        also a numeric ``is_multitoken_GPT2`` column (1 = split into several tokens).
    exclude_multitoken : bool
        Also leave out the words flagged in ``is_multitoken_GPT2``, with the reason
        ``"split by the GPT-2 tokenizer"`` (only for words the published rule keeps;
        a word excluded for its punctuation keeps that reason).

    Returns
    -------
    pandas.DataFrame, shape (n_rows, 2), index of ``table``
        ``kept`` (bool): True where the word enters the correlations; ``reason``
        (str): why the word is left out -- ``"sentence-final word (holds '.')"``,
        ``"attached to a comma"``, ``"clitic or possessive (holds \\"'\\")"`` or
        ``"split by the GPT-2 tokenizer"`` -- and ``""`` for a kept word. A word that
        holds several of the characters gets the first reason in that order.

    Raises
    ------
    DataError
        ``table`` is not a DataFrame or has no ``word`` column; with
        ``exclude_multitoken``, the ``is_multitoken_GPT2`` column is missing or holds
        values other than 0 and 1.

    See Also
    --------
    analysis.loaders.published_exclusion : the same rule as one boolean per word.
    """
    import pandas as pd

    who = "devarda_exclusion"
    _require_frame(table, who)
    if "word" not in table.columns:
        raise DataError(f"{who}: {_frame_name(table)} has no column 'word' (columns: "
                        f"{list(table.columns)}); expected the all_measures.csv layout.")
    words = [str(w) for w in table["word"]]
    dropped = published_exclusion(words)
    reasons = []
    for word, out in zip(words, dropped):
        if not out:
            reasons.append("")
            continue
        char = next(c for c in PUBLISHED_EXCLUSION_CHARS if c in word)
        reasons.append(_EXCLUSION_REASONS.get(char, f"holds {char!r}"))
    if exclude_multitoken:
        if _MULTITOKEN_COLUMN not in table.columns:
            raise DataError(f"{who}: exclude_multitoken=True but {_frame_name(table)} has no "
                            f"column '{_MULTITOKEN_COLUMN}'; expected the all_measures.csv "
                            "layout of de Varda et al. (2023).")
        flag = pd.to_numeric(table[_MULTITOKEN_COLUMN], errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(~np.isin(flag, (0.0, 1.0)))
        if bad.size:
            i = int(bad[0])
            raise DataError(f"{who}: {_frame_name(table)} column '{_MULTITOKEN_COLUMN}' row {i} "
                            f"(word {words[i]!r}) is {table[_MULTITOKEN_COLUMN].iloc[i]!r}; "
                            "expected 0 or 1.")
        for i in np.flatnonzero((flag == 1.0) & ~dropped):
            reasons[i] = _MULTITOKEN_REASON
    reasons = np.array(reasons, dtype=object)
    return pd.DataFrame({"kept": reasons == "", "reason": reasons}, index=table.index)


#: The human measures of the published correlation matrix: column -> short label (the
#: labels of de Varda et al.'s figure, ``plot.py``). The six ERP components of Frank et
#: al. (2015) (mean amplitude over the 24 participants, artefact trials left out, µV),
#: the self-paced reading time and four eye-tracking durations of Frank et al. (2013)
#: (mean over participants, ms; the eye-tracking means count a skipped word as 0 ms).
DEVARDA_MEASURES = MappingProxyType({
    "ELAN": "ELAN",
    "LAN": "LAN",
    "N400": "N400",
    "EPNP": "EPNP",
    "P600": "P600",
    "PNP": "PNP",
    "self_paced_reading_time": "SPR",
    "RTfirstfix": "FFix",
    "RTfirstpass": "FPass",
    "RTrightbound": "RightBound",
    "RTgopast": "GoPast",
})

#: Unit of the surprisal columns of ``all_measures.csv``: natural log (their
#: ``get_LM_surprisal.py`` takes ``-log`` base e). Divide by ln 2 for bits; Pearson r
#: does not change.
DEVARDA_SURPRISAL_UNIT = "nats"

#: The reference surprisal columns shipped in ``all_measures.csv``: column -> the model
#: (Hugging Face identifier and size). Context: the words of the same sentence before the
#: target, no BOS token; a word's probability is the product over its sub-tokens, its
#: punctuation included (``get_LM_surprisal.py``). Unit: :data:`DEVARDA_SURPRISAL_UNIT`.
#: Note that ``s_GPTNeo`` is the 1.3-billion-parameter GPT-Neo.
DEVARDA_REFERENCE_COLUMNS = MappingProxyType({
    "s_GPT2": "gpt2 (GPT-2, 124M)",
    "s_GPT2_medium": "gpt2-medium (GPT-2, 355M)",
    "s_GPT2_large": "gpt2-large (GPT-2, 774M)",
    "s_GPT2_xl": "gpt2-xl (GPT-2, 1.5B)",
    "s_GPTNeo_125M": "EleutherAI/gpt-neo-125M (GPT-Neo, 125M)",
    "s_GPTNeo": "EleutherAI/gpt-neo-1.3B (GPT-Neo, 1.3B)",
    "s_GPTNeo_2.7B": "EleutherAI/gpt-neo-2.7B (GPT-Neo, 2.7B)",
})


_MISSING_TEXT = ("", "NA", "NaN", "nan")


def _measure_columns(measures):
    if isinstance(measures, str):
        return [measures]
    return list(measures.keys()) if isinstance(measures, Mapping) else list(measures)


def _numeric_column(values, label, table_name, who, n_rows, words):
    """A float64 vector of one value per table row; NaN allowed (missing), inf refused."""
    arr = check_array(values, f"{who}: {label}", ndim=1, finite=False, source=table_name)
    if arr.shape[0] != n_rows:
        raise DataError(f"{who}: {label} has {arr.shape[0]} values but {table_name} has "
                        f"{n_rows} rows; expected one value per row, in table order.")
    inf = np.flatnonzero(np.isinf(arr))
    if inf.size:
        i = int(inf[0])
        raise DataError(f"{who}: {label} is infinite at row {i} (word {words[i]!r}); expected "
                        "finite numbers, or NaN for a missing value.")
    return arr


def devarda_correlations(table, predictors, measures=DEVARDA_MEASURES, kept=None):
    """Pearson r of each predictor with each human measure (de Varda et al. 2023).

    For every (predictor, measure) pair, r is computed over the kept rows where both
    values are present (pairwise-complete rows, as ``pandas.DataFrame.corr`` does); no
    transform, no trimming. On the published file every cell uses the same 1,487 rows.

    Parameters
    ----------
    table : pandas.DataFrame, shape (n_rows, ...)
        The Frank et al. (2015) table (e.g. from
        :func:`analysis.loaders.read_frank2015_table`), holding the measure columns.
    predictors : mapping of str to (str or array_like of shape (n_rows,)), or sequence of str
        Name -> a column of ``table`` (e.g. ``"s_GPT2"``) or values aligned with the
        rows of ``table`` (e.g. our own model's surprisal, in any unit; NaN = missing).
        A sequence of column names uses each name as its own label.
    measures : mapping or sequence of str
        Measure columns (the keys of a mapping); default :data:`DEVARDA_MEASURES`.
    kept : array_like of bool, shape (n_rows,), or None
        Rows to use. ``None`` applies the published exclusion,
        ``devarda_exclusion(table)["kept"]``; pass an all-True array for no exclusion.

    Returns
    -------
    pandas.DataFrame, shape (n_predictors, 2 * n_measures)
        Index: predictor names (in the given order). Columns: a two-level index
        (``statistic``, ``measure``): ``result["r"]`` is the predictor x measure table
        of Pearson r (NaN where fewer than two rows remain or a side is constant) and
        ``result["n"]`` the number of rows behind each r.

    Raises
    ------
    DataError
        ``table`` not a DataFrame; a measure or predictor column missing or not
        numeric; a predictor array or ``kept`` whose length differs from the table's;
        ``kept`` not boolean; infinite values.

    Examples
    --------
    Published r beside the recomputed r of the reference columns, and our model's:

    >>> table = read_frank2015_table()                                    # doctest: +SKIP
    >>> ours = devarda_correlations(table, {**{c: c for c in DEVARDA_REFERENCE_COLUMNS},
    ...                                     "ours": our_surprisal})      # doctest: +SKIP
    >>> ours["r"] - DEVARDA_PUBLISHED.frame()                             # doctest: +SKIP
    """
    import pandas as pd

    who = "devarda_correlations"
    _require_frame(table, who)
    name = _frame_name(table)
    n_rows = len(table)
    words = [str(w) for w in table["word"]] if "word" in table.columns else [""] * n_rows
    if kept is None:
        keep = devarda_exclusion(table)["kept"].to_numpy()
    else:
        keep = np.asarray(kept.to_numpy() if hasattr(kept, "to_numpy") else kept)
        if keep.dtype != bool:
            raise DataError(f"{who}: kept has dtype {keep.dtype}; expected booleans (True = row "
                            "used), e.g. devarda_exclusion(table)['kept'].")
        if keep.shape != (n_rows,):
            raise DataError(f"{who}: kept has shape {keep.shape} but {name} has {n_rows} rows; "
                            "expected one flag per row.")

    def column(col, label):
        if col not in table.columns:
            raise DataError(f"{who}: {label} names column {col!r}, which {name} does not have "
                            f"(columns: {list(table.columns)}).")
        raw = table[col]
        if raw.dtype == object:     # text as read: blanks and NA markers are missing
            raw = raw.where(~raw.astype(str).str.strip().isin(_MISSING_TEXT))
        values = pd.to_numeric(raw, errors="coerce")
        bad = np.flatnonzero(values.isna().to_numpy() & raw.notna().to_numpy())
        if bad.size:
            i = int(bad[0])
            raise DataError(f"{who}: {name} column {col!r} row {i} (word {words[i]!r}) is "
                            f"{table[col].iloc[i]!r}; expected a number.")
        return _numeric_column(values.to_numpy(dtype=float), label, name, who, n_rows, words)

    if isinstance(predictors, Mapping):
        items = list(predictors.items())
    elif isinstance(predictors, str):
        items = [(predictors, predictors)]
    else:
        items = [(c, c) for c in predictors]
    if not items:
        raise DataError(f"{who}: no predictors given; expected a mapping of names to columns "
                        "or arrays.")
    pred = {}
    for label, spec in items:
        if isinstance(spec, str):
            pred[str(label)] = column(spec, f"predictor {label!r}")
        else:
            pred[str(label)] = _numeric_column(spec, f"predictor {label!r}", name, who, n_rows,
                                               words)
    meas_cols = _measure_columns(measures)
    if not meas_cols:
        raise DataError(f"{who}: no measures given; expected column names such as "
                        f"{list(DEVARDA_MEASURES)}.")
    meas = {m: column(m, f"measure {m!r}") for m in meas_cols}

    r = np.full((len(pred), len(meas)), np.nan)
    n = np.zeros((len(pred), len(meas)), dtype=int)
    for i, x in enumerate(pred.values()):
        for j, y in enumerate(meas.values()):
            ok = keep & np.isfinite(x) & np.isfinite(y)
            n[i, j] = int(ok.sum())
            if n[i, j] >= 2:
                r[i, j] = float(pearson_columns(x[ok], y[ok]))
    index = pd.Index(list(pred), name="predictor")
    out = pd.concat({"r": pd.DataFrame(r, index=index, columns=meas_cols),
                     "n": pd.DataFrame(n, index=index, columns=meas_cols)}, axis=1)
    out.columns.names = ["statistic", "measure"]
    return out


@dataclass(frozen=True)
class PublishedCorrelations:
    """A published table of Pearson r, kept read-only, with its row count and source.

    Attributes
    ----------
    r : mapping of str to mapping of str to float
        Predictor column -> measure column -> r.
    n : int
        Rows behind every cell.
    source : str
        Where the numbers were published.
    """

    r: Mapping
    n: int
    source: str
    notes: str = field(default="")

    def frame(self, labels=False):
        """The table as a DataFrame (a fresh copy), predictor x measure.

        Parameters
        ----------
        labels : bool
            Use the short labels of :data:`DEVARDA_MEASURES` as column names.

        Returns
        -------
        pandas.DataFrame, shape (n_predictors, n_measures)
        """
        import pandas as pd

        frame = pd.DataFrame({p: dict(v) for p, v in self.r.items()}).T
        frame.index.name, frame.columns.name = "predictor", "measure"
        if labels:
            frame = frame.rename(columns=dict(DEVARDA_MEASURES))
        return frame


def _published_devarda():
    # Values of supplementary_materials/df_corr.csv (prediction-resource, commit 4c2c721 of
    # that file; unchanged at HEAD 7162734), the rows of the seven reference surprisal
    # columns, in the column order of DEVARDA_MEASURES.
    rows = {
        "s_GPT2": (0.07348058970379295, -0.19081711948603866, -0.28247182696996703,
                   -0.11609608727841048, 0.004909603549534996, 0.0536181411313608,
                   0.15431795351583386, 0.49608724605326, 0.5480196404280894,
                   0.5468732513940229, 0.42945587129797),
        "s_GPT2_medium": (0.08854998409380616, -0.1783897457461812, -0.27352270862560757,
                          -0.10777727792266825, -0.020629823301232808, 0.04683293612944512,
                          0.16585687074280317, 0.45840442696016037, 0.5115678827444303,
                          0.5110036555117817, 0.39658180617172983),
        "s_GPT2_large": (0.09893192278182683, -0.1913809912663383, -0.2821610356286647,
                         -0.11606878748878463, -0.014059702641909973, 0.04917139918127938,
                         0.16174185627156074, 0.4789819222145952, 0.5283434476380966,
                         0.5284333618113052, 0.4129868337660513),
        "s_GPT2_xl": (0.09913603292517313, -0.19468331158213975, -0.2848883273194908,
                      -0.11995660142575076, -0.011213947464843168, 0.04868053647994771,
                      0.16889839743445118, 0.4773879250664697, 0.5263792570343871,
                      0.5260399133132387, 0.41161101951930196),
        "s_GPTNeo_125M": (0.08417190293080497, -0.19261008536110483, -0.2835185692525822,
                          -0.12199826341008134, -0.004498722086788524, 0.04716435382915453,
                          0.17153749079196098, 0.4906363168978798, 0.5421897445648385,
                          0.5430003542123282, 0.430099148292446),
        "s_GPTNeo": (0.09303365676246973, -0.18253313895779685, -0.2808385587557503,
                     -0.12663572773002774, -0.024431176504463775, 0.038079737384543524,
                     0.15732558326580962, 0.4648859339405238, 0.5134191439965987,
                     0.5122978040271108, 0.4007634862237855),
        "s_GPTNeo_2.7B": (0.0916353566665094, -0.18471360233464792, -0.2745336178879566,
                          -0.1257363058512136, -0.0271067740914823, 0.035728978882156585,
                          0.1660784751350014, 0.4641566846384362, 0.5147623942029932,
                          0.5132252722813203, 0.39881931910297236),
    }
    cols = list(DEVARDA_MEASURES)
    return MappingProxyType({p: MappingProxyType(dict(zip(cols, v))) for p, v in rows.items()})


#: The published Pearson r of the seven reference surprisal columns with the eleven
#: measures on the 1,487 words kept by :func:`devarda_exclusion` (n = 1,487 in every
#: cell): ``DEVARDA_PUBLISHED.r[predictor][measure]``, or ``DEVARDA_PUBLISHED.frame()``.
#: The figure of the paper shows the same matrix as a heat map. Recomputing it with
#: :func:`devarda_correlations` on the published ``all_measures.csv`` agrees to about
#: 1e-16 (``tests/test_reference.py``).
DEVARDA_PUBLISHED = PublishedCorrelations(
    r=_published_devarda(),
    n=1487,
    source=(_DEVARDA_REPO + ", supplementary_materials/df_corr.csv (the 31 x 31 Pearson "
            "matrix behind the paper's correlation figure; pandas .corr on the rows whose "
            "word holds no '.', ',' or \"'\", as in plot.py)"),
    notes=("Surprisal in nats; sentence context only; GPT-2 multi-token words kept. "
           "N400 is negative-going, so higher surprisal goes with r < 0."),
)


# ============================================================== Brain-Score Futrell2018
#: Brain-Score language's split-half ceiling of the Futrell2018 reading times. The test
#: of the benchmark checks 0.858 (within 0.0005); the stored value printed with the
#: distilgpt2 score is 0.85804302. See :data:`FUTRELL2018_CEILING_SOURCE`.
FUTRELL2018_CEILING = 0.85804302

FUTRELL2018_CEILING_SOURCE = (
    "brain-score/language: brainscore_language/benchmarks/futrell2018 (benchmark.py: "
    "SplitHalvesConsistency with 10 splits over 'subject_id', numpy RandomState(0), each "
    "split draws half of the 180 subjects without replacement and takes the rest as the "
    "other half, averages each half over subjects, correlates the halves with the "
    "abs-Pearson metric, applies Spearman-Brown 2r/(1+r), and takes the median over the "
    "10 splits; computed on all 10,256 words, sentence-initial words included); value "
    "0.858 in the benchmark's test.py, 0.85804302 printed in examples/score.ipynb. It "
    "cannot be recomputed from the shared data: the per-subject reading times "
    "(naturalstories processed_RTs.tsv) are not there, only per-word means "
    "(processed_wordinfo.tsv)."
)

_BS_REPO = "brain-score/language"

#: Published Futrell2018-pearsonr scores: model -> ``normalised`` (|r| / ceiling, clipped
#: to [0, 1]), ``raw`` (|r|, None where not published), ``raw_implied`` (normalised x
#: :data:`FUTRELL2018_CEILING`, for models whose raw value is not printed) and
#: ``source``. These are the only two models with a published Futrell2018 value in the
#: repository (tests/test_integration.py, unchanged since commit 8628046, 2022-09-15;
#: tolerance 0.0005, 0.005 in recent versions). For scale, the benchmark's own tests
#: give a U(0, 1) random "model" |r| = 0.00853 and the human mean itself 1.0.
FUTRELL2018_PUBLISHED = MappingProxyType({
    "distilgpt2": MappingProxyType({
        "normalised": 0.36144805,
        "raw": 0.31013797,
        "raw_implied": 0.36144805 * FUTRELL2018_CEILING,
        "source": (f"{_BS_REPO}, tests/test_integration.py (expected score) and "
                   "examples/score.ipynb (printed score 0.36144805, raw 0.31013797, ceiling "
                   "0.85804302); the signed r is positive"),
    }),
    "gpt2-xl": MappingProxyType({
        "normalised": 0.31825621,
        "raw": None,
        "raw_implied": 0.31825621 * FUTRELL2018_CEILING,
        "source": f"{_BS_REPO}, tests/test_integration.py (expected score); raw not printed",
    }),
})

#: Endings after which Brain-Score's segmentation may start a new sentence
#: (``data_packaging.py`` of the Futrell2018 data).


def futrell2018_sentence_initial(words):
    """Sentence-initial flags of Brain-Score's Futrell2018 segmentation.

    A word closes a sentence when it ends with ``.``, ``?``, ``!``, ``.'``, ``?'``,
    ``!'`` or ``;'``, unless it is ``"Mr."`` or the next word is in lower case
    (``str.islower``); the word after a closing word is sentence-initial, and so is the
    first word. Brain-Score applies this to the 10 stories as one list; on
    ``all_stories.tok`` it gives 481 sentences, and the first word of every story is
    among the sentence-initial words. The benchmark drops these words from
    the score (``word_within_sentence_id == 1``). A simpler "after . ? !" rule finds
    506 and disagrees on 25 words (e.g. after ``Mr.``, or before a lower-case word
    after ``ended!'``).

    Parameters
    ----------
    words : sequence of str, length n_words
        The words in corpus order, punctuation attached (``all_stories.tok``'s
        ``word`` column, stories 1..10 in order).

    Returns
    -------
    ndarray of bool, shape (n_words,)

    Raises
    ------
    DataError
        A word that is not a string.
    """
    from .loaders.naturalstories import naturalstories_sentences

    words = list(words)
    for i, w in enumerate(words):
        if not isinstance(w, str):
            raise DataError(f"futrell2018_sentence_initial: word {i} is {w!r} "
                            f"({type(w).__name__}); expected strings in corpus order.")
    # one list, as Brain-Score reads it (its rule starts a sentence at each story's first
    # word anyway, because the last word of a story closes its sentence)
    return naturalstories_sentences(words)[1] == 1


def futrell2018_score(surprisal_bits, reading_times, sentence_initial,
                      ceiling=FUTRELL2018_CEILING):
    """Brain-Score language's Futrell2018 score of a word-by-word surprisal.

    Words that are sentence-initial are left out, as in the benchmark; so are words
    whose surprisal or reading time is not finite (the benchmark has none after its
    own exclusion, but a surprisal without context, e.g. a story's first word, is
    NaN). The score is Pearson r between surprisal and the mean reading time over
    readers, its absolute value (the benchmark's metric), divided by the ceiling,
    and set to 1 when above 1 or 0 when below 0 (Brain-Score's ``ceiling_normalize``;
    the value before clipping is kept).

    Context differs between protocols, and a chapter should state which it used:
    Brain-Score feeds all 10,256 words as one running text, so a word's context is
    every preceding word *across stories* (story 2 is read after story 1), cut from
    the left at the model's maximum length (1,024 tokens for GPT-2); the Methods page (real-data protocols) asks for
    the preceding words *of the same story*. The benchmark's surprisal is the sum of
    the word's token surprisals (leading space and attached punctuation included),
    in bits.

    Parameters
    ----------
    surprisal_bits : array_like of float, shape (n_words,)
        Surprisal per word in bits (Pearson r is the same in nats; only the sign of
        the relation and its strength matter). NaN = no value.
    reading_times : array_like of float, shape (n_words,)
        Mean reading time per word over readers (ms), e.g. ``meanItemRT`` of
        ``processed_wordinfo.tsv`` joined on (item, zone). The benchmark uses the
        plain mean of the raw per-subject RTs (100-3000 ms, readers with more than 4
        correct comprehension answers), no log transform.
    sentence_initial : array_like of bool, shape (n_words,)
        True for words to leave out (see :func:`futrell2018_sentence_initial`).
    ceiling : float
        The noise ceiling, in (0, 1]; default :data:`FUTRELL2018_CEILING` (0.85804302).

    Returns
    -------
    dict
        ``raw_r`` (signed Pearson r), ``abs_r`` (|r|, Brain-Score's "raw" score),
        ``ceiling``, ``normalised`` (abs_r / ceiling clipped to [0, 1]),
        ``normalised_unclipped``, ``clipped`` (bool), ``n_words`` (words used),
        ``n_total``, and the words left out by reason, each word counted once in
        this order: ``n_sentence_initial``, ``n_nonfinite_surprisal`` (among the
        rest), ``n_nonfinite_rt`` (among the rest).

    Raises
    ------
    DataError
        Inputs not 1-D or of different lengths; ``sentence_initial`` not boolean;
        ``ceiling`` outside (0, 1]; fewer than three words left; a constant input
        (r undefined).
    """
    who = "futrell2018_score"
    s = check_array(surprisal_bits, f"{who}: surprisal_bits", ndim=1, finite=False)
    rt = check_array(reading_times, f"{who}: reading_times", ndim=1, finite=False)
    first = np.asarray(sentence_initial)
    if first.dtype != bool:
        raise DataError(f"{who}: sentence_initial has dtype {first.dtype}; expected booleans "
                        "(True = sentence-initial, left out).")
    if not (s.shape == rt.shape == first.shape):
        raise DataError(f"{who}: surprisal_bits has shape {s.shape}, reading_times "
                        f"{rt.shape} and sentence_initial {first.shape}; expected one value "
                        "per word in each, in the same order.")
    ceiling = float(ceiling)
    if not (np.isfinite(ceiling) and 0 < ceiling <= 1):
        raise DataError(f"{who}: ceiling={ceiling!r}; expected a reliability in (0, 1], e.g. "
                        f"FUTRELL2018_CEILING = {FUTRELL2018_CEILING}.")
    bad_s = ~first & ~np.isfinite(s)
    bad_rt = ~first & np.isfinite(s) & ~np.isfinite(rt)
    use = ~first & np.isfinite(s) & np.isfinite(rt)
    n = int(use.sum())
    if n < 3:
        raise DataError(f"{who}: {n} word(s) left after leaving out {int(first.sum())} "
                        f"sentence-initial words, {int(bad_s.sum())} without a finite surprisal "
                        f"and {int(bad_rt.sum())} without a finite reading time; expected at "
                        "least 3.")
    r = float(pearson_columns(s[use], rt[use]))
    if not np.isfinite(r):
        raise DataError(f"{who}: surprisal or reading time is constant over the {n} words "
                        "used, so r is undefined.")
    unclipped = abs(r) / ceiling
    normalised = min(max(unclipped, 0.0), 1.0)
    return {
        "raw_r": r,
        "abs_r": abs(r),
        "ceiling": ceiling,
        "normalised": normalised,
        "normalised_unclipped": unclipped,
        "clipped": normalised != unclipped,
        "n_words": n,
        "n_total": int(s.shape[0]),
        "n_sentence_initial": int(first.sum()),
        "n_nonfinite_surprisal": int(bad_s.sum()),
        "n_nonfinite_rt": int(bad_rt.sum()),
    }
