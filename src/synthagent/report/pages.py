"""The report's pages as HTML strings: overview, list shells, task page, trajectory page."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from synthagent.report import svg
from synthagent.report.markup import esc, long_text, num, page, pct, pretty_json, reward_color
from synthagent.report.stats import Overview
from synthagent.spec.models import Task, ToolSpec

SECTION_TITLES = {"forbidden": "Forbidden behaviours", "subgoals": "Sub-goals", "interactions": "Required interactions"}
TERMINATION_COLORS = {"answer": "#059669", "user_stop": "#2563eb", "max_turns": "#d97706", "error": "#dc2626",
                      "fault": "#6b7280"}
FAULTS_SHOWN = 20


def short(task_id: str) -> str:
    return task_id[:10] if len(task_id) > 10 else task_id


def runs_link(root: str = "", **filters: object) -> str:
    query = urlencode({k: v for k, v in filters.items() if v is not None and v != ""})
    return f"{root}runs.html" + (f"#{query}" if query else "")


def chip(text: str, cls: str = "") -> str:
    return f'<span class="chip {cls}">{text}</span>'


def mark(met: bool) -> str:
    return '<span class="mark ok" title="met">✓</span>' if met else '<span class="mark bad" title="not met">✗</span>'


def policy_dot(color: str) -> str:
    return f'<span class="dot" style="background:{color}"></span>'


# -------------------------------------------------------------------------------------------- overview


def overview_page(ov: Overview, colors: dict[str, str], title: str, extra: str = "") -> str:
    """The overview; `extra` is a finished card placed under the heading (the link to the eval page)."""
    ps = ov.policies
    head = (f'<div class="pagehead"><h1>{esc(title)}</h1><div class="chips">'
            f'{chip(f"<b>{ov.n_tasks}</b> tasks")}{chip(f"<b>{ov.n_runs}</b> trajectories")}'
            f'{chip(f"<b>{len(ps)}</b> policies")}{chip(f"<b>{len(ov.domains)}</b> domains")}'
            + (chip(f"<b>{ov.n_unscored}</b> unscored", "warn") if ov.n_unscored else "")
            + "</div></div>")

    rows = []
    for s in ps:
        c = colors[s.name]
        rows.append(
            f'<tr class="policy-row"><td class="name">{policy_dot(c)}<a href="{esc(runs_link(policy=s.name))}">'
            f"{esc(s.name)}</a></td><td class=\"n\">{s.n}</td><td class=\"n\">{s.tasks}</td>"
            f'<td class="n reward"><span class="val">{num(s.mean_reward, 3)}</span>{svg.meter(s.mean_reward, c)}</td>'
            f'<td class="n">{pct(s.success_rate, 1)}</td>'
            f'<td class="n">{num(s.pass_k, 3)}<span class="sub">k={s.k}</span></td>'
            f'<td class="n">{pct(s.gate_failure_rate, 1)}</td><td class="n">{num(s.subgoal_mean)}</td>'
            f'<td class="n">{num(s.interaction_mean)}</td><td class="n">{pct(s.tool_error_rate, 1)}</td></tr>')
    policy_table = (
        '<section class="card"><h2>Policies</h2><div class="scroll">'
        '<table class="grid-table" id="policy-table"><thead><tr>'
        "<th>Policy</th><th class=n>Trajectories</th><th class=n>Tasks</th><th class=n>Mean reward</th>"
        "<th class=n>Success</th><th class=n title=\"chance that all k samples of a task succeed\">pass^k</th>"
        "<th class=n title=\"share of trajectories with a forbidden behaviour (reward gated to 0)\">Forbidden hit</th>"
        "<th class=n>Sub-goals</th><th class=n>Interactions</th><th class=n>Tool errors</th></tr></thead><tbody>"
        + "".join(rows) + "</tbody></table></div>"
        '<p class="note">Success: reward 1. pass^k: the chance that k samples of a task all succeed (τ-bench), '
        "k = the fewest samples any task has for that policy. Sub-goals and interactions: mean fraction met.</p>"
        "</section>")

    hists = "".join(
        f'<figure class="hist"><figcaption>{policy_dot(colors[s.name])}{esc(s.name)}'
        f'<span class="sub">n={s.scored}</span></figcaption>'
        f'{svg.histogram(s.hist, colors[s.name], title=f"reward distribution of {s.name}")}</figure>'
        for s in ps)
    hist_card = f'<section class="card"><h2>Reward distribution</h2><div class="hists">{hists}</div></section>'

    grid_card = _grid_card(ov, colors)

    term_kinds = list(TERMINATION_COLORS)
    term_rows = "".join(
        f'<tr><td class="name">{policy_dot(colors[s.name])}{esc(s.name)}</td><td>'
        + svg.stacked([(k, s.terminations.get(k, 0), TERMINATION_COLORS[k]) for k in term_kinds])
        + "</td><td class=\"sub\">"
        + " · ".join(f"{k} {s.terminations[k]}" for k in term_kinds if s.terminations.get(k))
        + "</td></tr>" for s in ps)
    legend = "".join(f'<span class="legend">{policy_dot(TERMINATION_COLORS[k])}{k}</span>' for k in term_kinds)
    term_card = (f'<section class="card"><h2>How episodes ended</h2><div class="legends">{legend}</div>'
                 f'<table class="plain terms">{term_rows}</table></section>')

    body = (head + extra + _unscored_card(ov) + policy_table + hist_card + grid_card + _failures_card(ov, colors)
            + _metrics_card(ov, colors) + term_card)
    return page(title, body, root="", kind="overview", active="overview")


def _unscored_card(ov: Overview) -> str:
    """Runs no score was given to, and why: the fault messages (endpoint, simulator, judge), most frequent first."""
    if not ov.n_unscored:
        return ""
    rows = "".join(f'<tr><td class="n">{n}</td><td><code>{esc(role)}</code></td><td class="fault-msg">'
                   f"{long_text(message, 'span', 'text')}</td></tr>"
                   for (role, message), n in ov.faults.most_common(FAULTS_SHOWN))
    more = len(ov.faults) - FAULTS_SHOWN
    without = ov.n_unscored - sum(ov.faults.values())
    return ('<section class="card unscored" id="unscored"><h2>Unscored runs</h2>'
            f'<p class="note">{ov.n_unscored} run(s) have no score: an endpoint, simulator or judge failed after its '
            "retries (a fault), or the run was never scored. They are left out of every average below; a rerun "
            f'retries them. <a href="{esc(runs_link(outcome="unscored"))}">List them</a>.</p>'
            + ('<table class="plain" id="fault-table"><thead><tr><th class=n>runs</th><th>role</th><th>message</th>'
               f"</tr></thead><tbody>{rows}</tbody></table>" if rows else "")
            + (f'<p class="note">…and {more} other message(s).</p>' if more > 0 else "")
            + (f'<p class="note">{without} run(s) without a fault were not scored yet (`synthagent score`).</p>'
               if without else "")
            + "</section>")


def _grid_card(ov: Overview, colors: dict[str, str]) -> str:
    def table(policy: str | None) -> str:
        head = "".join(f"<th class=n>{d}</th>" for d in ov.difficulties)
        rows = []
        for domain in ov.domains:
            cells = []
            for d in ov.difficulties:
                cell = ov.grid.get((policy, domain, d))
                if cell is None or not cell.n:
                    cells.append('<td class="heat empty">·</td>')
                    continue
                href = runs_link(domain=domain, difficulty=d, policy=policy)
                cells.append(f'<td class="heat" style="background:{reward_color(cell.mean)}">'
                             f'<a href="{esc(href)}"><b>{cell.mean:.2f}</b>'
                             f'<span class="sub">n={cell.n}</span></a></td>')
            rows.append(f'<tr><th class="rowh">{esc(domain)}</th>{"".join(cells)}</tr>')
        hidden = "" if policy is None else " hidden"
        key = "" if policy is None else policy
        return (f'<table class="heatmap" data-policy="{esc(key)}"{hidden}><thead><tr><th>domain \\ difficulty</th>'
                f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")

    options = '<option value="">all policies</option>' + "".join(
        f'<option value="{esc(s.name)}">{esc(s.name)}</option>' for s in ov.policies)
    return ('<section class="card"><div class="cardhead"><h2>Mean reward by domain and difficulty</h2>'
            f'<label class="ctl">policy <select id="grid-policy">{options}</select></label></div>'
            '<div class="scroll">' + table(None) + "".join(table(s.name) for s in ov.policies) + "</div>"
            '<p class="note">Each cell links to its trajectories.</p></section>')


def _metrics_card(ov: Overview, colors: dict[str, str]) -> str:
    head = "".join(f'<th class="n">{policy_dot(colors[s.name])}{esc(s.name)}</th>' for s in ov.policies)
    rows: list[tuple[str, list[str]]] = [
        ("agent turns / episode", [num(s.agent_turns / s.n if s.n else None, 1) for s in ov.policies]),
        ("tool calls / episode", [num(s.tool_calls / s.n if s.n else None, 1) for s in ov.policies]),
        ("tool error rate", [pct(s.tool_error_rate, 1) for s in ov.policies]),
    ]
    for name in ov.metric_names:
        rows.append((name, [num(s.metric_mean(name), 3) for s in ov.policies]))
    body = "".join(f'<tr><th class="rowh">{esc(label)}</th>' + "".join(f'<td class="n">{v}</td>' for v in vals)
                   + "</tr>" for label, vals in rows)
    note = ("Per-episode simulator metrics, averaged." if ov.metric_names
            else "These runs carry no simulator metrics; counts come from the episode counters.")
    return (f'<section class="card"><h2>Simulator metrics</h2><div class="scroll"><table class="grid-table" '
            f'id="metrics-table"><thead><tr><th></th>{head}</tr></thead><tbody>{body}</tbody></table></div>'
            f'<p class="note">{note}</p></section>')


def _failures_card(ov: Overview, colors: dict[str, str]) -> str:
    head = "".join(f'<th class="n">{policy_dot(colors[s.name])}{esc(s.name)}</th>' for s in ov.policies)
    rows = []
    for (section, check), by_policy in ov.failures.items():
        cells = []
        for s in ov.policies:
            failed, total = by_policy.get(s.name, (0, 0))
            rate = failed / total if total else None
            style = f' style="background:{reward_color(None if rate is None else 1 - rate)}"'
            cells.append(f'<td class="n"{style} title="{failed} of {total} failed">{pct(rate)}</td>')
        rows.append(f'<tr><th class="rowh">{esc(SECTION_TITLES[section])}<span class="sub">{esc(check)}</span></th>'
                    + "".join(cells) + "</tr>")
    return (f'<section class="card"><h2>Rubric items failed</h2><div class="scroll"><table class="grid-table" '
            f'id="failure-table"><thead><tr><th>section · check</th>{head}</tr></thead><tbody>{"".join(rows)}</tbody>'
            "</table></div><p class=\"note\">Share of rubric items not met, by section and the check they compile "
            "to (judge: no programmatic check).</p></section>")


# ------------------------------------------------------------------------------------------ list pages


def list_page(kind: str, title: str) -> str:
    """The task and trajectory lists: filter controls and an empty table that app.js fills from data/index.js."""
    if kind == "runs":
        controls = (
            '<input id="f-q" type="search" placeholder="Search instruction, task id, policy…" class="grow">'
            '<select id="f-domain"><option value="">all domains</option></select>'
            '<select id="f-policy"><option value="">all policies</option></select>'
            '<select id="f-difficulty"><option value="">any difficulty</option></select>'
            '<label class="ctl">reward <input id="f-rmin" type="number" min="0" max="1" step="0.05" placeholder="0">'
            '– <input id="f-rmax" type="number" min="0" max="1" step="0.05" placeholder="1"></label>'
            '<select id="f-outcome"><option value="">any outcome</option><option value="pass">success</option>'
            '<option value="fail">failure</option><option value="unscored">unscored</option></select>'
            '<select id="f-failed"><option value="">failed items: any</option><option value="none">none failed</option>'
            '<option value="any">some item failed</option><option value="forbidden">forbidden behaviour</option>'
            '<option value="subgoals">sub-goal missed</option><option value="interactions">interaction missed</option>'
            "</select>"
            '<input id="f-item" type="search" placeholder="failed item id or text…">'
            '<select id="f-sort"><option value="">input order</option><option value="reward-asc">reward ↑</option>'
            '<option value="reward-desc">reward ↓</option></select>'
            '<button id="f-reset" type="button">Reset</button>')
        cols = ("<th>Task</th><th>Domain</th><th class=n>Diff.</th><th>Policy</th><th class=n>Sample</th>"
                "<th class=n>Reward</th><th>Result</th><th>Failed items</th><th>Ended</th>")
    else:
        controls = (
            '<input id="f-q" type="search" placeholder="Search instruction or task id…" class="grow">'
            '<select id="f-domain"><option value="">all domains</option></select>'
            '<select id="f-difficulty"><option value="">any difficulty</option></select>'
            '<select id="f-sort"><option value="">input order</option><option value="reward-asc">mean reward ↑</option>'
            '<option value="reward-desc">mean reward ↓</option></select>'
            '<button id="f-reset" type="button">Reset</button>')
        cols = ("<th>Task</th><th>Domain</th><th class=n>Diff.</th><th class=n>Tools</th><th class=n>Runs</th>"
                "<th class=n>Mean reward</th><th class=n>Success</th>")
    body = (f'<div class="pagehead"><h1>{esc(title)}</h1><div class="chips"><span class="chip" id="count">loading…'
            f'</span></div></div><section class="card"><div class="filters">{controls}</div>'
            f'<div class="scroll"><table class="grid-table list" id="list"><thead><tr>{cols}</tr></thead>'
            '<tbody></tbody></table></div><div class="pager"><button id="prev" type="button">‹ Prev</button>'
            '<span id="pageinfo"></span><button id="next" type="button">Next ›</button></div></section>'
            '<noscript><p class="note">The lists need JavaScript; task and trajectory pages do not.</p></noscript>')
    return page(title, body, root="", kind=kind, data_scripts=("data/index.js",), active=kind)


# ------------------------------------------------------------------------------------------- task page


def _schema_table(schema: dict) -> str:
    props = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(props, dict) or not props:
        return '<p class="muted small">no parameters</p>'
    required = set(schema.get("required") or [])
    rows = []
    for name, spec in props.items():
        spec = spec if isinstance(spec, dict) else {}
        typ = spec.get("type", "")
        if "enum" in spec:
            typ = f"{typ} ∈ {json.dumps(spec['enum'], ensure_ascii=False)}"
        rows.append(f"<tr><td><code>{esc(name)}</code>{'<span class=req>*</span>' if name in required else ''}</td>"
                    f"<td class=muted>{esc(typ)}</td><td>{esc(spec.get('description', ''))}</td></tr>")
    return f'<table class="plain params">{"".join(rows)}</table>'


def _tool_card(tool: ToolSpec) -> str:
    badges = chip(esc(tool.kind), "write" if tool.kind == "write" else "read")
    if tool.distractor:
        badges += chip("distractor", "distractor")
    schema = json.dumps(tool.function.parameters, indent=1, ensure_ascii=False)
    returns = json.dumps(tool.returns, indent=1, ensure_ascii=False) if tool.returns else ""
    return (f'<div class="toolcard{" is-distractor" if tool.distractor else ""}"><div class="toolhead">'
            f"<code class=fn>{esc(tool.name)}</code>{badges}</div>"
            f'<p class="desc">{esc(tool.function.description)}</p>{_schema_table(tool.function.parameters)}'
            f"<details><summary>JSON schema</summary><pre class=code>{esc(schema, quote=False)}</pre>"
            + (f"<div class=label>returns</div><pre class=code>{esc(returns, quote=False)}</pre>" if returns else "")
            + "</details></div>")


def json_text(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def _value(value: object) -> str:
    return long_text(value if isinstance(value, str) else json_text(value), "span", "value")


def task_page(task: Task, data_file: str) -> str:
    """The task's own content, static; its runs table is drawn by app.js from `data_file` (the task's runs,
    stored once for this page and the trajectory viewer)."""
    head = (f'<nav class="crumbs"><a href="../index.html">Overview</a> › <a href="../tasks.html">Tasks</a> › '
            f"<code>{esc(short(task.id))}</code></nav>"
            f'<div class="pagehead"><h1>Task <code>{esc(short(task.id))}</code></h1><div class="chips">'
            f'{chip(esc(task.domain), "domain")}{chip(f"difficulty {task.difficulty}")}'
            f'{chip(f"{len(task.tools)} tools")}<span class="chip" id="task-run-count"></span>'
            f'<span class="chip" id="task-mean"></span>{chip("source " + esc(task.source.generator), "muted")}'
            "</div></div>")
    policy = ("<ol class=policy>" + "".join(f"<li>{esc(p)}</li>" for p in task.policy) + "</ol>") if task.policy \
        else '<p class="muted">none</p>'
    visible = (f'<section class="card"><h2>What the agent sees</h2><div class=label>Instruction</div>'
               f'<blockquote class="instruction">{long_text(task.instruction)}</blockquote>'
               f"<div class=label>Policy</div>{policy}</section>")
    ledger_rows = "".join(
        f"<tr><td><code>{esc(s.name)}</code></td><td class=value>{_value(s.value)}</td>"
        f"<td>{'required' if s.required else '<span class=muted>optional</span>'}</td>"
        f"<td class=muted>{esc(s.description)}"
        + (f"<div class=small>asked as: {esc(', '.join(s.keywords))}</div>" if s.keywords else "")
        + "</td></tr>" for s in task.private_info)
    hidden = ('<section class="card hidden-info"><h2>Hidden from the agent '
              '<span class="chip muted">user simulator only</span></h2>'
              + (f"<div class=label>Full task</div>{long_text(task.full_instruction)}"
                 if task.full_instruction else "")
              + (f"<div class=label>User background</div>{long_text(task.user_background)}"
                 if task.user_background else "")
              + "<div class=label>Private ledger</div>"
              + ('<table class="plain ledger" id="ledger"><thead><tr><th>slot</th><th>value</th><th>need</th>'
                 f"<th>meaning</th></tr></thead><tbody>{ledger_rows}</tbody></table>" if task.private_info
                 else '<p class="muted">empty</p>')
              + "</section>")
    tools = (f'<section class="card"><h2>Tools</h2><div class="tools">{"".join(_tool_card(t) for t in task.tools)}'
             "</div></section>")
    rubric_parts = []
    for section, items in task.rubric.sections():
        lis = "".join(
            f'<li><code class="rid">{esc(i.id)}</code> {esc(i.criterion)}'
            + (f'<span class="check">{esc(i.check.op)}'
               + (f" {esc(json.dumps(i.check.args, ensure_ascii=False))}" if i.check.args else "") + "</span>"
               if i.check else '<span class="check judge">judge</span>')
            + "</li>" for i in items)
        rubric_parts.append(f'<div class=label>{SECTION_TITLES[section]}</div><ul class="rubric-list">'
                            f"{lis or '<li class=muted>none</li>'}</ul>")
    rubric = f'<section class="card"><h2>Rubric</h2>{"".join(rubric_parts)}</section>'
    gold_items = []
    for g in task.gold:
        if g.kind == "ask":
            what = f"ask for <code>{esc(g.slot)}</code>"
        elif g.kind == "call":
            what = (f"<code>{esc(g.tool)}</code>"
                    f"<code class=args>{esc(json.dumps(g.arguments or {}, ensure_ascii=False))}</code>")
        else:
            what = esc(g.text or g.slot or "")
        gold_items.append(f'<li><span class="gk gk-{esc(g.kind)}">{esc(g.kind)}</span>{what}</li>')
    gold = (f'<section class="card"><h2>Gold plan</h2><ol class="gold">{"".join(gold_items)}</ol>'
            + ("<div class=label>Workflow</div><ol class=workflow>"
               + "".join(f"<li>{esc(w)}</li>" for w in task.workflow) + "</ol>" if task.workflow else "")
            + "</section>")
    runs_card = ('<section class="card"><h2>Trajectories</h2><table class="grid-table" id="task-runs"><thead><tr>'
                 "<th>Policy</th><th class=n>Sample</th><th class=n>Reward</th><th>Success</th><th>Failed items</th>"
                 '<th>Ended</th></tr></thead><tbody></tbody></table><p class="muted" id="task-runs-none" hidden>'
                 "No runs of this task.</p></section>")
    text, _ = pretty_json(task.world.model_dump_json(), limit=30000, indent=1)
    world = ('<section class="card"><details><summary>World state</summary>'
             f'<pre class="code">{esc(text, quote=False)}</pre></details></section>')
    body = (head + f'<div class="two">{visible}{hidden}</div>' + runs_card + tools
            + f'<div class="two">{rubric}{gold}</div>' + world)
    return page(f"Task {short(task.id)} · {task.domain}", body, root="../", kind="task", data_scripts=(data_file,))


# ------------------------------------------------------------------------------------- trajectory page


def viewer_page() -> str:
    """run.html: one shell for every trajectory; app.js loads `data/t/<key>.js` named by `?t=` and draws run `?r=`.

    Query, not fragment, carries the run: fragments stay free for the in-page links to messages (`#m3`)
    and verdicts (`#v2`), which must work as :target.
    """
    body = ('<div id="viewer"><p class="muted" id="viewer-status">loading…</p></div>'
            '<noscript><p class="note">The trajectory viewer needs JavaScript.</p></noscript>')
    return page("Trajectory", body, root="", kind="run")
