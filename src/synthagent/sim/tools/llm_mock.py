"""The LLM mock tool backend: a model plays the tools, kept consistent by the per-task mapping M.

A call goes through, in order:
1. Argument checks, exactly like the executable backend: unknown tool, oversized or non-JSON arguments,
   arguments that are not an object or break the tool's parameter schema → an error observation, no
   model call (the agent's mistake, not the simulator's; counted as `tool_argument_errors`).
2. M (`mapping.ToolMapping`): when the canonical arguments are already mapped for this tool, the stored
   response is returned without a model call (`ToolResult.cache_hit=True`). A call identical to one
   whose answer is being generated right now (another rollout of the task, same process) waits for
   that answer instead of asking again, and counts as a hit too.
3. The tool simulator (role "tool", `prompts/tool_v1.txt`) sees the task's tools with their `returns`
   schemas, the relevant entries of M (the same tool first, at most `cap`) and the call. It answers
   `{"reuse": N}` when the call is equivalent to entry N (the response is copied and the new arguments
   are stored as an alias of N, so the next identical call is a hit), or `{"is_new": true, "response":
   …}`, which is validated against the tool's `returns` schema (`jsonschema`) and appended to M. A reply
   that does not parse, names an entry it was not shown, or breaks the schema gets one repair request
   carrying the precise reason (`chat_structured`); when that fails too the agent gets the observation
   "Error: tool simulator produced invalid output", counted as `tool_schema_violations` (or
   `tool_faults` when no attempt even had the right shape). An endpoint that fails for good gives
   "Error: tool simulator unavailable" and a `tool_faults` count. Failed calls are not stored in M.

Two *different* calls that are equivalent (say, an id in two letter cases) race when rollouts of a task
run concurrently: neither is in M yet, so each may be written as new. By default
(`serialize_per_tool=True`) one response per (task, tool) is generated at a time in a process, so the
simulator always sees the entries written before it; against the scripted server this takes the
consistency of case-variant calls across 100 tasks × 4 concurrent rollouts from about 16% to 100%.
It costs latency when a group of rollouts makes many distinct calls of one tool at once; pass False to
trade that consistency for throughput. Repeated *identical* calls are consistent either way.

Per-session counters (`LLMToolSession.metrics()`), summed per backend in `LLMToolBackend.totals`:
tool_cache_hits, tool_model_calls, tool_new_entries, tool_reused_entries, tool_schema_violations,
tool_faults, tool_argument_errors.
"""

from __future__ import annotations

import functools
import asyncio
import json
import re
import weakref
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match

from synthagent.llm.client import BudgetExceeded, LLMClient, LLMError
from synthagent.llm.parsing import ParseError, StructuredOutputError, chat_structured, parse_json_object
from synthagent.sim.interfaces import ToolResult
from synthagent.sim.tools.mapping import Entry, ToolMapping, canonical_args
from synthagent.sim.tools.validate import parse_call
from synthagent.spec.models import Task, ToolSpec

PROMPT_VERSION = "v1"
DEFAULT_CAP = 100
INVALID_OUTPUT = "Error: tool simulator produced invalid output"
UNAVAILABLE = "Error: tool simulator unavailable"
SCHEMA_PREFIX = "response does not match the tool's returns schema"
COUNTERS = ("tool_cache_hits", "tool_model_calls", "tool_new_entries", "tool_reused_entries",
            "tool_schema_violations", "tool_faults", "tool_argument_errors")


@functools.lru_cache(maxsize=None)
def load_prompt(name: str) -> str:
    return resources.files("synthagent.sim.tools").joinpath("prompts", name).read_text(encoding="utf-8")


def tool_line(spec: ToolSpec) -> str:
    fn = spec.function
    return json.dumps({"name": fn.name, "description": fn.description, "parameters": fn.parameters,
                       "returns": spec.returns}, ensure_ascii=False)


def system_prompt(task: Task, version: str = PROMPT_VERSION) -> str:
    scenario = f"Domain: {task.domain}. The user's request: {task.instruction.strip()}"
    fields = {"scenario": scenario, "tools": "\n".join(tool_line(t) for t in task.tools)}
    # one pass over the template: braces inside the values are never read as placeholders
    return re.sub(r"\{\{(\w+)\}\}", lambda m: fields[m.group(1)], load_prompt(f"tool_{version}.txt"))


