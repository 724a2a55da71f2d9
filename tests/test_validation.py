"""Human validation: trials, survey page (in a real browser), imports, privacy, the test."""

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
    write_contract_fixture(folder, n_per_group=16, n_hypotheses=24, seed=1)
    return val.load_contract(folder)


@pytest.fixture(scope="module")
def trials(contract):
    sentences, table, _ = contract
    return val.make_trials(table, sentences, pairs_per_hypothesis=12, seed=3)


# --------------------------------------------------------------------------- trials

def test_trials_pair_one_divergent_and_one_convergent_sentence(contract, trials):
    sentences, table, _ = contract
    assert val.make_trials(table, sentences, pairs_per_hypothesis=12, seed=3).equals(trials)
    groups = sentences.set_index("sentence_id")["group"]
    assert (groups[trials["divergent_id"]].to_numpy() == "divergent").all()
    assert (groups[trials["convergent_id"]].to_numpy() == "convergent").all()
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
    ranks = trials.groupby("group")["rank"].agg(["min", "max"])
    assert ranks.loc["top", "max"] == 10 and ranks.loc["bottom", "min"] == 15
    assert (trials["split"] == "validation").all()
    assert list(trials["loop"]) == list(range(1, len(trials) + 1))


def test_small_validation_split_falls_back_to_research(contract):
    sentences, table, _ = contract
    few = sentences[(sentences["role"] == "research") | (sentences.index % 8 == 0)]
    assert val.choose_split(few, min_per_group=5) == "research"
    trials = val.make_trials(table, few, n_top=3, n_bottom=3, pairs_per_hypothesis=4)
    assert (trials["split"] == "research").all() and trials["hypothesis"].nunique() == 6


def test_lists_are_seeded_random_draws_without_repeats(trials):
    lists = val.make_lists(trials, n_lists=5, n_per_list=100, seed=2)
    assert lists.equals(val.make_lists(trials, n_lists=5, n_per_list=100, seed=2))
    assert not lists.equals(val.make_lists(trials, n_lists=5, n_per_list=100, seed=3))
    per = lists.groupby("list")["trial_id"]
    assert (per.size() == 100).all() and (per.nunique() == 100).all()
    assert set(lists["trial_id"]) <= set(trials["trial_id"])


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
    page = val.write_survey_page(tmp_path / "index.html", nasty, lists).read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "@import" not in page and "/*__" not in page
    assert page.count("</script>") == 2  # the JSON block and the code, nothing from the data
    blob = re.search(r'<script type="application/json" id="survey-data">(.*?)</script>', page,
                     re.S).group(1)
    data = json.loads(blob)
    assert data["trials"]["t0001"]["sentence_a"] == nasty.loc[0, "sentence_a"]
    assert data["lists"]["2"] == list(lists.loc[lists["list"] == 2, "trial_id"])
    assert data["survey_id"] == val.survey_id(nasty)


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


