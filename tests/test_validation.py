"""Human validation: trials, attention checks, the survey page in a real browser (consent,
withdrawal, the full path), imports, privacy, exclusion and the test."""

import csv
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from analysis import validation as val
from contract_fixture import write_contract_fixture

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def contract(tmp_path_factory):
    folder = tmp_path_factory.mktemp("contract")
    write_contract_fixture(folder, n_per_set=16, n_hypotheses=24, seed=1)
    return val.load_contract(folder)


@pytest.fixture(scope="module")
def trials(contract):
    sentences, table, _ = contract
    return val.make_trials(table, sentences, pairs_per_hypothesis=12, seed=3)


def _study(trials):
    return trials[trials["kind"] == "study"]


# --------------------------------------------------------------------------- trials

def test_trials_pair_one_divergent_and_one_convergent_sentence(contract, trials):
    sentences, table, _ = contract
    assert val.make_trials(table, sentences, pairs_per_hypothesis=12, seed=3).equals(trials)
    assert list(trials.columns) == val.TRIAL_COLUMNS
    trials = _study(trials)
    which_set = sentences.set_index("sentence_id")["set"]
    assert (which_set[trials["divergent_id"]].to_numpy() == "divergent").all()
    assert (which_set[trials["convergent_id"]].to_numpy() == "convergent").all()
    # the recorded side says where the divergent sentence is shown
    a_is_div = trials["divergent_side"] == "A"
    assert (trials.loc[a_is_div, "sentence_a_id"] == trials.loc[a_is_div, "divergent_id"]).all()
    assert (trials.loc[~a_is_div, "sentence_b_id"] == trials.loc[~a_is_div, "divergent_id"]).all()
    texts = sentences.set_index("sentence_id")["text"]
    assert (texts[trials["sentence_a_id"]].to_numpy() == trials["sentence_a"].to_numpy()).all()
    # sides are randomised: about half each (240 trials)
    assert 0.4 < a_is_div.mean() < 0.6
    # top and bottom 10 by V, 12 distinct pairs each
    per = trials.groupby("hypothesis")
    assert per.ngroups == 20 and (per.size() == 12).all()
    assert (per[["divergent_id", "convergent_id"]].apply(lambda f: len(f.drop_duplicates())) == 12).all()
    # the fixture's word lists (ranks 3, 9, 15, 21) are skipped: the top ten reach rank 12
    ranks = trials.groupby("group")["rank"].agg(["min", "max"])
    assert ranks.loc["top", "max"] == 12 and ranks.loc["bottom", "min"] == 13
    assert (trials["split"] == "validation").all()
    assert list(trials["loop"]) == list(range(1, len(trials) + 1))


def test_word_list_hypotheses_are_never_shown(contract, trials):
    sentences, table, _ = contract
    word_lists = set(table.loc[table["proposer"] == "log-odds", "hypothesis"])
    assert len(word_lists) == 4 and all("contains words such as" in h for h in word_lists)
    assert not word_lists & set(trials["hypothesis"])
    chosen = val.select_hypotheses(table)
    assert len(chosen) == 20 and not word_lists & set(chosen["hypothesis"])
    assert sorted(chosen.loc[chosen["group"] == "top", "rank"]) == [1, 2, 4, 5, 6, 7, 8, 10, 11, 12]
    skipped = val.skipped_hypotheses(table)
    assert sorted(skipped["rank"]) == [3, 9, 15, 21]
    assert list(skipped.sort_values("rank")["group"]) == ["top", "top", "bottom", "bottom"]
    # without the rule the word lists would be chosen
    assert word_lists <= set(val.select_hypotheses(table, skip_proposers=())["hypothesis"])
    # fewer judgeable hypotheses: the halves of what is left, never a word list
    few = table[(table["proposer"] == "log-odds") | (table["rank"] <= 5)]
    small = val.make_trials(few, sentences, pairs_per_hypothesis=2, seed=0)
    assert set(_study(small)["rank"]) == {1, 2, 4, 5}
    only_words = table[(table["proposer"] == "log-odds") | (table["rank"] == 1)]
    with pytest.raises(val.SurveyError, match=r"1 hypothesis\(es\) people can judge.*4 word-list"):
        val.select_hypotheses(only_words)


def test_attention_checks_have_one_clear_answer_and_own_sentences(contract, trials):
    sentences, _, _ = contract
    checks = trials[trials["kind"] == "attention"]
    assert len(checks) == len(val.ATTENTION_ITEMS) >= 6
    assert list(checks["loop"]) == list(range(len(trials) - len(checks) + 1, len(trials) + 1))
    assert (checks["group"] == "attention").all() and (checks["rank"] == 0).all()
    assert (_study(trials)["expected"] == "").all()
    texts = set(sentences["text"])
    for (description, fits, other), (_, t) in zip(val.ATTENTION_ITEMS, checks.iterrows()):
        assert t["hypothesis"] == description and fits not in texts and other not in texts
        shown = {"A": t["sentence_a"], "B": t["sentence_b"]}
        assert shown[t["divergent_side"]] == fits
        assert t["expected"] == f"More true for Sentence {t['divergent_side']}"
        assert t["sentence_a_id"] < 0 and t["sentence_b_id"] < 0
    assert set(checks["divergent_side"]) == {"A", "B"}  # sides are drawn


def test_small_validation_split_falls_back_to_research(contract):
    sentences, table, _ = contract
    few = sentences[(sentences["role"] == "research") | (sentences.index % 8 == 0)]
    assert val.choose_split(few, min_per_set=5) == "research"
    trials = _study(val.make_trials(table, few, n_top=3, n_bottom=3, pairs_per_hypothesis=4))
    assert (trials["split"] == "research").all() and trials["hypothesis"].nunique() == 6


def test_lists_are_seeded_random_draws_without_repeats(trials):
    lists = val.make_lists(trials, n_lists=5, n_per_list=100, seed=2)
    assert lists.equals(val.make_lists(trials, n_lists=5, n_per_list=100, seed=2))
    assert not lists.equals(val.make_lists(trials, n_lists=5, n_per_list=100, seed=3))
    per = lists.groupby("list")["trial_id"]
    assert (per.size() == 103).all() and (per.nunique() == 103).all()
    assert set(lists["trial_id"]) <= set(trials["trial_id"])
    study = lists[lists["trial_id"].isin(set(_study(trials)["trial_id"]))]
    assert (study.groupby("list").size() == 100).all()


