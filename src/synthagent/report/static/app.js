/* synthagent report: filters for the lists, the grid switch on the overview. Plain DOM, no libraries.
   Data only ever reaches the page through textContent and DOM properties, never as HTML. */
(function () {
  "use strict";
  var PAGE_SIZE = 100;
  var SECTIONS = ["forbidden", "subgoals", "interactions"];

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function $(id) { return document.getElementById(id); }
  function runHref(key, index) { return "run.html?t=" + encodeURIComponent(key) + "&r=" + index; }
  function add(parent) {
    for (var i = 1; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined || c === "") continue;
      parent.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
    }
    return parent;
  }
  var SHOW = 2000;
  /* Long values: the first SHOW characters, the rest behind an expander that fills itself when opened, so a
     1 MB unbroken string costs no layout until someone asks for it. */
  function longText(tag, cls, text) {
    text = text === null || text === undefined ? "" : String(text);
    if (text.length <= SHOW) return el(tag, cls, text);
    var box = el("div", "long");
    box.appendChild(el(tag, cls, text.slice(0, SHOW)));
    var d = el("details", "more"), rest = el(tag, cls + " rest");
    d.appendChild(el("summary", null, "show all " + text.length.toLocaleString("en") + " characters"));
    d.appendChild(rest);
    d.addEventListener("toggle", function () { if (d.open && !rest.firstChild) rest.textContent = text.slice(SHOW); });
    box.appendChild(d);
    return box;
  }
  function fmt(x, d) { return x === null || x === undefined ? "—" : Number(x).toFixed(d); }
  function rewardColor(v) {
    if (v === null || v === undefined) return "#f1f3f5";
    var stops = [[0, [248, 215, 210]], [0.5, [253, 236, 200]], [1, [200, 234, 206]]];
    v = Math.min(1, Math.max(0, v));
    for (var i = 0; i < stops.length - 1; i++) {
      var a = stops[i], b = stops[i + 1];
      if (v <= b[0]) {
        var f = (v - a[0]) / (b[0] - a[0]);
        return "rgb(" + a[1].map(function (x, j) { return Math.round(x + (b[1][j] - x) * f); }).join(",") + ")";
      }
    }
    return "rgb(200,234,206)";
  }
  function readHash() {
    var out = {};
    new URLSearchParams(location.hash.replace(/^#/, "")).forEach(function (v, k) { out[k] = v; });
    return out;
  }
  function writeHash(state) {
    var p = new URLSearchParams();
    Object.keys(state).forEach(function (k) { if (state[k] !== "" && state[k] !== undefined) p.set(k, state[k]); });
    var h = p.toString();
    try { history.replaceState(null, "", h ? "#" + h : location.pathname); } catch (e) { /* some file:// setups */ }
  }
  function fillSelect(sel, values, label) {
    values.forEach(function (v) {
      var o = el("option", null, label ? label(v) : v);
      o.value = String(v);
      sel.appendChild(o);
    });
  }

  /* ------------------------------------------------------------------------------------- list pages */

  function listPage(kind) {
    var D = window.SA_DATA;
    if (!D) { $("count").textContent = "data/index.js did not load"; return; }
    var tasks = D.tasks, runs = D.runs;
    var ids = kind === "runs"
      ? ["q", "domain", "policy", "difficulty", "rmin", "rmax", "outcome", "failed", "item", "sort"]
      : ["q", "domain", "difficulty", "sort"];
    var controls = {};
    ids.forEach(function (k) { controls[k] = $("f-" + k); });

    var domains = [], diffs = [];
    tasks.forEach(function (t) {
      if (domains.indexOf(t[1]) < 0) domains.push(t[1]);
      if (diffs.indexOf(t[2]) < 0) diffs.push(t[2]);
    });
    domains.sort(); diffs.sort(function (a, b) { return a - b; });
    fillSelect(controls.domain, domains);
    fillSelect(controls.difficulty, diffs, function (d) { return "difficulty " + d; });
    if (controls.policy) fillSelect(controls.policy, D.policies);

    // Per-task aggregates for the task list.
    var taskStats = tasks.map(function () { return { n: 0, sum: 0, scored: 0, ok: 0 }; });
    runs.forEach(function (r) {
      var s = taskStats[r[0]];
      s.n++;
      if (r[3] !== null) { s.scored++; s.sum += r[3]; s.ok += r[4]; }
    });

    var page = 0;
    var state = readHash();
    ids.forEach(function (k) { if (state[k] !== undefined) controls[k].value = state[k]; });
    page = Math.max(0, parseInt(state.page || "0", 10) || 0);

    function current() {
      var s = {};
      ids.forEach(function (k) { s[k] = controls[k].value.trim(); });
      return s;
    }

    function matchRuns(s) {
      var q = s.q.toLowerCase(), item = s.item.toLowerCase();
      var pol = s.policy === "" ? -1 : D.policies.indexOf(s.policy);
      var rmin = s.rmin === "" ? null : parseFloat(s.rmin), rmax = s.rmax === "" ? null : parseFloat(s.rmax);
      var sec = SECTIONS.indexOf(s.failed);
      var out = [];
      for (var i = 0; i < runs.length; i++) {
        var r = runs[i], t = tasks[r[0]];
        if (s.domain && t[1] !== s.domain) continue;
        if (pol >= 0 && r[1] !== pol) continue;
        if (s.difficulty && String(t[2]) !== s.difficulty) continue;
        if (rmin !== null && !(r[3] !== null && r[3] >= rmin - 1e-9)) continue;
        if (rmax !== null && !(r[3] !== null && r[3] <= rmax + 1e-9)) continue;
        if (s.outcome === "pass" && r[4] !== 1) continue;
        if (s.outcome === "fail" && r[4] !== 0) continue;
        if (s.outcome === "unscored" && r[4] !== null) continue;
        var f = r[7];
        if (s.failed === "none" && f.length) continue;
        if (s.failed === "any" && !f.length) continue;
        if (sec >= 0 && !f.some(function (x) { return x[1] === sec; })) continue;
        if (item && !f.some(function (x) {
          return x[0].toLowerCase().indexOf(item) >= 0 || D.criteria[x[2]].toLowerCase().indexOf(item) >= 0;
        })) continue;
        if (q && (t[3] + " " + t[0] + " " + D.policies[r[1]] + " " + t[1]).toLowerCase().indexOf(q) < 0) continue;
        out.push(i);
      }
      if (s.sort) {
        var sign = s.sort === "reward-asc" ? 1 : -1;
        out.sort(function (a, b) {
          var x = runs[a][3], y = runs[b][3];
          if (x === null) return 1;
          if (y === null) return -1;
          return sign * (x - y) || a - b;
        });
      }
      return out;
    }

    function matchTasks(s) {
      var q = s.q.toLowerCase(), out = [];
      for (var i = 0; i < tasks.length; i++) {
        var t = tasks[i];
        if (s.domain && t[1] !== s.domain) continue;
        if (s.difficulty && String(t[2]) !== s.difficulty) continue;
        if (q && (t[3] + " " + t[0]).toLowerCase().indexOf(q) < 0) continue;
        out.push(i);
      }
      if (s.sort) {
        var sign = s.sort === "reward-asc" ? 1 : -1;
        var mean = function (i) { var x = taskStats[i]; return x.scored ? x.sum / x.scored : null; };
        out.sort(function (a, b) {
          var x = mean(a), y = mean(b);
          if (x === null) return 1;
          if (y === null) return -1;
          return sign * (x - y) || a - b;
        });
      }
      return out;
    }

    function taskCell(t, href) {
      var td = el("td", "task"), box = el("div", "taskcell");
      var a = el(href ? "a" : "span", null, t[3]);
      if (href) a.href = href;
      a.title = t[3];
      box.appendChild(el("code", "tid", t[0].slice(0, 10)));
      box.appendChild(a);
      td.appendChild(box);
      return td;
    }

    function runRow(i) {
      var r = runs[i], t = tasks[r[0]];
      var tr = el("tr");
      tr.dataset.index = String(i);
      tr.appendChild(taskCell(t, runHref(t[4], r[6])));
      tr.appendChild(el("td", null, t[1]));
      tr.appendChild(el("td", "n", t[2]));
      var tp = el("td", "name");
      var dot = el("span", "dot"); dot.style.background = D.colors[r[1]];
      tp.appendChild(dot); tp.appendChild(document.createTextNode(D.policies[r[1]]));
      tr.appendChild(tp);
      tr.appendChild(el("td", "n", r[2]));
      var rw = el("td", "n reward", fmt(r[3], 2)); rw.style.background = rewardColor(r[3]);
      tr.appendChild(rw);
      var res = el("td");
      res.appendChild(r[4] === null ? el("span", "muted unscored", "unscored")
        : el("span", r[4] ? "mark ok" : "mark bad", r[4] ? "✓" : "✗"));
      tr.appendChild(res);
      var fc = el("td", "failed");
      if (r[8]) { var fm = el("span", "fault-msg", r[8]); fm.title = r[8]; fc.appendChild(fm); }
      r[7].forEach(function (x) {
        var c = el("code", "rid " + SECTIONS[x[1]], x[0]);
        c.title = D.criteria[x[2]];
        fc.appendChild(c);
      });
      if (!r[7].length && r[3] !== null) fc.appendChild(el("span", "muted", "none"));
      tr.appendChild(fc);
      tr.appendChild(el("td", "muted", r[5]));
      return tr;
    }

    function taskRow(i) {
      var t = tasks[i], s = taskStats[i];
      var tr = el("tr");
      tr.dataset.index = String(i);
      tr.appendChild(taskCell(t, t[6] ? "tasks/" + t[4] + ".html" : null));
      tr.appendChild(el("td", null, t[1]));
      tr.appendChild(el("td", "n", t[2]));
      tr.appendChild(el("td", "n", t[5]));
      tr.appendChild(el("td", "n", s.n));
      var mean = s.scored ? s.sum / s.scored : null;
      var rw = el("td", "n reward", fmt(mean, 2)); rw.style.background = rewardColor(mean);
      tr.appendChild(rw);
      tr.appendChild(el("td", "n", s.scored ? Math.round(100 * s.ok / s.scored) + "%" : "—"));
      return tr;
    }

    var body = document.querySelector("#list tbody");
    function render(resetPage) {
      var s = current();
      if (resetPage) page = 0;
      var rows = kind === "runs" ? matchRuns(s) : matchTasks(s);
      var pages = Math.max(1, Math.ceil(rows.length / PAGE_SIZE));
      if (page >= pages) page = pages - 1;
      var frag = document.createDocumentFragment();
      rows.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE).forEach(function (i) {
        frag.appendChild(kind === "runs" ? runRow(i) : taskRow(i));
      });
      body.replaceChildren(frag);
      var total = kind === "runs" ? runs.length : tasks.length;
      $("count").textContent = rows.length + " of " + total + (kind === "runs" ? " trajectories" : " tasks");
      $("count").dataset.matches = String(rows.length);
      $("pageinfo").textContent = rows.length
        ? "rows " + (page * PAGE_SIZE + 1) + "–" + Math.min(rows.length, (page + 1) * PAGE_SIZE) + " · page "
          + (page + 1) + " of " + pages
        : "nothing matches";
      $("prev").disabled = page === 0;
      $("next").disabled = page >= pages - 1;
      s.page = page ? String(page) : "";
      writeHash(s);
    }

    ids.forEach(function (k) {
      var c = controls[k];
      c.addEventListener(c.tagName === "SELECT" ? "change" : "input", function () { render(true); });
    });
    $("f-reset").addEventListener("click", function () {
      ids.forEach(function (k) { controls[k].value = ""; });
      render(true);
    });
    $("prev").addEventListener("click", function () { page--; render(false); });
    $("next").addEventListener("click", function () { page++; render(false); });
    window.addEventListener("hashchange", function () {
      var st = readHash();
      ids.forEach(function (k) { controls[k].value = st[k] || ""; });
      page = parseInt(st.page || "0", 10) || 0;
      render(false);
    });
    render(false);
  }

  /* --------------------------------------------------------------------------------------- overview */

  function overview() {
    var sel = $("grid-policy");
    if (!sel) return;
    sel.addEventListener("change", function () {
      document.querySelectorAll("table.heatmap").forEach(function (t) {
        t.hidden = t.getAttribute("data-policy") !== sel.value;
      });
    });
  }

  /* ------------------------------------------------------------------------------- trajectory page */

  function trajectory() {
    // Flash the target of an in-page link, also when it is already the current :target.
    document.addEventListener("click", function (ev) {
      var a = ev.target.closest ? ev.target.closest("a[href^='#']") : null;
      if (!a) return;
      var t = document.getElementById(a.getAttribute("href").slice(1));
      if (!t) return;
      t.classList.remove("flash");
      void t.offsetWidth;
      t.classList.add("flash");
    });
  }

  /* ------------------------------------------------------------------- a task's runs (task page, viewer) */

  var ACTORS = ["agent", "user", "tool", "system"];
  var LABELS = { agent: "Agent", user: "User", tool: "Tool", system: "System" };
  var SECTION_TITLES = { forbidden: "Forbidden behaviours", subgoals: "Sub-goals", interactions: "Required interactions" };

  function dot(color) { var d = el("span", "dot"); d.style.background = color || "#999"; return d; }
  function mark(met) { var m = el("span", met ? "mark ok" : "mark bad", met ? "✓" : "✗"); m.title = met ? "met" : "not met"; return m; }
  function chip(text, cls) { return el("span", "chip" + (cls ? " " + cls : ""), text); }
  function link(href, text, cls) { var a = el("a", cls || null, text); a.href = href; return a; }
  function str(T, x) { return typeof x === "number" ? T.strs[x] : x; }
  function reward(run) { return run.res && !run.fault ? run.res[0] : null; }
  function failedItems(T, run) {
    return run.res ? run.res[5].filter(function (v) { return !v[1]; }) : [];
  }
  function itemChip(T, v) {
    var c = T.crits[v[0]], code = el("code", "rid " + SECTIONS[c[1]], c[0]);
    code.title = c[2];
    return code;
  }

  function taskRuns() {
    var T = window.SA_TASK, body = document.querySelector("#task-runs tbody");
    if (!T || !body) return;
    var sum = 0, scored = 0;
    T.runs.forEach(function (run, i) {
      var tr = el("tr"), rw = reward(run);
      var name = el("td", "name");
      add(name, dot(T.colors[run.p]), link("../" + runHref(keyOfPage(), i), T.policies[run.p]));
      tr.appendChild(name);
      tr.appendChild(el("td", "n", run.s));
      var r = el("td", "n reward", fmt(rw, 2)); r.style.background = rewardColor(rw);
      tr.appendChild(r);
      tr.appendChild(add(el("td"), rw === null ? el("span", "muted unscored", "unscored") : mark(run.res[1])));
      var f = el("td"), failed = failedItems(T, run);
      if (run.fault) f.appendChild(el("span", "fault-msg", run.fault[0] + ": " + run.fault[1].slice(0, 300)));
      else if (!failed.length) f.appendChild(el("span", "muted", "none"));
      failed.forEach(function (v) { add(f, itemChip(T, v), " "); });
      tr.appendChild(f);
      tr.appendChild(el("td", null, run.end));
      body.appendChild(tr);
      if (rw !== null) { sum += rw; scored++; }
    });
    $("task-runs-none").hidden = T.runs.length > 0;
    $("task-run-count").textContent = T.runs.length + " runs";
    $("task-mean").textContent = "mean reward " + fmt(scored ? sum / scored : null, 2);
  }
  function keyOfPage() { return location.pathname.replace(/^.*\//, "").replace(/\.html$/, ""); }

  /* ------------------------------------------------------------------------------- trajectory viewer */

  function viewer() {
    var q = new URLSearchParams(location.search), key = q.get("t") || "", index = parseInt(q.get("r") || "0", 10);
    var status = $("viewer-status");
    if (!/^[0-9a-f]{16}$/.test(key) || !(index >= 0)) { status.textContent = "No trajectory named: open one from the lists."; return; }
    var s = document.createElement("script");
    s.src = "data/t/" + key + ".js";
    s.onload = function () {
      var T = window.SA_TASK, run = T && T.runs[index];
      if (!run) { status.textContent = "This task has no run " + index + "."; return; }
      drawRun(T, key, index, run);
    };
    s.onerror = function () { status.textContent = "data/t/" + key + ".js did not load."; };
    document.body.appendChild(s);
  }

  function message(T, i, m, deciders) {
    var actor = ACTORS[m[0]], calls = m[4] || [];
    var box = el("div", "msg " + actor + (m[3] ? " is-error" : "") + (deciders.length ? " decides" : ""));
    box.id = "m" + i;
    if (actor === "system") {
      var d = el("details"), sm = el("summary", null, "System prompt ");
      sm.appendChild(el("span", "idx", "#" + i));
      d.appendChild(sm);
      d.appendChild(longText("div", "text", str(T, m[1])));
      return add(box, d);
    }
    var meta = el("div", "meta"), tags = el("span", "tags");
    deciders.forEach(function (x) {
      var c = T.crits[x.v[0]], a = link("#v" + x.j, (x.v[1] ? "✓ " : "✗ ") + c[0], "tag " + (x.v[1] ? "ok" : "bad"));
      a.title = c[2];
      tags.appendChild(a);
    });
    add(meta, el("span", "who", LABELS[actor] + (actor === "tool" && m[2] ? " · " + m[2] : "")),
        m[3] ? el("span", "badge err", "error") : null, tags, link("#m" + i, "#" + i, "idx"));
    var bubble = el("div", "bubble");
    if (actor === "tool") {
      var text = str(T, m[1]) || "", json = false;
      try { var v = JSON.parse(text); if (v && typeof v === "object") { text = JSON.stringify(v, null, 2); json = true; } } catch (e) { /* shown as is */ }
      bubble.appendChild(longText("pre", "text" + (json ? " json" : ""), text));
    } else if (str(T, m[1])) {
      bubble.appendChild(longText("div", "text", str(T, m[1])));
    }
    calls.forEach(function (c) {
      var args = str(T, c[2]), ok = args.trim() === "" || args.trim() === "{}";
      try { args = JSON.stringify(JSON.parse(args), null, 2); ok = true; } catch (e) { /* malformed: shown raw */ }
      var head = el("div", "callhead");
      add(head, el("span", "arrow", "→"), el("code", "fn", c[1]), ok ? null : el("span", "badge err", "malformed JSON"),
          el("span", "cid", c[0]));
      bubble.appendChild(add(el("div", "call"), head, longText("pre", "args", args)));
    });
    if (!bubble.firstChild) bubble.appendChild(el("div", "text muted", "(empty)"));
    return add(box, meta, bubble);
  }

  function breakdown(run) {
    var card = el("section", "card reward-card");
    if (run.fault) {
      card.className = "card fault-card";
      add(card, el("h2", null, "Unscored"), el("p", null, "The " + run.fault[0] + " failed after its retries; this run " +
          "says nothing about the agent and is left out of every average. A rerun retries it."),
          longText("div", "text fault-msg", run.fault[1]));
      return card;
    }
    if (!run.res) { add(card, el("h2", null, "Reward"), el("p", "muted", "This trajectory was not scored.")); return card; }
    var res = run.res, counts = [[0, 0], [0, 0], [0, 0]];
    var T = window.SA_TASK;
    res[5].forEach(function (v) { var c = counts[T.crits[v[0]][1]]; c[0] += v[1]; c[1]++; });
    var big = el("div", "bigreward"); big.style.background = rewardColor(res[0]);
    var value = el("div", "value", res[0].toFixed(3)); value.id = "reward";
    add(big, el("div", "label", "reward"), value, el("span", res[1] ? "badge pass" : "badge fail", res[1] ? "success" : "failure"));
    var table = el("table", "plain breakdown");
    function row(label, val, sub) {
      var td = el("td", "n", val); td.appendChild(el("span", "sub", sub));
      table.appendChild(add(el("tr"), el("th", null, label), td));
    }
    row("gate", String(res[2]), counts[0][0] + "/" + counts[0][1] + " not violated");
    row("sub-goals", fmt(res[3], 2), counts[1][0] + "/" + counts[1][1]);
    row("interactions", fmt(res[4], 2), counts[2][0] + "/" + counts[2][1]);
    var formula = el("p", "formula", "R = gate · ½ (sub-goals + interactions) = " + res[2] + " · ½ (" + fmt(res[3], 2) +
      " + " + fmt(res[4], 2) + ") = ");
    formula.appendChild(el("b", null, res[0].toFixed(3)));
    return add(card, big, table, formula);
  }

  function rubricPanel(T, run, nMessages) {
    if (!run.res) return null;
    var card = add(el("section", "card rubric-card"), el("h2", null, "Rubric"));
    SECTIONS.forEach(function (section, code) {
      var ul = el("ul", "verdicts");
      run.res[5].forEach(function (v, j) {
        var c = T.crits[v[0]];
        if (c[1] !== code) return;
        var li = el("li", "verdict " + (v[1] ? "met" : "unmet")); li.id = "v" + j; li.dataset.met = String(v[1]);
        var body = el("div", "vbody"), line = el("div"), vm = el("div", "vmeta");
        add(line, el("code", "rid", c[0]), " ", c[2]);
        var state = section === "forbidden" ? (v[1] ? "not violated" : "violated") : (v[1] ? "met" : "not met");
        add(vm, el("span", "state", state), el("span", "method", v[2] ? "judge" : "check"));
        if (v[3] !== null && v[3] >= 0 && v[3] < nMessages) vm.appendChild(link("#m" + v[3], "message #" + v[3] + " ↗", "goto"));
        else if (v[3] !== null) vm.appendChild(el("span", "muted small", "message #" + v[3] + " (not in this trajectory)"));
        add(body, line, vm, v[4] !== "" ? longText("div", "evidence", str(T, v[4])) : null);
        ul.appendChild(add(li, mark(v[1]), body));
      });
      if (ul.firstChild) add(card, el("div", "label", SECTION_TITLES[section]), ul);
    });
    return card;
  }

  function drawRun(T, key, index, run) {
    var task = T.task, policy = T.policies[run.p], root = $("viewer");
    document.title = policy + " · " + task.id.slice(0, 10) + " · sample " + run.s;
    var crumbs = el("nav", "crumbs"), taskLink = task.page ? el("a") : el("span");
    if (task.page) taskLink.href = "tasks/" + key + ".html";
    add(taskLink, "Task ", el("code", null, task.id.slice(0, 10)));
    add(crumbs, link("index.html", "Overview"), " › ", link("runs.html", "Trajectories"), " › ", taskLink, " › ",
        policy + " · sample " + run.s);
    var chips = add(el("div", "chips"), chip(task.domain, "domain"), chip("difficulty " + task.difficulty),
      chip("ended: " + run.end, run.fault ? "warn" : ""), chip(run.m.length + " messages"), chip(run.c[2] + " tool calls"),
      run.c[3] ? chip(run.c[3] + " tool errors", "warn") : null, run.fault ? chip("unscored", "warn") : null,
      chip("seed " + run.seed, "muted"));
    var h1 = add(el("h1"), dot(T.colors[run.p]), policy + " ", el("span", "muted", "sample " + run.s));
    var head = add(el("div", "pagehead"), h1, chips);
    var context = el("section", "card context");
    if (task.page) {
      add(context, el("div", "label", "Instruction"), add(el("blockquote", "instruction"), longText("div", "text", task.instruction)));
      if (task.background || task.private.length) {
        var d = add(el("details"), el("summary", null, "Hidden user background"), longText("p", null, task.background));
        task.private.forEach(function (p) { d.appendChild(add(el("div", "small"), el("code", null, p[0]), " = ", longText("span", "value", p[1]))); });
        context.appendChild(d);
      }
    } else {
      context.appendChild(el("p", "muted", "This task is not in the tasks file."));
    }
    var deciders = {};
    if (run.res) run.res[5].forEach(function (v, j) {
      if (v[3] !== null) (deciders[v[3]] = deciders[v[3]] || []).push({ j: j, v: v });
    });
    var chat = el("section", "chat"); chat.id = "chat";
    run.m.forEach(function (m, i) { chat.appendChild(message(T, i, m, deciders[i] || [])); });
    if (run.ans) chat.appendChild(add(el("div", "answer"), el("div", "label", "Final answer"), longText("div", "text", str(T, run.ans))));
    var side = add(el("aside", "side"), breakdown(run), rubricPanel(T, run, run.m.length));
    var met = run.met || {}, tok = run.tok || {};
    if (Object.keys(met).length || Object.keys(tok).length) {
      var mt = el("table", "plain");
      Object.keys(met).forEach(function (k) { mt.appendChild(add(el("tr"), el("th", null, k), el("td", "n", fmt(met[k], 3)))); });
      Object.keys(tok).forEach(function (k) { mt.appendChild(add(el("tr"), el("th", null, "tokens · " + k), el("td", "n", tok[k]))); });
      side.appendChild(add(el("section", "card"), el("h2", null, "Episode metrics"), mt));
    }
    if (T.runs.length > 1) {
      var ul = el("ul", "siblings"), lo = Math.max(0, Math.min(index - 20, T.runs.length - 40));
      T.runs.slice(lo, lo + 40).forEach(function (o, i) {
        i += lo;
        var li = el("li", i === index ? "current" : null), pill = el("span", "pill", fmt(reward(o), 2));
        pill.style.background = rewardColor(reward(o));
        ul.appendChild(add(li, dot(T.colors[o.p]), link(runHref(key, i), T.policies[o.p] + " · " + o.s), pill));
      });
      if (T.runs.length > 40 && task.page) {
        ul.appendChild(add(el("li", "more"), link("tasks/" + key + ".html", "all " + T.runs.length + " runs on the task page")));
      }
      side.appendChild(add(el("section", "card"), el("h2", null, "Other runs of this task"), ul));
    }
    root.replaceChildren(crumbs, head, context, add(el("div", "split"), chat, side));
    if (location.hash) { var t = document.getElementById(location.hash.slice(1)); if (t) t.scrollIntoView(); }
  }

  var kind = document.body.getAttribute("data-page");
  if (kind === "runs" || kind === "tasks") listPage(kind);
  else if (kind === "overview") overview();
  else if (kind === "task") taskRuns();
  else if (kind === "run") { trajectory(); viewer(); }
})();
