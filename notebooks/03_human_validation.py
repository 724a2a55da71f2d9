# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Human validation: do people see what the verifier sees?
#
# The previous chapter ranked natural-language hypotheses ("expresses strong
# emotions") by their validity V: how much more often a language-model verifier
# finds the property in the sentences the model predicts the brain *worst* on
# (divergent) than in those it predicts *best* on (convergent). A verifier can be
# wrong, so the paper asked people. Each trial shows one hypothesis and two
# sentences, one divergent and one convergent, in random order as "Sentence A" and
# "Sentence B", and asks for which sentence the description is more true. If the
# ranking is right, people should pick the divergent sentence more often for the
# top hypotheses than for the bottom ones.
#
# This chapter is a kit and an analysis ({ref}`methods-validation`). It writes a survey that runs in
# any browser without a server, and a trial file for Qualtrics; it imports the
# answers from both; and it tests the top-versus-bottom difference with participants
# as the unit. Until human answers exist, **simulated raters** (the verifier's
# scores plus noise) fill the chapter, and everything made from them says so.

# %% tags=["parameters"]
answers_path: str | None = None  # None: simulated raters; else a CSV file or a folder of page CSVs / Qualtrics exports
answers_format = "auto"  # auto | page | qualtrics
trials_path: str | None = None  # the trial file the answers were collected with; None rebuilds it from seed
qualtrics_question: str | None = None  # the loop question's export tag ("Q1"); None finds it
n_top = 10  # hypotheses from the top of the ranking by V
n_bottom = 10  # ... and from the bottom
pairs_per_hypothesis = 20  # distinct divergent/convergent pairs per hypothesis
n_trials_per_participant = 100  # study trials per list (attention checks come in addition)
n_participants = 30  # trial lists to generate, and simulated raters
attention_per_100 = 3  # attention checks per 100 study trials in each list (at least one; 0: none)
exclude_failed_attention = True  # leave out participants who failed too many attention checks
max_attention_failures = 0  # ... more than this many
rater_noise = 0.15  # simulated raters: SD of the per-trial noise on the score difference
equal_band = 0.1  # simulated raters: |perceived difference| below this is "Equally true"
attention_correct = 0.95  # simulated raters: probability of passing an attention check
n_resamples = 9999  # permutations of the participant-level test
survey_post_url: str | None = None  # optional URL the survey page POSTs the answers to
survey_contact: str | None = None  # name and e-mail participants can write to; None: a placeholder
seed = 0
device = "auto"
results_dir = "_build/results"
profile = "default"

# %%
from IPython.display import display
from myst_nb import glue

from analysis import display as show
from analysis import plots, validation
from analysis.provenance import data_banner, portable_path, start_chapter

chapter = start_chapter(
    "human_validation",
    dict(answers_path=answers_path, answers_format=answers_format, trials_path=trials_path,
         qualtrics_question=qualtrics_question, n_top=n_top, n_bottom=n_bottom,
         pairs_per_hypothesis=pairs_per_hypothesis,
         n_trials_per_participant=n_trials_per_participant, n_participants=n_participants,
         attention_per_100=attention_per_100, exclude_failed_attention=exclude_failed_attention,
         max_attention_failures=max_attention_failures, rater_noise=rater_noise,
         equal_band=equal_band, attention_correct=attention_correct, n_resamples=n_resamples,
         survey_post_url=survey_post_url, survey_contact=survey_contact, seed=seed,
         device=device, profile=profile),
    results_dir=results_dir, device=device,
)
glue = chapter.glue
plots.use_book_style()
simulated = answers_path is None

# %%
contract = validation.load_contract(chapter.results_dir)
sentences, table, scores = contract.sentences, contract.table, contract.scores
fixture = validation.is_development_fixture(contract)
if not fixture:
    display(show.fragment(data_banner(contract.meta.get("dataset"))))
if fixture or simulated:
    display(show.fragment(validation.banner_html(simulated, fixture)))
print(f"{len(table)} hypotheses, {len(sentences)} selected sentences "
      f"({(sentences['set'] == 'divergent').sum()} divergent)")

