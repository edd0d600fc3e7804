"""Roll out a policy over tasks, k samples each, scoring as it goes; resumable by (task, policy, sample).

Each finished trajectory is appended to the output JSONL at once, so an interrupted run loses at most the
episodes in flight; a rerun skips every key already on disk. Sample j of a task gets the seed
derive_seed(seed, task id, j), so the same seed gives the same rollouts and the same summary, and a larger
k adds samples without changing the ones already there.

A rerun is refused when the settings that decide the rollouts (seed, k shrinking, turns, policy settings,
config) differ from the ones recorded in the manifest beside the runs file. Unscored episodes (an endpoint,
simulator or judge that failed for good) are not kept as results: a rerun removes them from the file and
runs them again, and so are agent errors when asked (`retry_errors`). Resuming reads the runs file one
line at a time and keeps only keys, so memory does not grow with the file.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthagent.reward.scorer import RewardConfig, ScoringError, score_episode
from synthagent.sim.interfaces import Policy, ToolBackend, UserSimulator
from synthagent.sim.runtime import DEFAULT_MAX_TURNS, run_episode
from synthagent.spec.io import FormatError, JsonlAppender, parse_record
from synthagent.spec.manifest import check_manifest, describe_partial, manifest_path, partial_tail, remove_manifest
from synthagent.spec.models import Task, Trajectory
from synthagent.worlds import derive_seed

Key = tuple[str, str, int]


@dataclass
class RolloutConfig:
    k: int = 1
    seed: int = 0
    concurrency: int = 8
    max_turns: int = DEFAULT_MAX_TURNS
    reward: RewardConfig = RewardConfig()
    retry_errors: bool = False
    overwrite: bool = False
    settings: dict[str, Any] = field(default_factory=dict)
    """What else decides this policy's rollouts (its sampling settings, a config digest): recorded and checked."""

    def manifest(self) -> dict[str, Any]:
        return {"seed": self.seed, "k": self.k, "max_turns": self.max_turns, **self.settings}


@dataclass
class ResumeReport:
    """What a rerun found on disk and what it did with it, for the user to read."""

    kept: int = 0
    retried_unscored: int = 0
    retried_errors: int = 0
    partial_line: str | None = None
    resumed: bool = False

    def notes(self) -> list[str]:
        notes = []
        if self.resumed:
            notes.append(f"resumed: {self.kept} episode(s) already on disk kept")
        if self.retried_unscored:
            notes.append(f"retrying {self.retried_unscored} unscored episode(s)")
        if self.retried_errors:
            notes.append(f"retrying {self.retried_errors} episode(s) that ended in an error (--retry-errors)")
        if self.partial_line is not None:
            notes.append(describe_partial(self.partial_line))
        return notes


def turn_limit(task: Task, default: int) -> int:
    """The configured limit, raised for tasks that declare they need more (`metadata.min_turns`)."""
    return max(default, int(task.metadata.get("min_turns", 0)))


def _records(path: Path) -> Iterator[tuple[int, str, dict[str, Any] | None]]:
    """(line number, raw line, parsed object) per line; a truncated last line yields None to be dropped."""
    with path.open("r", encoding="utf-8") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                data = json.loads(raw)
            except json.JSONDecodeError as err:
                if not raw.endswith("\n"):
                    yield number, raw, None
                    return
                raise FormatError(path, number, None, f"invalid JSON ({err.msg} at column {err.colno})") from None
            if not isinstance(data, dict):
                raise FormatError(path, number, None, f"expected a JSON object, got {type(data).__name__}")
            yield number, raw, data


def _key(path: Path, number: int, data: dict[str, Any]) -> Key:
    try:
        return (str(data["task_id"]), str(data["policy"]), int(data["sample"]))
    except (KeyError, TypeError, ValueError) as err:
        raise FormatError(path, number, "task_id/policy/sample", f"not a run record ({err})") from None


def existing_keys(path: Path) -> set[Key]:
    """Keys of the runs on disk, read line by line (only keys stay in memory)."""
    if not path.exists():
        return set()
    return {_key(path, n, data) for n, _, data in _records(path) if data is not None}