def test_attention_checks_are_put_at_seeded_spread_positions(trials):
    checks = set(trials.loc[trials["kind"] == "attention", "trial_id"])
    lists = val.make_lists(trials, n_lists=6, n_per_list=100, seed=4)
    assert lists.equals(val.make_lists(trials, n_lists=6, n_per_list=100, seed=4))
    is_check = lists["trial_id"].isin(checks)
    where = lists[is_check].groupby("list")["position"].apply(list)
    assert (where.str.len() == 3).all()  # 3 per 100 study trials
    for positions in where:  # one in each third of the 103 items (0-based 0-33, 34-67, 68-102)
        assert [int(np.searchsorted([34, 68], p - 1, side="right")) for p in positions] == [0, 1, 2]
    assert where.map(tuple).nunique() > 1  # positions differ between lists
    other = val.make_lists(trials, n_lists=6, n_per_list=100, seed=5)
    assert not other[other["trial_id"].isin(checks)]["position"].reset_index(drop=True).equals(
        lists[is_check]["position"].reset_index(drop=True))
    # checks come on top of the study draw, which does not change
    plain = val.make_lists(trials, n_lists=6, n_per_list=100, attention_per_100=0, seed=4)
    assert not plain["trial_id"].isin(checks).any()
    assert list(plain["trial_id"]) == list(lists.loc[~is_check, "trial_id"])
    # short lists get at least one, longer ones ceil(3 %)
    for n, k in ((6, 1), (40, 2), (150, 5)):
        short = val.make_lists(trials, n_lists=2, n_per_list=n, seed=1)
        assert (short["trial_id"].isin(checks).groupby(short["list"]).sum() == k).all()
    # a trial file without checks (older archives) gives lists without checks
    legacy = _study(trials).drop(columns=["kind", "expected"])
    assert len(val.make_lists(legacy, n_lists=1, n_per_list=100, seed=4)) == 100


def test_missing_contract_file_names_it_and_the_chapter_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"hypotheses_sentences\.csv not found.*"
                                                r"hypotheses chapter"):
        val.load_contract(tmp_path)


def test_answers_are_coded_from_the_recorded_side():
    codes = val.code_answers(list(val.ANSWERS) * 2, ["A"] * 3 + ["B"] * 3)
    assert list(codes) == ["Divergent", "Equal", "Convergent", "Convergent", "Equal", "Divergent"]


# --------------------------------------------------------------------------- page

def test_page_is_self_contained_and_embeds_the_trials(tmp_path, trials):
    nasty = trials.copy()
    nasty.loc[0, "sentence_a"] = 'He wrote "</script><script>alert(1)</script>" & left.'
    lists = val.make_lists(nasty, 2, 5, seed=0)
    page = val.write_survey_page(tmp_path / "index.html", nasty, lists,
                                 contact="Dr Example, lab@example.org").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "@import" not in page and "/*__" not in page
    assert page.count("</script>") == 2  # the JSON block and the code, nothing from the data
    blob = re.search(r'<script type="application/json" id="survey-data">(.*?)</script>', page,
                     re.S).group(1)
    data = json.loads(blob)
    assert data["trials"]["t0001"]["sentence_a"] == nasty.loc[0, "sentence_a"]
    assert data["lists"]["2"] == list(lists.loc[lists["list"] == 2, "trial_id"])
    assert data["survey_id"] == val.survey_id(nasty)
    assert data["trials"]["a01"]["kind"] == "attention"
    assert data["trials"]["t0001"]["kind"] == "study"
    assert "expected" not in data["trials"]["a01"]  # the right answer is not in the page
    assert data["contact"] == "Dr Example, lab@example.org"
    assert "Dr Example, lab@example.org" in data["consent"][-1][1]
    default = val.survey_payload(nasty, lists)
    assert default["contact"] == val.DEFAULT_CONTACT == "the researcher who sent you this link"
    assert "download your answers" in " ".join(t for _, t in default["consent"])
    posting = val.survey_payload(nasty, lists, post_url="https://lab.example.org/submit")
    assert "(lab.example.org)" in " ".join(t for _, t in posting["consent"])
    # the duration is about 5 s per question (list + practice), in minutes
    assert val.expected_minutes(103) == 9 and val.expected_minutes(6) == 1
    filled = dict(val.consent_sections(n_items=103))
    assert filled["How long does it take?"].startswith("About 9 minutes: 103 short questions")


NASTY = "__TITLE__ </script><script>alert(1)</script> & <!-- \u2028 /*__DATA__*/"


def _nasty_page(path, trials, title='Fits? </title><script>alert(2)</script>'):
    """A page whose first study hypothesis holds placeholders and a script break-out."""
    nasty = trials.copy()
    nasty.loc[nasty["hypothesis"] == nasty.loc[0, "hypothesis"], "hypothesis"] = NASTY
    lists = pd.DataFrame({"list": 1, "position": [1, 2], "trial_id": ["t0001", "a01"]})
    return val.write_survey_page(path, nasty, lists, title=title), nasty


def test_data_with_placeholders_and_script_tags_stays_text(tmp_path, trials):
    path, nasty = _nasty_page(tmp_path / "index.html", trials)
    page = path.read_text()
    # one </script> per real script element: nothing in the data closes one
    assert page.count("</script>") == 2 and page.count("<script") == 2
    assert "<script>alert" not in page and "__TITLE__ " in page
    blob = re.search(r'<script type="application/json" id="survey-data">(.*?)</script>', page,
                     re.S).group(1)
    assert not set("<>&\u2028\u2029") & set(blob)
    data = json.loads(blob)
    assert data["trials"]["t0001"]["hypothesis"] == NASTY  # "__TITLE__" was not replaced
    assert data["title"] == 'Fits? </title><script>alert(2)</script>'
    assert data == json.loads(json.dumps(val.survey_payload(nasty, pd.DataFrame(
        {"list": 1, "position": [1, 2], "trial_id": ["t0001", "a01"]}),
        title=data["title"])))
    # the title element holds the escaped title, once
    assert re.search(r"<title>(.*?)</title>", page).group(1) == \
        "Fits? &lt;/title&gt;&lt;script&gt;alert(2)&lt;/script&gt;"
    # placeholders are filled once; a missing or repeated one is a clear error
    with pytest.raises(RuntimeError, match=r"placeholder __Y__ occurs 0 times"):
        val.fill_template("a __X__ b", {"__X__": "1", "__Y__": "2"})
    assert val.fill_template("__Y__ __X__", {"__X__": "__Y__", "__Y__": "__X__"}) == "__X__ __Y__"


def test_kit_summary_shows_no_absolute_path(tmp_path, trials, monkeypatch):
    from analysis import provenance

    lists = val.make_lists(trials, 1, 5, seed=0)
    kit = val.write_survey_kit(tmp_path / "_build" / "results" / "survey", trials, lists)
    lines = val.survey_kit_summary(kit, trials)
    assert lines[0].startswith("survey page: .../survey/index.html (")
    assert lines[0].endswith(f"kB, survey id {val.survey_id(trials)})")
    assert lines[1].endswith("lists: .../results/survey")
    assert not any(str(tmp_path) in line for line in lines)
    monkeypatch.setattr(provenance, "REPO_ROOT", tmp_path)  # as if the book were built here
    assert val.survey_kit_summary(kit, trials)[0].startswith(
        "survey page: <repo>/_build/results/survey/index.html (")


