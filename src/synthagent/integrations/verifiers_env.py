"""verifiers (PrimeIntellect's `verifiers.v1`) plays synthagent worlds through `synthagent serve`.

Why verifiers: its environment interface is what RL users of open models ask for most (prime-rl trains on
it, `vf eval` evaluates with it), and its rollout code records each model call on a `Trace` that its
trainers consume. This module is a verifiers *environment package*: a taskset, an env and a harness,
found by verifiers' loader under the id `synthagent-verifiers` (the top-level `synthagent_verifiers` module
re-exports them, because verifiers imports an id as a top-level module name).

How the pieces map (docs/serve.md, "verifiers"):

- `SynthagentTaskset` lists the server's tasks (`GET /tasks`), one verifiers task per (task id, seed).
- `SynthagentEnv` is the world, as verifiers' own user-sim env is: `run()` opens a server session, then
  relays between the session and the assistant agent's `interaction()`: each agent segment is one
  assistant message, which the env steps on the server; the observations (tool results or the user's
  reply) are the next turn. `finalize()` records the server's rubric reward on the agent's trace; an
  unscored episode (a simulator or judge fault) fails the episode instead of recording a guessed 0.
- `SynthagentHarness` is the agent program: one chat completion per segment through verifiers'
  interception endpoint, so every model call lands on the trace (and, under prime-rl, is trained on). It
  runs in process, which verifiers allows ("the interception is the contract, not the process"); it needs
  no container, no `uv` and no network.

It imports verifiers, the openai SDK that verifiers ships, and synthagent's standard-library HTTP client
(`integrations.server.client`) with the core package's typed wire models; nothing else of synthagent. It
lives in its own environment (`make .venv-verifiers`), because verifiers pins `openai<3` and about forty
packages that the test environment has at other versions.

`python -m synthagent.integrations.verifiers_env --url … --model-url … --model …` evaluates a model on a
server's tasks with verifiers' rollout code and prints one JSON line per episode.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

import verifiers.v1 as vf
from openai import AsyncOpenAI
from pydantic import Field

from synthagent.integrations.server.client import AsyncServeClient, ServeClient

TASKSET_ID = "synthagent-verifiers"


class SynthagentTaskData(vf.TaskData):
    """One episode's wire data: the server's task id (`id`), the seed, and, once the env opened the
    session, the tools the agent sees (OpenAI function format)."""

    seed: int = 0
    tools: list[dict[str, Any]] = Field(default_factory=list)


class SynthagentState(vf.State):
    """The served session behind a rollout, kept on the trace so `finalize` can score it."""

    session_id: str | None = None
    termination: str | None = None
    items: dict[str, bool] = Field(default_factory=dict)
    """The rubric's per-item verdicts, as the server scored them."""


class SynthagentTask(vf.Task[SynthagentTaskData, SynthagentState]):
    """A synthagent task; its judgement is the server's rubric, recorded by `SynthagentEnv.finalize`."""

    @property
    def key(self) -> str:
        # (task, seed) is the episode's identity; the tools filled in by the env must not change it
        return f"{self.data.id}@{self.data.seed}"


class SynthagentTasksetConfig(vf.TasksetConfig):
    """Where the server is and which episodes to play (`--env.taskset.url`, `--env.taskset.seeds`, …)."""

    url: str = "http://127.0.0.1:8000"
    token: str | None = None
    """The server's bearer token (`synthagent serve --token`), when it has one."""
    seeds: list[int] = Field(default_factory=lambda: [0])
    """Each task is played once per seed; episodes are deterministic in (task, seed)."""
    task_ids: list[str] = Field(default_factory=list)
    """Only these tasks (all the server's tasks when empty)."""
    unknown_tools: str = "observe"
    """A call to a tool the task does not offer is the model's mistake, answered with an error
    observation and scored, as in an in-process rollout (the server's `unknown_tools`)."""
    keep_sessions: bool = False
    """Leave each scored session open on the server (for inspection with `GET /sessions/{id}`); closed by
    default, since the server holds sessions in memory."""