def call_message(tool: str, args: str, shown: list[Entry], total: int) -> str:
    lines = [f'{{"index": {e.index}, "tool": {json.dumps(e.tool, ensure_ascii=False)}, "arguments": {e.args}, '
             f'"response": {json.dumps(e.response, ensure_ascii=False)}}}' for e in shown]
    head = f"# The mapping: {len(shown)} of {total} entries (aliases omitted), one JSON object per line"
    call = f'{{"tool": {json.dumps(tool, ensure_ascii=False)}, "arguments": {args}}}'
    return f"{head}\n<mapping>\n" + "".join(line + "\n" for line in lines) + f"</mapping>\n\n# The call\n<call>\n{call}\n</call>"


@functools.lru_cache(maxsize=4096)
def _compiled(schema_text: str) -> Any:
    """A checked, compiled validator per distinct schema: the meta-schema check is the expensive part and
    the same tools recur across the sessions of a task and across tasks."""
    schema = json.loads(schema_text)
    cls = jsonschema.validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError:
        return None  # a model-written schema we cannot enforce; responses are accepted as they are
    return cls(schema)


class ResponseValidator:
    """The `returns` schema of each tool, compiled once; an empty or unusable schema accepts anything."""

    def __init__(self, tools: list[ToolSpec]):
        self._validators: dict[str, Any] = {}
        for spec in tools:
            if spec.returns:
                validator = _compiled(json.dumps(spec.returns, sort_keys=True))
                if validator is not None:
                    self._validators[spec.name] = validator

    def error(self, tool: str, response: Any) -> str | None:
        validator = self._validators.get(tool)
        if validator is None:
            return None
        err = best_match(validator.iter_errors(response))
        if err is None:
            return None
        where = "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path)
        return f"{SCHEMA_PREFIX}: response{where}: {err.message}"


def parse_decision(text: str, tool: str, shown: dict[int, Entry], validator: ResponseValidator
                   ) -> tuple[str, Any]:
    """("reuse", entry) or ("new", response); anything else raises ParseError with the reason."""
    obj = parse_json_object(text)
    extra = set(obj) - {"reuse", "is_new", "response", "reason"}
    if extra:
        raise ParseError(f"unexpected key(s) {sorted(extra)}; reply with {{\"reuse\": N}} or "
                         "{\"is_new\": true, \"response\": ...}")
    if "reuse" in obj:
        if "response" in obj or obj.get("is_new"):
            raise ParseError("reply has both 'reuse' and a new response; choose one")
        index = obj["reuse"]
        if not isinstance(index, int) or isinstance(index, bool):
            raise ParseError(f"'reuse' must be an entry index (an integer), got {json.dumps(index)}")
        entry = shown.get(index)
        if entry is None:
            raise ParseError(f"entry {index} is not in the mapping shown; reuse only a listed index")
        if entry.tool != tool:
            raise ParseError(f"entry {index} is a response of tool '{entry.tool}', not '{tool}'")
        return "reuse", entry
    if "response" not in obj:
        raise ParseError("reply has neither 'reuse' nor 'response'")
    if obj.get("is_new", True) is not True:
        raise ParseError("'is_new' must be true when a new response is given")
    problem = validator.error(tool, obj["response"])
    if problem:
        raise ParseError(problem)
    return "new", obj["response"]


class LLMToolBackend:
    """ToolBackend whose sessions share one mapping M per task id (and, with `store_dir`, one file)."""

    def __init__(self, client: LLMClient, store_dir: str | Path | None = None, cap: int = DEFAULT_CAP, *,
                 prompt_version: str = PROMPT_VERSION, role: str = "tool", stage: str = "tool_sim",
                 serialize_per_tool: bool = True, **chat_overrides: Any):
        self.client = client
        self.serialize_per_tool = serialize_per_tool
        self.store_dir = Path(store_dir) if store_dir is not None else None
        self.cap = cap
        self.prompt_version = prompt_version
        self.role = role
        self.stage = stage
        self.chat_overrides = chat_overrides
        self.totals: Counter[str] = Counter()
        self._mappings: dict[str, ToolMapping] = {}
        self._validators: dict[str, ResponseValidator] = {}
        self._prompts: dict[str, str] = {}
        self._inflight: dict[tuple[str, str, str], asyncio.Future[ToolResult]] = {}
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str], asyncio.Lock]] = (
            weakref.WeakKeyDictionary())

    def _tool_lock(self, task_id: str, tool: str) -> asyncio.Lock:
        per_loop = self._locks.setdefault(asyncio.get_running_loop(), {})
        return per_loop.setdefault((task_id, tool), asyncio.Lock())

    def mapping(self, task_id: str) -> ToolMapping:
        """The one M of a task in this backend, read from disk on first use."""
        mapping = self._mappings.get(task_id)
        if mapping is None:
            mapping = self._mappings[task_id] = ToolMapping(task_id, self.store_dir)
        return mapping

    def session(self, task: Task) -> "LLMToolSession":
        task_id = task.id or task.content_id()
        if task_id not in self._validators:
            self._validators[task_id] = ResponseValidator(task.tools)
            self._prompts[task_id] = system_prompt(task, self.prompt_version)
        return LLMToolSession(self, task, task_id)