def _clicks(n):
    return [val.ANSWERS[i % 3] if i % 4 else val.ANSWERS[2] for i in range(n)]


@pytest.fixture()
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium "
                    "(`make test` installs it: apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield b
        b.close()


def _storage(page):
    """The page's localStorage as a dict."""
    return page.evaluate("() => Object.fromEntries(Object.entries(localStorage))")


def _open(browser, page_path, query, post_ok=True):
    """A fresh page with a fake POST endpoint; logs requests, POST bodies, errors, downloads."""
    page = browser.new_page(accept_downloads=True)
    log = {"requests": [], "posted": [], "errors": [], "downloads": []}

    def fake_server(route):
        log["posted"].append(route.request.post_data)
        route.fulfill(status=200 if post_ok else 500, body="ok" if post_ok else "no",
                      headers={"Access-Control-Allow-Origin": "*"})

    page.on("pageerror", lambda e: log["errors"].append(str(e)))
    page.on("request", lambda r: log["requests"].append((r.method, r.url)))
    page.on("download", lambda d: log["downloads"].append(d))
    page.route("http://survey.invalid/**", fake_server)
    page.goto(page_path.as_uri() + query)
    return page, log


def test_browser_participant_completes_survey_and_csv_round_trips(tmp_path, trials, browser):
    lists = val.make_lists(trials, n_lists=3, n_per_list=6, seed=5)
    page_path = val.write_survey_page(tmp_path / "survey" / "index.html", trials, lists,
                                      post_url="http://survey.invalid/submit",
                                      contact="Dr Example (lab@example.org)")
    page, log = _open(browser, page_path, "?list=2&pid=tester-7")
    expected_ids = list(lists.loc[lists["list"] == 2, "trial_id"])
    assert len(expected_ids) == 7  # 6 study trials and one attention check
    # information and consent come first; nothing is stored before "I agree"
    info = page.inner_text("#consent")
    for words in ("language models", "About 1 minute: 7 short questions", "voluntary",
                  "Withdraw", "close this page", "IP address", "(survey.invalid)",
                  "Dr Example (lab@example.org)"):
        assert words in info, words
    assert page.query_selector("#withdraw") is None and _storage(page) == {}
    page.click("#consent-agree")
    assert page.is_visible("#withdraw")
    page.click("#start")
    assert "Sentence A" in page.inner_text("#instructions")
    assert page.is_visible("#withdraw")
    page.click("#to-practice")
    assert page.inner_text("#hypothesis") == val.PRACTICE["hypothesis"]
    page.click(f'button[data-answer="{val.ANSWERS[2]}"]')  # wrong on purpose
    assert "Not quite" in page.inner_text("#feedback")
    page.click("#to-trials")
    by_id = trials.set_index("trial_id")
    clicks = _clicks(7)
    for i, answer in enumerate(clicks):
        if i == 3:  # a reload resumes after the answers given so far, practice done
            page.reload()
            page.click("#consent-agree")
            page.click("#start")
        assert page.inner_text("#progress-text") == f"Question {i + 1} of 7"
        assert page.is_visible("#withdraw")
        shown = by_id.loc[expected_ids[i]]
        assert page.inner_text("#sentence-a span") == shown["sentence_a"]
        assert page.inner_text("#hypothesis") == shown["hypothesis"]
        page.click(f'button[data-answer="{answer}"]')
    page.wait_for_selector("#download")
    assert page.is_visible("#withdraw")
    page.wait_for_function("document.getElementById('post-status').textContent.includes('sent')")
    with page.expect_download() as info:
        page.click("#download")
    csv_path = tmp_path / "downloaded.csv"
    info.value.save_as(csv_path)
    assert log["errors"] == []
    # nothing was fetched from anywhere but the file itself and the configured POST URL
    assert {u.split("?")[0] for _, u in log["requests"]} <= {page_path.as_uri(),
                                                            "http://survey.invalid/submit"}
    assert len(log["posted"]) == 1

    answers = val.read_page_answers(csv_path, trials)
    assert list(answers["answer"]) == clicks
    assert list(answers["trial_id"]) == expected_ids
    assert set(answers["participant_id"]) == {"tester-7"} and set(answers["list"]) == {2}
    assert list(answers["kind"]) == list(by_id.loc[expected_ids, "kind"])
    assert "attention" in set(answers["kind"])
    assert answers["consented_at"].str.match(r"\d{4}-").all()
    side = by_id.loc[expected_ids, "divergent_side"].to_numpy()
    assert list(answers["divergent_side"]) == list(side)
    study = (answers["kind"] == "study").to_numpy()
    assert list(answers["code"][study]) == list(val.code_answers(np.array(clicks)[study],
                                                                 side[study]))
    body = json.loads(log["posted"][0])
    assert body["participant_id"] == "tester-7" and body["csv"] == csv_path.read_bytes().decode()
    # the full import keeps the attention check, coded against its expected answer
    coded = val.read_answers(csv_path, trials)
    check = coded[coded["kind"] == "attention"].iloc[0]
    assert check["code"] == ("Correct" if check["answer"] == check["expected"] else "Incorrect")
    assert val.attention_report(coded).loc["tester-7", "n_checks"] == 1


def test_browser_shows_placeholders_and_script_tags_in_data_as_text(tmp_path, trials, browser):
    path, _ = _nasty_page(tmp_path / "index.html", trials)
    page, log = _open(browser, path, "?list=1&pid=tester-1")
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    assert page.title() == 'Fits? </title><script>alert(2)</script>'
    page.click("#consent-agree")
    page.click("#start")
    page.click("#to-practice")
    page.click(f'button[data-answer="{val.ANSWERS[0]}"]')
    page.click("#to-trials")
    assert page.eval_on_selector("#hypothesis", "e => e.textContent") == NASTY
    assert page.eval_on_selector("#hypothesis", "e => e.children.length") == 0
    assert page.eval_on_selector_all("script", "s => s.length") == 2
    assert dialogs == [] and log["errors"] == []


def test_browser_refused_consent_stores_and_sends_nothing(tmp_path, trials, browser):
    lists = val.make_lists(trials, n_lists=2, n_per_list=4, seed=1)
    page_path = val.write_survey_page(tmp_path / "index.html", trials, lists,
                                      post_url="http://survey.invalid/submit")
    page, log = _open(browser, page_path, "?list=1&pid=no-thanks")
    assert "the researcher who sent you this link" in page.inner_text("#consent")
    page.click("#consent-decline")
    assert "nothing has been saved or sent" in page.inner_text("#declined")
    page.keyboard.press("1")  # answer keys do nothing now
    page.wait_for_timeout(300)
    assert _storage(page) == {}
    assert page.query_selector("#download") is None and page.query_selector("#start") is None
    assert page.query_selector("#withdraw") is None
    assert log["posted"] == [] and log["downloads"] == [] and log["errors"] == []
    assert [m for m, _ in log["requests"]] == ["GET"]  # the page itself, nothing else