def prepare_resume(out: Path, policy: str, *, retry_errors: bool = False, drop_policy: bool = False
                   ) -> tuple[set[Key], ResumeReport]:
    """Keys already done for a rerun, after removing from the file the episodes that must run again.

    Unscored episodes of `policy` (and its `error` episodes when `retry_errors`) are cut from the file, so
    it keeps one record per key; `drop_policy` cuts all of them (`--overwrite`). The rewrite streams to a
    temporary file renamed into place, and happens only when something is cut.
    """
    report = ResumeReport()
    if not out.exists():
        return set(), report
    report.partial_line = partial_tail(out)
    keys: set[Key] = set()
    cut = 0
    for number, _, data in _records(out):
        if data is None:
            continue
        key = _key(out, number, data)
        if key[1] == policy:
            if drop_policy:
                cut += 1
                continue
            if data.get("fault") is not None:
                report.retried_unscored += 1
                continue
            if retry_errors and data.get("termination") == "error":
                report.retried_errors += 1
                continue
            report.kept += 1
        keys.add(key)
    report.resumed = report.kept > 0
    if cut or report.retried_unscored or report.retried_errors:
        _rewrite_without(out, policy, retry_errors, drop_policy)
    return keys, report


def _rewrite_without(out: Path, policy: str, retry_errors: bool, drop_policy: bool) -> None:
    tmp = out.with_name(f"{out.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as sink:
        for _, raw, data in _records(out):
            if data is None:
                continue
            if data.get("policy") == policy and (drop_policy or data.get("fault") is not None
                                                 or (retry_errors and data.get("termination") == "error")):
                continue
            sink.write(raw if raw.endswith("\n") else raw + "\n")
    os.replace(tmp, out)


def check_rollout_settings(out: Path, policy: str, config: RolloutConfig) -> dict[str, Any] | None:
    """Record this policy's settings beside the runs file, or refuse a rerun under different ones."""
    path = manifest_path(out)
    if config.overwrite:
        remove_manifest(path, section=policy)
    return check_manifest(path, config.manifest(), section=policy, growable=("k",), what=str(out))


def load_runs_light(path: Path, policy: str | None = None) -> list[Trajectory]:
    """The runs of a file without their messages: what a summary needs, at a fraction of the memory."""
    runs = []
    for number, _, data in _records(path):
        if data is None or (policy is not None and data.get("policy") != policy):
            continue
        data["messages"] = []
        runs.append(parse_record(Trajectory, data, path, number))
    return runs


async def rollout(
    tasks: list[Task],
    policy: Policy,
    user: UserSimulator,
    tools: ToolBackend,
    out: Path,
    config: RolloutConfig = RolloutConfig(),
    on_done: Callable[[Trajectory], None] | None = None,
    judge: Any = None,
    on_note: Callable[[str], None] | None = None,
) -> int:
    """Run every (task, sample) not yet on disk; returns how many episodes were written."""
    check_rollout_settings(out, policy.name, config)
    done, report = prepare_resume(out, policy.name, retry_errors=config.retry_errors, drop_policy=config.overwrite)
    for note in report.notes():
        if on_note:
            on_note(note)
    jobs = [(task, j) for task in tasks for j in range(config.k) if (task.id, policy.name, j) not in done]
    gate = asyncio.Semaphore(max(1, config.concurrency))
    written = 0
    with JsonlAppender(out) as sink:

        async def one(task: Task, j: int) -> None:
            nonlocal written
            async with gate:
                traj = await run_episode(task, policy, user, tools, seed=derive_seed(config.seed, task.id, j),
                                         sample=j, max_turns=turn_limit(task, config.max_turns))
            if not traj.unscored:  # an episode the infrastructure broke says nothing to score
                try:
                    await score_episode(task, traj, config.reward, judge=judge)  # a judge failure: unscored (fault)
                except ScoringError as err:
                    traj.meta["scoring_error"] = str(err)
            sink.write(traj)
            written += 1
            if on_done:
                on_done(traj)

        await asyncio.gather(*(one(task, j) for task, j in jobs))
    return written