class SynthagentTaskset(vf.Taskset[SynthagentTask, SynthagentTasksetConfig]):
    """The server's tasks, one verifiers task per (task id, seed)."""

    def load(self):
        client = ServeClient(self.config.url, token=self.config.token)
        try:
            ids, offset = [], 0
            while True:
                page = client.tasks(offset=offset, limit=500)
                ids += [t.id for t in page.tasks]
                offset += len(page.tasks)
                if not page.tasks or offset >= page.total:
                    break
        finally:
            client.close_connection()
        if self.config.task_ids:
            missing = sorted(set(self.config.task_ids) - set(ids))
            if missing:
                raise ValueError(f"the server at {self.config.url} has no task {missing[0]!r} "
                                 f"({len(missing)} of --env.taskset.task-ids unknown)")
            ids = [i for i in self.config.task_ids]
        for task_id in ids:
            for seed in self.config.seeds:
                # no prompt: the world's user opens the conversation (the env sends its first message)
                yield SynthagentTask(SynthagentTaskData(id=task_id, name=task_id, seed=seed), self.config.task)


class SynthagentHarnessConfig(vf.HarnessConfig):
    pass


def to_wire(message: Any) -> dict[str, Any]:
    """A verifiers message as an OpenAI chat message (verifiers flattens a tool call's function)."""
    data = message.model_dump(exclude_none=True) if hasattr(message, "model_dump") else dict(message)
    out: dict[str, Any] = {"role": data["role"], "content": data.get("content")}
    if data["role"] == "assistant":
        calls = data.get("tool_calls") or []
        if calls:
            out["tool_calls"] = [{"id": c["id"], "type": "function",
                                  "function": {"name": c["name"], "arguments": c["arguments"]}} for c in calls]
    elif data["role"] == "tool":
        out["tool_call_id"] = data["tool_call_id"]
    return out


class SynthagentHarness(vf.Harness[SynthagentHarnessConfig]):
    """One chat completion per segment, with the task's tools offered; the env executes the tool calls.

    Why a harness of its own: verifiers' stock chat loop (`null`) runs tools itself through MCP servers and
    is launched as a `uv` script; here the tools belong to the served world, which answers a whole assistant
    message at a time, so the agent program only samples and hands the message back."""

    APPENDS_SYSTEM_PROMPT = True
    SUPPORTS_RESUME = True
    EXECUTES_CODE = False
    NEEDS_CONTAINER = False

    async def launch(self, ctx, trace, runtime, endpoint, secret, mcp_urls, data, tool_interception_url=None):
        system, prompt = self.resolve_prompt(data)
        messages = [{"role": "system", "content": system}] if system else []
        messages += [{"role": "user", "content": prompt}] if isinstance(prompt, str) else [to_wire(m) for m in prompt or []]
        client = AsyncOpenAI(base_url=endpoint, api_key=secret, max_retries=0)
        try:
            kwargs: dict[str, Any] = {"tools": data.tools} if getattr(data, "tools", None) else {}
            await client.chat.completions.create(model=ctx.model, messages=messages, **kwargs)
        finally:
            await client.close()
        return vf.ProgramResult(exit_code=0, stdout="", stderr="")


class SynthagentEnvConfig(vf.EnvConfig):
    agent: vf.AgentConfig = vf.AgentConfig(runtime=vf.SubprocessConfig())
    """The policy under evaluation or training (`--env.agent.*`). Its runtime is the local one: the harness
    runs nothing in it (it only samples), so a sandbox or a tunnel to a remote box would buy nothing."""


