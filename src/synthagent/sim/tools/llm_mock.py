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

State. M is shared by every rollout of a task, but a write changes only its own episode's world: after
`update_address(order="A1", …)`, a read of order A1 must show the new address, while the other rollouts'
reads of A1 must not. So each session keeps its *mock state*: the writes it made (tool, arguments,
response). A read whose record values (`mapping.record_atoms`) meet a write's bypasses M: the simulator is
shown the session's writes in a `<state>` block and must answer anew (no reuse of an entry written before
the change), and the answer is kept in the session only (repeated in the session without a model call,
`tool_state_hits`), never in M. Every other call — reads of untouched records, writes — goes through M
as before, so M stays the cache for calls the state does not affect. A `SimulatedWorld.state` given by
the task (records, initial values) is shown in the system prompt. `state_aware=False` restores the old
behaviour (every call through M), for comparison in bench/mock_tools_consistency.py.

Two *different* calls that are equivalent (say, an id in two letter cases) race when rollouts of a task
run concurrently: neither is in M yet, so each may be written as new. By default
(`serialize_per_tool=True`) one response per (task, tool) is generated at a time in a process, so the
simulator always sees the entries written before it; against the scripted server this takes the
consistency of case-variant calls across 100 tasks × 4 concurrent rollouts from about 16% to 100%.
It costs latency when a group of rollouts makes many distinct calls of one tool at once; pass False to
trade that consistency for throughput. Repeated *identical* calls are consistent either way.

Per-session counters (`LLMToolSession.metrics()`), summed per backend in `LLMToolBackend.totals`:
tool_cache_hits, tool_model_calls, tool_new_entries, tool_reused_entries, tool_schema_violations,
tool_faults, tool_argument_errors, tool_state_reads (reads answered from the episode's state by a model
call), tool_state_hits (such reads repeated in the session, served without one).
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
from synthagent.sim.tools.mapping import Entry, ToolMapping, canonical_args, record_atoms, render_response
from synthagent.sim.tools.validate import parse_call
from synthagent.spec.models import Task, ToolSpec
from synthagent.spec.worlds import SimulatedWorld

PROMPT_VERSION = "v1"
DEFAULT_CAP = 100
INVALID_OUTPUT = "Error: tool simulator produced invalid output"
UNAVAILABLE = "Error: tool simulator unavailable"
SCHEMA_PREFIX = "response does not match the tool's returns schema"
COUNTERS = ("tool_cache_hits", "tool_model_calls", "tool_new_entries", "tool_reused_entries",
            "tool_schema_violations", "tool_faults", "tool_argument_errors", "tool_state_reads", "tool_state_hits")
STATE_HEAD = ("# The state of this episode: writes made earlier in this conversation, in order. They changed the "
              "world: answer the call as the world is now, consistently with them; the mapping above may predate "
              "them, so give a new response (no reuse).")


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
    text = re.sub(r"\{\{(\w+)\}\}", lambda m: fields[m.group(1)], load_prompt(f"tool_{version}.txt"))
    world = task.world
    if isinstance(world, SimulatedWorld) and world.state:  # absent otherwise: other tasks' prompts are unchanged
        text += ("\n\n# The state of the world at the start (every response must agree with it)\n"
                 + json.dumps(world.state, ensure_ascii=False, sort_keys=True))
    return text


def state_block(writes: list[tuple[str, str, Any]]) -> str:
    """The session's writes as the simulator is shown them before a read they touch."""
    lines = [f'{{"tool": {json.dumps(tool, ensure_ascii=False)}, "arguments": {args}, '
             f'"response": {json.dumps(response, ensure_ascii=False)}}}' for tool, args, response in writes]
    return f"\n\n{STATE_HEAD}\n<state>\n" + "".join(line + "\n" for line in lines) + "</state>"


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


