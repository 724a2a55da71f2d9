"""Human validation, the survey kit: consent and instruction texts, the self-contained survey
page (templates under ``analysis/resources/survey``) and the Qualtrics loop-and-merge table.
"""

from __future__ import annotations

import csv
import html
import json
import math
import re
from pathlib import Path

from .._utils import atomic_write
from .trials import ANSWERS, survey_id, with_kind, write_trials

__all__ = [
    "PRACTICE", "INSTRUCTIONS", "DEFAULT_CONTACT", "CONSENT", "expected_minutes",
    "consent_sections", "survey_payload", "write_survey_page", "script_json",
    "fill_template", "write_qualtrics_trials", "write_survey_kit", "survey_kit_summary",
]


RESOURCES = Path(__file__).resolve().parents[1] / "resources" / "survey"


INSTRUCTIONS = (
    "On each screen you see a short description (for example \"mentions an animal\") "
    "and two sentences, Sentence A and Sentence B. Decide for which sentence the "
    "description is more true. If it fits both equally well, or neither, choose "
    "\"Equally true\". Most questions have no right or wrong answer; go with your first "
    "impression. A few are easy checks with one clear answer, which help us see that the "
    "answers were given with care. One practice screen comes first and tells you what we "
    "expected."
)


#: Who participants can write to, when the chapter names nobody (``survey_contact``).
DEFAULT_CONTACT = "the researcher who sent you this link"


#: The information screen before consent: (heading, text). ``{duration}`` and
#: ``{n_questions}`` are filled in for the list shown, ``{where}`` from
#: :data:`CONSENT_WHERE` and ``{contact}`` by :func:`consent_sections`.
CONSENT = (
    ("What is this study about?",
     "We are researchers studying how language models (computer programs that work with "
     "text) and the human brain process sentences. You will judge which of two sentences a "
     "short description fits better. Your answers help us check descriptions that a "
     "computer suggested."),
    ("How long does it take?",
     "About {duration}: {n_questions} short questions and one practice question, at a few "
     "seconds each."),
    ("Do I have to take part?",
     "No. Taking part is voluntary, and you can stop at any time without giving a reason. "
     "Every screen has a \"Withdraw\" button at the top: it deletes the answers you have "
     "given and sends nothing. You can also just close this page; nothing is sent then, and "
     "the answers given so far stay only in this browser (choose \"Withdraw\" to delete "
     "them)."),
    ("What is stored?",
     "Only your answers, the list number, your participant id (the one you type in or the "
     "page makes up for you), the time you agreed, the time of each answer and how long it "
     "took. Nothing else: the page does not record your name, your IP address or your "
     "location. While you take part, this is kept in this browser so that you can continue "
     "after a reload. {where}"),
    ("Questions?", "Please contact {contact}."),
)


#: Where the answers go, for the "What is stored?" paragraph.
CONSENT_WHERE = {
    "download": "At the end, you download your answers as a file (CSV) and send it to the "
                "research team as they asked you to.",
    "post": "At the end, your answers are sent to the research team's server ({host}), and "
            "you can also download them as a file (CSV).",
}


#: The sentence above the two buttons "I agree" and "I do not agree".
CONSENT_QUESTION = ("Choosing \"I agree\" means that you have read this and would like to "
                    "take part.")


#: Seconds per question in the duration the consent screen states.
SECONDS_PER_TRIAL = 5


#: The practice item: not from the study, with an obvious answer and feedback.
PRACTICE = {
    "hypothesis": "mentions an animal",
    "sentence_a": "The old dog slept by the door while the rain fell.",
    "sentence_b": "She read the letter twice before putting it away.",
    "expected": ANSWERS[0],
    "feedback": "Sentence A mentions a dog; Sentence B mentions no animal, so we expected "
                "\"More true for Sentence A\".",
}


