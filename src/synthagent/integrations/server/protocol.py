"""The wire format of the environment server: typed request and response bodies.

Messages on the wire are OpenAI chat messages (what every trainer already produces and consumes); the
runtime's own `Message` adds `actor`, which the server fills in. One module owns this format so the server,
the thin client and the framework adapters cannot drift apart.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from synthagent.spec.models import RubricResult, Termination, ToolCall


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TaskInfo(_Wire):
    id: str
    domain: str
    difficulty: int
    world: str = Field(description="The world kind the task runs in (procedural db, tau2, simulated, ...).")


class TaskList(_Wire):
    total: int
    offset: int
    tasks: list[TaskInfo]


class StartRequest(_Wire):
    task_id: str
    seed: int = 0
    max_turns: int | None = Field(default=None, ge=1, le=256, description="Defaults to the server's limit.")
    unknown_tools: Literal["reject", "observe"] = Field(
        default="reject",
        description="A call to a tool the task does not offer: 'reject' answers 422 and leaves the session as it "
                    "was (the client may resend); 'observe' passes it to the episode, which answers with an error "
                    "observation, as an in-process rollout does.")


class AssistantMessage(_Wire):
    """One assistant turn in OpenAI chat format: text, tool calls, or both."""

    model_config = ConfigDict(extra="ignore")  # trainers attach fields of their own (reasoning, refusal, ...)
    role: Literal["assistant"] = "assistant"
    content: str | None = None
    tool_calls: list[ToolCall] | None = None


class StepRequest(_Wire):
    message: AssistantMessage
    turn: int | None = Field(
        default=None, ge=0,
        description="The agent turn this message is for (0 = first). A repeat of an earlier turn, e.g. a retry "
                    "after a dropped connection, returns that turn's recorded result instead of acting twice.")


class StartResponse(_Wire):
    session_id: str
    task_id: str
    seed: int
    max_turns: int
    messages: list[dict[str, Any]] = Field(description="The system prompt and the user's opening message.")
    tools: list[dict[str, Any]] = Field(description="The tools the agent sees, OpenAI function format.")


class StepResponse(_Wire):
    turn: int
    observations: list[dict[str, Any]] = Field(description="Tool results and the user's reply, in order.")
    done: bool
    termination: Termination | None = Field(default=None, description="Why the episode ended, once done.")
    reason: str | None = Field(default=None, description="Details: a user's stop reason or a policy error.")


class ScoreResponse(_Wire):
    session_id: str
    task_id: str
    reward: float | None
    result: RubricResult | None
    unscored: bool = Field(description="True when infrastructure (simulator, judge) failed: the reward says "
                                       "nothing about the agent.")
    fault: str | None = None
    termination: Termination


class SessionState(_Wire):
    session_id: str
    task_id: str
    seed: int
    turn: int = Field(description="The number of agent turns the episode has taken.")
    done: bool
    termination: Termination | None = None
    messages: list[dict[str, Any]]


class ErrorBody(_Wire):
    error: str
    detail: Any = None


class Health(_Wire):
    status: Literal["ok"] = "ok"
    sessions: int
    tasks: int
