"""Checks of the built book: links, citations of outside files, figure sizes."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from analysis import bookcheck  # noqa: E402


def _page(folder, name, body):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"<html><body>{body}</body></html>")
    return path


def _figure(path, width_in, dpi):
    fig = plt.figure(figsize=(width_in, 2))
    fig.savefig(path, dpi=dpi)
    plt.close(fig)


def test_broken_links_missing_files_and_anchors(tmp_path):
    _page(tmp_path, "a.html", '<h1 id="top">A</h1><a href="b.html#here">b</a>'
                              '<a href="b.html#nowhere">bad anchor</a><a href="c.html">gone</a>'
                              '<a href="https://example.org/x">external</a><a href="#top">self</a>'
                              '<img src="img/missing.png">')
    _page(tmp_path, "b.html", '<p id="here">B</p>')
    problems = bookcheck.broken_links(tmp_path)
    assert len(problems) == 3
    assert any("'b.html#nowhere'" in p and "no id 'nowhere'" in p for p in problems)
    assert any("'c.html'" in p and "no such file" in p for p in problems)
    assert any("img/missing.png" in p for p in problems)


def test_outside_citations_are_found_in_page_text(tmp_path):
    _page(tmp_path, "ok.html", "<p>the data live in ../shared/data/frank2015 by default</p>")
    _page(tmp_path, "bad.html", "<p>as the folds follow (SPEC §3), see also DESIGN.md</p>")
    problems = bookcheck.outside_citations(tmp_path)
    assert len(problems) == 2 and all(p.startswith("bad.html") for p in problems)


@pytest.mark.parametrize("width_in, dpi, ok", [(6.5, 150, True), (16.0, 100, False),
                                               (6.0, 96, False), (8.0, 200, True)])
def test_figures_must_fit_the_column_at_their_dpi(tmp_path, width_in, dpi, ok):
    _figure(tmp_path / "fig.png", width_in, dpi)
    w, _h, read_dpi = bookcheck.png_size_and_dpi(tmp_path / "fig.png")
    assert w == round(width_in * dpi) and read_dpi == pytest.approx(dpi, abs=0.5)
    assert (bookcheck.oversized_figures(tmp_path) == []) is ok


def test_the_four_panel_figure_of_the_issue_is_refused(tmp_path):
    # chapter 04's better/worse figure as found: 1601 x 278 px at 100 dpi
    _figure(tmp_path / "bw.png", 16.01, 100)
    (problem,) = bookcheck.oversized_figures(tmp_path)
    assert "1601 x 200 px at 100 dpi = 16.0 in" in problem


def test_a_book_of_placeholders_and_reference_pages_passes(tmp_path):
    """The pages written by hand (introduction, methods, references, citing) link correctly."""
    from analysis.run import build_book

    index = build_book(tmp_path)
    html = index.parent
    assert (html / "book" / "methods.html").exists() and (html / "book" / "references.html").exists()
    assert bookcheck.check_book(html) == []
    methods = (html / "book" / "methods.html").read_text()
    assert "Zhou" in methods and "doi.org/10.48550/arXiv.2311.09308" in (
        html / "book" / "references.html").read_text()
    assert "_sources" not in (html / "book" / "methods.html").read_text()
