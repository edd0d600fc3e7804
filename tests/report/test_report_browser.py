"""The report in headless Chromium: rendered counts, verdicts, links, filters, escaping, no console errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from report_fixtures import HOSTILE
from synthagent.report.build import run_href, task_file

pytestmark = pytest.mark.browser


def visit(browser, path: Path | str) -> int:
    """Load a page; returns the event mark from which to look for console problems."""
    mark = browser.mark()
    browser.goto(path)
    return mark


def clean(browser, mark: int) -> None:
    browser.eval("1")  # flush pending protocol events
    assert browser.problems(since=mark) == []
    assert browser.eval("window.__alerts") == []
    assert browser.eval("typeof window.__pwned") == "undefined"


def count(browser, selector: str) -> int:
    return browser.eval(f"document.querySelectorAll({json.dumps(selector)}).length")


def set_control(browser, cid: str, value: str) -> None:
    browser.eval(f"""(() => {{ const c = document.getElementById({json.dumps(cid)});
        c.value = {json.dumps(value)};
        c.dispatchEvent(new Event(c.tagName === 'SELECT' ? 'change' : 'input', {{bubbles: true}})); }})()""")


def matches(browser) -> int:
    return int(browser.eval("document.getElementById('count').dataset.matches"))


def page_of(report: Path, run, runs: list | None = None) -> str:
    """The viewer URL of `run`: its place among its task's runs (in `runs`, or the sample fixture's order)."""
    siblings = [r for r in (runs or []) if r.task_id == run.task_id] or [run]
    index = next(i for i, r in enumerate(siblings) if r is run or r == run)
    return (report / "run.html").resolve().as_uri() + run_href(run.task_id, index)[len("run.html"):]


# ------------------------------------------------------------------------------------------- overview


def test_overview(browser, report, sample, shots):
    tasks, runs = sample
    mark = visit(browser, report / "index.html")
    policies = list(dict.fromkeys(r.policy for r in runs))
    assert count(browser, "#policy-table tbody tr") == len(policies)
    names = browser.eval("[...document.querySelectorAll('#policy-table td.name')].map(e => e.textContent)")
    assert names == policies
    means = browser.eval("[...document.querySelectorAll('#policy-table td.reward .val')].map(e => e.textContent)")
    for p, shown in zip(policies, means):
        mine = [r.result.reward for r in runs if r.policy == p]
        assert shown == f"{sum(mine) / len(mine):.3f}"
    assert count(browser, "figure.hist svg rect") >= 10 * len(policies)
    domains = sorted({t.domain for t in tasks})
    assert count(browser, "table.heatmap:not([hidden]) tbody tr") == len(domains)
    assert count(browser, "table.heatmap") == len(policies) + 1
    assert count(browser, "#metrics-table tbody tr") >= 3 + 4  # counters + four simulator metrics
    # The grid's policy switch shows exactly that policy's grid.
    set_control(browser, "grid-policy", policies[2])
    assert browser.eval("[...document.querySelectorAll('table.heatmap')].filter(t => !t.hidden)"
                        ".map(t => t.dataset.policy)") == [policies[2]]
    set_control(browser, "grid-policy", "")
    shots.take(browser, "overview")
    clean(browser, mark)


def test_overview_grid_cell_opens_filtered_list(browser, report, sample):
    tasks, runs = sample
    visit(browser, report / "index.html")
    href = browser.eval("document.querySelector('table.heatmap:not([hidden]) td.heat a').getAttribute('href')")
    mark = browser.mark()
    browser.click_and_wait("table.heatmap:not([hidden]) td.heat a")
    assert browser.eval("location.pathname").endswith("/runs.html")
    params = dict(x.split("=") for x in href.split("#", 1)[1].split("&"))
    expected = [r for r in runs if r.domain == params["domain"] and r.difficulty == int(params["difficulty"])]
    assert matches(browser) == len(expected) > 0
    clean(browser, mark)


# ---------------------------------------------------------------------------------------------- lists


def test_run_list_filters(browser, report, sample, shots):
    tasks, runs = sample
    mark = visit(browser, report / "runs.html")
    assert matches(browser) == len(runs)
    assert count(browser, "#list tbody tr") == min(100, len(runs))
    shots.take(browser, "trajectories", full_page=False)

    def expect(n: int) -> None:
        assert matches(browser) == n
        assert count(browser, "#list tbody tr") == min(100, n)

    policy = runs[-1].policy
    set_control(browser, "f-policy", policy)
    expect(sum(r.policy == policy for r in runs))
    set_control(browser, "f-domain", "clinic")
    expect(sum(r.policy == policy and r.domain == "clinic" for r in runs))
    set_control(browser, "f-reset", "")
    browser.click("#f-reset")
    expect(len(runs))

    set_control(browser, "f-rmin", "0.5")
    set_control(browser, "f-rmax", "0.9")
    expect(sum(0.5 <= r.result.reward <= 0.9 for r in runs))
    browser.click("#f-reset")

    set_control(browser, "f-failed", "forbidden")
    expect(sum(any(v.section == "forbidden" and not v.met for v in r.result.items) for r in runs))
    set_control(browser, "f-failed", "none")
    expect(sum(not r.result.failed() for r in runs))
    set_control(browser, "f-failed", "")
    set_control(browser, "f-item", "identity")  # criterion text of failed items
    expect(sum(any("identity" in v.criterion.lower() for v in r.result.failed()) for r in runs))
    set_control(browser, "f-item", "I2")  # or an item id
    expect(sum(any("i2" in v.id.lower() for v in r.result.failed()) for r in runs))
    browser.click("#f-reset")

    set_control(browser, "f-outcome", "pass")
    expect(sum(r.result.success for r in runs))
    set_control(browser, "f-outcome", "")
    set_control(browser, "f-q", tasks[3].id[:12])
    expect(sum(r.task_id == tasks[3].id for r in runs))
    # The filter state lives in the URL: reloading keeps it.
    browser.reload()
    expect(sum(r.task_id == tasks[3].id for r in runs))
    browser.click("#f-reset")

    set_control(browser, "f-sort", "reward-desc")
    shown = browser.eval("[...document.querySelectorAll('#list tbody td.reward')].map(e => e.textContent)")
    assert shown == sorted(shown, reverse=True)
    # Paging: the second page holds the rest.
    browser.click("#next")
    assert count(browser, "#list tbody tr") == len(runs) - 100
    assert browser.eval("document.getElementById('next').disabled") is True
    browser.click("#f-reset")
    clean(browser, mark)


def test_run_list_row_opens_trajectory(browser, report, sample):
    tasks, runs = sample
    visit(browser, report / "runs.html")
    mark = browser.mark()
    browser.click_and_wait("#list tbody tr:nth-child(3) td.task a")
    assert browser.eval("document.body.dataset.page") == "run"
    r = runs[2]
    assert browser.eval("document.title") == f"{r.policy} · {r.task_id[:10]} · sample {r.sample}"
    clean(browser, mark)


def test_task_list(browser, report, sample, shots):
    tasks, runs = sample
    mark = visit(browser, report / "tasks.html")
    assert matches(browser) == len(tasks) == count(browser, "#list tbody tr")
    set_control(browser, "f-difficulty", "5")
    assert matches(browser) == sum(t.difficulty == 5 for t in tasks)
    set_control(browser, "f-difficulty", "")
    shots.take(browser, "tasks", full_page=False)
    browser.click_and_wait("#list tbody tr:first-child td.task a")
    assert browser.eval("location.pathname").endswith(task_file(tasks[0].id))
    clean(browser, mark)


# ------------------------------------------------------------------------------------------ task page


def test_task_page(browser, report, sample, shots):
    tasks, runs = sample
    task = tasks[4]
    mark = visit(browser, report / task_file(task.id))
    assert count(browser, ".toolcard") == len(task.tools)
    assert count(browser, ".toolcard.is-distractor") == sum(t.distractor for t in task.tools) == 1
    assert count(browser, "#ledger tbody tr") == len(task.private_info)
    assert count(browser, ".rubric-list li") == sum(len(g) for _, g in task.rubric.sections())
    assert count(browser, "ol.gold li") == len(task.gold)
    mine = [r for r in runs if r.task_id == task.id]
    assert count(browser, "#task-runs tbody tr") == len(mine)
    text = browser.eval("document.body.innerText")
    assert task.instruction in text and task.user_background in text
    shots.take(browser, "task")
    browser.click_and_wait("#task-runs tbody tr:first-child a")
    assert browser.eval("document.body.dataset.page") == "run"
    clean(browser, mark)


# ------------------------------------------------------------------------------------ trajectory page


def test_trajectory_page(browser, report, sample, shots):
    tasks, runs = sample
    run = next(r for r in runs if r.counters.tool_errors and r.result.failed() and
               any(v.message_index is not None for v in r.result.items))
    mark = visit(browser, page_of(report, run, runs))
    for actor in ("agent", "user", "tool", "system"):
        assert count(browser, f"#chat .msg.{actor}") == sum(m.actor == actor for m in run.messages)
    assert count(browser, "#chat .msg.is-error") == sum(m.error for m in run.messages) > 0
    assert count(browser, "#chat .call") == sum(len(m.tool_calls or []) for m in run.messages)
    assert count(browser, ".verdict") == len(run.result.items)
    assert count(browser, ".verdict .mark.ok") == sum(v.met for v in run.result.items)
    assert count(browser, ".verdict .mark.bad") == len(run.result.failed()) > 0
    assert browser.eval("document.getElementById('reward').textContent") == f"{run.result.reward:.3f}"
    # Every evidence link points at a message, and following one makes it the :target.
    targets = browser.eval("[...document.querySelectorAll('.verdict a.goto')].map(a => a.getAttribute('href'))")
    assert targets == [f"#m{v.message_index}" for v in run.result.items if v.message_index is not None]
    for t in targets:
        assert browser.eval(f"!!document.getElementById({json.dumps(t[1:])})")
    browser.click(".verdict a.goto")
    assert browser.eval("location.hash") == targets[0]
    assert browser.eval("document.querySelector(':target').id") == targets[0][1:]
    # …and the message links back to the verdicts it decided.
    assert browser.eval(f"document.querySelector('{targets[0]} .tags a').getAttribute('href')").startswith("#v")
    browser.eval("window.scrollTo(0, 0)")
    shots.take(browser, "trajectory")
    clean(browser, mark)


# ---------------------------------------------------------------------------------------------- hostile


def test_hostile_strings_render_as_text(browser, hostile_report, hostile, shots):
    tasks, runs = hostile
    evil_policy = runs[-1].policy
    evil_task = tasks[0]
    evil_run = next(r for r in runs if r.policy == evil_policy
                    and any(m.actor == "tool" and HOSTILE[0] in (m.content or "") for m in r.messages))
    pages = [
        (hostile_report / "index.html", [evil_policy, tasks[1].domain]),
        (hostile_report / "run.html", ["No trajectory named"]),
        (hostile_report / "runs.html", [evil_policy, evil_task.instruction[:60]]),
        (hostile_report / "tasks.html", [evil_task.instruction[:60], tasks[1].domain]),
        (hostile_report / task_file(evil_task.id), [evil_task.instruction, HOSTILE[1]]),
        (page_of(hostile_report, evil_run, runs), [HOSTILE[0], HOSTILE[1], evil_policy]),
    ]
    for path, expected in pages:
        mark = visit(browser, path)
        path = Path(str(path).split("?")[0])
        text = browser.eval("document.body.innerText")
        for s in expected:
            assert s.replace("\n", " ") in text.replace("\n", " "), f"{path.name}: {s!r} not shown as text"
        assert count(browser, "img") == 0, f"{path.name}: an <img> was injected"
        assert count(browser, "script") == count(browser, "script[src]"), f"{path.name}: an inline script exists"
        assert browser.eval("[...document.querySelectorAll('[onerror],[onload],[onclick]')].length") == 0
        clean(browser, mark)
    # The last page is the run: the hostile tool output is in a tool message, as text.
    tool_text = browser.eval("[...document.querySelectorAll('#chat .msg.tool pre')].map(e => e.textContent).join(' ')")
    assert HOSTILE[0] in tool_text and HOSTILE[1] in tool_text
    shots.take(browser, "hostile-trajectory")


# ------------------------------------------------------------------------------ unscored and long values


def test_unscored_runs_show_their_fault_and_long_values_wait_behind_an_expander(browser, sample, tmp_path):
    from synthagent.report import write_report
    from synthagent.report.markup import SHOW
    from synthagent.spec.models import Fault

    tasks, runs = sample
    blob = "y" * 1_000_000  # one unbroken 1 MB string: laid out only when asked for
    first = runs[0]
    messages = [m.model_copy(update={"content": blob}) if m.actor == "tool" else m for m in first.messages]
    assert any(m.actor == "tool" for m in first.messages)
    big = first.model_copy(update={"messages": messages})
    faulted = runs[1].model_copy(update={"result": None, "termination": "fault",
                                         "fault": Fault(role="policy", message="policy endpoint [/] refused: HTTP 503")})
    mine = [big, faulted]
    out = write_report(tasks, mine, tmp_path / "r").parent
    mark = visit(browser, page_of(out, big, mine))
    shown = browser.eval("[...document.querySelectorAll('#chat .msg.tool pre.text')].map(e => e.textContent.length)")
    assert max(shown) == SHOW
    assert count(browser, "#chat details.more") >= 1
    browser.eval("document.querySelector('#chat details.more').open = true")
    browser.eval("new Promise(r => setTimeout(r, 50))")
    rest = browser.eval("document.querySelector('#chat details.more .rest').textContent.length")
    assert SHOW + rest > 100_000 - 1
    clean(browser, mark)
    mark = visit(browser, page_of(out, faulted, mine))
    assert "policy endpoint [/] refused: HTTP 503" in browser.eval("document.querySelector('.fault-card').innerText")
    assert count(browser, ".verdict") == 0
    clean(browser, mark)
    mark = visit(browser, out / "runs.html")
    set_control(browser, "f-outcome", "unscored")
    assert matches(browser) == 1
    assert "policy endpoint [/] refused" in browser.eval("document.querySelector('#list tbody .fault-msg').textContent")
    clean(browser, mark)
    mark = visit(browser, out / "index.html")
    assert "policy endpoint [/] refused: HTTP 503" in browser.eval("document.getElementById('unscored').innerText")
    clean(browser, mark)