def consent_sections(post_url=None, contact=None, n_items=None,
                     seconds_per_trial=SECONDS_PER_TRIAL):
    """The information shown before consent, filled in (:data:`CONSENT`).

    Parameters
    ----------
    post_url : str | None
        Where the page sends the answers; ``None`` says they are downloaded.
    contact : str | None
        Whom to write to; ``None`` or empty gives :data:`DEFAULT_CONTACT`.
    n_items : int | None
        Questions in the list; ``None`` leaves ``{duration}`` and ``{n_questions}``
        for the page to fill in for the list it shows.
    seconds_per_trial : float

    Returns
    -------
    list of (str, str)
        ``(heading, text)`` pairs.
    """
    from urllib.parse import urlparse

    contact = (contact or "").strip() or DEFAULT_CONTACT
    where = (CONSENT_WHERE["post"].format(host=urlparse(post_url).netloc or post_url)
             if post_url else CONSENT_WHERE["download"])
    fill = {"where": where, "contact": contact}
    if n_items is not None:
        m = expected_minutes(n_items, seconds_per_trial)
        fill.update(duration=f"{m} minute{'' if m == 1 else 's'}", n_questions=str(n_items))
    out = []
    for heading, text in CONSENT:
        for key, value in fill.items():
            text = text.replace("{" + key + "}", value)
        out.append((heading, text))
    return out


def expected_minutes(n_items, seconds_per_trial=SECONDS_PER_TRIAL):
    """The duration the consent screen states for a list of ``n_items`` questions.

    The list plus the practice question at ``seconds_per_trial`` each, rounded up to
    whole minutes (at least 1). The page applies the same rule to the list it shows.

    Parameters
    ----------
    n_items : int
        Questions in the list, attention checks included.
    seconds_per_trial : float

    Returns
    -------
    int
    """
    return max(1, math.ceil((n_items + 1) * seconds_per_trial / 60))


def write_qualtrics_trials(trials, path):
    """The loop-and-merge table for Qualtrics, one row per loop (= trial).

    Columns, in the order of Qualtrics' fields: ``hypothesis`` (Field 1),
    ``sentence_a`` (Field 2), ``sentence_b`` (Field 3), then hidden fields
    ``trial_id`` (Field 4), ``divergent_side`` (Field 5), ``sentence_a_id`` (Field 6),
    ``sentence_b_id`` (Field 7) and ``kind`` (Field 8: ``study`` or ``attention``).
    Attention checks are loops like any other (the last rows). Row *k* (after the
    header) is loop *k*: Qualtrics exports the answer of loop *k* in the column
    ``k_<question>`` (e.g. ``3_Q1``), which :func:`read_qualtrics_answers` maps back
    through the ``loop`` column of the trial file. How to set the survey up is
    described in the chapter.
    """
    cols = ["hypothesis", "sentence_a", "sentence_b", "trial_id", "divergent_side",
            "sentence_a_id", "sentence_b_id", "kind"]
    trials = with_kind(trials)
    atomic_write(path, lambda tmp: trials.sort_values("loop")[cols].to_csv(
        tmp, index=False, quoting=csv.QUOTE_ALL))
    return Path(path)


