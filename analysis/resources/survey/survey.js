// Survey logic (plain JavaScript, no libraries, no network unless post_url is set).
// Flow: participant id -> instructions -> practice (with feedback) -> trials -> download.
// The list comes from ?list=N (1-based) or is drawn at random; ?pid=X pre-fills the id.
// Progress is kept in localStorage, so a reload resumes where the participant stopped.
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("survey-data").textContent);
  var app = document.getElementById("app");
  var params = new URLSearchParams(window.location.search);
  var COLUMNS = ["survey_id", "participant_id", "list", "position", "trial_id", "hypothesis",
                 "sentence_a_id", "sentence_b_id", "divergent_side", "answer", "rt_ms",
                 "answered_at"];
  var state = null;

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
  function show(nodes) {
    app.textContent = "";
    app.appendChild(el("div", {"class": "card"}, nodes));
    // Never pre-focus an answer button: a highlighted answer would nudge the choice.
    var first = app.querySelector("input, button.primary");
    if (first) first.focus();
  }
  function storageKey(pid) { return "survey:" + DATA.survey_id + ":" + pid; }
  function save() {
    try { localStorage.setItem(storageKey(state.pid), JSON.stringify(state)); } catch (e) { /* private mode */ }
  }
  function load(pid) {
    try { return JSON.parse(localStorage.getItem(storageKey(pid)) || "null"); } catch (e) { return null; }
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

  function startScreen() {
    var chosen = chooseList();
    if (chosen.error) { show([el("h1", {text: DATA.title}), el("p", {"class": "error", id: "error", text: chosen.error})]); return; }
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
            {pid: pid, list: chosen.list, index: 0, answers: [], practiced: false};
          save();
          if (state.index >= DATA.lists[state.list].length) doneScreen();
          else if (state.practiced) trialScreen(); else instructionScreen();
        }})]),
      msg,
      el("p", {"class": "muted", text: "List " + chosen.list + " · " + DATA.lists[chosen.list].length + " questions"})
    ]);
  }

  function instructionScreen() {
    show([el("h1", {text: "Instructions"}), el("p", {id: "instructions", text: DATA.instructions}),
          el("p", {"class": "muted", text: "Keys 1, 2 and 3 choose the three answers."}),
          el("button", {id: "to-practice", "class": "primary", text: "Start the practice question",
                        onclick: practiceScreen})]);
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
    var p = DATA.practice;
    show(itemNodes(p, function (a) {
      app.querySelectorAll("#choices button").forEach(function (b) { b.disabled = true; });
      var right = a === p.expected;
      app.querySelector(".card").appendChild(el("div", {"class": "feedback" + (right ? "" : " wrong"), id: "feedback"}, [
        el("p", {text: (right ? "Well done. " : "Not quite. ") + p.feedback}),
        el("button", {id: "to-trials", "class": "primary", text: "Begin the survey", onclick: function () {
          state.practiced = true; state.practice_answer = a; save(); trialScreen(); }})]));
      app.querySelector("#to-trials").focus();
    }, el("h1", {text: "Practice"}), null));
  }

  function trialScreen() {
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
      state.answers.push({survey_id: DATA.survey_id, participant_id: state.pid, list: state.list,
        position: n, trial_id: t.trial_id, hypothesis: t.hypothesis, sentence_a_id: t.sentence_a_id,
        sentence_b_id: t.sentence_b_id, divergent_side: t.divergent_side, answer: a,
        rt_ms: Math.round(performance.now() - shownAt), answered_at: new Date().toISOString()});
      state.index += 1;
      save();
      trialScreen();
    }, null, progress));
  }

  function csvText() {
    function q(v) { return '"' + String(v === undefined || v === null ? "" : v).replace(/"/g, '""') + '"'; }
    var lines = [COLUMNS.join(",")];
    state.answers.forEach(function (r) { lines.push(COLUMNS.map(function (c) { return q(r[c]); }).join(",")); });
    return lines.join("\r\n") + "\r\n";
  }

  function download() {
    var blob = new Blob([csvText()], {type: "text/csv;charset=utf-8"});
    var a = el("a", {href: URL.createObjectURL(blob),
                     download: "answers_" + DATA.survey_id + "_" + state.pid + ".csv"});
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  }

  function doneScreen() {
    var status = el("p", {id: "post-status", "class": "muted"});
    show([el("h1", {text: "Thank you!"}),
          el("p", {text: "You answered " + state.answers.length + " questions. Please download your answers " +
                         "and send the file as instructed by the study team."}),
          el("div", {"class": "row"}, [el("button", {id: "download", "class": "primary",
                                                     text: "Download answers (CSV)", onclick: download})]),
          status]);
    if (DATA.post_url) post(status);
  }

  function post(status) {
    status.textContent = "Sending your answers...";
    var body = JSON.stringify({survey_id: DATA.survey_id, participant_id: state.pid,
                               csv: csvText(), answers: state.answers});
    // text/plain keeps this a "simple" cross-origin request (no CORS preflight); the
    // body is JSON. The server must answer with Access-Control-Allow-Origin.
    fetch(DATA.post_url, {method: "POST", headers: {"Content-Type": "text/plain;charset=UTF-8"}, body: body})
      .then(function (r) {
        if (!r.ok) throw new Error("the server answered " + r.status + " " + r.statusText);
        status.className = "muted"; status.textContent = "Your answers were sent. Thank you.";
      })
      .catch(function (err) {
        status.className = "error";
        status.textContent = "Sending your answers failed (" + err.message + "). Please download " +
                             "the CSV file above and send it to the study team.";
      });
  }

  document.addEventListener("keydown", function (e) {
    var b = app.querySelector('#choices button[data-key="' + e.key + '"]');
    if (b && !b.disabled) b.click();
  });
  startScreen();
})();
