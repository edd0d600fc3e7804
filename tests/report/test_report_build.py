"""The generated site without a browser: files, links, anchors, escaping, data file, determinism."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

from synthagent.report import write_report
from synthagent.report.build import MARKER, run_file


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


def test_layout(report, sample):
    tasks, runs = sample
    assert (report / "index.html").exists() and (report / "tasks.html").exists() and (report / "runs.html").exists()
    assert len(list((report / "tasks").glob("*.html"))) == len(tasks)
    assert len(list((report / "runs").glob("*.html"))) == len(runs)
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
    assert checked > 500


def test_no_inline_scripts_and_csp(report):
    for page in html_files(report):
        links = parse(page)
        assert all("src" in s for s in links.scripts), f"{page.name} has an inline script"
        text = page.read_text(encoding="utf-8")
        assert "Content-Security-Policy" in text and "script-src 'self'" in text
        assert "http://" not in text and "https://" not in text, f"{page.name} references the network"


def test_run_pages_link_verdicts_to_messages(report, sample):
    tasks, runs = sample
    run = next(r for r in runs if any(v.message_index is not None for v in r.result.items))
    page = report / run_file(run.task_id, run.policy, run.sample)
    links = parse(page)
    assert {f"m{i}" for i in range(len(run.messages))} <= links.ids
    expected = {f"#m{v.message_index}" for v in run.result.items if v.message_index is not None}
    assert expected <= set(links.hrefs)


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
        assert (report / "runs" / f"{row[6]}.html").exists()
        assert sorted(f[0] for f in row[7]) == sorted(v.id for v in run.result.failed())


def test_hostile_strings_never_reach_markup(hostile_report):
    for page in html_files(hostile_report):
        text = page.read_text(encoding="utf-8")
        for bad in ("<script>alert", "<img", "onerror=alert(1)>", "</script><script>", "<!-- "):
            assert bad not in text, f"{page.relative_to(hostile_report)} contains raw {bad!r}"
        assert len(re.findall(r"<script", text)) == len(re.findall(r'<script src="[^"]+"></script>', text))
    data = (hostile_report / "data" / "index.js").read_text(encoding="utf-8")
    for bad in ("</", "<!--", "<", "\u2028", "\u2029"):
        assert bad not in data
    assert "\\u003cscript\\u003ealert(1)" in data
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


def test_missing_task_and_unscored_run(sample, tmp_path):
    tasks, runs = sample
    orphan = runs[0].model_copy(update={"task_id": "not-a-task", "sample": 0})
    unscored = runs[1].model_copy(update={"result": None, "sample": 5})
    dup = runs[2].model_copy()  # the same (task, policy, sample) twice still gets two pages
    out = write_report(tasks[1:], [orphan, unscored, dup, *runs], tmp_path / "r").parent
    assert len(list((out / "runs").glob("*.html"))) == len(runs) + 3
    texts = [p.read_text() for p in (out / "runs").glob("*.html")]
    assert any("This task is not in the tasks file." in t for t in texts)
    assert any("This trajectory was not scored." in t for t in texts)
    assert "unscored" in (out / "index.html").read_text()


def test_empty_inputs(tmp_path):
    index = write_report([], [], tmp_path / "empty")
    assert index.exists() and "0</b> trajectories" in index.read_text()


def test_run_pages_stay_small_when_a_task_has_many_runs(tmp_path):
    from synthagent.report._synthetic import sample_report_data

    tasks, runs = sample_report_data(1, k=50)  # 200 runs of one task
    out = write_report(tasks, runs, tmp_path / "r").parent
    page = out / "runs" / sorted(p.name for p in (out / "runs").glob("*.html"))[0]
    text = page.read_text()
    assert text.count('<li class="current">') + text.count("<li>") < 60
    assert "all 200 runs on the task page" in text