# %% [markdown]
# ## The trials
#
# People can only judge properties of a sentence. The log-odds proposer's hypotheses
# are word lists ("contains words such as ..."), so they are never shown: the
# hypothesis table holds {glue:text}`n_word_lists` of them. {glue:text}`skipped_txt`
# The trials use the top {glue:text}`n_top_used` and bottom {glue:text}`n_bottom_used`
# remaining hypotheses by V. For each, {glue:text}`pairs_used` distinct pairs of one divergent
# and one convergent sentence are drawn from the {glue:text}`split_used` sentences (the
# validation sentences are used when they hold at least 5 sentences of each group,
# since they took no part in proposing or ranking the hypotheses; otherwise the
# research sentences). Which sentence is shown as "Sentence A" is drawn at random for each trial
# and recorded: {glue:text}`share_div_a` of the trials show the divergent sentence
# as A. Each participant gets a list of {glue:text}`n_per_list` trials drawn at
# random (without repeats) from the {glue:text}`n_trials` trials, after the
# instructions and one practice item.
#
# **Attention checks.** {glue:text}`n_checks_per_list` of the list's items
# ({glue:text}`attention_rate` per 100 study trials, at least one) are attention
# checks, put at seeded positions spread over the list. Each is a description that
# clearly fits one of two sentences written for this purpose ("mentions a dog": a
# sentence about a dog and one without any), never a sentence of the study; the
# right answer is recorded in the trial table (`kind = "attention"`, `expected`).
# They look like every other question, and the instructions say that a few easy
# checks are included. {glue:text}`n_check_items` such checks exist; the analysis
# counts each participant's failed checks and keeps them out of every share and
# test.

# %%
if trials_path is not None:
    trials = validation.read_trials(trials_path)
else:
    trials = validation.make_trials(table, sentences, n_top=n_top, n_bottom=n_bottom,
                                    pairs_per_hypothesis=pairs_per_hypothesis, seed=seed)
lists = validation.make_lists(trials, n_lists=n_participants,
                              n_per_list=n_trials_per_participant,
                              attention_per_100=attention_per_100, seed=seed)

# %%
overview = validation.trial_overview(table, trials, lists, n_top=n_top, n_bottom=n_bottom)
for k, v in overview.texts(attention_per_100).items():
    glue(k, v)
for line in overview.notes():
    print(line)
trials[["trial_id", "kind", "hypothesis", "group", "divergent_side", "sentence_a",
        "sentence_b"]].iloc[[0, 1, 2, len(trials) - 1]]