def test_browser_withdrawal_deletes_answers_and_sends_nothing(tmp_path, trials, browser):
    lists = val.make_lists(trials, n_lists=2, n_per_list=6, seed=2)
    page_path = val.write_survey_page(tmp_path / "index.html", trials, lists,
                                      post_url="http://survey.invalid/submit")
    page, log = _open(browser, page_path, "?list=1&pid=leaver-3")
    page.click("#consent-agree")
    page.click("#start")
    page.click("#to-practice")
    page.click(f'button[data-answer="{val.ANSWERS[0]}"]')
    page.click("#to-trials")
    for _ in range(3):
        page.click(f'button[data-answer="{val.ANSWERS[1]}"]')
    saved = _storage(page)
    assert len(saved) == 1 and len(json.loads(next(iter(saved.values())))["answers"]) == 3
    # "No, go back" returns to the same question with nothing lost
    page.click("#withdraw")
    page.click("#withdraw-cancel")
    assert page.inner_text("#progress-text") == "Question 4 of 7"
    assert len(json.loads(next(iter(_storage(page).values())))["answers"]) == 3
    page.click("#withdraw")
    assert "deleted" in page.inner_text("#app")
    page.click("#withdraw-confirm")
    assert "answers have been deleted" in page.inner_text("#withdrawn")
    assert page.query_selector("#withdrawn-sent") is None  # nothing had been sent
    page.keyboard.press("1")
    page.wait_for_timeout(300)
    assert _storage(page) == {}
    assert page.query_selector("#download") is None and page.query_selector("#choices") is None
    assert log["posted"] == [] and log["downloads"] == [] and log["errors"] == []
    assert [m for m, _ in log["requests"]] == ["GET"]
    # coming back later starts afresh: nothing of the withdrawn answers is left
    page.reload()
    page.click("#consent-agree")
    page.click("#start")
    assert page.is_visible("#instructions")


def test_browser_random_list_bad_list_and_failed_post(tmp_path, trials, browser):
    lists = val.make_lists(trials, n_lists=3, n_per_list=2, seed=5)
    page_path = val.write_survey_page(tmp_path / "index.html", trials, lists,
                                      post_url="http://survey.invalid/submit")
    page = browser.new_page(accept_downloads=True)
    page.route("http://survey.invalid/**", lambda route: route.fulfill(status=500, body="no"))
    page.goto(page_path.as_uri() + "?list=9")
    assert "List 9 does not exist" in page.inner_text("#error")
    page.goto(page_path.as_uri())  # no list: one is drawn; no pid: one is generated
    page.click("#consent-agree")
    page.click("#start")
    page.click("#to-practice")
    page.click(f'button[data-answer="{val.ANSWERS[0]}"]')
    assert "Well done" in page.inner_text("#feedback")
    page.click("#to-trials")
    for _ in range(3):  # two study trials and one attention check
        page.click(f'button[data-answer="{val.ANSWERS[1]}"]')
    page.wait_for_function("document.getElementById('post-status').className === 'error'")
    assert "failed" in page.inner_text("#post-status")
    with page.expect_download() as info:
        page.click("#download")
    info.value.save_as(tmp_path / "a.csv")
    answers = val.read_page_answers(tmp_path / "a.csv", trials)
    drawn = int(answers["list"].iloc[0])
    assert drawn in (1, 2, 3)
    assert list(answers["trial_id"]) == list(lists.loc[lists["list"] == drawn, "trial_id"])
    assert re.fullmatch(r"P-[0-9a-f]{8}", answers["participant_id"].iloc[0])
    # withdrawing after the end (the POST failed) deletes the answers and offers no file
    pid = answers["participant_id"].iloc[0]
    assert len(_storage(page)) == 1
    page.click("#withdraw")
    page.click("#withdraw-confirm")
    assert _storage(page) == {} and page.query_selector("#download") is None
    assert page.query_selector("#withdrawn-sent") is None and pid not in page.inner_text("#app")


def test_browser_withdrawal_after_answers_were_sent_says_whom_to_ask(tmp_path, trials, browser):
    lists = val.make_lists(trials, n_lists=1, n_per_list=1, seed=0)
    page_path = val.write_survey_page(tmp_path / "index.html", trials, lists,
                                      post_url="http://survey.invalid/submit",
                                      contact="lab@example.org")
    page, log = _open(browser, page_path, "?list=1&pid=late-9")
    page.click("#consent-agree")
    page.click("#start")
    page.click("#to-practice")
    page.click(f'button[data-answer="{val.ANSWERS[0]}"]')
    page.click("#to-trials")
    for _ in range(2):
        page.click(f'button[data-answer="{val.ANSWERS[1]}"]')
    page.wait_for_function("document.getElementById('post-status').textContent.includes('sent')")
    page.click("#withdraw")
    page.click("#withdraw-confirm")
    note = page.inner_text("#withdrawn-sent")
    assert "lab@example.org" in note and "late-9" in note
    assert _storage(page) == {} and len(log["posted"]) == 1


# --------------------------------------------------------------------------- imports

IDENTIFYING = {"IPAddress": "203.0.113.77", "LocationLatitude": "52.3702",
               "LocationLongitude": "4.8952", "RecipientEmail": "ada@example.org",
               "RecipientFirstName": "Ada", "RecipientLastName": "Lovelace",
               "ExternalReference": "EXT-991"}


def _qualtrics_file(path, trials, responses, bad=None):
    """Write an export in Qualtrics' layout: names, question texts, ImportId JSON."""
    loops = [f"{k}_Q1" for k in trials["loop"]]
    names = ["StartDate", "EndDate", "Status", "IPAddress", "Progress", "Finished",
             "ResponseId", "RecipientLastName", "RecipientFirstName", "RecipientEmail",
             "ExternalReference", "LocationLatitude", "LocationLongitude", "UserLanguage",
             *loops]
    texts = ["Start Date", "End Date", "Response Type", "IP Address", "Progress", "Finished",
             "Response ID", "Recipient Last Name", "Recipient First Name", "Recipient Email",
             "External Data Reference", "Location Latitude", "Location Longitude",
             "User Language"] + [f"{h} - For which sentence is this description more true?"
                                 for h in trials["hypothesis"]]
    ids = [json.dumps({"ImportId": n.lower()}) for n in names[:14]] + \
          [json.dumps({"ImportId": f"{k}_QID1"}) for k in trials["loop"]]
    rows = [names, texts, ids]
    # a list of (ResponseId, answers) pairs may repeat a ResponseId
    for rid, answers in (responses.items() if isinstance(responses, dict) else responses):
        cells = {"StartDate": "2026-11-20 10:00:00", "EndDate": "2026-11-20 10:09:00",
                 "Status": "IP Address", "Progress": "100", "Finished": "True",
                 "ResponseId": rid, "UserLanguage": "EN", **IDENTIFYING}
        cells.update({f"{k}_Q1": a for k, a in answers.items()})
        rows.append([cells.get(n, "") for n in names])
    if bad:
        rows[bad[0]][names.index(bad[1])] = bad[2]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return path