def survey_payload(trials, lists, post_url=None, contact=None,
                   title="Which sentence fits the description?",
                   seconds_per_trial=SECONDS_PER_TRIAL):
    """The data the survey page embeds (JSON-serialisable dict).

    Parameters
    ----------
    trials, lists : DataFrame
    post_url : str | None
    contact : str | None
        Whom participants can write to (the consent screen and the withdrawal
        message name it); ``None`` or empty gives :data:`DEFAULT_CONTACT`.
    title : str
    seconds_per_trial : float
        For the duration stated on the consent screen (:func:`expected_minutes`).

    Returns
    -------
    dict
        Trials carry their ``kind`` (the page's CSV records it) but not the
        ``expected`` answer of attention checks.
    """
    trials = with_kind(trials)
    fields = ["trial_id", "hypothesis", "sentence_a", "sentence_b", "sentence_a_id",
              "sentence_b_id", "divergent_side", "kind"]
    by_list = lists.sort_values(["list", "position"]).groupby("list")["trial_id"]
    return {
        "survey_id": survey_id(trials),
        "title": title,
        "contact": (contact or "").strip() or DEFAULT_CONTACT,
        "seconds_per_trial": float(seconds_per_trial),
        "consent": [list(pair) for pair in consent_sections(post_url, contact)],
        "consent_question": CONSENT_QUESTION,
        "instructions": INSTRUCTIONS,
        "answers": list(ANSWERS),
        "practice": PRACTICE,
        "trials": {r["trial_id"]: {f: (int(r[f]) if f.endswith("_id") and f != "trial_id"
                                       else str(r[f])) for f in fields}
                   for _, r in trials.iterrows()},
        "lists": {str(int(k)): list(v) for k, v in by_list},
        "post_url": post_url or "",
    }


def write_survey_page(path, trials, lists, post_url=None, contact=None, **kwargs):
    """Write the self-contained survey page (HTML with inline CSS, JS and trials).

    The template lives in ``analysis/resources/survey/`` (``survey.html``,
    ``survey.css``, ``survey.js``); this fills it in. The page needs no server and no
    network: open it from ``file://`` or any static web host.

    Information and consent come first: what the study is for, how long the list
    takes (:func:`expected_minutes`), that taking part is voluntary and how to stop,
    what is stored and where, and whom to contact (``contact``). "I do not agree"
    ends the page with nothing stored or sent; "I agree" continues. From then on
    every screen has a "Withdraw" button which, after a confirmation, deletes the
    participant's saved progress from the browser, sends nothing and offers no
    download. Nothing is written to the browser's storage before consent.

    Participants: ``index.html?list=3`` shows list 3 (1-based); without ``list`` the
    page draws a list at random and records it. ``?pid=ABC`` pre-fills the
    participant id (else the participant types one or lets the page generate one).
    At the end the page offers the answers as a CSV download and, when ``post_url``
    is set, also POSTs them there: a JSON body ``{"survey_id", "participant_id",
    "csv", "answers"}`` sent as ``text/plain`` (a simple cross-origin request, no
    preflight; the server must reply with ``Access-Control-Allow-Origin``). A failed
    POST is shown to the participant and the download is still offered.

    Parameters
    ----------
    path : str | Path
        Output file (``.../survey/index.html``).
    trials, lists : DataFrame
        From :func:`make_trials` and :func:`make_lists`.
    post_url : str | None
    contact : str | None
        Whom participants can write to; ``None`` gives :data:`DEFAULT_CONTACT`.
    **kwargs
        Passed to :func:`survey_payload` (``title``, ``seconds_per_trial``).

    Returns
    -------
    Path
    """
    payload = survey_payload(trials, lists, post_url=post_url, contact=contact, **kwargs)
    page = fill_template((RESOURCES / "survey.html").read_text(encoding="utf-8"), {
        "/*__CSS__*/": (RESOURCES / "survey.css").read_text(encoding="utf-8"),
        "/*__JS__*/": (RESOURCES / "survey.js").read_text(encoding="utf-8"),
        "/*__DATA__*/": script_json(payload),
        "__TITLE__": html.escape(payload["title"]),
    }, source=RESOURCES / "survey.html")
    atomic_write(path, lambda tmp: tmp.write_text(page, encoding="utf-8"))
    return Path(path)


#: Characters that JSON may hold verbatim but that can end or confuse an HTML
#: ``<script>`` element ("</script>", "<!--") or a JavaScript string (U+2028/U+2029).
_SCRIPT_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028",
                   "\u2029": "\\u2029"}