class LLMToolSession:
    def __init__(self, backend: LLMToolBackend, task: Task, task_id: str):
        self.backend = backend
        self.task = task
        self.task_id = task_id
        self.mapping = backend.mapping(task_id)
        self.validator = backend._validators[task_id]
        self.system = backend._prompts[task_id]
        self.schemas = {t.name: t.function.parameters for t in task.tools}
        self.kinds = {t.name: t.kind for t in task.tools}
        self.counts: Counter[str] = Counter()

    def _count(self, name: str, n: int = 1) -> None:
        self.counts[name] += n
        self.backend.totals[name] += n

    def metrics(self) -> dict[str, float]:
        return {name: float(self.counts.get(name, 0)) for name in COUNTERS}

    async def call(self, name: str, arguments: str | dict[str, Any]) -> ToolResult:
        result = ToolResult(content="", name=name, kind=self.kinds.get(name, "read"))
        args = self._checked_args(name, arguments, result)
        if args is None:
            self._count("tool_argument_errors")
            return result
        result.args = args
        canon = canonical_args(args)
        entry = self.mapping.lookup(name, canon)
        if entry is not None:
            self._count("tool_cache_hits")
            return _served(result, entry.content, hit=True)
        key = (self.task_id, name, canon)
        loop = asyncio.get_running_loop()
        leader = self.backend._inflight.get(key)
        if leader is not None and leader.get_loop() is loop:
            shared = await asyncio.shield(leader)
            if not shared.error:
                self._count("tool_cache_hits")
            return _served(result, shared.content, hit=not shared.error, error=shared.error)
        future: asyncio.Future[ToolResult] = loop.create_future()
        self.backend._inflight[key] = future
        try:
            if self.backend.serialize_per_tool:
                async with self.backend._tool_lock(self.task_id, name):
                    entry = self.mapping.lookup(name, canon)  # stored while this call waited its turn
                    if entry is not None:
                        self._count("tool_cache_hits")
                        outcome = _served(result, entry.content, hit=True)
                    else:
                        outcome = await self._generate(name, canon, result)
            else:
                outcome = await self._generate(name, canon, result)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody else must
            raise
        else:
            future.set_result(outcome)
            return outcome
        finally:
            if self.backend._inflight.get(key) is future:
                del self.backend._inflight[key]

    def _checked_args(self, name: str, arguments: str | dict[str, Any], result: ToolResult) -> dict[str, Any] | None:
        args, problem = parse_call(name, arguments, self.schemas)
        if problem:
            _fail(result, problem)
            return None
        return args

    async def _generate(self, name: str, canon: str, result: ToolResult) -> ToolResult:
        backend = self.backend
        shown = self.mapping.relevant(name, canon, backend.cap)
        by_index = {e.index: e for e in shown}
        messages = [{"role": "system", "content": self.system},
                    {"role": "user", "content": call_message(name, canon, shown, len(self.mapping))}]
        try:
            structured = await chat_structured(
                backend.client, backend.role, messages,
                lambda text: parse_decision(text, name, by_index, self.validator),
                stage=backend.stage, **backend.chat_overrides)
        except StructuredOutputError as err:
            self._count("tool_model_calls", len(err.reasons))
            schema_broken = any(r.startswith(SCHEMA_PREFIX) for r in err.reasons)
            self._count("tool_schema_violations" if schema_broken else "tool_faults")
            return _fail(result, INVALID_OUTPUT.removeprefix("Error: "))
        except BudgetExceeded:
            raise
        except LLMError as err:
            self._count("tool_model_calls")
            self._count("tool_faults")
            result.fault = str(err)
            return _fail(result, UNAVAILABLE.removeprefix("Error: "))
        self._count("tool_model_calls", structured.attempts)
        kind, value = structured.value
        if kind == "reuse":
            entry, _ = self.mapping.add(name, canon, value.response, alias_of=value.index)
            self._count("tool_reused_entries")
        else:
            entry, added = self.mapping.add(name, canon, value)
            if added:
                self._count("tool_new_entries")
        return _served(result, entry.content, hit=False)


def _served(result: ToolResult, content: str, *, hit: bool, error: bool = False) -> ToolResult:
    result.content = content
    result.error = error
    result.cache_hit = hit
    return result


def _fail(result: ToolResult, message: str) -> ToolResult:
    result.content = f"Error: {message}"
    result.error = True
    return result
