"""Checks of the built HTML book: links resolve, no page cites a file outside the repository,
figures fit the page column.

The runner calls :func:`check_book` after Jupyter Book has written ``<out>/html``; the
tests call it on the quick book. Each check returns a list of problems (empty when the
book passes), so that a caller can print all of them at once.
"""

from __future__ import annotations

import html.parser
import re
import struct
import urllib.parse
from pathlib import Path

__all__ = ["COLUMN_INCHES", "OUTSIDE_CITATIONS", "broken_links", "outside_citations",
           "oversized_figures", "png_size_and_dpi", "check_book"]

#: Widest figure, in inches at its own dpi, that the page column shows without shrinking
#: its text below the size it was drawn at: the book theme's main column is about
#: 760 CSS px at a 1280 px window (measured on the rendered pages), i.e. 7.9 in at the
#: CSS reference of 96 px per inch.
COLUMN_INCHES = 8.0

#: Text that cites a document a clone of the repository does not have.
OUTSIDE_CITATIONS = (r"\bSPEC\s*§", r"\bSPEC\.md\b", r"\bDESIGN\.md\b", r"shared/SPEC",
                     r"tests/test_real_data\.py")


class _Refs(html.parser.HTMLParser):
    """Collects ``href``/``src`` targets and element ids of one page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.refs, self.ids, self.text = [], set(), []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        for key in ("href", "src"):
            if attrs.get(key) and not (tag == "link" and attrs.get("rel") == "preconnect"):
                self.refs.append((tag, key, attrs[key]))

    def handle_data(self, data):
        self.text.append(data)


def _parse(page):
    parser = _Refs()
    parser.feed(page.read_text(encoding="utf-8", errors="replace"))
    return parser


def _pages(html_dir):
    return sorted(p for p in Path(html_dir).rglob("*.html")
                  if "_static" not in p.parts and p.name not in ("genindex.html", "search.html"))


def broken_links(html_dir):
    """Internal links and images of the built book that do not resolve.

    Parameters
    ----------
    html_dir : path-like
        The built book (``<out>/html``).

    Returns
    -------
    list of str
        ``"page: <tag key=target> -> why"`` for each link or image whose file is missing,
        or whose ``#anchor`` is not an id of the target page. External links
        (``http:``, ``https:``, ``mailto:``, ``data:``) are not followed: the book is built
        offline.
    """
    html_dir = Path(html_dir)
    parsed = {p: _parse(p) for p in _pages(html_dir)}
    problems = []
    for page, parser in parsed.items():
        for tag, key, target in parser.refs:
            url = urllib.parse.urlsplit(target)
            if url.scheme or target.startswith("//"):
                continue
            path = urllib.parse.unquote(url.path)
            dest = page if not path else (page.parent / path).resolve()
            if path.endswith("/") or (dest.exists() and dest.is_dir()):
                dest = dest / "index.html"
            rel = page.relative_to(html_dir)
            if not dest.exists():
                problems.append(f"{rel}: <{tag} {key}={target!r}> -> no such file")
                continue
            if url.fragment and dest.suffix == ".html":
                ids = parsed[dest].ids if dest in parsed else _parse(dest).ids
                if url.fragment not in ids:
                    problems.append(f"{rel}: <{tag} {key}={target!r}> -> no id "
                                    f"{url.fragment!r} in {dest.relative_to(html_dir)}")
    return problems


def outside_citations(html_dir):
    """Pages whose text cites a file outside the repository (:data:`OUTSIDE_CITATIONS`).

    Returns
    -------
    list of str
        ``"page: '...context...'"`` for each match.
    """
    html_dir = Path(html_dir)
    problems = []
    for page in _pages(html_dir):
        text = " ".join(_parse(page).text)
        for pattern in OUTSIDE_CITATIONS:
            for m in re.finditer(pattern, text):
                context = text[max(0, m.start() - 40):m.end() + 40].replace("\n", " ")
                problems.append(f"{page.relative_to(html_dir)}: {context!r}")
    return problems


def png_size_and_dpi(path):
    """Width and height in pixels, and dots per inch, of a PNG file.

    Reads the IHDR chunk and the optional pHYs chunk (pixels per metre) without decoding
    the image.

    Returns
    -------
    width, height : int
    dpi : float or None
        ``None`` when the file has no pHYs chunk in metres.

    Raises
    ------
    ValueError
        When the file is not a PNG.
    """
    data = Path(path).read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path}: not a PNG file (bad signature)")
    width, height = struct.unpack(">II", data[16:24])
    dpi, pos = None, 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"pHYs" and length == 9:
            ppx, _ppy, unit = struct.unpack(">IIB", data[pos + 8:pos + 17])
            if unit == 1:
                dpi = ppx * 0.0254
            break
        if kind == b"IDAT":
            break
        pos += 12 + length
    return width, height, dpi


def oversized_figures(html_dir, column_inches=COLUMN_INCHES, default_dpi=96.0, min_dpi=150.0):
    """Figures of the built book that are too wide for the page column, or too coarse.

    A figure drawn ``w`` inches wide is shown at most one column wide; when ``w`` exceeds
    ``column_inches`` the browser shrinks it, and its text with it, below the size it was
    drawn at. Figures below ``min_dpi`` look blurred on the page.

    Parameters
    ----------
    html_dir : path-like
    column_inches : float
        See :data:`COLUMN_INCHES`.
    default_dpi : float
        Assumed resolution of a PNG without a pHYs chunk.
    min_dpi : float
        Lowest acceptable resolution.

    Returns
    -------
    list of str
        ``"image: W x H px at D dpi = X in wide (column: C in)"`` for each offending image.
    """
    html_dir = Path(html_dir)
    problems = []
    for png in sorted(html_dir.rglob("*.png")):
        if "_static" in png.parts:
            continue
        width, height, dpi = png_size_and_dpi(png)
        dpi = dpi or default_dpi
        inches = width / dpi
        where = png.relative_to(html_dir)
        if inches > column_inches + 0.01:  # pHYs rounds dpi to whole pixels per metre
            problems.append(f"{where}: {width} x {height} px at {dpi:.0f} dpi = {inches:.1f} in "
                            f"wide (column: {column_inches:g} in)")
        elif dpi < min_dpi - 0.5:
            problems.append(f"{where}: {dpi:.0f} dpi, below {min_dpi:.0f}")
    return problems


def check_book(html_dir):
    """All checks of the built book, as one list of problems (empty: the book passes).

    Parameters
    ----------
    html_dir : path-like
        The built book (``<out>/html``).

    Returns
    -------
    list of str
    """
    return ([f"broken link: {p}" for p in broken_links(html_dir)]
            + [f"cites a file outside the repository: {p}" for p in outside_citations(html_dir)]
            + [f"figure too wide or coarse: {p}" for p in oversized_figures(html_dir)])
