"""The report's pages as HTML strings: overview, list shells, task page, trajectory page."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from synthagent.report import svg
from synthagent.report.markup import esc, num, page, pct, pretty_json, reward_color
from synthagent.report.stats import Overview
from synthagent.spec.models import ItemVerdict, Message, Task, ToolSpec, Trajectory

SECTION_TITLES = {"forbidden": "Forbidden behaviours", "subgoals": "Sub-goals", "interactions": "Required interactions"}
ACTOR_LABELS = {"agent": "Agent", "user": "User", "tool": "Tool", "system": "System"}
SIBLING_WINDOW = 40
TERMINATION_COLORS = {"answer": "#059669", "user_stop": "#2563eb", "max_turns": "#d97706", "error": "#dc2626"}


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


def overview_page(ov: Overview, colors: dict[str, str], title: str) -> str:
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

    term_kinds = ["answer", "user_stop", "max_turns", "error"]
    term_rows = "".join(
        f'<tr><td class="name">{policy_dot(colors[s.name])}{esc(s.name)}</td><td>'
        + svg.stacked([(k, s.terminations.get(k, 0), TERMINATION_COLORS[k]) for k in term_kinds])
        + "</td><td class=\"sub\">"
        + " · ".join(f"{k} {s.terminations[k]}" for k in term_kinds if s.terminations.get(k))
        + "</td></tr>" for s in ps)
    legend = "".join(f'<span class="legend">{policy_dot(TERMINATION_COLORS[k])}{k}</span>' for k in term_kinds)
    term_card = (f'<section class="card"><h2>How episodes ended</h2><div class="legends">{legend}</div>'
                 f'<table class="plain terms">{term_rows}</table></section>')

    body = (head + policy_table + hist_card + grid_card + _failures_card(ov, colors) + _metrics_card(ov, colors)
            + term_card)
    return page(title, body, root="", kind="overview", active="overview")


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
            '<option value="fail">failure</option></select>'
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
    schema = json.dumps(tool.function.parameters, indent=2, ensure_ascii=False)
    returns = json.dumps(tool.returns, indent=2, ensure_ascii=False) if tool.returns else ""
    return (f'<div class="toolcard{" is-distractor" if tool.distractor else ""}"><div class="toolhead">'
            f"<code class=fn>{esc(tool.name)}</code>{badges}</div>"
            f'<p class="desc">{esc(tool.function.description)}</p>{_schema_table(tool.function.parameters)}'
            f"<details><summary>JSON schema</summary><pre class=code>{esc(schema)}</pre>"
            + (f"<div class=label>returns</div><pre class=code>{esc(returns)}</pre>" if returns else "")
            + "</details></div>")


def _value(value: object) -> str:
    return esc(json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value)


def _failed_chips(failed: list[ItemVerdict]) -> str:
    if not failed:
        return '<span class="muted">none</span>'
    return " ".join(f'<code class="rid {esc(v.section)}" title="{esc(v.criterion)}">{esc(v.id)}</code>' for v in failed)


def task_page(task: Task, runs: list[tuple[Trajectory, str]], colors: dict[str, str]) -> str:
    """`runs` pairs each trajectory of this task with its page's file name."""
    scored = [r.result for r, _ in runs if r.result is not None]
    mean = sum(x.reward for x in scored) / len(scored) if scored else None
    head = (f'<nav class="crumbs"><a href="../index.html">Overview</a> › <a href="../tasks.html">Tasks</a> › '
            f"<code>{esc(short(task.id))}</code></nav>"
            f'<div class="pagehead"><h1>Task <code>{esc(short(task.id))}</code></h1><div class="chips">'
            f'{chip(esc(task.domain), "domain")}{chip(f"difficulty {task.difficulty}")}'
            f'{chip(f"{len(task.tools)} tools")}{chip(f"{len(runs)} runs")}'
            f'{chip("mean reward " + num(mean), "")}{chip("source " + esc(task.source.generator), "muted")}'
            "</div></div>")
    policy = ("<ol class=policy>" + "".join(f"<li>{esc(p)}</li>" for p in task.policy) + "</ol>") if task.policy \
        else '<p class="muted">none</p>'
    visible = (f'<section class="card"><h2>What the agent sees</h2><div class=label>Instruction</div>'
               f'<blockquote class="instruction">{esc(task.instruction)}</blockquote>'
               f"<div class=label>Policy</div>{policy}</section>")
    ledger_rows = "".join(
        f"<tr><td><code>{esc(s.name)}</code></td><td class=value>{_value(s.value)}</td>"
        f"<td>{'required' if s.required else '<span class=muted>optional</span>'}</td>"
        f"<td class=muted>{esc(s.description)}"
        + (f"<div class=small>asked as: {esc(', '.join(s.keywords))}</div>" if s.keywords else "")
        + "</td></tr>" for s in task.private_info)
    hidden = ('<section class="card hidden-info"><h2>Hidden from the agent '
              '<span class="chip muted">user simulator only</span></h2>'
              + (f"<div class=label>Full task</div><p>{esc(task.full_instruction)}</p>"
                 if task.full_instruction else "")
              + (f"<div class=label>User background</div><p>{esc(task.user_background)}</p>"
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
    run_rows = []
    for r, file in runs:
        res = r.result
        failed = res.failed() if res else []
        reward = res.reward if res else None
        run_rows.append(
            f'<tr><td class="name">{policy_dot(colors.get(r.policy, "#999"))}'
            f'<a href="../{esc(file)}">{esc(r.policy)}</a></td>'
            f'<td class="n">{r.sample}</td><td class="n reward" style="background:{reward_color(reward)}">'
            f"{num(reward)}</td><td>{mark(res.success) if res else '—'}</td>"
            f"<td>{_failed_chips(failed)}</td>"
            f"<td>{esc(r.termination)}</td></tr>")
    runs_card = ('<section class="card"><h2>Trajectories</h2>'
                 + ('<table class="grid-table" id="task-runs"><thead><tr><th>Policy</th><th class=n>Sample</th>'
                    "<th class=n>Reward</th><th>Success</th><th>Failed items</th><th>Ended</th></tr></thead><tbody>"
                    + "".join(run_rows) + "</tbody></table>" if runs else '<p class="muted">No runs of this task.</p>')
                 + "</section>")
    text, _ = pretty_json(task.world.model_dump_json(), limit=30000)
    world = ('<section class="card"><details><summary>World state</summary>'
             f'<pre class="code">{esc(text)}</pre></details></section>')
    body = (head + f'<div class="two">{visible}{hidden}</div>' + runs_card + tools
            + f'<div class="two">{rubric}{gold}</div>' + world)
    return page(f"Task {short(task.id)} · {task.domain}", body, root="../", kind="task")


# ------------------------------------------------------------------------------------- trajectory page


def _message(i: int, m: Message, deciders: list[tuple[int, ItemVerdict]]) -> str:
    who = ACTOR_LABELS.get(m.actor, m.actor)
    if m.actor == "tool" and m.name:
        who = f"{who} · {m.name}"
    tags = "".join(f'<a class="tag {"ok" if v.met else "bad"}" href="#v{j}" title="{esc(v.criterion)}">'
                   f'{"✓" if v.met else "✗"} {esc(v.id)}</a>' for j, v in deciders)
    error = '<span class="badge err">error</span>' if m.error else ""
    meta = (f'<div class="meta"><span class="who">{esc(who)}</span>{error}<span class="tags">{tags}</span>'
            f'<a class="idx" href="#m{i}">#{i}</a></div>')
    cls = f"msg {esc(m.actor)}" + (" is-error" if m.error else "") + (" decides" if deciders else "")
    if m.actor == "system":
        return (f'<div class="{cls}" id="m{i}"><details><summary>System prompt <span class="idx">#{i}</span></summary>'
                f'<div class="text">{esc(m.content)}</div></details></div>')
    inner = ""
    if m.actor == "tool":
        text, parsed = pretty_json(m.content)
        inner = f'<pre class="text{" json" if parsed else ""}">{esc(text)}</pre>'
    elif m.content:
        inner = f'<div class="text">{esc(m.content)}</div>'
    for call in m.tool_calls or []:
        args, parsed = pretty_json(call.function.arguments)
        fine = parsed or call.function.arguments.strip() in ("", "{}")
        bad = "" if fine else '<span class="badge err">malformed JSON</span>'
        inner += (f'<div class="call"><div class="callhead"><span class="arrow">→</span><code class="fn">'
                  f'{esc(call.function.name)}</code>{bad}<span class="cid">{esc(call.id)}</span></div>'
                  f'<pre class="args">{esc(args)}</pre></div>')
    if not inner:
        inner = '<div class="text muted">(empty)</div>'
    return f'<div class="{cls}" id="m{i}">{meta}<div class="bubble">{inner}</div></div>'


def _breakdown(traj: Trajectory) -> str:
    res = traj.result
    if res is None:
        return '<section class="card"><h2>Reward</h2><p class="muted">This trajectory was not scored.</p></section>'
    counts: dict[str, list[int]] = {"forbidden": [0, 0], "subgoals": [0, 0], "interactions": [0, 0]}
    for v in res.items:
        counts[v.section][0] += v.met
        counts[v.section][1] += 1
    verdict = ('<span class="badge pass">success</span>' if res.success else '<span class="badge fail">failure</span>')

    def frac(section: str, value: float | None) -> str:
        met, total = counts[section]
        return f"{num(value)}<span class=sub>{met}/{total}</span>"

    return (f'<section class="card reward-card"><div class="bigreward" style="background:{reward_color(res.reward)}">'
            f'<div class="label">reward</div><div class="value" id="reward">{res.reward:.3f}</div>{verdict}</div>'
            '<table class="plain breakdown">'
            f'<tr><th>gate</th><td class="n">{res.gate:g}<span class=sub>{counts["forbidden"][0]}/'
            f'{counts["forbidden"][1]} not violated</span></td></tr>'
            f'<tr><th>sub-goals</th><td class="n">{frac("subgoals", res.subgoal_fraction)}</td></tr>'
            f'<tr><th>interactions</th><td class="n">{frac("interactions", res.interaction_fraction)}</td></tr>'
            f'</table><p class="formula">R = gate · ½ (sub-goals + interactions) = {res.gate:g} · ½ '
            f"({num(res.subgoal_fraction)} + {num(res.interaction_fraction)}) = <b>{res.reward:.3f}</b></p></section>")


def _rubric_panel(traj: Trajectory, n_messages: int) -> str:
    res = traj.result
    if res is None:
        return ""
    parts = []
    for section in ("forbidden", "subgoals", "interactions"):
        items = [(j, v) for j, v in enumerate(res.items) if v.section == section]
        if not items:
            continue
        lis = []
        for j, v in items:
            if v.message_index is not None and 0 <= v.message_index < n_messages:
                goto = f'<a class="goto" href="#m{v.message_index}">message #{v.message_index} ↗</a>'
            elif v.message_index is not None:
                goto = f'<span class="muted small">message #{v.message_index} (not in this trajectory)</span>'
            else:
                goto = ""
            if section == "forbidden":
                label = "not violated" if v.met else "violated"
            else:
                label = "met" if v.met else "not met"
            lis.append(f'<li class="verdict {"met" if v.met else "unmet"}" id="v{j}" data-met="{int(v.met)}">'
                       f'{mark(v.met)}<div class="vbody"><div><code class="rid">{esc(v.id)}</code> '
                       f'{esc(v.criterion)}</div><div class="vmeta"><span class="state">{label}</span>'
                       f'<span class="method">{esc(v.method)}</span>'
                       f"{goto}</div>" + (f'<div class="evidence">{esc(v.evidence)}</div>' if v.evidence else "")
                       + "</div></li>")
        parts.append(f'<div class="label">{SECTION_TITLES[section]}</div><ul class="verdicts">{"".join(lis)}</ul>')
    return f'<section class="card rubric-card"><h2>Rubric</h2>{"".join(parts)}</section>'


def run_page(traj: Trajectory, task: Task | None, task_file: str | None, siblings: list[tuple[Trajectory, str]],
             own_file: str, colors: dict[str, str]) -> str:
    res = traj.result
    deciders: dict[int, list[tuple[int, ItemVerdict]]] = {}
    if res is not None:
        for j, v in enumerate(res.items):
            if v.message_index is not None:
                deciders.setdefault(v.message_index, []).append((j, v))
    domain = task.domain if task else traj.domain
    difficulty = task.difficulty if task else traj.difficulty
    task_link = (f'<a href="../{esc(task_file)}">Task <code>{esc(short(traj.task_id))}</code></a>' if task_file
                 else f"Task <code>{esc(short(traj.task_id))}</code>")
    c = traj.counters
    chips = (chip(esc(domain), "domain") + chip(f"difficulty {difficulty}") + chip(f"ended: {esc(traj.termination)}")
             + chip(f"{len(traj.messages)} messages") + chip(f"{c.tool_calls} tool calls")
             + (chip(f"{c.tool_errors} tool errors", "warn") if c.tool_errors else "")
             + chip(f"seed {traj.seed}", "muted"))
    head = (f'<nav class="crumbs"><a href="../index.html">Overview</a> › <a href="../runs.html">Trajectories</a> › '
            f"{task_link} › {esc(traj.policy)} · sample {traj.sample}</nav>"
            f'<div class="pagehead"><h1>{policy_dot(colors.get(traj.policy, "#999"))}{esc(traj.policy)} '
            f'<span class="muted">sample {traj.sample}</span></h1><div class="chips">{chips}</div></div>')
    context = ""
    if task is not None:
        context = (f'<section class="card context"><div class="label">Instruction</div>'
                   f'<blockquote class="instruction">{esc(task.instruction)}</blockquote>'
                   + (f"<details><summary>Hidden user background</summary><p>{esc(task.user_background)}</p>"
                      + "".join(f"<div class=small><code>{esc(s.name)}</code> = {_value(s.value)}</div>"
                                for s in task.private_info) + "</details>" if task.user_background or task.private_info
                      else "")
                   + "</section>")
    else:
        context = '<section class="card context"><p class="muted">This task is not in the tasks file.</p></section>'
    chat = "".join(_message(i, m, deciders.get(i, [])) for i, m in enumerate(traj.messages))
    if traj.answer:
        chat += ('<div class="answer"><div class="label">Final answer</div>'
                 f'<div class="text">{esc(traj.answer)}</div></div>')
    metrics = ""
    if traj.metrics or c.tokens:
        rows = "".join(f'<tr><th>{esc(k)}</th><td class="n">{num(v, 3)}</td></tr>' for k, v in traj.metrics.items())
        rows += "".join(f'<tr><th>tokens · {esc(k)}</th><td class="n">{v}</td></tr>' for k, v in c.tokens.items())
        metrics = f'<section class="card"><h2>Episode metrics</h2><table class="plain">{rows}</table></section>'
    # A window of the task's runs around this one: pages stay small when a task has hundreds of runs.
    here = next((i for i, (_, f) in enumerate(siblings) if f == own_file), 0)
    lo = max(0, min(here - SIBLING_WINDOW // 2, len(siblings) - SIBLING_WINDOW))
    shown = siblings[lo:lo + SIBLING_WINDOW]
    more = len(siblings) - len(shown)
    others = "".join(
        f'<li{" class=current" if f == own_file else ""}>{policy_dot(colors.get(s.policy, "#999"))}'
        f'<a href="../{esc(f)}">{esc(s.policy)} · {s.sample}</a>'
        f'<span class="pill" style="background:{reward_color(s.result.reward if s.result else None)}">'
        f'{num(s.result.reward if s.result else None)}</span></li>' for s, f in shown)
    if more and task_file:
        others += f'<li class="more"><a href="../{esc(task_file)}">all {len(siblings)} runs on the task page</a></li>'
    side = (_breakdown(traj) + _rubric_panel(traj, len(traj.messages)) + metrics
            + (f'<section class="card"><h2>Other runs of this task</h2><ul class="siblings">{others}</ul></section>'
               if len(siblings) > 1 else ""))
    body = head + context + f'<div class="split"><section class="chat" id="chat">{chat}</section>' \
        f'<aside class="side">{side}</aside></div>'
    return page(f"{traj.policy} · {short(traj.task_id)} · sample {traj.sample}", body, root="../", kind="run")
