"""Showing data and model text on the book's pages, always escaped.

Words from a user's table, sentences, dataset questions and hypotheses written by a
language model are untrusted text: put into a page as HTML or Markdown, a word such as
``<img src=x onerror=alert(1)>`` runs as a script and a harmless token such as ``<unk>``
vanishes as an unknown tag. The chapters show such text only through this module:

* :func:`escape_text` -- text for an HTML fragment;
* :func:`escape_markdown` -- text for a Markdown output (every punctuation mark literal);
* :func:`quote_block` -- a quotation (e.g. the first sentences of the text);
* :func:`table` -- a styled table (number formats, caption) whose cells, labels and
  caption are escaped; :func:`table_html` -- the same as plain HTML;
* :func:`fragment` -- an HTML fragment built by one of the package's own functions
  (``provenance.data_banner``, ``plots.coloured_text``, ...), which escape the text they
  embed.

``tests/test_display.py`` checks that no notebook builds HTML or a pandas Styler itself.
"""

from __future__ import annotations

import html
import re

__all__ = ["escape_text", "escape_markdown", "quote_block", "table", "table_html", "fragment",
           "MISSING", "format_number", "percent_text", "model_label", "window_text"]

#: How a missing value (None, NaN) is shown in every table of the book.
MISSING = "–"

#: Table styles of the book: cells padded apart, long text wrapped, numbers right-aligned.
_TABLE_STYLES = [
    {"selector": "", "props": "border-collapse: collapse; font-size: 90%; margin-bottom: 1em;"},
    # no white-space here: a table-level rule (id + element) outranks the per-cell rule
    # that keeps numbers on one line (id only), and "normal" is the default anyway
    # "break-word", not "anywhere": "anywhere" lets a cell's minimum width fall to one
    # character, so a wide table (chapter 06's 17-column summary) was squeezed into
    # columns one letter wide; "break-word" breaks a long word only when it cannot fit,
    # and a table wider than the page scrolls
    {"selector": "th, td", "props": "padding: 0.25em 0.7em; vertical-align: top; "
                                    "overflow-wrap: break-word;"},
    {"selector": "td", "props": "max-width: 32em;"},
    {"selector": "thead th", "props": "border-bottom: 1px solid #999;"},
]


def format_number(x):
    """A number as the book's tables show it: rounded to what a reader can use.

    Integers (and floats that are whole) get thousands separators; other numbers three
    significant digits, or no decimals from 100 up; p-values and other small numbers
    two significant digits; missing values :data:`MISSING`.

    Parameters
    ----------
    x : object
        A number; anything else is returned as ``str(x)``.

    Returns
    -------
    str

    Examples
    --------
    ``22.352941 -> "22.4"``, ``9775.0 -> "9,775"``, ``0.00042 -> "0.00042"``,
    ``nan -> "–"``.
    """
    import math
    import numbers

    if x is None:
        return MISSING
    if isinstance(x, bool) or not isinstance(x, numbers.Number):
        return str(x)
    x = float(x)
    if math.isnan(x):
        return MISSING
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if x.is_integer() and abs(x) < 1e15:
        return f"{int(x):,}"
    a = abs(x)
    if a >= 100:
        return f"{x:,.0f}"
    if a >= 0.01:
        return f"{x:.3g}"
    return f"{x:.2g}"


def escape_text(text):
    """Text as it should read on an HTML page: ``& < > " '`` become entities.

    Parameters
    ----------
    text : object
        Converted with ``str`` first (numbers, numpy strings, ``None``).

    Returns
    -------
    str
        Safe to place between tags or inside a quoted attribute.
    """
    return html.escape(str(text), quote=True)


# CommonMark lets any ASCII punctuation be escaped with a backslash, and an escaped
# character is always literal: no emphasis, link, role, raw HTML or entity can start.
_MD_PUNCTUATION = re.compile(r"""([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])""")


def escape_markdown(text):
    """Text for a Markdown output, shown literally (no markup, no raw HTML).

    Parameters
    ----------
    text : object
        Converted with ``str`` first.

    Returns
    -------
    str
        Every ASCII punctuation mark backslash-escaped (CommonMark, section "Backslash
        escapes"); line breaks become spaces so that the text stays inside its paragraph.
    """
    return _MD_PUNCTUATION.sub(r"\\\1", " ".join(str(text).splitlines()))


def quote_block(text):
    """A block quotation of untrusted text.

    Parameters
    ----------
    text : object

    Returns
    -------
    IPython.display.HTML
    """
    from IPython.display import HTML

    return HTML(f"<blockquote>{escape_text(text)}</blockquote>")