def test_qualtrics_table_holds_the_attention_checks_and_their_answers_import(tmp_path, trials):
    table = pd.read_csv(val.write_qualtrics_trials(trials, tmp_path / "loop.csv"))
    assert list(table.columns) == ["hypothesis", "sentence_a", "sentence_b", "trial_id",
                                   "divergent_side", "sentence_a_id", "sentence_b_id", "kind"]
    assert list(table["trial_id"]) == list(trials.sort_values("loop")["trial_id"])
    checks = trials[trials["kind"] == "attention"]
    assert (table.tail(len(checks))["kind"] == "attention").all()
    first, second = checks.iloc[0], checks.iloc[1]
    wrong = val.ANSWERS[1]
    responses = {"R_ok": {int(first["loop"]): first["expected"], 1: val.ANSWERS[0]},
                 "R_bad": {int(second["loop"]): wrong, 2: val.ANSWERS[2]}}
    answers = val.read_answers(_qualtrics_file(tmp_path / "export.csv", trials, responses), trials)
    got = answers[answers["kind"] == "attention"].set_index("participant_id")
    assert got.loc["R_ok", "code"] == "Correct" and got.loc["R_bad", "code"] == "Incorrect"
    assert got.loc["R_ok", "expected"] == first["expected"]
    assert set(answers.loc[answers["kind"] == "study", "code"]) <= set(val.CODES)
    report = val.attention_report(answers)
    assert report.to_dict("index") == {"R_bad": {"n_checks": 1, "n_failed": 1, "excluded": True},
                                       "R_ok": {"n_checks": 1, "n_failed": 0, "excluded": False}}
    # an archived trial file from before the checks still reads, as study trials
    legacy = tmp_path / "legacy.csv"
    _study(trials).drop(columns=["kind", "expected"]).to_csv(legacy, index=False)
    old = val.read_trials(legacy)
    assert (old["kind"] == "study").all() and val.survey_id(old) == val.survey_id(_study(trials))


def test_qualtrics_import_maps_loops_and_drops_identifying_columns(tmp_path, trials):
    small = trials.head(6)
    responses = {"R_1abc": {1: val.ANSWERS[0], 2: val.ANSWERS[1], 5: val.ANSWERS[2]},
                 "R_2def": {3: val.ANSWERS[0], 4: val.ANSWERS[2], 6: val.ANSWERS[0]}}
    path = _qualtrics_file(tmp_path / "export.csv", small, responses)
    answers = val.read_answers(path, small)
    assert len(answers) == 6
    for rid, given in responses.items():
        mine = answers[answers["participant_id"] == rid].set_index("loop")
        assert dict(mine["answer"]) == given
        side = small.set_index("loop").loc[list(given), "divergent_side"]
        assert list(mine["code"]) == list(val.code_answers(list(given.values()), side))
        assert list(mine["trial_id"]) == list(small.set_index("loop").loc[list(given), "trial_id"])
    assert not [c for c in answers.columns if val.is_identifying(c)]
    flat = answers.astype(str).to_numpy().ravel().tolist()
    assert not any(v in cell for v in IDENTIFYING.values() for cell in flat)
    written = val.write_answers(answers, tmp_path / "out" / "answers.csv").read_text()
    assert not any(v in written for v in IDENTIFYING.values())
    assert not any(name in written for name in IDENTIFYING)


@pytest.mark.parametrize("case, message", [
    ("answer", r"export\.csv: row 5, column '3_Q1': 'Maybe' is not an answer"),
    ("importid", r"export\.csv: row 3, column 'Status': 'oops'.*ImportId"),
])
def test_malformed_qualtrics_export_names_row_and_column(tmp_path, trials, case, message):
    small = trials.head(4)
    responses = {"R_1": {1: val.ANSWERS[0]}, "R_2": {2: val.ANSWERS[1]}}
    bad = (4, "3_Q1", "Maybe") if case == "answer" else (2, "Status", "oops")
    path = _qualtrics_file(tmp_path / "export.csv", small, responses, bad=bad)
    with pytest.raises(val.SurveyError, match=message):
        val.read_answers(path, small)


def _page_csv(path, trials, answers, edit=None, pid="p1"):
    rows = []
    for i, (tid, answer) in enumerate(answers):
        t = trials.set_index("trial_id").loc[tid]
        rows.append({"survey_id": val.survey_id(trials), "participant_id": pid, "list": 1,
                     "position": i + 1, "trial_id": tid, "hypothesis": t["hypothesis"],
                     "sentence_a_id": t["sentence_a_id"], "sentence_b_id": t["sentence_b_id"],
                     "divergent_side": t["divergent_side"], "answer": answer, "rt_ms": 900})
    frame = pd.DataFrame(rows)
    if edit:
        frame.loc[edit[0], edit[1]] = edit[2]
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("edit, message", [
    ((2, "answer", "More true for A"), r"a\.csv: row 4, column 'answer': 'More true for A'"),
    ((1, "divergent_side", "C"), r"a\.csv: row 3, column 'divergent_side': 'C'"),
    ((0, "trial_id", "t9999"), r"a\.csv: row 2, column 'trial_id': 't9999' is not in the trial"),
    ((1, "survey_id", "abc"), r"a\.csv: row 3, column 'survey_id': 'abc'.*other trials"),
])
def test_malformed_page_csv_names_row_and_column(tmp_path, trials, edit, message):
    ids = list(trials["trial_id"][:4])
    path = _page_csv(tmp_path / "a.csv", trials, [(t, val.ANSWERS[0]) for t in ids], edit)
    with pytest.raises(val.SurveyError, match=message):
        val.read_answers(path, trials)


def test_page_csv_missing_column_and_ragged_row(tmp_path, trials):
    path = tmp_path / "a.csv"
    path.write_text("participant_id,trial_id,answer\np1,t0001,Equally true\n")
    with pytest.raises(val.SurveyError, match=r"a\.csv: row 1: column\(s\) \['list'"):
        val.read_page_answers(path)
    _page_csv(path, trials, [("t0001", val.ANSWERS[1])])
    path.write_text(path.read_text() + "p1,1,2,t0002\n")
    with pytest.raises(val.SurveyError, match=r"a\.csv: row 3: 4 fields, expected 11"):
        val.read_page_answers(path)


# --------------------------------------------------------------------------- the test

def _flat_scores(trials):
    ids = np.union1d(trials["divergent_id"], trials["convergent_id"])
    return pd.DataFrame([(h, s, 0.5) for h in trials["hypothesis"].unique() for s in ids],
                        columns=["hypothesis", "sentence_id", "score"])


