"""Scripted model roles for the LLM simulator tests and bench: each responder reads the request it gets.

One fake server plays every role; `route_by_model` dispatches on the model name, and each role has its own
model in `role_config`. The responders are deterministic functions of the request (what a real model at
temperature 0 would approximate), so a test can predict every answer:

- user: answers from the "# Details only you know" section of its system prompt when the agent's last
  message names a detail's label, approves a message that asks to proceed, otherwise says it doesn't know;
- tool: reads `<mapping>` and `<call>` from the prompt, reuses an entry whose arguments equal the call's
  up to letter case, else writes a new response generated from the tool's `returns` schema (seeded by
  the call), so it always validates;
- judge: "Completed" for every item (tests that need other verdicts bring their own responder).

`run_consistency` drives N tasks × k rollouts with the LLM user and LLM tools against these and measures
the consistency of repeated calls; the test and `bench/mock_tools_consistency.py` both use it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fakeserver import FakeOpenAIServer, route_by_model  # noqa: E402

from synthagent.llm import LLMClient, LLMConfig  # noqa: E402
from synthagent.sim.runtime import run_episode  # noqa: E402
from synthagent.sim.tools.llm_mock import LLMToolBackend  # noqa: E402
from synthagent.sim.tools.mapping import canonical_args  # noqa: E402
from synthagent.sim.users.llm import LLMUser  # noqa: E402
from synthagent.spec.models import FunctionCall, Message, Task, ToolCall, Trajectory  # noqa: E402

MODELS = {"user": "user-model", "tool": "tool-model", "judge": "judge-model", "policy": "policy-model"}


def role_config(server: FakeOpenAIServer, **shared: Any) -> LLMConfig:
    base = {"base_url": server.base_url, "timeout_s": 10.0}
    settings: dict[str, Any] = {"backoff_base_s": 0.01, "backoff_max_s": 0.05, "concurrency": 64}
    settings.update(shared)
    return LLMConfig(roles={role: {"model": model, **base} for role, model in MODELS.items()}, **settings)


def last(body: dict[str, Any], role: str) -> str:
    for message in reversed(body["messages"]):
        if message["role"] == role:
            return message.get("content") or ""
    return ""


# ------------------------------------------------------------------------------------------- user


def ledger_of(system: str) -> list[tuple[str, str]]:
    section = system.split("# Details only you know", 1)[1].split("\n# ", 1)[0]
    out = []
    for line in section.splitlines():
        if line.startswith("- ") and ": " in line:
            label, value = line[2:].split(": ", 1)
            out.append((label.lower().removeprefix("the user's ").strip(), value.strip()))
    return out


def user_responder(body: dict[str, Any]) -> str:
    agent = last(body, "user").lower()
    if "transfer" in agent:
        return "Alright, thanks. ###TRANSFER###"
    if "proceed" in agent or "confirm" in agent:
        return "Yes, please go ahead."
    if "anything else" in agent:
        return "No, that is everything, thanks! ###STOP###"
    for label, value in ledger_of(body["messages"][0]["content"]):
        if label and label in agent:
            return f"It's {value}."
    return "Sorry, I don't know that."


# ------------------------------------------------------------------------------------------- tool


def schema_instance(schema: dict[str, Any], rng: random.Random, depth: int = 0) -> Any:
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if "enum" in schema:
        return rng.choice(schema["enum"])
    if kind == "object":
        props = schema.get("properties", {})
        return {k: schema_instance(v, rng, depth + 1) for k, v in props.items()}
    if kind == "array":
        return [schema_instance(schema.get("items", {}), rng, depth + 1) for _ in range(rng.randint(1, 2))]
    if kind == "integer":
        return rng.randint(0, 500)
    if kind == "number":
        return round(rng.uniform(0, 500), 2)
    if kind == "boolean":
        return rng.random() < 0.5
    return f"v-{rng.randrange(16**6):06x}"


def tool_schemas(system: str) -> dict[str, dict[str, Any]]:
    section = system.split("# The tools", 1)[1].split("\n# How to answer", 1)[0]
    out = {}
    for line in section.splitlines():
        if line.startswith("{"):
            spec = json.loads(line)
            out[spec["name"]] = spec["returns"]
    return out


def read_call(prompt: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    mapping = prompt.split("<mapping>\n", 1)[1].split("</mapping>", 1)[0]
    entries = [json.loads(line) for line in mapping.splitlines() if line.strip()]
    call = json.loads(prompt.split("<call>\n", 1)[1].split("\n</call>", 1)[0])
    return call, entries


def _lower(value: Any) -> Any:
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, dict):
        return {k: _lower(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lower(v) for v in value]
    return value


def tool_responder(body: dict[str, Any]) -> str:
    call, entries = read_call(last(body, "user"))
    for entry in entries:
        if entry["tool"] == call["tool"] and _lower(entry["arguments"]) == _lower(call["arguments"]):
            return json.dumps({"reuse": entry["index"]})
    seed = hashlib.sha256(f"{call['tool']}|{json.dumps(call['arguments'], sort_keys=True)}".encode()).hexdigest()
    schema = tool_schemas(body["messages"][0]["content"]).get(call["tool"], {})
    return json.dumps({"is_new": True, "response": schema_instance(schema, random.Random(seed))})


def judge_all_completed(body: dict[str, Any]) -> str:
    prompt = last(body, "user")
    listed = prompt.rsplit("one JSON object per line)\n", 1)[1]
    ids = [json.loads(line)["id"] for line in listed.splitlines() if line.strip()]
    return json.dumps({"verdicts": [{"id": i, "verdict": "Completed", "justification": "seen in the transcript",
                                     "message": None} for i in ids]})


def responder(**overrides: Any) -> Any:
    routes = {MODELS["user"]: user_responder, MODELS["tool"]: tool_responder, MODELS["judge"]: judge_all_completed}
    routes.update({MODELS[k]: v for k, v in overrides.items()})
    return route_by_model(routes)


# ------------------------------------------------------------------------------------------- policy


class PerturbingPolicy:
    """Plays the gold plan, but writes each call's arguments the way varied agents would: shuffled keys,
    odd spacing, padded or re-cased strings, repeated calls and calls with made-up ids (seeded)."""

    name = "perturbing"

    def session(self, task: Task, seed: int) -> "_Perturbing":
        return _Perturbing(task, random.Random(seed))


class _Perturbing:
    def __init__(self, task: Task, rng: random.Random):
        self.rng = rng
        self.queue: list[tuple[str, Any]] = []
        for action in task.gold:
            if action.kind == "call":
                args = dict(action.arguments or {})
                self.queue.append(("call", (action.tool, args)))
                if rng.random() < 0.3:
                    self.queue.append(("call", (action.tool, args)))  # the same call again
                if rng.random() < 0.2:
                    fake = {k: (f"{v}-X{rng.randint(1, 3)}" if isinstance(v, str) else v) for k, v in args.items()}
                    self.queue.append(("call", (action.tool, fake)))
            elif action.kind == "answer":
                self.queue.append(("say", f"<answer>{action.text}</answer>"))
            else:
                self.queue.append(("say", action.text or ""))
        self.turn = 0

    def _render(self, args: dict[str, Any]) -> str:
        items = list(args.items())
        self.rng.shuffle(items)
        out = {}
        for key, value in items:
            if isinstance(value, str):
                roll = self.rng.random()
                if roll < 0.15:
                    value = value.lower() if value != value.lower() else value.upper()
                elif roll < 0.3:
                    value = f"  {value} "
            out[key] = value
        style = self.rng.choice([(",", ":"), (", ", ": "), (" ,  ", " :  ")])
        return json.dumps(out, separators=style)

    def act(self, messages: list[Message], tools: list[dict[str, Any]]) -> Message:
        self.turn += 1
        if not self.queue:
            return Message(role="assistant", actor="agent", content="<answer>Done.</answer>")
        kind, payload = self.queue.pop(0)
        if kind == "say":
            return Message(role="assistant", actor="agent", content=payload)
        tool, args = payload
        return Message(role="assistant", actor="agent", content=None,
                       tool_calls=[ToolCall(id=f"call_{self.turn}",
                                            function=FunctionCall(name=tool, arguments=self._render(args)))])


# ------------------------------------------------------------------------------------------- measure


def consistency(trajectories: list[Trajectory]) -> dict[str, Any]:
    """Per task, every (tool, canonical args) seen more than once: did it always get the same response?"""
    seen: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    calls = 0
    for traj in trajectories:
        pending: dict[str, tuple[str, str]] = {}
        for msg in traj.messages:
            for call in msg.tool_calls or []:
                try:
                    canon = canonical_args(json.loads(call.function.arguments))
                except ValueError:
                    continue
                pending[call.id] = (call.function.name, canon)
            if msg.role == "tool" and not msg.error and msg.tool_call_id in pending:
                calls += 1
                tool, canon = pending[msg.tool_call_id]
                seen[(traj.task_id, tool, canon)].append(msg.content or "")
    repeated = {k: v for k, v in seen.items() if len(v) > 1}
    consistent = sum(len(set(v)) == 1 for v in repeated.values())
    variants: dict[tuple[str, str, str], set[str]] = defaultdict(set)  # the same call up to letter case
    keys_per_variant: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for (task_id, tool, canon), contents in seen.items():
        variants[(task_id, tool, canon.lower())].update(contents)
        keys_per_variant[(task_id, tool, canon.lower())].add(canon)
    cased = [k for k, keys in keys_per_variant.items() if len(keys) > 1]
    return {"calls": calls, "distinct_keys": len(seen), "repeated_keys": len(repeated),
            "consistent_keys": consistent,
            "consistency": consistent / len(repeated) if repeated else 1.0,
            "case_variant_groups": len(cased),
            "case_variant_consistency": (sum(len(variants[k]) == 1 for k in cased) / len(cased)) if cased else 1.0}


async def run_consistency(tasks: list[Task], k: int, config: LLMConfig, store_dir: Path, *,
                          concurrency: int = 64, serialize_per_tool: bool = True
                          ) -> tuple[list[Trajectory], LLMToolBackend, dict[str, Any]]:
    async with LLMClient(config) as client:
        user = LLMUser(client)
        tools = LLMToolBackend(client, store_dir, cap=100, serialize_per_tool=serialize_per_tool)
        gate = asyncio.Semaphore(concurrency)
        sessions: list[Any] = []

        class Recording:  # keeps each session so the test can read its metrics
            def session(self, task: Task) -> Any:
                s = tools.session(task)
                sessions.append(s)
                return s

        async def one(task: Task, j: int) -> Trajectory:
            async with gate:
                return await run_episode(task, PerturbingPolicy(), user, Recording(), seed=1000 * j + 7, sample=j,
                                         max_turns=40)

        trajectories = await asyncio.gather(*(one(t, j) for t in tasks for j in range(k)))
        usage = client.usage
    stats = consistency(list(trajectories))
    totals = tools.totals
    served = sum(totals[n] for n in ("tool_cache_hits", "tool_new_entries", "tool_reused_entries"))
    stats.update({
        "episodes": len(trajectories),
        "hits": totals["tool_cache_hits"], "new_entries": totals["tool_new_entries"],
        "reused_entries": totals["tool_reused_entries"], "schema_violations": totals["tool_schema_violations"],
        "tool_faults": totals["tool_faults"], "tool_model_calls": totals["tool_model_calls"],
        "hit_rate": totals["tool_cache_hits"] / served if served else 0.0,
        "user_calls": usage.get("user", {}).get("calls", 0),
        "session_metrics_sum": sum(s.metrics()["tool_cache_hits"] for s in sessions),
    })
    return list(trajectories), tools, stats


def tasks_for_consistency(n: int = 100) -> list[Task]:
    from testkit import make_task

    domains = ("airline", "retail")
    return [make_task(domains[i % 2], 100 + i, 1 + i % 5) for i in range(n)]


# ------------------------------------------------------------------------------------------- processes


def serial_tool_task() -> Task:
    """One tool whose responses carry a per-request serial: two generations of one key never agree."""
    from synthagent.spec.models import FunctionDef, ToolSpec

    tool = ToolSpec(function=FunctionDef(name="lookup", description="Look a record up.",
                                         parameters={"type": "object", "properties": {"id": {"type": "string"}},
                                                     "required": ["id"]}),
                    returns={"type": "object", "properties": {"id": {"type": "string"}, "serial": {"type": "integer"}},
                             "required": ["serial"]})
    return Task(domain="test", instruction="Look things up.", tools=[tool]).with_id()


def serial_responder() -> Any:
    counter = iter(range(10**9))

    def respond(body: dict[str, Any]) -> str:
        call, _ = read_call(last(body, "user"))
        return json.dumps({"is_new": True, "response": {"id": call["arguments"]["id"], "serial": next(counter)}})

    return respond


def process_worker(base_url: str, store_dir: str, ids: list[str], out: Any) -> None:
    """Run in a child process: call `lookup` for every id (in the given order) and report the contents."""
    task = serial_tool_task()
    config = LLMConfig.for_endpoint(base_url, MODELS["tool"], backoff_base_s=0.01, timeout_s=10.0)

    async def go() -> dict[str, str]:
        async with LLMClient(config) as client:
            backend = LLMToolBackend(client, store_dir)
            session = backend.session(task)
            seen = {}
            for i in ids:
                result = await session.call("lookup", json.dumps({"id": i}))
                seen[i] = result.content
            return seen

    out.put(asyncio.run(go()))


# ------------------------------------------------------------------------------------- write, then read


RECORD_RETURNS = {"type": "object", "properties": {"record_id": {"type": "string"}, "status": {"type": "string"}},
                  "required": ["record_id", "status"]}


def write_read_task(i: int) -> Task:
    """A task with one read and one write tool over records: the write-then-read sequences run on it."""
    from synthagent.spec.models import FunctionDef, ToolSpec

    def tool(name: str, kind: str, params: dict[str, Any], returns: dict[str, Any]) -> ToolSpec:
        return ToolSpec(function=FunctionDef(name=name, description=f"{name.replace('_', ' ')}.",
                                             parameters={"type": "object", "properties": params,
                                                         "required": list(params)}), returns=returns, kind=kind)

    return Task(domain="records", instruction=f"Update record set {i}.", tools=[
        tool("get_record", "read", {"record_id": {"type": "string"}}, RECORD_RETURNS),
        tool("set_status", "write", {"record_id": {"type": "string"}, "status": {"type": "string"}},
             {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]})]).with_id()


class WriteThenReadPolicy:
    """Per rollout: read R1, write a rollout-specific status to R1, read R1 twice, read R2, answer. Rollouts of
    a task write *different* statuses, so a read served from the shared M after a write would show another
    rollout's world or the state before the write."""

    name = "write-then-read"

    def session(self, task: Task, seed: int) -> Any:
        r1, r2 = f"R-{task.id[:6]}-1", f"R-{task.id[:6]}-2"
        status = f"status-{seed}"
        steps = [("get_record", {"record_id": r1}), ("set_status", {"record_id": r1, "status": status}),
                 ("get_record", {"record_id": r1}), ("get_record", {"record_id": r1}), ("get_record", {"record_id": r2})]
        return _Steps(steps)


