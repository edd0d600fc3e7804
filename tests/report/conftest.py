"""Fixtures for the report tests: sample and hostile reports, and one shared headless Chromium.

Browser tests skip when no Chromium is installed, unless SYNTHAGENT_REQUIRE_BROWSER=1 (CI), where they fail.
Screenshots go to a temporary folder; with SYNTHAGENT_SCREENSHOTS=1 they are also copied to out/screenshots/
(or to the folder the variable names) for a person to look at.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from browser import BrowserError, Chromium, find_chromium
from report_fixtures import sample_report_data

from synthagent.report import write_report

REPO = Path(__file__).resolve().parents[2]

# Installed before any page script: a dialog or an injected script leaves a trace we can check.
TRAP = """
window.__alerts = [];
window.alert = window.confirm = window.prompt = function (m) { window.__alerts.push(String(m)); };
"""


def _unavailable(reason: str) -> None:
    if os.environ.get("SYNTHAGENT_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (SYNTHAGENT_REQUIRE_BROWSER=1 requires the browser tests to run)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def sample():
    return sample_report_data(15, k=2)


@pytest.fixture(scope="session")
def hostile():
    return sample_report_data(10, k=2, hostile=True)


@pytest.fixture(scope="session")
def report(sample, tmp_path_factory) -> Path:
    tasks, runs = sample
    return write_report(tasks, runs, tmp_path_factory.mktemp("report")).parent


@pytest.fixture(scope="session")
def hostile_report(hostile, tmp_path_factory) -> Path:
    tasks, runs = hostile
    return write_report(tasks, runs, tmp_path_factory.mktemp("hostile")).parent


@pytest.fixture(scope="session")
def browser():
    exe = find_chromium()
    if exe is None:
        _unavailable("chromium not installed: `apt-get install chromium` (Debian) to run the browser tests")
    b = Chromium(exe)
    try:
        b.start()
    except (BrowserError, OSError) as err:
        b.close()
        _unavailable(f"chromium at {exe} did not start: {err}")
    b.add_init_script(TRAP)
    yield b
    b.close()


class Shots:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        wanted = os.environ.get("SYNTHAGENT_SCREENSHOTS", "")
        self.keep = None if wanted in ("", "0") else (REPO / "out" / "screenshots" if wanted == "1" else Path(wanted))

    def take(self, browser: Chromium, name: str, *, full_page: bool = True) -> Path:
        path = browser.screenshot(self.tmp / f"{name}.png", full_page=full_page)
        assert path.stat().st_size > 5000, f"screenshot {name} looks empty"
        if self.keep is not None:
            self.keep.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, self.keep / path.name)
        return path


@pytest.fixture(scope="session")
def shots(tmp_path_factory) -> Shots:
    return Shots(tmp_path_factory.mktemp("screenshots"))
