"""RL rollout throughput with the LLM user, LLM mock tools and LLM judge (no policy model).

64 synthesized-style tasks × a group of 16 rollouts, played by `integrations.trl.rollouts.play_scored` (the
episode + scoring path TRL's GRPO rollouts use) with a scripted policy, against a local fake OpenAI server
that sleeps 200 ms per model call. The policy makes every rollout of a task ask the user once, call two
tools with the same arguments and answer, so the figures isolate the simulators:

- episodes/s against the ideal for the configured concurrency: C episodes in flight, each needing
  (its model calls) × latency of wall time, so ideal = C / (mean calls per episode × latency);
- model calls per episode by role (user, tool, judge);
- the M hit rate: the share of tool calls answered from the mapping without a model call.

Run: `python bench/rl_rollouts.py [--tasks 64 --group 16 --latency 0.2 --concurrency 256]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fakeserver import FakeOpenAIServer, route_by_model  # noqa: E402

from synthagent.integrations.trl.rollouts import play_scored  # noqa: E402
from synthagent.rollout.policies import build_simulators  # noqa: E402
from synthagent.sim.kinds import RoutedTools, RoutedUsers  # noqa: E402
from synthagent.spec.models import FunctionCall, Message, Rubric, RubricItem, Task, ToolCall, ToolSpec  # noqa: E402
from synthagent.spec.models import FunctionDef  # noqa: E402

MODELS = {"user": "user-model", "tool": "tool-model", "judge": "judge-model"}


def make_task(i: int) -> Task:
    tools = [ToolSpec(function=FunctionDef(name=name, description=f"{name.replace('_', ' ')}.", parameters={
        "type": "object", "properties": {"record_id": {"type": "string", "description": "the record"}},
        "required": ["record_id"]}), returns={"type": "object", "properties": {"status": {"type": "string"}},
                                              "required": ["status"]})
        for name in ("find_record", "update_record")]
    return Task(id=f"bench-{i:03d}", domain="bench", instruction=f"Please sort out my record number {i}.",
                tools=tools, policy=["Confirm before changing a record."],
                rubric=Rubric(subgoals=[RubricItem(id="s1", criterion="The record was updated.")],
                              interactions=[RubricItem(id="i1", criterion="The agent asked for the reference.")]),
                metadata={"background": f"The record reference is REF-{i:04d}."})


class ScriptedPolicy:
    """Ask, call find_record, call update_record, answer: the same calls in every rollout of a task."""

    name = "scripted"

    def session(self, task: Task, seed: int) -> "ScriptedPolicy":
        self.turn = 0
        return _Session(task)


class _Session:
    def __init__(self, task: Task):
        self.task, self.turn = task, 0

    def act(self, messages: list[Message], tools: list) -> Message:
        self.turn += 1
        ref = f"REF-{self.task.id[-3:]}"
        if self.turn == 1:
            return Message(role="assistant", actor="agent", content="What is the record reference?")
        if self.turn in (2, 3):
            name = "find_record" if self.turn == 2 else "update_record"
            return Message(role="assistant", actor="agent", content=None, tool_calls=[ToolCall(
                id=f"c{self.turn}", function=FunctionCall(name=name, arguments=json.dumps({"record_id": ref})))])
        return Message(role="assistant", actor="agent", content=f"<answer>{ref} updated.</answer>")


def judge_reply(body: dict) -> str:
    prompt = next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user")
    listed = prompt.rsplit("one JSON object per line)\n", 1)[1]
    ids = [json.loads(line)["id"] for line in listed.splitlines() if line.strip()]
    return json.dumps({"verdicts": [{"id": i, "verdict": "Completed", "justification": "seen", "message": None}
                                    for i in ids]})


def responder() -> object:
    return route_by_model({
        MODELS["user"]: lambda body: "The reference is REF-0001.",
        MODELS["tool"]: lambda body: json.dumps({"is_new": True, "response": {"status": "ok"}}),
        MODELS["judge"]: judge_reply})


def config_yaml(base_url: str, concurrency: int) -> str:
    lines = ["roles:", "  default:", f"    base_url: {base_url}", "    timeout_s: 30", "    model: unused"]
    for role, model in MODELS.items():
        lines += [f"  {role}:", f"    model: {model}"]
    return "\n".join(lines + [f"concurrency: {concurrency}", "max_retries: 2"]) + "\n"


async def run(tasks: list[Task], group: int, concurrency: int, folder: Path, config: Path) -> tuple[list, float]:
    simulators, judge = build_simulators(config, folder / "mock-tools")
    users, tools = RoutedUsers(simulators), RoutedTools(simulators)
    gate = asyncio.Semaphore(concurrency)
    policy = ScriptedPolicy()

    async def one(task: Task, k: int):
        async with gate:
            return await play_scored(task, policy, users, tools, judge, seed=k, max_turns=8)

    start = time.perf_counter()
    # a group's rollouts start together, as in GRPO: all of a task's rollouts share its mapping M
    trajs = await asyncio.gather(*(one(t, k) for t in tasks for k in range(group)))
    return trajs, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=64)
    parser.add_argument("--group", type=int, default=16)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=256, help="episodes in flight (and LLM client slots)")
    opts = parser.parse_args()
    tasks = [make_task(i) for i in range(opts.tasks)]
    with tempfile.TemporaryDirectory() as tmp, FakeOpenAIServer(responder(), latency_s=opts.latency,
                                                                 keep_requests=False) as server:
        config = Path(tmp) / "llm.yaml"
        config.write_text(config_yaml(server.base_url, opts.concurrency))
        trajs, seconds = asyncio.run(run(tasks, opts.group, opts.concurrency, Path(tmp), config))
        calls = dict(server.requests_by_model)
    episodes = len(trajs)
    per_role = {role: calls.get(model, 0) / episodes for role, model in MODELS.items()}
    per_episode = sum(per_role.values())
    tool_calls = sum(t.counters.tool_calls for t in trajs)
    # an episode's simulator steps run one after another (user reply, each tool call, the judge): each costs at
    # most one model latency (an M hit costs nothing, a call waiting on an identical in-flight call costs one)
    steps = (sum(t.counters.user_turns - 1 for t in trajs) + tool_calls + calls.get(MODELS["judge"], 0)) / episodes
    ideal = opts.concurrency / (steps * opts.latency)
    ideal_if_hits_free = opts.concurrency / (per_episode * opts.latency)
    hits = sum(t.metrics.get("tool_cache_hits", 0) for t in trajs)
    figures = {"episodes": episodes, "seconds": round(seconds, 2), "episodes_per_s": round(episodes / seconds, 1),
               "ideal_episodes_per_s": round(ideal, 1), "fraction_of_ideal": round(episodes / seconds / ideal, 3),
               "sequential_steps_per_episode": round(steps, 3),
               "ideal_if_every_m_hit_were_free": round(ideal_if_hits_free, 1),
               "model_calls_per_episode": {k: round(v, 3) for k, v in per_role.items()},
               "tool_calls": tool_calls, "m_hit_rate": round(hits / max(tool_calls, 1), 3),
               "unscored": sum(t.unscored for t in trajs), "concurrency": opts.concurrency,
               "latency_s": opts.latency, "server_max_in_flight": server.max_in_flight}
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
