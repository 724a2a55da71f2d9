"""Parameter descriptions written once and filled into docstrings (as mne's ``fill_doc``).

A docstring names a shared entry with ``%(name)s`` on a line of its own, indented like
the parameter it describes; :func:`fill_doc` replaces it by :data:`docdict`'s text,
re-indented to that line. Only ``%(name)s`` placeholders are touched, so a docstring
may hold other ``%`` signs.
"""

from __future__ import annotations

import re

__all__ = ["docdict", "fill_doc"]

#: Shared parameter descriptions (numpy style: the first line is ``name : type``).
docdict = {
    "seed": """seed : int
    Seed of ``numpy.random.default_rng`` for every random choice of the call; the same
    seed gives the same result.""",
    "cv_groups": """groups : array_like of int, shape (n_words,) | None
    Cross-validation groups: units that no fold may split (stories, runs, sentences),
    each one contiguous block (:func:`analysis.encoding.contiguous_folds`). Not the
    divergent and convergent sentence sets of the hypotheses chapter.""",
    "resample_groups": """groups : array_like of int, shape (n,) | None
    Resampling units (sentences, stories): all words of a unit are drawn together, so
    that each resample keeps the dependence of neighbouring words; ``None`` draws single
    words.""",
    "n_boot": """n_boot : int
    Bootstrap resamples.""",
    "level": """level : float
    Coverage of the percentile intervals (0.95 for 95 %).""",
    "n_permutations": """n_permutations : int
    Random permutations of the null (the paper: 10,000); p-values are
    ``(#{null >= observed} + 1) / (n_permutations + 1)``, never 0.""",
    "device": """device : str
    ``"cpu"``, ``"cuda"`` (or ``"cuda:<i>"``) or ``"auto"`` (CUDA when available).""",
}

_PLACEHOLDER = re.compile(r"^(?P<indent>[ \t]*)%\((?P<name>\w+)\)s[ \t]*$", re.MULTILINE)


def fill_doc(obj):
    """Fill the ``%(name)s`` lines of ``obj.__doc__`` from :data:`docdict`.

    Parameters
    ----------
    obj : function | class
        Its docstring may hold placeholder lines; each is replaced by the entry,
        indented like the placeholder.

    Returns
    -------
    obj
        The same object (use as a decorator).

    Raises
    ------
    KeyError
        A placeholder names no entry of :data:`docdict` (the message names both).
    """
    doc = obj.__doc__
    if not doc:
        return obj

    def fill(match):
        name, indent = match.group("name"), match.group("indent")
        if name not in docdict:
            raise KeyError(f"fill_doc: {obj.__qualname__}'s docstring names %({name})s; "
                           f"expected one of {sorted(docdict)}.")
        return "\n".join(indent + line if line else line
                         for line in docdict[name].splitlines())

    obj.__doc__ = _PLACEHOLDER.sub(fill, doc)
    return obj