def test_browser_participant_completes_survey_and_csv_round_trips(tmp_path, trials, browser):
    lists = val.make_lists(trials, n_lists=3, n_per_list=6, seed=5)
    page_path = val.write_survey_page(tmp_path / "survey" / "index.html", trials, lists,
                                      post_url="http://survey.invalid/submit")
    posted = []

    def fake_server(route):
        posted.append(route.request.post_data)
        route.fulfill(status=200, body="ok", headers={"Access-Control-Allow-Origin": "*"})

    page = browser.new_page(accept_downloads=True)
    errors, requests = [], []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.route("http://survey.invalid/**", fake_server)
    page.goto(page_path.as_uri() + "?list=2&pid=tester-7")
    page.click("#start")
    assert "Sentence A" in page.inner_text("#instructions")
    page.click("#to-practice")
    assert page.inner_text("#hypothesis") == val.PRACTICE["hypothesis"]
    page.click(f'button[data-answer="{val.ANSWERS[2]}"]')  # wrong on purpose
    assert "Not quite" in page.inner_text("#feedback")
    page.click("#to-trials")
    clicks = _clicks(6)
    expected_ids = list(lists.loc[lists["list"] == 2, "trial_id"])
    for i, answer in enumerate(clicks):
        if i == 3:  # a reload resumes after the answers given so far, practice done
            page.reload()
            page.click("#start")
        assert page.inner_text("#progress-text") == f"Question {i + 1} of 6"
        shown = trials.set_index("trial_id").loc[expected_ids[i]]
        assert page.inner_text("#sentence-a span") == shown["sentence_a"]
        page.click(f'button[data-answer="{answer}"]')
    page.wait_for_selector("#download")
    page.wait_for_function("document.getElementById('post-status').textContent.includes('sent')")
    with page.expect_download() as info:
        page.click("#download")
    csv_path = tmp_path / "downloaded.csv"
    info.value.save_as(csv_path)
    assert errors == []
    # nothing was fetched from anywhere but the file itself and the configured POST URL
    assert {u.split("?")[0] for u in requests} <= {page_path.as_uri(),
                                                   "http://survey.invalid/submit"}

    answers = val.read_page_answers(csv_path, trials)
    assert list(answers["answer"]) == clicks
    assert list(answers["trial_id"]) == expected_ids
    assert set(answers["participant_id"]) == {"tester-7"} and set(answers["list"]) == {2}
    side = trials.set_index("trial_id").loc[expected_ids, "divergent_side"].to_numpy()
    assert list(answers["divergent_side"]) == list(side)
    assert list(answers["code"]) == list(val.code_answers(clicks, side))
    body = json.loads(posted[0])
    assert body["participant_id"] == "tester-7" and body["csv"] == csv_path.read_bytes().decode()


def test_browser_random_list_bad_list_and_failed_post(tmp_path, trials, browser):
    lists = val.make_lists(trials, n_lists=3, n_per_list=2, seed=5)
    page_path = val.write_survey_page(tmp_path / "index.html", trials, lists,
                                      post_url="http://survey.invalid/submit")
    page = browser.new_page(accept_downloads=True)
    page.route("http://survey.invalid/**", lambda route: route.fulfill(status=500, body="no"))
    page.goto(page_path.as_uri() + "?list=9")
    assert "List 9 does not exist" in page.inner_text("#error")
    page.goto(page_path.as_uri())  # no list: one is drawn; no pid: one is generated
    page.click("#start")
    page.click("#to-practice")
    page.click(f'button[data-answer="{val.ANSWERS[0]}"]')
    assert "Well done" in page.inner_text("#feedback")
    page.click("#to-trials")
    for _ in range(2):
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
    for rid, answers in responses.items():
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


def _page_csv(path, trials, answers, edit=None):
    rows = []
    for i, (tid, answer) in enumerate(answers):
        t = trials.set_index("trial_id").loc[tid]
        rows.append({"survey_id": val.survey_id(trials), "participant_id": "p1", "list": 1,
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


# --------------------------------------------------------------------------- chapter

def test_chapter_with_qualtrics_answers_keeps_no_identifying_data(tmp_path, trials):
    from analysis import run

    results = tmp_path / "results"
    write_contract_fixture(results, n_per_group=16, seed=1)
    trials_file = val.write_trials(trials, tmp_path / "deployed_trials.csv")
    top = list(trials.loc[trials["group"] == "top", "loop"][::15])  # 8 loops, 8 hypotheses
    bottom = list(trials.loc[trials["group"] == "bottom", "loop"][::15])
    responses = {f"R_{i}": {k: val.ANSWERS[(i + j) % 3] for j, k in enumerate(top + bottom)}
                 for i in range(3)}
    export = _qualtrics_file(tmp_path / "export.csv", trials, responses)
    params = dict(answers_path=str(export), trials_path=str(trials_file), n_participants=3,
                  n_trials_per_participant=10, n_resamples=99, results_dir=str(results),
                  device="cpu", profile="quick")
    run.run_chapter("human_validation", run.chapters()["human_validation"], params,
                    tmp_path / "out", log=lambda *_: None)
    saved = json.loads((results / "human_validation.json").read_text())["results"]
    assert saved["simulated"] is False and saved["n_answers"] == 48 and saved["n_raters"] == 3
    assert saved["participant_test"]["n_participants"] == 3
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