def test_top_bottom_test_is_calibrated_when_answers_ignore_the_hypothesis(trials):
    flat = _flat_scores(trials)
    n_seeds = 200
    p = []
    for seed in range(n_seeds):
        lists = val.make_lists(trials, n_lists=10, n_per_list=40, seed=seed)
        answers = val.simulate_raters(trials, lists, flat, rater_noise=0.15, equal_band=0.1,
                                      rater_bias_sd=0.1, seed=seed)
        p.append(val.top_bottom_test(answers, seed=seed).p_value)
    rejected = int((np.array(p) < 0.05).sum())
    lo, hi = st.binom.ppf([0.001, 0.999], n_seeds, 0.05)
    assert lo <= rejected <= hi, f"{rejected}/{n_seeds} rejections at alpha 0.05"


def test_top_bottom_test_detects_hypothesis_dependent_raters(trials):
    flat = _flat_scores(trials)
    top = set(trials.loc[trials["group"] == "top", "hypothesis"])
    div = set(trials["divergent_id"])
    # the verifier (and so the raters) see top hypotheses more in divergent sentences
    flat["score"] = [0.5 + (0.06 if h in top and s in div else 0.0)
                     for h, s in zip(flat["hypothesis"], flat["sentence_id"])]
    lists = val.make_lists(trials, n_lists=10, n_per_list=40, seed=0)
    answers = val.simulate_raters(trials, lists, flat, rater_noise=0.15, seed=0)
    res = val.top_bottom_test(answers, seed=0)
    assert res.p_value < 0.01 and res.mean_difference > 0.05 and res.ci_low > 0
    shares = val.answer_shares(answers)
    assert np.allclose(shares[list(val.CODES)].sum(axis=1), 1)
    assert shares.loc[shares["group"] == "top", "Divergent"].mean() > \
        shares.loc[shares["group"] == "bottom", "Divergent"].mean()
    assert val.hypothesis_label_test(answers, seed=0)["p_value"] < 0.01


def test_failed_attention_is_flagged_and_excluded_from_the_test(trials):
    flat = _flat_scores(trials)
    lists = val.make_lists(trials, n_lists=12, n_per_list=40, seed=1)
    answers = val.simulate_raters(trials, lists, flat, attention_correct=1.0, seed=1)
    assert (answers.loc[answers["kind"] == "attention", "code"] == "Correct").all()
    # make sim-004 fail one of its two checks
    mine = answers.index[(answers["participant_id"] == "sim-004")
                         & (answers["kind"] == "attention")][0]
    answers.loc[mine, "answer"] = val.ANSWERS[1]
    report = val.attention_report(answers)
    assert (report["n_checks"] == 2).all()
    assert report.index[report["n_failed"] > 0].tolist() == ["sim-004"]
    assert report.loc["sim-004", "excluded"]
    assert not val.attention_report(answers, max_failures=1)["excluded"].any()
    kept, _ = val.exclude_inattentive(answers, max_failures=0)
    assert "sim-004" not in set(kept["participant_id"]) and kept["participant_id"].nunique() == 11
    assert val.top_bottom_test(kept, n_resamples=99).n_participants == 11
    assert val.top_bottom_test(answers, n_resamples=99).n_participants == 12
    # attention checks never enter the shares or the tests
    shares = val.answer_shares(answers)
    assert not set(shares.index) & set(trials.loc[trials["kind"] == "attention", "hypothesis"])
    assert set(shares["group"]) == {"top", "bottom"}
    assert val.participant_differences(answers).equals(
        val.participant_differences(val.study_answers(answers)))


def test_simulated_raters_pass_attention_checks_with_the_given_probability(trials):
    flat = _flat_scores(trials)
    lists = val.make_lists(trials, n_lists=200, n_per_list=100, seed=0)
    answers = val.simulate_raters(trials, lists, flat, attention_correct=0.95, seed=0)
    checks = answers[answers["kind"] == "attention"]
    assert len(checks) == 600
    assert 0.92 < (checks["code"] == "Correct").mean() < 0.98
    assert (checks["code"] == np.where(checks["answer"] == checks["expected"],
                                       "Correct", "Incorrect")).all()
    assert answers.equals(val.simulate_raters(trials, lists, flat, attention_correct=0.95, seed=0))
    # the study answers do not depend on the checks
    plain = val.make_lists(trials, n_lists=200, n_per_list=100, attention_per_100=0, seed=0)
    same = val.simulate_raters(trials, plain, flat, seed=0)
    study = answers[answers["kind"] == "study"]
    assert list(study["answer"]) == list(same["answer"])


# --------------------------------------------------------------------------- chapter

def test_chapter_with_qualtrics_answers_keeps_no_identifying_data(tmp_path, trials):
    from analysis import run

    results = tmp_path / "results"
    write_contract_fixture(results, n_per_set=16, seed=1)
    trials_file = val.write_trials(trials, tmp_path / "deployed_trials.csv")
    top = list(trials.loc[trials["group"] == "top", "loop"][::15])  # 8 loops, 8 hypotheses
    bottom = list(trials.loc[trials["group"] == "bottom", "loop"][::15])
    responses = {f"R_{i}": {k: val.ANSWERS[(i + j) % 3] for j, k in enumerate(top + bottom)}
                 for i in range(4)}
    checks = trials[trials["kind"] == "attention"]
    for i, (_, c) in enumerate(checks.head(4).iterrows()):  # R_3 fails its check
        responses[f"R_{i}"][int(c["loop"])] = c["expected"] if i < 3 else val.ANSWERS[1]
    export = _qualtrics_file(tmp_path / "export.csv", trials, responses)
    params = dict(answers_path=str(export), trials_path=str(trials_file), n_participants=3,
                  n_trials_per_participant=10, n_resamples=99, results_dir=str(results),
                  device="cpu", profile="quick")
    run.run_chapter("human_validation", run.chapters()["human_validation"], params,
                    tmp_path / "out", log=lambda *_: None)
    saved = json.loads((results / "human_validation.json").read_text())["results"]
    assert saved["simulated"] is False and saved["n_answers"] == 48 and saved["n_raters"] == 3
    assert saved["participant_test"]["n_participants"] == 3
    assert saved["attention"]["n_excluded"] == 1 and saved["attention"]["n_flagged"] == 1
    assert saved["attention"]["failures_by_participant"] == {"R_0": 0, "R_1": 0, "R_2": 0, "R_3": 1}
    assert saved["skipped_word_list_hypotheses"]["in_table"] == 4
    page = (tmp_path / "out" / "executed" / "03_human_validation.ipynb").read_text()
    assert "They were excluded (1 person)" in page
    shown = re.search(r"survey page: [^\\]*", page).group(0)
    assert shown.startswith("survey page: .../survey/index.html (")
    assert str(tmp_path) not in shown
    assert saved["hypothesis_test"]["n_top"] == 8 and saved["hypothesis_test"]["n_bottom"] == 8
    assert (results / "survey" / "index.html").exists()
    assert (results / "survey" / "archive" / val.survey_id(trials) / "trials.csv").exists()
    written = [p for p in list(results.rglob("*")) + list((tmp_path / "out").rglob("*"))
               if p.is_file()]
    for path in written:
        text = path.read_text(errors="ignore")
        leaked = [v for v in IDENTIFYING.values() if v in text]
        assert not leaked, f"{path} holds identifying values {leaked}"