def fragment(html_fragment):
    """Show an HTML fragment built by one of the package's functions.

    Only for fragments from functions that escape the data text they embed
    (``provenance.data_banner``, ``plots.coloured_text``, ``plots.category_text``,
    ``validation.banner_html``); never for a string assembled from data in a notebook.

    Parameters
    ----------
    html_fragment : str

    Returns
    -------
    IPython.display.HTML
    """
    from IPython.display import HTML

    return HTML(html_fragment)


def table(df, formats=None, precision=None, caption=None, index=True):
    """A pandas Styler of ``df`` with its text escaped, for display in a chapter.

    pandas' Styler does not escape cell text by default (``DataFrame`` display does);
    this one escapes the cells, the row and column labels, the names of the index and
    column levels, and the caption.

    Parameters
    ----------
    df : pandas.DataFrame
    formats : str | dict | callable | None
        Number formats, as ``Styler.format`` takes them (``"{:.1%}"`` or
        ``{"column": "{:.3f}"}``); columns not named keep pandas' default format.
    precision : int | None
        Decimal places of floats in the columns ``formats`` does not name; ``None``
        rounds them with :func:`format_number`. Missing values show as :data:`MISSING`.
    caption : str | None
        Caption above the table (escaped).
    index : bool
        Show the row labels.

    Returns
    -------
    pandas.io.formats.style.Styler
    """
    df = df.copy(deep=False)  # the Styler prints level names as they are: escape them here
    for axis in ("index", "columns"):
        labels = getattr(df, axis)
        setattr(df, axis, labels.set_names([None if n is None else escape_text(n)
                                            for n in labels.names]))
    default = format_number if precision is None else None
    styler = df.style.format(default, precision=precision, escape="html", na_rep=MISSING)
    if formats is not None:
        styler = styler.format(formats, precision=precision, escape="html", na_rep=MISSING)
    styler = styler.format_index(escape="html", axis=0).format_index(escape="html", axis=1)
    # numbers stay on one line: with the cells' "overflow-wrap: anywhere" (used until
    # chapter 06's wide table showed its cost) a narrow column broke "-0.00043" after "-0.00"
    import numbers

    def _number_cell(value):
        if isinstance(value, numbers.Number) and not isinstance(value, bool):
            return "white-space: nowrap; text-align: right;"
        return ""

    styler = styler.map(_number_cell)  # cell by cell: a transposed table mixes types
    if caption is not None:
        styler = styler.set_caption(escape_text(caption))
    if not index:
        styler = styler.hide(axis="index")
    # a stable id from the table's content, so that a re-executed chapter gives the same
    # page (pandas draws a random one) and nbval can compare it
    import hashlib

    digest = hashlib.sha1(df.to_csv().encode("utf-8", "replace")).hexdigest()[:10]
    return styler.set_uuid(digest).set_table_styles(_TABLE_STYLES, overwrite=False)


def table_html(df, **to_html_kwargs):
    """``df`` as escaped HTML (``DataFrame.to_html`` with ``escape=True``).

    Parameters
    ----------
    df : pandas.DataFrame
    **to_html_kwargs
        Passed to ``DataFrame.to_html`` (e.g. ``classes="table"``); ``escape`` cannot be
        turned off.

    Returns
    -------
    IPython.display.HTML
    """
    from IPython.display import HTML

    to_html_kwargs["escape"] = True
    return HTML(df.to_html(**to_html_kwargs))


def percent_text(value, ci=None):
    """A percentage with its interval, the way the book writes it.

    Parameters
    ----------
    value : float
        Percent (e.g. of channel x window tests called better).
    ci : sequence of two floats | None
        Its 95 % interval in percent (e.g. from
        :func:`analysis.stats.bootstrap_better_worse`); None: the value alone.

    Returns
    -------
    str
        ``"1.2 % (95 % CI 0.8 to 1.9)"``, or ``"1.2 %"`` without an interval.
    """
    if ci is None:
        return f"{value:.1f} %"
    return f"{value:.1f} % (95 % CI {ci[0]:.1f} to {ci[1]:.1f})"


def model_label(identity):
    """A model's short name for a title: ``"gguf:/.../SmolLM2-135M-Instruct.Q4_1.gguf:<size>:<sha>"``
    becomes ``"SmolLM2-135M-Instruct.Q4_1"``; hub names and folders keep their last part."""
    text = str(identity)
    if text.startswith("gguf:"):
        text = text[5:].split(":")[0]
    name = text.rstrip("/").split("/")[-1]
    return name[:-5] if name.endswith(".gguf") else name


def window_text(window):
    """A window of interest in words: ``"300-425 ms"``, or ``"every window"`` for None.

    Parameters
    ----------
    window : sequence of two floats | None
        Start and end in ms (a dataset without a window of interest gives None).

    Returns
    -------
    str
    """
    return "every window" if window is None else f"{window[0]:g}-{window[1]:g} ms"