class SynthagentEnv(vf.Env[SynthagentEnvConfig]):
    """The served world as a verifiers env: it plays the user and the tools and keeps the score."""

    def _client(self) -> AsyncServeClient:
        config = self.taskset.config
        return AsyncServeClient(config.url, token=config.token)

    async def run(self, task: SynthagentTask, agents) -> None:
        config = self.taskset.config
        client = self._client()
        try:
            opened = await client.start(task.data.id, seed=task.data.seed, unknown_tools=config.unknown_tools)
            system, opening = opened.messages[0], opened.messages[1:]
            played = task.with_data(system_prompt=system["content"], tools=opened.tools)
            async with agents.agent.interaction(played) as conversation:
                conversation.trace.state.session_id = opened.session_id
                segment = await conversation.turn(opening)
                turn = 0
                while not segment.terminated:
                    replies = [m for m in segment.messages if m.role == "assistant"]
                    if len(replies) != 1:
                        raise vf.EnvError(f"a segment must carry one assistant message, got {len(replies)}")
                    step = await client.step(opened.session_id, to_wire(replies[0]), turn=turn)
                    turn += 1
                    if step.done:
                        conversation.trace.state.termination = step.termination
                        break
                    segment = await conversation.turn(step.observations)
        finally:
            await client.aclose()

    async def finalize(self, task: SynthagentTask, episode) -> None:
        client = self._client()
        try:
            for trace in episode.traces:
                session_id = trace.state.session_id
                if session_id is None:
                    continue
                if not trace.ok:  # the run already failed (a model error, say): its error stands, nothing to score
                    await client.close(session_id)
                    continue
                scored = await client.score(session_id)
                if scored.unscored:
                    raise vf.EnvError(f"episode {task.key} is unscored: {scored.fault} (an infrastructure "
                                      "fault on the server, not the agent's failure)")
                trace.record_reward("synthagent", scored.reward)
                trace.record_metrics({f"item_{v.id}": float(v.met) for v in scored.result.items})
                trace.state.items = {v.id: v.met for v in scored.result.items}
                if not self.taskset.config.keep_sessions:
                    await client.close(session_id)
        finally:
            await client.aclose()


__all__ = ["SynthagentEnv", "SynthagentEnvConfig", "SynthagentHarness", "SynthagentHarnessConfig", "SynthagentTask",
           "SynthagentTaskData", "SynthagentTaskset", "SynthagentTasksetConfig", "TASKSET_ID"]


async def evaluate(url: str, model: str, model_url: str, api_key_var: str, seeds: list[int], task_ids: list[str],
                   token: str | None = None, concurrency: int = 8, keep_sessions: bool = False) -> list[dict[str, Any]]:
    """Play the server's tasks with verifiers' rollout code (`Env.serving`, `Env.run_slot`): one summary per
    episode (task, seed, reward, ok, errors, the served conversation's length)."""
    env = SynthagentEnv(SynthagentEnvConfig(taskset=SynthagentTasksetConfig(
        id=TASKSET_ID, url=url, token=token, seeds=seeds, task_ids=task_ids, keep_sessions=keep_sessions)))
    ctx = vf.ModelContext(model=model, client=vf.EvalClientConfig(base_url=model_url, api_key_var=api_key_var))
    gate = asyncio.Semaphore(concurrency)
    async with env.serving():
        episodes = await asyncio.gather(*(env.run_slot(slot, ctx, gate)
                                          for task in env.taskset for slot in env.slots(task)))
    rows = []
    for episode in episodes:
        (trace,) = episode.traces
        rows.append({"task_id": episode.task.data.id, "seed": episode.task.data.seed, "ok": episode.ok,
                     "reward": trace.rewards["synthagent"].score if "synthagent" in trace.rewards else None,
                     "items": trace.state.items, "turns": trace.num_turns, "termination": trace.state.termination,
                     "session_id": trace.state.session_id,
                     "errors": [f"{e.type}: {e.message}" for e in [*episode.errors, *trace.errors]]})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m synthagent.integrations.verifiers_env",
                                     description="Evaluate a model on a `synthagent serve` server with verifiers.")
    parser.add_argument("--url", required=True, help="the synthagent server, e.g. http://127.0.0.1:8000")
    parser.add_argument("--model", required=True)
    parser.add_argument("--model-url", required=True, help="an OpenAI-compatible endpoint (…/v1)")
    parser.add_argument("--api-key-var", default="OPENAI_API_KEY", help="environment variable holding its key")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds, each task played once per seed")
    parser.add_argument("--task-ids", default="", help="comma-separated task ids (default: all)")
    parser.add_argument("--token", default=None)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--keep-sessions", action="store_true", help="leave the scored sessions open on the server")
    args = parser.parse_args(argv)
    rows = asyncio.run(evaluate(args.url, args.model, args.model_url, args.api_key_var,
                                [int(s) for s in args.seeds.split(",") if s],
                                [t for t in args.task_ids.split(",") if t], args.token, args.concurrency, args.keep_sessions))
    for row in rows:
        print(json.dumps(row), flush=True)
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