def script_json(data):
    """``data`` as JSON that is safe inside an HTML ``<script>`` element.

    ``<``, ``>``, ``&``, U+2028 and U+2029 are written as ``\\u003c`` etc.; JSON
    allows them only inside strings, where the escape means the same character, so
    ``JSON.parse`` (and :func:`json.loads`) give back ``data`` unchanged, while no
    text in it can close the element (``</script>``) or open a comment.

    Parameters
    ----------
    data : JSON-serialisable object (NaN and infinities are refused)

    Returns
    -------
    str
    """
    text = json.dumps(data, ensure_ascii=False, allow_nan=False)
    return re.sub("[<>&\u2028\u2029]", lambda m: _SCRIPT_ESCAPES[m.group(0)], text)


def fill_template(template, values, source="template"):
    """Replace each placeholder of ``template`` by its value, in one pass.

    The template is scanned once (:func:`re.sub` over all placeholders together),
    so text that was put in is never scanned again: a sentence or hypothesis that
    contains a placeholder such as ``__TITLE__`` stays as it is.

    Parameters
    ----------
    template : str
    values : dict of str to str
        Placeholder to its (already escaped) value; each placeholder must occur in
        the template exactly once.
    source : str | Path
        Named in the error message.

    Returns
    -------
    str

    Raises
    ------
    RuntimeError
        A placeholder that is missing from the template or occurs more than once.
    """
    for key in values:
        if template.count(key) != 1:
            raise RuntimeError(f"{source}: placeholder {key} occurs {template.count(key)} "
                               "times; expected once.")
    pattern = "|".join(re.escape(k) for k in sorted(values, key=len, reverse=True))
    return re.sub(pattern, lambda m: values[m.group(0)], template)


def write_survey_kit(survey_dir, trials, lists, post_url=None, contact=None):
    """Write everything a study needs into ``survey_dir``.

    Files: ``index.html`` (:func:`write_survey_page`), ``qualtrics_loop_merge.csv``
    (:func:`write_qualtrics_trials`), ``trials.csv`` (the full trial table, the key
    for imports), ``lists.csv``, and ``archive/<survey id>/trials.csv``: a copy kept
    for every trial set ever written, so the trials of a deployed survey survive a
    later run with other hypotheses (its content is fixed by its name, so rewriting
    it changes nothing).

    Parameters
    ----------
    survey_dir : str | Path
    trials, lists : DataFrame
    post_url : str | None
        See :func:`write_survey_page`.
    contact : str | None
        Whom participants can write to (see :func:`write_survey_page`).

    Returns
    -------
    dict of str to Path
    """
    survey_dir = Path(survey_dir)
    out = {"page": write_survey_page(survey_dir / "index.html", trials, lists, post_url,
                                     contact=contact),
           "qualtrics": write_qualtrics_trials(trials, survey_dir / "qualtrics_loop_merge.csv"),
           "trials": write_trials(trials, survey_dir / "trials.csv"),
           "archive": write_trials(trials, survey_dir / "archive" / survey_id(trials)
                                   / "trials.csv"),
           "lists": survey_dir / "lists.csv"}
    atomic_write(out["lists"], lambda tmp: lists.to_csv(tmp, index=False))
    return out


def survey_kit_summary(kit, trials):
    """What the chapter prints about a written kit, with paths a reader can redo.

    Paths go through :func:`analysis.provenance.portable_path` (``<repo>/...`` and the
    like), so the page shows no absolute path of the machine that built it.

    Parameters
    ----------
    kit : dict of str to Path
        From :func:`write_survey_kit`.
    trials : DataFrame
        The trials the kit was written from (for the survey id).

    Returns
    -------
    list of str
        Two lines: the page (size, survey id) and the folder of the other files.
    """
    from ..provenance import portable_path

    page = Path(kit["page"])
    return [f"survey page: {portable_path(page)} ({page.stat().st_size / 1024:.0f} kB, "
            f"survey id {survey_id(trials)})",
            "Qualtrics loop-and-merge table, trial file and lists: "
            f"{portable_path(page.parent)}"]
