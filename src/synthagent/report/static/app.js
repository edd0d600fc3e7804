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
      tr.appendChild(taskCell(t, "runs/" + r[6] + ".html"));
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
      res.appendChild(r[4] === null ? el("span", "muted", "unscored")
        : el("span", r[4] ? "mark ok" : "mark bad", r[4] ? "✓" : "✗"));
      tr.appendChild(res);
      var fc = el("td", "failed");
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
      tr.appendChild(taskCell(t, t[4] ? "tasks/" + t[4] + ".html" : null));
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

  var kind = document.body.getAttribute("data-page");
  if (kind === "runs" || kind === "tasks") listPage(kind);
  else if (kind === "overview") overview();
  else if (kind === "run") trajectory();
})();