# %% [markdown]
# ## The survey kit
#
# The chapter writes a **web survey** into `survey/index.html` of the results folder:
# one HTML file with its script, style and trials inside, which needs no server and
# no network (it works when opened from disk). A participant enters or receives an
# id, reads the instructions, answers the practice item (with feedback), then the
# trials of one list, one at a time, with a progress bar (keys 1–3 also answer).
# At the end the page offers the answers as a CSV file to download; when
# `survey_post_url` is set, it also sends them there and tells the participant if
# that failed (the download stays available). A reload resumes where the
# participant stopped.
#
# **Information and consent come first.** Before anything else the page says, in
# plain words, what the study is for (judging which of two sentences a description
# fits, for research on language models and the brain), how long the list takes
# (about {glue:text}`minutes_per_list` minutes here: {glue:text}`seconds_per_trial`
# seconds per question, computed by the page from the length of the list it
# shows), that taking part is voluntary, how to stop (the "Withdraw" button on
# every later screen, or closing the page), what is stored (the answers, the list
# number, the participant id, when they agreed and answered, and how long each
# answer took; no name, IP address or location) and where (the CSV they download
# and, when set, `survey_post_url`), and whom to contact: {glue:text}`contact_txt`
# (set `survey_contact` to your name and e-mail address before you send the link).
# "I do not agree" ends the page with a thank-you and stores nothing: no progress in
# the browser, no request, no file. Nothing is written to the browser before
# "I agree". "Withdraw" asks for confirmation, then deletes the participant's saved
# progress from the browser, sends nothing, offers no file and shows a closing
# message; if the answers had already been sent, it tells them to write to the
# contact with their participant id. The page records no IP address, but a server
# that receives the POST sees one: configure it not to log addresses. Your ethics
# board may need its own wording; the page's text is in
# `analysis/resources/survey/survey.js`.
#
# <a href="../survey/index.html?list=1" target="_blank">Open the survey page
# (list 1)</a> — in this book it is copied next to the chapters.
#
# **Which list?** `index.html?list=3` shows list 3 (lists are numbered from 1);
# without `list` the page draws one at random and records it. `&pid=ABC` fills in
# the participant id. Host the file on any static web server (or send it to
# participants) and give each participant a link with their own list number.
#
# **Qualtrics.** `survey/qualtrics_loop_merge.csv` has one row per trial (= loop).
# Create a block with one multiple-choice question (choices, in this order: "More
# true for Sentence A", "Equally true", "More true for Sentence B") whose text pipes
# `${lm://Field/1}` (the hypothesis), `${lm://Field/2}` (Sentence A) and
# `${lm://Field/3}` (Sentence B). Turn on *Loop & Merge* for the block, choose a
# static loop, and paste or import the CSV's columns without its header row as
# Field 1–8 (fields 4–8 hold the trial id, the divergent side, the sentence ids and
# the kind of trial, and are not shown); keep the row order, because loop *k* is
# row *k*. The attention checks are the last {glue:text}`n_check_items` loops.
# Under *Randomize loop order* present {glue:text}`n_per_list` plus
# {glue:text}`n_checks_per_list` of the loops (Qualtrics then draws the checks at
# random with the rest, so the number each person sees varies; the analysis counts
# failures over the checks each person saw). Put a consent question (the page's
# information, printed below, with "I agree" / "I do not agree" and a skip to the
# end of the survey on "I do not agree"), the instructions and the practice item in
# blocks before it, and turn off the collection of IP address and location
# (*Anonymize responses*). Export the responses as CSV with "Use choice text"; the import below
# reads loop *k*'s answer from column `k_Q1` and takes `trials.csv` (the full trial
# table, hidden columns included) as the key. Every trial set the chapter writes is
# also kept as `survey/archive/<survey id>/trials.csv`; pass it as `trials_path`
# when you analyse answers after the hypothesis files have changed (the page's
# CSV records the survey id, and a mismatch is an error, never a silent
# re-mapping).

# %%
kit = validation.write_survey_kit(chapter.results_dir / "survey", trials, lists,
                                  post_url=survey_post_url, contact=survey_contact)
page = kit["page"]
list_length = int(lists.groupby("list").size().max())
for k, v in validation.survey_texts(list_length, survey_contact).items():
    glue(k, v)
print("\n".join(validation.survey_kit_summary(kit, trials)))
print("\n" + validation.participant_text(survey_post_url, survey_contact, list_length))

# %% [markdown]
# ## The answers
#
# Answers come from the page's CSV files and from Qualtrics exports (a file or a
# folder of both; `answers_format="auto"` tells them apart by their header rows).
# Identifying columns of an export (IP address, latitude and longitude, recipient
# name and e-mail, external reference, worker ids and the like) are dropped while
# reading, before anything else, and are never written. Each answer becomes
# *Divergent*, *Equal* or *Convergent* through the side on which the divergent
# sentence was shown. Without answers, each simulated rater *i* answers list *i*:
# they perceive the verifier's score of the divergent sentence minus that of the
# convergent one, plus a constant personal leaning and noise (SD
# {glue:text}`rater_noise_txt`), and answer "Equally true" within
# ±{glue:text}`equal_band_txt`; they pass each attention check with probability
# {glue:text}`attention_correct_txt`, so some fail one and the exclusion below is
# exercised.

# %%
if simulated:
    answers = validation.simulate_raters(trials, lists, scores, rater_noise=rater_noise,
                                         equal_band=equal_band,
                                         attention_correct=attention_correct, seed=seed)
else:
    answers = validation.read_answers(answers_path, trials, answers_format=answers_format,
                                      question=qualtrics_question)
validation.write_answers(answers, chapter.results_dir / "human_validation_answers.csv")
label = "SIMULATED raters" if simulated else "Human raters"
for k, v in dict(rater_noise_txt=rater_noise, equal_band_txt=equal_band,
                 attention_correct_txt=attention_correct).items():
    glue(k, f"{v:g}")