class _Steps:
    def __init__(self, steps: list[tuple[str, dict[str, Any]]]):
        self.steps = list(steps)
        self.turn = 0

    def act(self, messages: list[Message], tools: list[dict[str, Any]]) -> Message:
        self.turn += 1
        if not self.steps:
            return Message(role="assistant", actor="agent", content="<answer>Done.</answer>")
        tool, args = self.steps.pop(0)
        return Message(role="assistant", actor="agent", content=None, tool_calls=[ToolCall(
            id=f"call_{self.turn}", function=FunctionCall(name=tool, arguments=json.dumps(args)))])


def state_writes(prompt: str) -> list[dict[str, Any]]:
    if "<state>\n" not in prompt:
        return []
    block = prompt.split("<state>\n", 1)[1].split("</state>", 1)[0]
    return [json.loads(line) for line in block.splitlines() if line.strip()]


def state_aware_tool_responder(body: dict[str, Any]) -> str:
    """`tool_responder`, and a read shown writes to its record answers with their values (the last wins)."""
    prompt = last(body, "user")
    writes = state_writes(prompt)
    if not writes:
        return tool_responder(body)
    call, _ = read_call(prompt)
    seed = hashlib.sha256(f"{call['tool']}|{json.dumps(call['arguments'], sort_keys=True)}".encode()).hexdigest()
    schema = tool_schemas(body["messages"][0]["content"]).get(call["tool"], {})
    response = schema_instance(schema, random.Random(seed))
    if isinstance(response, dict):
        for write in writes:
            if set(map(str, write["arguments"].values())) & set(map(str, call["arguments"].values())):
                response.update({k: v for k, v in write["arguments"].items() if k in response})
    return json.dumps({"is_new": True, "response": response})


