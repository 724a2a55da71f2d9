"""Data and model text on the pages is escaped: the display helper and the chapters (issue 21)."""

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from markdown_it import MarkdownIt

from analysis import display as show
from analysis import plots
from analysis.provenance import portable_path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = "<img src=x onerror=alert(1)>"


def test_escape_text_keeps_tags_visible_as_text():
    assert show.escape_text(SCRIPT) == "&lt;img src=x onerror=alert(1)&gt;"
    assert show.escape_text("<unk>") == "&lt;unk&gt;"
    assert show.escape_text('a "b" & \'c\'') == "a &quot;b&quot; &amp; &#x27;c&#x27;"
    assert show.escape_text(3.5) == "3.5"


def test_quote_block_escapes_its_text():
    data = show.quote_block(f"It said {SCRIPT} and <unk>.").data
    assert data == ("<blockquote>It said &lt;img src=x onerror=alert(1)&gt; and "
                    "&lt;unk&gt;.</blockquote>")


def test_markdown_text_renders_literally():
    md = MarkdownIt("commonmark")
    for text in (SCRIPT, "<unk>", "*not emphasis* [link](javascript:alert(1)) &lt; `code`",
                 "a\n# not a heading"):
        rendered = md.render(show.escape_markdown(text))
        assert "<img" not in rendered and "<a " not in rendered and "<em>" not in rendered
        assert "<code>" not in rendered and "<h1>" not in rendered
        # what the reader sees is the original text (one line)
        visible = re.sub(r"<[^>]+>", "", rendered).strip()
        assert html.unescape(visible) == " ".join(text.splitlines())


def _words_table():
    return pd.DataFrame({"word": [SCRIPT, "<unk>", "plain"], "score": [0.12345, 2.0, 1.0]},
                        index=pd.Index(["<b>p1</b>", "p2", "p3"], name="<i>participant</i>"))


def test_table_escapes_cells_labels_names_and_caption():
    df = _words_table()
    out = show.table(df, {"score": "{:.3f}"}, caption="<script>x</script> answers").to_html()
    for raw in (SCRIPT, "<unk>", "<b>p1", "<i>participant", "<script>"):
        assert raw not in out
    for shown in ("&lt;img src=x onerror=alert(1)&gt;", "&lt;unk&gt;", "&lt;b&gt;p1&lt;/b&gt;",
                  "&lt;i&gt;participant&lt;/i&gt;", "&lt;script&gt;x&lt;/script&gt; answers"):
        assert shown in out
    assert "0.123" in out and "2.000" in out
    assert df.index.name == "<i>participant</i>"  # the caller's frame is not changed


def test_table_precision_and_hidden_index():
    df = pd.DataFrame({"share": [12.345, 50.0], "text": ["<unk>", "ok"]}, index=["r1", "r2"])
    out = show.table(df, precision=1, index=False).to_html()
    assert "12.3" in out and "50.0" in out and "&lt;unk&gt;" in out
    assert ">r1<" not in out
    pct = show.table(pd.DataFrame({"a": [0.25]}), "{:.1%}").to_html()
    assert "25.0%" in pct


def test_table_html_escapes_and_cannot_be_turned_off():
    out = show.table_html(_words_table(), classes="table", escape=False).data
    assert SCRIPT not in out and "&lt;unk&gt;" in out and 'class="dataframe table"' in out


def test_package_fragments_escape_words_and_categories():
    words = [SCRIPT, "<unk>", "the"]
    coloured = plots.coloured_text(words, [0.1, 0.5, 0.9], label="<b>err</b>")
    cats = plots.category_text(words, {"<i>cat</i>": [True, False, False]}, names=["<i>cat</i>"])
    for out in (coloured, cats):
        assert "<img" not in out and "&lt;unk&gt;" in out
    assert "<b>err" not in coloured and "<i>cat" not in cats


# Building HTML in a chapter (HTML(...), DataFrame.to_html, a pandas Styler) bypasses the
# escaping; the chapters call analysis.display instead.
_RAW_HTML = re.compile(r"\bHTML\(|\.to_html\(|\.style\b")


def test_no_chapter_builds_html_itself():
    offenders = []
    for nb in sorted((ROOT / "notebooks").glob("*.py")):
        for i, line in enumerate(nb.read_text().splitlines(), 1):
            if not line.lstrip().startswith("#") and _RAW_HTML.search(line):
                offenders.append(f"{nb.name}:{i}: {line.strip()}")
    assert not offenders, "use analysis.display instead:\n" + "\n".join(offenders)