def parse_decision(text: str, tool: str, shown: dict[int, Entry], validator: ResponseValidator,
                   allow_reuse: bool = True) -> tuple[str, Any]:
    """("reuse", entry) or ("new", response); anything else raises ParseError with the reason. A read of a
    record the episode's writes changed (`allow_reuse=False`) must be answered anew."""
    obj = parse_json_object(text)
    if not allow_reuse and "reuse" in obj:
        raise ParseError("this call reads a record that a write in <state> changed; reply with "
                         "{\"is_new\": true, \"response\": ...} consistent with the state, not a reuse")
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
                 serialize_per_tool: bool = True, state_aware: bool = True, **chat_overrides: Any):
        self.client = client
        self.state_aware = state_aware
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
        self.writes: list[tuple[str, str, Any]] = []
        """This episode's mock state: the writes it made, in order (tool, canonical args, response)."""
        self._write_atoms: set[str] = set()
        self._state_answers: dict[tuple[str, str, int], str] = {}

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
        if result.kind == "read" and self._write_atoms and record_atoms(canon) & self._write_atoms:
            return await self._state_read(name, canon, result)
        outcome = await self._through_mapping(name, canon, result)
        if result.kind == "write" and self.backend.state_aware and not outcome.error:
            self.writes.append((name, canon, _response_of(outcome.content)))
            self._write_atoms |= record_atoms(canon)
        return outcome

    async def _state_read(self, name: str, canon: str, result: ToolResult) -> ToolResult:
        """A read of a record this episode's writes changed: from the session's answers, else a model call
        shown the state; never from or into M (other rollouts did not make these writes)."""
        key = (name, canon, len(self.writes))
        known = self._state_answers.get(key)
        if known is not None:
            self._count("tool_state_hits")
            return _served(result, known, hit=True)
        outcome = await self._generate(name, canon, result, state=self.writes)
        if not outcome.error:
            self._count("tool_state_reads")
            self._state_answers[key] = outcome.content
        return outcome

    async def _through_mapping(self, name: str, canon: str, result: ToolResult) -> ToolResult:
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
            result.fail(problem)
            return None
        return args

    async def _generate(self, name: str, canon: str, result: ToolResult,
                        state: list[tuple[str, str, Any]] | None = None) -> ToolResult:
        backend = self.backend
        shown = self.mapping.relevant(name, canon, backend.cap)
        by_index = {e.index: e for e in shown}
        prompt = call_message(name, canon, shown, len(self.mapping)) + (state_block(state) if state else "")
        messages = [{"role": "system", "content": self.system}, {"role": "user", "content": prompt}]
        try:
            structured = await chat_structured(
                backend.client, backend.role, messages,
                lambda text: parse_decision(text, name, by_index, self.validator, allow_reuse=not state),
                stage=backend.stage, **backend.chat_overrides)
        except StructuredOutputError as err:
            self._count("tool_model_calls", len(err.reasons))
            schema_broken = any(r.startswith(SCHEMA_PREFIX) for r in err.reasons)
            self._count("tool_schema_violations" if schema_broken else "tool_faults")
            return result.fail(INVALID_OUTPUT.removeprefix("Error: "))
        except BudgetExceeded:
            raise
        except LLMError as err:
            self._count("tool_model_calls")
            self._count("tool_faults")
            result.fault = str(err)
            return result.fail(UNAVAILABLE.removeprefix("Error: "))
        self._count("tool_model_calls", structured.attempts)
        kind, value = structured.value
        if state:  # an answer from this episode's state: the session keeps it (_state_read), M does not
            return _served(result, render_response(value), hit=False)
        if kind == "reuse":
            entry, _ = self.mapping.add(name, canon, value.response, alias_of=value.index)
            self._count("tool_reused_entries")
        else:
            entry, added = self.mapping.add(name, canon, value)
            if added:
                self._count("tool_new_entries")
        return _served(result, entry.content, hit=False)


def _response_of(content: str) -> Any:
    """The JSON value of an observation (what M stored), or the text itself when it is not JSON."""
    try:
        return json.loads(content)
    except ValueError:
        return content


def _served(result: ToolResult, content: str, *, hit: bool, error: bool = False) -> ToolResult:
    result.content = content
    result.error = error
    result.cache_hit = hit
    return result

