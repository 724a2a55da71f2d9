"""Loaders for the published file layouts, each returning a :class:`~analysis.data.WordDataset`.

One module per source (Methods page, data):

- :mod:`.harry_potter` -- the Harry Potter MEG files of Wehbe et al. (2014) as
  distributed with the paper's code (``denoised_HP.npy``, ``meg/*.mat``);
- :mod:`.moth` -- the Moth MEG pickles (continuous recordings, word onsets);
- :mod:`.mne_data` -- any MEG/EEG study brought through MNE as word-locked epochs;
- :mod:`.bids` -- a BIDS MEG/EEG study (every subject, session and story, streamed);
- :mod:`.frank2015` -- the Frank et al. (2015) ERP table from the "prediction-resource"
  of de Varda et al. (2023), and the single-trial EEG and eye-tracking files of
  Aurnhammer & Frank (2019);
- :mod:`.naturalstories` -- the Natural Stories self-paced reading times (Futrell et
  al. 2021) with the corpus' GPT-3 surprisal;
- :mod:`.table` -- any word-level table a user brings (CSV, TSV, Parquet; one row per
  word, or per participant and word), and the project's example table.

Every loader checks its input and raises :class:`~analysis._utils.DataError` with a
message naming the file, the field and what was expected. Open datasets by name with
:func:`analysis.datasets.open_dataset`, which knows each source's defaults.
"""

from ..text import read_annotations, segment_sentences
from .frank2015 import (FRANK_COMPONENT_WINDOWS_MS, FRANK_COMPONENTS, join_all_measures,
                        load_frank2015, load_frank2015_eyetracking, load_frank2015_trials,
                        published_exclusion, read_frank2015_table)
from .harry_potter import load_harry_potter, strip_hp_word
from .mne_data import load_mne_epochs
from .moth import load_moth
from .naturalstories import (load_naturalstories, naturalstories_gpt3_surprisal,
                             naturalstories_sentences)

__all__ = [
    "load_harry_potter", "load_moth", "load_mne_epochs", "load_bids", "load_frank2015",
    "read_frank2015_table", "published_exclusion", "strip_hp_word", "segment_sentences",
    "read_annotations", "FRANK_COMPONENTS", "FRANK_COMPONENT_WINDOWS_MS",
    "load_frank2015_trials", "load_frank2015_eyetracking", "join_all_measures",
    "load_naturalstories", "naturalstories_gpt3_surprisal", "naturalstories_sentences",
    "load_word_table", "write_example_table",
]

_LAZY = {"load_word_table": "table", "write_example_table": "table", "load_bids": "bids"}


def __getattr__(name):
    """The table and BIDS loaders, imported on first use (so ``python -m
    analysis.loaders.table`` or ``.bids`` runs the module once, as ``__main__``)."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