def test_the_scan_catches_each_kind():
    """The scan above can fail: each raw pattern the chapters used before is matched."""
    for line in ('display(HTML("<blockquote>" + s + "</blockquote>"))',
                 'display(HTML(df.to_html(classes="table")))',
                 'display(df[["text"]].style.format({"score": "{:.3f}"}))',
                 ' .style.set_caption(label)'):
        assert _RAW_HTML.search(line)
    assert not _RAW_HTML.search("display(show.table(df, caption=label))")


def test_survey_page_path_is_portable():
    page = ROOT / "_build" / "results" / "survey" / "index.html"
    assert portable_path(page) == "<repo>/_build/results/survey/index.html"
    nb = (ROOT / "notebooks" / "03_human_validation.py").read_text()
    assert "validation.survey_kit_summary(kit, trials)" in nb  # prints portable paths
    assert "{page}" not in nb and "{page.parent}" not in nb


@pytest.mark.slow
def test_data_chapter_escapes_a_tables_words(tmp_path):
    """End to end: a word table holding a script tag and <unk>, built as the data chapter."""
    sentences = [["The", "river", "rose", "slowly."], ["She", "wrote", SCRIPT, "today."],
                 ["A", "<unk>", "word", "appeared."], ["Then", "the", "boat", "capsized."]]
    rows = [(s + 1, p + 1, w, 300 + 7 * len(w) + 13 * ((s + p) % 3))
            for s, sent in enumerate(sentences * 6) for p, w in enumerate(sent)]
    path = tmp_path / "words.tsv"
    pd.DataFrame(rows, columns=["sentence", "position", "word", "rt"]).to_csv(
        path, sep="\t", index=False)
    out = tmp_path / "book"
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "analysis.run", "--profile", "quick",
                           "--only", "data", "--out", str(out), "-p", "dataset", "table",
                           "-p", "data_path", str(path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    page = (out / "html" / "notebooks" / "00_data.html").read_text()
    assert "Traceback" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and "&lt;unk&gt;" in page
    assert "<img src=x" not in page and "<unk>" not in page


@pytest.mark.parametrize("value, shown", [(22.352941, "22.4"), (9775.0, "9,775"), (0.00042, "0.00042"),
                                          (float("nan"), "–"), (None, "–"), (0.2034, "0.203"),
                                          (1234.56, "1,235"), (-0.0123, "-0.0123"), ("text", "text")])
def test_numbers_are_rounded_to_what_a_reader_uses(value, shown):
    assert show.format_number(value) == shown


def test_tables_pad_cells_and_show_one_missing_notation():
    df = pd.DataFrame({"V": [0.203, float("nan")], "p": [0.00042, None], "q": [0.016, 0.5],
                       "words": [9775.0, 3.0]})
    html_out = show.table(df).to_html()
    assert "0.203" in html_out and "0.00042" in html_out and "9,775" in html_out
    assert "nan" not in html_out.lower() and "None" not in html_out and html_out.count("–") == 2
    # long text wraps (white-space is the default "normal"; overflow-wrap breaks long words)
    assert "padding" in html_out and "overflow-wrap: break-word" in html_out
    assert "anywhere" not in html_out  # it let wide tables shrink to one letter per column


def test_numbers_in_tables_stay_on_one_line():
    # chapter 04's narrow mean-r columns broke "-0.00043" after "-0.00"
    import pandas as pd

    from analysis import display

    html_text = display.table(pd.DataFrame({"mean r": [-0.00043], "model": ["a long name"]})
                              ).to_html()
    cell = html_text.split("-0.00043")[0].rsplit("<td", 1)[1]
    assert 'class="data row0 col0' in cell
    assert "white-space: nowrap" in html_text and "text-align: right" in html_text
    text_rule = [line for line in html_text.splitlines() if "col1" in line and "{" in line]
    assert not any("nowrap" in line for line in text_rule)
    # a transposed table of mixed rows has object columns: numbers there stay whole too
    mixed = display.table(pd.DataFrame({"a": {"r": 0.376, "null": "refit"}}).T).to_html()
    import re

    assert re.search(r"row0_col0[^{]*\{[^}]*nowrap", mixed)
    assert not re.search(r"row0_col1[^{]*\{[^}]*nowrap", mixed)
    # the table-level cell rule outranks a per-cell one, so it must not set white-space
    # (in the default build's chapter 05 it did, and "0.376" still broke after "0.3")
    assert not re.search(r"\btd\b[^{]*\{[^}]*white-space", mixed)