def test_folder_of_page_csvs_and_qualtrics_exports_is_read_together(tmp_path, trials):
    folder = tmp_path / "answers"
    folder.mkdir()
    ids = list(trials["trial_id"][:3])
    _page_csv(folder / "p1.csv", trials, [(t, val.ANSWERS[2]) for t in ids])
    _qualtrics_file(folder / "export.csv", trials.head(4), {"R_9": {4: val.ANSWERS[1]}})
    answers = val.read_answers(folder, trials)
    assert sorted(answers["source"].unique()) == ["export.csv", "p1.csv"]
    assert len(answers) == 4 and set(answers["participant_id"]) == {"p1", "R_9"}
    assert answers.loc[answers["source"] == "export.csv", "trial_id"].item() == "t0004"
    with pytest.raises(val.SurveyError, match=r"export\.csv: row 1: column\(s\)"):
        val.read_answers(folder, trials, answers_format="page")


# --------------------------------------------------------------------------- repeated answers

def _people(folder, trials, n_people=5, seed=0):
    """Page CSVs ``p0.csv``... : each person answers one pair of every top and bottom hypothesis."""
    folder.mkdir(parents=True, exist_ok=True)
    study = _study(trials)
    ids = list(study.drop_duplicates("hypothesis")["trial_id"])
    rng = np.random.default_rng(seed)
    for i in range(n_people):
        _page_csv(folder / f"p{i}.csv", trials,
                  [(t, val.ANSWERS[k]) for t, k in zip(ids, rng.integers(0, 3, len(ids)))],
                  pid=f"p{i}")
    return folder


def _analysed(answers):
    return (val.answer_shares(answers),
            val.hypothesis_label_test(answers, n_resamples=999)["p_value"],
            val.top_bottom_test(answers, n_resamples=999).p_value)


def test_copied_page_csv_is_counted_once_with_a_note(tmp_path, trials):
    import shutil

    single = val.read_answers(_people(tmp_path / "answers", trials), trials)
    assert single.attrs["import_notes"] == []
    shares, p_hyp, p_part = _analysed(single)
    # the example: the same page CSV saved twice would weigh p0 double and move p_hyp
    doubled = pd.concat([single, single[single["participant_id"] == "p0"]])
    assert val.hypothesis_label_test(doubled, n_resamples=999)["p_value"] != p_hyp
    shutil.copy(tmp_path / "answers" / "p0.csv", tmp_path / "answers" / "p0 (1).csv")
    with pytest.warns(UserWarning, match=r"p0\.csv rows 2-21: 20 answer\(s\) of 1 participant"):
        again = val.read_answers(tmp_path / "answers", trials)
    assert len(again) == len(single) == 100
    assert (again.groupby("participant_id").size() == 20).all()
    shares2, p_hyp2, p_part2 = _analysed(again)
    pd.testing.assert_frame_equal(shares2, shares)
    assert p_hyp2 == p_hyp and p_part2 == p_part
    (note,) = again.attrs["import_notes"]
    assert "p0 (1).csv rows 2-21" in note and "dropped" in note
    # a file that repeats its own rows (pasted twice) is read once as well
    (tmp_path / "answers" / "p0 (1).csv").unlink()
    text = (tmp_path / "answers" / "p1.csv").read_text().splitlines()
    (tmp_path / "answers" / "p1.csv").write_text("\n".join(text + text[1:4]) + "\n")
    with pytest.warns(UserWarning,
                      match=r"p1\.csv rows 22-24: 3 answer\(s\).*rows 2-4 of the same"):
        once = val.read_answers(tmp_path / "answers", trials)
    assert len(once) == 100 and _analysed(once)[1] == p_hyp


def test_repeated_qualtrics_response_id_is_counted_once(tmp_path, trials):
    small = trials.head(6)
    r1 = {1: val.ANSWERS[0], 2: val.ANSWERS[1], 5: val.ANSWERS[2]}
    r2 = {3: val.ANSWERS[0], 4: val.ANSWERS[2]}
    single = val.read_answers(_qualtrics_file(tmp_path / "one.csv", small,
                                              [("R_1", r1), ("R_2", r2)]), small)
    with pytest.warns(UserWarning, match=r"twice\.csv rows 6: 3 answer\(s\).*rows 4 of the same"):
        twice = val.read_answers(_qualtrics_file(tmp_path / "twice.csv", small,
                                                 [("R_1", r1), ("R_2", r2), ("R_1", r1)]), small)
    assert len(twice) == len(single) == 5
    cols = ["participant_id", "trial_id", "answer", "code"]
    pd.testing.assert_frame_equal(twice[cols], single[cols])
    # the same export twice in one folder: one copy counts
    folder = tmp_path / "folder"
    folder.mkdir()
    for name in ("export.csv", "export (1).csv"):
        _qualtrics_file(folder / name, small, [("R_1", r1), ("R_2", r2)])
    with pytest.warns(UserWarning, match=r"export\.csv rows 4-5: 5 answer\(s\) of 2 "):
        both = val.read_answers(folder, small)
    pd.testing.assert_frame_equal(both[cols], single[cols])


def test_conflicting_answers_of_one_participant_are_refused(tmp_path, trials):
    folder = _people(tmp_path / "answers", trials, n_people=2)
    copy = pd.read_csv(folder / "p0.csv")
    tid, given = copy.loc[2, "trial_id"], copy.loc[2, "answer"]  # line 4 of the file
    copy.loc[2, "answer"] = next(a for a in val.ANSWERS if a != given)
    copy.to_csv(folder / "p0 (1).csv", index=False)
    with pytest.raises(val.SurveyError,
                       match=rf"participant 'p0', trial '{tid}': conflicting answers "
                             rf"\(p0 \(1\)\.csv row 4: .*; p0\.csv row 4: "):
        val.read_answers(folder, trials)
    small = trials.head(4)
    export = _qualtrics_file(tmp_path / "export.csv", small,
                             [("R_1", {1: val.ANSWERS[0], 2: val.ANSWERS[1]}),
                              ("R_1", {1: val.ANSWERS[0], 2: val.ANSWERS[2]})])
    with pytest.raises(val.SurveyError, match=r"participant 'R_1', trial 't0002': conflicting "
                                              r"answers \(export\.csv row 4: 'Equally true'; "
                                              r"export\.csv row 5: 'More true for Sentence B'\)"):
        val.read_answers(export, small)


# --------------------------------------------------------------------------- the chapter's numbers

