// Survey logic (plain JavaScript, no libraries, no network unless post_url is set).
// Flow: information and consent -> participant id -> instructions -> practice (with
// feedback) -> trials -> download.
// Nothing is stored before the participant chooses "I agree"; "I do not agree" ends the
// page with nothing stored or sent. From then on every screen has a "Withdraw" button:
// after a confirmation it deletes this participant's saved progress, sends nothing and
// offers no download.
// The list comes from ?list=N (1-based) or is drawn at random; ?pid=X pre-fills the id.
// Progress is kept in localStorage, so a reload resumes where the participant stopped.
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("survey-data").textContent);
  var app = document.getElementById("app");
  var params = new URLSearchParams(window.location.search);
  var COLUMNS = ["survey_id", "participant_id", "list", "position", "trial_id", "kind",
                 "hypothesis", "sentence_a_id", "sentence_b_id", "divergent_side", "answer",
                 "rt_ms", "answered_at", "consented_at"];
  var state = null;       // progress and answers: exists only after consent and an id
  var consentedAt = null; // when "I agree" was chosen; never set when consent is refused
  var current = null;     // draws the screen the participant is on ("No, go back" returns to it)
  var ended = false;      // after a refusal or a withdrawal the page does nothing more
  var postTried = false;  // the answers are POSTed at most once per page load
  var postInFlight = false;
  var postAbort = null;
  var postStatus = {cls: "muted", text: ""};
  var chosen = null;      // {list} or {error}

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "onclick") node.addEventListener("click", attrs[k]);
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }
  // withdraw: whether the screen carries the "Withdraw" button (every screen between
  // consent and the end of the page).
  function show(nodes, withdraw) {
    app.textContent = "";
    var bar = withdraw ? el("div", {"class": "topbar"}, [
      el("button", {id: "withdraw", "class": "withdraw", type: "button", text: "Withdraw",
                    title: "Stop taking part and delete your answers", onclick: withdrawScreen})]) : null;
    app.appendChild(el("div", {"class": "card"}, [bar].concat(nodes)));
    // Never pre-focus an answer button: a highlighted answer would nudge the choice.
    var first = app.querySelector("input, button.primary");
    if (first) first.focus();
  }
  function storageKey(pid) { return "survey:" + DATA.survey_id + ":" + pid; }
  function save() {
    if (!state || ended) return;
    try { localStorage.setItem(storageKey(state.pid), JSON.stringify(state)); } catch (e) { /* private mode */ }
  }
  function load(pid) {
    try { return JSON.parse(localStorage.getItem(storageKey(pid)) || "null"); } catch (e) { return null; }
  }
  function forget(pid) {
    try { localStorage.removeItem(storageKey(pid)); } catch (e) { /* private mode */ }
  }
  function randomId() {
    var bytes = new Uint8Array(4);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    return "P-" + Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function listNames() { return Object.keys(DATA.lists).sort(function (a, b) { return a - b; }); }
  function chooseList() {
    var names = listNames();
    var asked = params.get("list");
    if (asked !== null) {
      if (!(asked in DATA.lists)) return {error: "List " + asked + " does not exist; this survey has lists " +
                                               names[0] + " to " + names[names.length - 1] + "."};
      return {list: asked};
    }
    var r = new Uint32Array(1);
    window.crypto.getRandomValues(r);
    return {list: names[r[0] % names.length]};
  }
  // The same rule as analysis.validation.expected_minutes: the list plus the practice
  // question at DATA.seconds_per_trial each, rounded up to whole minutes.
  function minutes(n) { return Math.max(1, Math.ceil((n + 1) * DATA.seconds_per_trial / 60)); }
  function section(pair) {
    return el("section", {}, [el("h2", {text: pair[0]}), el("p", {text: pair[1]})]);
  }

  // ---------------------------------------------------------------- consent

  function consentScreen() {
    current = consentScreen;
    var n = DATA.lists[chosen.list].length;
    var m = minutes(n);
    // The texts come from analysis.validation.CONSENT; the duration is this list's.
    var sections = DATA.consent.map(function (pair) {
      return [pair[0], pair[1].replace("{duration}", m + (m === 1 ? " minute" : " minutes"))
                              .replace("{n_questions}", String(n))];
    });
    show([
      el("h1", {text: DATA.title}),
      el("p", {"class": "lead", text: "Before you start, please read this short information about the study."}),
      el("div", {id: "consent"}, sections.map(section)),
      el("p", {text: DATA.consent_question}),
      el("div", {"class": "row"}, [
        el("button", {id: "consent-agree", type: "button", text: "I agree", onclick: function () {
          consentedAt = new Date().toISOString(); idScreen(); }}),
        el("button", {id: "consent-decline", type: "button", text: "I do not agree", onclick: declinedScreen})])
    ], false);
  }

  function declinedScreen() {
    ended = true;
    state = null;
    show([el("h1", {text: "Thank you"}),
          el("p", {id: "declined", text: "Thank you for your time. You chose not to take part, so nothing " +
                                         "has been saved or sent. You can close this page now."})], false);
  }

  // ---------------------------------------------------------------- withdrawal

  function withdrawScreen() {
    show([el("h1", {text: "Withdraw from the study?"}),
          el("p", {text: "If you withdraw, every answer you have given is deleted from this browser, " +
                         "nothing is sent, and no file is offered. This cannot be undone."}),
          el("div", {"class": "row"}, [
            el("button", {id: "withdraw-confirm", type: "button", "class": "danger",
                          text: "Yes, withdraw and delete my answers", onclick: withdraw}),
            el("button", {id: "withdraw-cancel", type: "button", text: "No, go back",
                          onclick: function () { current(); }})])], false);
  }

  function withdraw() {
    var pid = state ? state.pid : null;
    var maybeSent = !!(state && (state.sent || postInFlight));
    if (postAbort) { try { postAbort.abort(); } catch (e) { /* already finished */ } }
    if (pid) forget(pid);
    state = null;
    ended = true;
    var nodes = [el("h1", {text: "You have withdrawn"}),
                 el("p", {id: "withdrawn", text: "Your answers have been deleted from this browser and " +
                          (maybeSent ? "nothing more will be sent" : "nothing was sent") +
                          ". Thank you for your time; you can close this page now."})];
    if (maybeSent) {
      nodes.push(el("p", {id: "withdrawn-sent", text: "Your answers had already been sent to the research " +
        "team before you withdrew. To have them deleted there too, please contact " + DATA.contact +
        " and give your participant id, " + pid + "."}));
    }
    show(nodes, false);
  }

  // ---------------------------------------------------------------- survey

  function idScreen() {
    current = idScreen;
    var input = el("input", {type: "text", id: "pid", "aria-label": "participant id",
                             placeholder: "your participant id"});
    if (params.get("pid")) input.value = params.get("pid");
    var msg = el("p", {"class": "error", id: "pid-error"});
    show([
      el("h1", {text: DATA.title}),
      el("p", {text: "Please enter the participant id you were given. If you have none, leave the field " +
                     "empty and the page will make one for you."}),
      el("div", {"class": "row"}, [input,
        el("button", {id: "start", "class": "primary", text: "Start", onclick: function () {
          var pid = input.value.trim() || randomId();
          if (!/^[A-Za-z0-9_.\-]{1,64}$/.test(pid)) { msg.textContent = "Please use letters, digits, '.', '-' or '_' only."; return; }
          var saved = load(pid);
          // resume a saved session: same list, or any list when the URL names none
          var resume = saved && (saved.list === chosen.list || params.get("list") === null);
          state = resume ? saved :
            {pid: pid, list: chosen.list, index: 0, answers: [], practiced: false, consented_at: consentedAt};
          save();
          if (state.index >= DATA.lists[state.list].length) doneScreen();
          else if (state.practiced) trialScreen(); else instructionScreen();
        }})]),
      msg,
      el("p", {"class": "muted", text: "List " + chosen.list + " · " + DATA.lists[chosen.list].length + " questions"})
    ], true);
  }

  function instructionScreen() {
    current = instructionScreen;
    show([el("h1", {text: "Instructions"}), el("p", {id: "instructions", text: DATA.instructions}),
          el("p", {"class": "muted", text: "Keys 1, 2 and 3 choose the three answers."}),
          el("button", {id: "to-practice", "class": "primary", text: "Start the practice question",
                        onclick: practiceScreen})], true);
  }

  function itemNodes(item, onAnswer, heading, progress) {
    var buttons = DATA.answers.map(function (a, i) {
      return el("button", {"data-answer": a, "data-key": String(i + 1), text: a,
                           onclick: function () { onAnswer(a); }});
    });
    return [heading, progress,
      el("p", {"class": "muted", text: "For which sentence is this description more true?"}),
      el("div", {"class": "hypothesis", id: "hypothesis", text: item.hypothesis}),
      el("div", {"class": "sentences"}, [
        el("div", {"class": "sentence", id: "sentence-a"}, [el("b", {text: "Sentence A"}), el("span", {text: item.sentence_a})]),
        el("div", {"class": "sentence", id: "sentence-b"}, [el("b", {text: "Sentence B"}), el("span", {text: item.sentence_b})])]),
      el("div", {"class": "choices", id: "choices"}, buttons)];
  }

  function practiceScreen() {
    current = practiceScreen;
    var p = DATA.practice;
    show(itemNodes(p, function (a) {
      app.querySelectorAll("#choices button").forEach(function (b) { b.disabled = true; });
      var right = a === p.expected;
      app.querySelector(".card").appendChild(el("div", {"class": "feedback" + (right ? "" : " wrong"), id: "feedback"}, [
        el("p", {text: (right ? "Well done. " : "Not quite. ") + p.feedback}),
        el("button", {id: "to-trials", "class": "primary", text: "Begin the survey", onclick: function () {
          state.practiced = true; state.practice_answer = a; save(); trialScreen(); }})]));
      app.querySelector("#to-trials").focus();
    }, el("h1", {text: "Practice"}), null), true);
  }

  function trialScreen() {
    current = trialScreen;
    var ids = DATA.lists[state.list];
    if (state.index >= ids.length) { doneScreen(); return; }
    var t = DATA.trials[ids[state.index]];
    var shownAt = performance.now();
    var n = state.index + 1;
    var progress = el("div", {}, [
      el("div", {"class": "muted", id: "progress-text", text: "Question " + n + " of " + ids.length}),
      el("div", {"class": "progress", role: "progressbar", "aria-valuemin": "0",
                 "aria-valuemax": String(ids.length), "aria-valuenow": String(state.index)},
         [el("div", {style: "width:" + (100 * state.index / ids.length).toFixed(1) + "%"})])]);
    show(itemNodes(t, function (a) {
      if (ended) return;
      state.answers.push({survey_id: DATA.survey_id, participant_id: state.pid, list: state.list,
        position: n, trial_id: t.trial_id, kind: t.kind, hypothesis: t.hypothesis,
        sentence_a_id: t.sentence_a_id, sentence_b_id: t.sentence_b_id,
        divergent_side: t.divergent_side, answer: a, rt_ms: Math.round(performance.now() - shownAt),
        answered_at: new Date().toISOString(), consented_at: state.consented_at || ""});
      state.index += 1;
      save();
      trialScreen();
    }, null, progress), true);
  }

  function csvText() {
    function q(v) { return '"' + String(v === undefined || v === null ? "" : v).replace(/"/g, '""') + '"'; }
    var lines = [COLUMNS.join(",")];
    state.answers.forEach(function (r) { lines.push(COLUMNS.map(function (c) { return q(r[c]); }).join(",")); });
    return lines.join("\r\n") + "\r\n";
  }

  function download() {
    if (!state || ended) return;
    var blob = new Blob([csvText()], {type: "text/csv;charset=utf-8"});
    var a = el("a", {href: URL.createObjectURL(blob),
                     download: "answers_" + DATA.survey_id + "_" + state.pid + ".csv"});
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  }

  function doneScreen() {
    current = doneScreen;
    var status = el("p", {id: "post-status", "class": postStatus.cls, text: postStatus.text});
    show([el("h1", {text: "Thank you!"}),
          el("p", {text: "You answered " + state.answers.length + " questions. Please download your answers " +
                         "and send the file as instructed by the study team."}),
          el("div", {"class": "row"}, [el("button", {id: "download", "class": "primary",
                                                     text: "Download answers (CSV)", onclick: download})]),
          status], true);
    if (DATA.post_url && !postTried) post();
  }

  function setStatus(cls, text) {
    postStatus = {cls: cls, text: text};
    var node = document.getElementById("post-status");
    if (node) { node.className = cls; node.textContent = text; }
  }

  function post() {
    postTried = true;
    postInFlight = true;
    setStatus("muted", "Sending your answers...");
    var body = JSON.stringify({survey_id: DATA.survey_id, participant_id: state.pid,
                               csv: csvText(), answers: state.answers});
    postAbort = window.AbortController ? new AbortController() : null;
    // text/plain keeps this a "simple" cross-origin request (no CORS preflight); the
    // body is JSON. The server must answer with Access-Control-Allow-Origin.
    fetch(DATA.post_url, {method: "POST", headers: {"Content-Type": "text/plain;charset=UTF-8"}, body: body,
                          signal: postAbort ? postAbort.signal : undefined})
      .then(function (r) {
        postInFlight = false;
        if (!r.ok) throw new Error("the server answered " + r.status + " " + r.statusText);
        if (ended) return;
        state.sent = true;
        save();
        setStatus("muted", "Your answers were sent. Thank you.");
      })
      .catch(function (err) {
        postInFlight = false;
        if (ended) return;
        setStatus("error", "Sending your answers failed (" + err.message + "). Please download " +
                           "the CSV file above and send it to the study team.");
      });
  }

  document.addEventListener("keydown", function (e) {
    if (ended) return;
    var b = app.querySelector('#choices button[data-key="' + e.key + '"]');
    if (b && !b.disabled) b.click();
  });

  chosen = chooseList();
  if (chosen.error) {
    show([el("h1", {text: DATA.title}), el("p", {"class": "error", id: "error", text: chosen.error})], false);
  } else {
    consentScreen();
  }
})();