def read_after_write(trajectories: list[Trajectory]) -> dict[str, Any]:
    """Reads that follow a write of the same record in their episode: does each show the written values?"""
    checked = consistent = 0
    for traj in trajectories:
        calls: dict[str, tuple[str, dict[str, Any]]] = {}
        written: dict[str, dict[str, Any]] = {}
        for msg in traj.messages:
            for call in msg.tool_calls or []:
                calls[call.id] = (call.function.name, json.loads(call.function.arguments))
            if msg.role != "tool" or msg.error or msg.tool_call_id not in calls:
                continue
            tool, args = calls[msg.tool_call_id]
            if tool.startswith("set_"):
                written[str(args["record_id"])] = args
            elif str(args.get("record_id")) in written:
                checked += 1
                content = json.loads(msg.content or "{}")
                consistent += all(content.get(k) == v for k, v in written[str(args["record_id"])].items())
    return {"reads_after_write": checked, "consistent_reads": consistent,
            "read_after_write_consistency": consistent / checked if checked else 1.0}


async def run_write_then_read(n: int, k: int, config: LLMConfig, store_dir: Path, *, state_aware: bool = True
                              ) -> dict[str, Any]:
    """n write-read tasks × k concurrent rollouts: read-after-write consistency and how M served the rest."""
    tasks = [write_read_task(i) for i in range(n)]
    async with LLMClient(config) as client:
        user = LLMUser(client)
        tools = LLMToolBackend(client, store_dir, state_aware=state_aware)
        trajectories = await asyncio.gather(*(run_episode(t, WriteThenReadPolicy(), user, tools, seed=1000 * j + 7,
                                                          sample=j, max_turns=20) for t in tasks for j in range(k)))
    stats = read_after_write(list(trajectories))
    totals = tools.totals
    served = sum(totals[c] for c in ("tool_cache_hits", "tool_new_entries", "tool_reused_entries"))
    stats.update({"m_hit_rate": totals["tool_cache_hits"] / served if served else 0.0,
                  "m_calls": served, "state_reads": totals["tool_state_reads"], "state_hits": totals["tool_state_hits"]})
    return stats
