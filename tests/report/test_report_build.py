"""The generated site without a browser: files, links, anchors, escaping, data file, determinism."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

from synthagent.report import write_report
from synthagent.report.build import MARKER, task_data_file, task_key
from synthagent.report.markup import CAP, SHOW, long_text


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []
        self.srcs: list[str] = []
        self.ids: set[str] = set()
        self.scripts: list[dict] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "a" and a.get("href"):
            self.hrefs.append(a["href"])
        if tag in ("script", "link") and (a.get("src") or a.get("href")):
            self.srcs.append(a.get("src") or a.get("href"))
        if tag == "script":
            self.scripts.append(a)


def parse(path: Path) -> Links:
    p = Links()
    p.feed(path.read_text(encoding="utf-8"))
    return p


def html_files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.html"))


def task_data(report: Path, task_id: str) -> dict:
    text = (report / task_data_file(task_id)).read_text(encoding="utf-8")
    assert text.startswith("window.SA_TASK = ") and text.rstrip().endswith(";")
    return json.loads(text[len("window.SA_TASK = "):].rstrip().rstrip(";"))


def text_of(data: dict, value):
    return data["strs"][value] if isinstance(value, int) else value


def test_layout(report, sample):
    tasks, runs = sample
    assert (report / "index.html").exists() and (report / "tasks.html").exists() and (report / "runs.html").exists()
    assert len(list((report / "tasks").glob("*.html"))) == len(tasks)
    assert len(list((report / "data" / "t").glob("*.js"))) == len(tasks)
    assert (report / "run.html").exists() and not (report / "runs").exists()  # one viewer, no page per run
    assert (report / "assets" / "style.css").exists() and (report / "assets" / "app.js").exists()
    assert (report / "data" / "index.js").exists()


def test_every_local_link_and_anchor_resolves(report):
    parsed = {p: parse(p) for p in html_files(report)}
    checked = 0
    for page, links in parsed.items():
        for ref in links.hrefs + links.srcs:
            parts = urlsplit(ref)
            assert parts.scheme in ("", "data"), f"{page.name}: external reference {ref}"
            if parts.scheme == "data":
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            assert target.exists(), f"{page.relative_to(report)} links to missing {ref}"
            if parts.fragment and target.suffix == ".html" and target.name not in ("runs.html", "tasks.html"):
                assert parts.fragment in parsed[target].ids, f"{page.name}: anchor {ref} not found"
            checked += 1
    assert checked > 200


def test_no_inline_scripts_and_csp(report):
    for page in html_files(report):
        links = parse(page)
        assert all("src" in s for s in links.scripts), f"{page.name} has an inline script"
        text = page.read_text(encoding="utf-8")
        assert "Content-Security-Policy" in text and "script-src 'self'" in text
        assert "http://" not in text and "https://" not in text, f"{page.name} references the network"


def test_task_data_holds_every_run_whole_with_shared_parts_once(report, sample):
    tasks, runs = sample
    for task in tasks:
        mine = [r for r in runs if r.task_id == task.id]
        data = task_data(report, task.id)
        assert data["task"]["id"] == task.id and data["task"]["instruction"] == task.instruction
        assert len(data["runs"]) == len(mine)
        assert len(data["strs"]) == len(set(data["strs"]))  # each shared text stored once
        for row, run in zip(data["runs"], mine):
            assert data["policies"][row["p"]] == run.policy and row["s"] == run.sample
            assert [text_of(data, m[1]) for m in row["m"]] == [m.content for m in run.messages]
            verdicts = row["res"][5]
            assert [data["crits"][v[0]][0] for v in verdicts] == [v.id for v in run.result.items]
            assert [v[3] for v in verdicts] == [v.message_index for v in run.result.items]
            assert [text_of(data, v[4]) for v in verdicts] == [v.evidence for v in run.result.items]
    # The system prompt (tool schemas, policy) is the same in every run of a task: one copy in its table.
    data = task_data(report, tasks[0].id)
    system = [m[1] for row in data["runs"] for m in row["m"] if m[0] == 3]
    assert system and all(isinstance(x, int) for x in system) and len(set(system)) == 1


def test_data_file_is_valid_and_complete(report, sample):
    tasks, runs = sample
    text = (report / "data" / "index.js").read_text(encoding="utf-8")
    assert text.startswith("window.SA_DATA = ") and text.rstrip().endswith(";")
    data = json.loads(text[len("window.SA_DATA = "):].rstrip().rstrip(";"))
    assert len(data["runs"]) == len(runs) and len(data["tasks"]) == len(tasks)
    assert data["policies"] == list(dict.fromkeys(r.policy for r in runs))
    for row, run in zip(data["runs"], runs):
        assert data["tasks"][row[0]][0] == run.task_id
        assert row[3] == round(run.result.reward, 4)
        assert data["tasks"][row[0]][4] == task_key(run.task_id)
        assert (report / "data" / "t" / f"{data['tasks'][row[0]][4]}.js").exists()
        assert row[6] == [r for r in runs if r.task_id == run.task_id].index(run)
        assert sorted(f[0] for f in row[7]) == sorted(v.id for v in run.result.failed())


def test_hostile_strings_never_reach_markup(hostile_report):
    for page in html_files(hostile_report):
        text = page.read_text(encoding="utf-8")
        for bad in ("<script>alert", "<img", "onerror=alert(1)>", "</script><script>", "<!-- "):
            assert bad not in text, f"{page.relative_to(hostile_report)} contains raw {bad!r}"
        assert len(re.findall(r"<script", text)) == len(re.findall(r'<script src="[^"]+"></script>', text))
    for path in [hostile_report / "data" / "index.js", *(hostile_report / "data" / "t").glob("*.js")]:
        data = path.read_text(encoding="utf-8")
        for bad in ("</", "<!--", "<", "\u2028", "\u2029"):
            assert bad not in data, f"{path.name} contains raw {bad!r}"
    assert "\\u003cscript\\u003ealert(1)" in (hostile_report / "data" / "index.js").read_text(encoding="utf-8")
    # …but the text itself is there, escaped, to be read.
    index = (hostile_report / "index.html").read_text(encoding="utf-8")
    assert "evil &quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in index
    assert any("&lt;script&gt;alert(1)&lt;/script&gt;" in p.read_text() for p in (hostile_report / "tasks").glob("*"))


def test_output_is_deterministic(sample, tmp_path):
    tasks, runs = sample
    a = write_report(tasks, runs, tmp_path / "a").parent
    b = write_report(tasks, runs, tmp_path / "b").parent
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files_a == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files_a)


def test_rewrite_clears_old_pages_but_only_its_own(sample, tmp_path):
    tasks, runs = sample
    out = tmp_path / "site"
    write_report(tasks, runs, out)
    (out / "notes.txt").write_text("mine")
    write_report(tasks[:2], [r for r in runs if r.task_id in {t.id for t in tasks[:2]}], out)
    assert len(list((out / "tasks").glob("*.html"))) == 2
    assert (out / "notes.txt").read_text() == "mine" and (out / MARKER).exists()
    # A folder the report did not write keeps its own subfolders.
    other = tmp_path / "other"
    (other / "tasks").mkdir(parents=True)
    (other / "tasks" / "keep.md").write_text("x")
    write_report(tasks, runs, other)
    assert (other / "tasks" / "keep.md").exists()


def test_missing_task_unscored_and_faulted_runs(sample, tmp_path):
    from synthagent.spec.models import Fault

    tasks, runs = sample
    orphan = runs[0].model_copy(update={"task_id": "not-a-task", "sample": 0})
    unscored = runs[1].model_copy(update={"result": None, "sample": 5})
    faulted = runs[2].model_copy(update={"result": None, "sample": 6, "termination": "fault",
                                         "fault": Fault(role="judge", message="judge endpoint: HTTP 500 after 3 tries")})
    out = write_report(tasks[1:], [orphan, unscored, faulted, *runs], tmp_path / "r").parent
    data = task_data(out, "not-a-task")
    assert data["task"]["page"] is False and len(data["runs"]) == 1
    assert not (out / "tasks" / f"{task_key('not-a-task')}.html").exists()
    mine = task_data(out, runs[2].task_id)["runs"]
    assert ["judge", "judge endpoint: HTTP 500 after 3 tries"] in [r.get("fault") for r in mine]
    index = (out / "index.html").read_text()
    assert 'id="unscored"' in index and "judge endpoint: HTTP 500 after 3 tries" in index
    assert "2</b> unscored" in index
    rows = json.loads((out / "data" / "index.js").read_text()[len("window.SA_DATA = "):].rstrip().rstrip(";"))["runs"]
    assert rows[2][3] is None and rows[2][4] is None and rows[2][8] == "judge: judge endpoint: HTTP 500 after 3 tries"
    assert rows[1][3] is None and rows[1][8] is None


def test_long_values_are_capped_in_data_and_collapsed_on_pages(sample, tmp_path):
    tasks, runs = sample
    blob = "x" * 1_000_000  # one unbroken 1 MB string
    run = runs[0]
    messages = [m.model_copy(update={"content": blob}) if m.actor == "tool" else m for m in run.messages]
    task = tasks[0].model_copy(update={"user_background": blob})
    out = write_report([task], [run.model_copy(update={"messages": messages})], tmp_path / "r").parent
    data = task_data(out, task.id)
    longest = max(len(s) for s in data["strs"])
    assert CAP < longest < CAP + 100 and "more characters not in the report" in max(data["strs"], key=len)
    page = (out / "tasks" / f"{task_key(task.id)}.html").read_text()
    assert "show all 1,000,000 characters" in page and len(page) < 2 * CAP
    html = long_text("a" * (SHOW + 5))
    assert html.startswith(f'<div class="text">{"a" * SHOW}</div><details class="more">') and "a" * 5 in html


def test_progress_is_reported_per_task(sample, tmp_path):
    tasks, runs = sample
    seen: list[tuple[int, int]] = []
    write_report(tasks, runs, tmp_path / "r", progress=lambda done, total: seen.append((done, total)))
    assert seen == [(i, len(tasks)) for i in range(1, len(tasks) + 1)]


def test_empty_inputs(tmp_path):
    index = write_report([], [], tmp_path / "empty")
    assert index.exists() and "0</b> trajectories" in index.read_text()


def test_runs_of_a_task_share_their_data(tmp_path):
    from report_fixtures import sample_report_data

    tasks, runs = sample_report_data(1, k=50)  # 200 runs of one task
    out = write_report(tasks, runs, tmp_path / "r").parent
    raw = sum(len(r.model_dump_json()) for r in runs)
    stored = (out / task_data_file(tasks[0].id)).stat().st_size
    assert stored < raw / 2, f"{stored} bytes stored for {raw} bytes of runs"
    assert len(list(out.rglob("*.html"))) == 5  # index, tasks, runs, run viewer, one task page