print(f"{label}: {len(answers)} answers (attention checks included) from "
      f"{answers['participant_id'].nunique()} raters")

# %% [markdown]
# ## Attention checks
#
# {glue:text}`n_checked_people` of the {glue:text}`n_all_people`
# {glue:text}`raters_word` answered at least one attention check; the table lists
# those who failed one (every participant's counts are in the results file).
# {glue:text}`n_failed_people`
# failed more than {glue:text}`max_fail_txt`. {glue:text}`exclusion_txt` Attention
# checks never enter the shares or the tests below.

# %%
report = validation.attention_report(answers, max_failures=max_attention_failures)
analysed, n_excluded = validation.kept_answers(answers, exclude_failed_attention,
                                               max_attention_failures)
attention = (exclude_failed_attention, max_attention_failures)
for k, v in validation.attention_texts(report, analysed, n_excluded, *attention,
                                       simulated=simulated).items():
    glue(k, v)
print(validation.attention_lines(report, n_excluded, *attention, label=label))
show.table(validation.failed_attention_table(report),
           caption=f"{label}: participants who failed an attention check")

# %% [markdown]
# ## Divergent, equal or convergent, per hypothesis
#
# {glue:text}`n_answers` answers to study trials from {glue:text}`n_people`
# {glue:text}`raters_word`.
# Over the top hypotheses, {glue:text}`top_div` of the answers pick the divergent
# sentence ({glue:text}`top_con` the convergent one); over the bottom hypotheses,
# {glue:text}`bottom_div` ({glue:text}`bottom_con`).

# %%
shares = validation.answer_shares(analysed)
by_group = validation.group_shares(analysed)
for k, v in validation.share_texts(by_group).items():
    glue(k, v)
show.table(validation.shares_percent(shares), precision=1,
           caption=f"{label}: % of answers per hypothesis (n = answers)")

# %%
fig = plots.plot_answer_shares(shares, simulated=simulated,
                               title="% Divergent / Equal / Convergent answers per hypothesis")

# %% [markdown]
# ## Top versus bottom hypotheses, with participants as the unit
#
# Answers of one person are not independent (people differ in how readily they
# call two sentences equal, or lean to one side), so the test treats participants as
# the unit. For each participant we take their share of Divergent answers on top
# trials minus that on bottom trials; under the null hypothesis that answers do not
# depend on the hypothesis group, each difference is symmetric around zero, and the
# sign-flip permutation test (`scipy.stats.permutation_test`, two-sided) asks
# whether the mean difference is larger than sign flips produce. Over
# {glue:text}`n_test_people` {glue:text}`raters_word`, the mean difference is
# {glue:text}`mean_diff` (95 % bootstrap interval {glue:text}`diff_ci`), p =
# {glue:text}`p_people`. This test generalises to other people judging *these*
# trials; a second test with hypotheses as the unit (permuting which hypotheses
# are called top) asks whether it generalises to other hypotheses of the same
# ranks: difference {glue:text}`hyp_diff`, p = {glue:text}`p_hyp`. A simulation in
# the tests (`tests/test_validation.py`) checks that the participant test rejects at
# the nominal 5 % rate when answers ignore the hypothesis, and detects raters that
# do not.

# %%
test = validation.top_bottom_test(analysed, n_resamples=n_resamples, seed=seed)
hyp_test = validation.hypothesis_label_test(analysed, n_resamples=n_resamples, seed=seed)
for k, v in validation.top_bottom_texts(test, hyp_test).items():
    glue(k, v)
fig = plots.plot_participant_differences(validation.participant_differences(analysed), test,
                                         label=label, seed=seed)

# %%
results = validation.chapter_results(
    overview, trials, lists, page.relative_to(chapter.results_dir), analysed, report,
    n_excluded, test, hyp_test, simulated=simulated, fixture=fixture, answers_path=answers_path,
    contact=survey_contact, exclude_failed=exclude_failed_attention,
    max_failures=max_attention_failures)
path = chapter.save(**results)
print(f"results written to {portable_path(path)}")

# %% [markdown]
# ## Provenance

# %% tags=["hide-input"]
chapter.provenance_table()