def test_trial_overview_counts_what_the_prose_quotes(contract, trials):
    _, table, _ = contract
    lists = val.make_lists(trials, n_lists=4, n_per_list=40, attention_per_100=5, seed=0)
    ov = val.trial_overview(table, trials, lists)
    texts = ov.texts(5)
    assert texts["n_trials"] == len(_study(trials)) and texts["attention_rate"] == "5"
    assert texts["n_check_items"] == (trials["kind"] == "attention").sum()
    assert texts["n_top_used"] == texts["n_bottom_used"] == 10 and texts["pairs_used"] == 12
    assert texts["n_per_list"] == 40 and texts["n_checks_per_list"] == 2
    assert (ov.checks_per_list == 2).all() and (ov.study_per_list == 40).all()
    assert ov.n_word_lists == texts["n_word_lists"] == table["proposer"].eq("log-odds").sum()
    # the fixture's word lists rank among the chosen ones: they are named as skipped
    assert len(ov.skipped) > 0 and f"{len(ov.skipped)} of them" in texts["skipped_txt"]
    assert not set(ov.skipped["hypothesis"]) & set(ov.study["hypothesis"])
    assert ov.notes()[0].startswith(f"{len(ov.skipped)} word-list hypotheses skipped")
    share = (ov.study["divergent_side"] == "A").mean()
    assert texts["share_div_a"] == f"{100 * share:.0f} %"
    # an older trial file: no attention checks, and a word list shown
    old = _study(trials).copy()
    word_list = table.loc[table["proposer"] == "log-odds", "hypothesis"].iloc[0]
    old.loc[old.index[0], "hypothesis"] = word_list
    old_lists = val.make_lists(old, n_lists=2, n_per_list=30, attention_per_100=0, seed=0)
    notes = val.trial_overview(table, old, old_lists).notes()
    assert notes[0].startswith("Warning: the trial file shows 1 word-list")
    assert notes[-1].startswith("This trial file has no attention checks")


def test_attention_and_test_texts_follow_the_answers(trials):
    flat = _flat_scores(trials)
    lists = val.make_lists(trials, n_lists=6, n_per_list=40, seed=1)
    answers = val.simulate_raters(trials, lists, flat, attention_correct=1.0, seed=1)
    mine = answers.index[(answers["participant_id"] == "sim-002")
                         & (answers["kind"] == "attention")][0]
    answers.loc[mine, "answer"] = val.ANSWERS[1]  # sim-002 fails one check
    report = val.attention_report(answers)
    kept, n_out = val.kept_answers(answers, exclude=True)
    assert n_out == 1 and "sim-002" not in set(kept["participant_id"])
    assert val.kept_answers(answers, exclude=False) == (answers, 0)
    texts = val.attention_texts(report, kept, n_out, exclude=True, max_failures=0)
    assert texts["n_all_people"] == 6 and texts["n_people"] == 5
    assert texts["n_failed_people"] == 1 and texts["max_fail_txt"] == "0 checks"
    assert texts["exclusion_txt"].startswith("They were excluded (1 person)")
    assert texts["n_answers"] == len(val.study_answers(kept))
    assert "kept" in val.attention_texts(report, answers, 0, exclude=False)["exclusion_txt"]
    assert val.attention_lines(report, 1, label="X").splitlines()[0] == (
        "X: 1 of 6 excluded for failing more than 0 attention check(s)")
    assert val.failed_attention_table(report).index.tolist() == ["sim-002"]
    by_group = val.group_shares(kept)
    assert np.allclose(by_group.sum(axis=1), 1)
    shares = val.share_texts(by_group)
    assert shares["top_div"] == f"{100 * by_group.loc['top', 'Divergent']:.0f} %"
    assert set(shares) == {"top_div", "top_con", "bottom_div", "bottom_con"}
    assert np.allclose(val.shares_percent(val.answer_shares(kept))[list(val.CODES)].sum(axis=1),
                       100, atol=0.2)
    test = val.top_bottom_test(kept, n_resamples=99)
    out = val.top_bottom_texts(test, {"difference": -0.0123, "p_value": 0.5})
    assert out["n_test_people"] == 5 and out["hyp_diff"] == "-1.2 percentage points"
    assert out["p_people"] == f"{test.p_value:.2g}"


def test_survey_texts_and_participant_text():
    texts = val.survey_texts(103)
    assert texts["minutes_per_list"] == val.expected_minutes(103)
    assert texts["contact_txt"] == f'"{val.DEFAULT_CONTACT}" (the default)'
    assert val.survey_texts(10, "Ann, ann@x.org")["contact_txt"] == '"Ann, ann@x.org"'
    text = val.participant_text(None, "Ann", 103)
    assert text.startswith("Information before consent") and "Ann" in text
    assert val.CONSENT_QUESTION in text and text.endswith(f"Practice: {val.PRACTICE}")


def test_chapter_results_are_what_the_schema_accepts(contract, trials):
    """The chapter's results dict, from one call, passes the declared schema."""
    from analysis.provenance import to_jsonable
    from analysis.results import validate_results

    _, table, _ = contract
    lists = val.make_lists(trials, n_lists=6, n_per_list=40, attention_per_100=5, seed=1)
    overview = val.trial_overview(table, trials, lists)
    answers = val.simulate_raters(trials, lists, _flat_scores(trials), attention_correct=1.0,
                                  seed=1)
    mine = answers.index[(answers["participant_id"] == "sim-002")
                         & (answers["kind"] == "attention")][0]
    answers.loc[mine, "answer"] = val.ANSWERS[1]  # sim-002 fails one check
    report = val.attention_report(answers)
    kept, n_out = val.kept_answers(answers, exclude=True)
    test = val.top_bottom_test(kept, n_resamples=99)
    hyp_test = val.hypothesis_label_test(kept, n_resamples=99)
    out = val.chapter_results(overview, trials, lists, Path("survey/index.html"), kept, report,
                              n_out, test, hyp_test, simulated=True, fixture=True)
    rec = validate_results("human_validation", to_jsonable(out))
    assert rec.simulated and rec.development_fixture and rec.answers_path is None
    assert rec.n_raters == 5 and rec.n_answers == len(val.study_answers(kept))
    assert rec.attention["n_excluded"] == 1 and rec.attention["n_flagged"] == 1
    assert rec.attention["failures_by_participant"]["sim-002"] == 1
    assert rec.survey["page"] == "survey/index.html" and not rec.survey["contact_set"]
    assert rec.survey["trials_per_list"] == 40 and rec.survey["attention_checks_per_list"] == 2
    assert rec.survey["n_trials"] == len(_study(trials))
    assert rec.skipped_word_list_hypotheses["n_skipped"] == len(overview.skipped)
    assert rec.participant_test == test.summary() and rec.hypothesis_test == hyp_test
    for group, shares in rec.shares_by_group.items():
        assert set(shares) == set(val.CODES) and abs(sum(shares.values()) - 1) < 1e-9
