"""Agent protocols: OpenAI `tool_calls` (the runtime's native form) and the paper's text protocol.

The text protocol is what the authors' prompts and training data use (Hermes style, as Qwen chat
templates render tools):

- the system prompt holds `<policy>…</policy>` and a `<tools>` block with one JSON function per line
  (`system_prompt_text`, rendered by `integrations.synthagent_release`, verbatim for imported records);
- the assistant calls a tool by writing `<tool_call>{"name": …, "arguments": {…}}</tool_call>` in its
  text (several blocks → several calls), finishes with `<answer>…</answer>`, and any other text goes to
  the user;
- tool results come back as a user turn `<tool_response>…</tool_response>` (one block per result).

`parse_text_turn` turns a text-protocol assistant message into the runtime's form (`tool_calls` set, the
blocks cut out of the text, by `sim.tool_call_text.parse_tool_call_blocks`); it never raises. A block whose
JSON is broken still becomes a tool call, with the name recovered when it can be (else
`MALFORMED_TOOL_NAME`) and the raw block as its arguments, so the tool backend answers with an error
observation the agent can learn from. Blocks inside `<think>…</think>` are drafts and are ignored. When a
message has both tool calls and an `<answer>`, the calls win and the episode goes on, exactly as the runtime
treats a native message with both.

`to_text_messages` renders a conversation back into text form for a model, and `TextProtocolPolicy`
wraps any policy whose model speaks the text protocol so that it runs in the runtime unchanged.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from synthagent.integrations.synthagent_release import release_messages
from synthagent.sim.interfaces import Policy, resolve
from synthagent.sim.tool_call_text import parse_tool_call_blocks
from synthagent.spec.models import FunctionCall, Message, Task, ToolCall



def system_prompt_text(task: Task) -> str:
    """The authors' system prompt for a task: `<policy>` + the `<tools>` block (+ the tool-call note)."""
    return release_messages(task)[0]["content"]


def user_prompt_text(task: Task) -> str:
    """The authors' first user turn: "Task Description: …" plus their fixed requirements."""
    return release_messages(task)[1]["content"]


def parse_text_turn(message: Message, id_prefix: str | None = None) -> Message:
    """A text-protocol assistant message → the same message with `tool_calls` (see the module docstring).

    Call ids are `{id_prefix}{i}`; with no prefix they are left empty and the runtime numbers them.
    """
    if message.tool_calls or not message.content:
        return message
    rest, found = parse_tool_call_blocks(message.content)
    if not found:
        return message
    calls = [ToolCall(id=f"{id_prefix}{i}" if id_prefix is not None else "",
                      function=FunctionCall(name=name, arguments=arguments))
             for i, (name, arguments) in enumerate(found)]
    return message.model_copy(update={"content": rest or None, "tool_calls": calls})


def render_tool_call(call: ToolCall) -> str:
    """One call as a `<tool_call>` block; a malformed call is written back exactly as it came."""
    try:
        args = json.loads(call.function.arguments) if call.function.arguments.strip() else {}
    except json.JSONDecodeError:
        args = None
    if not isinstance(args, dict):
        return f"<tool_call>\n{call.function.arguments}\n</tool_call>"
    body = json.dumps({"name": call.function.name, "arguments": args}, ensure_ascii=False)
    return f"<tool_call>\n{body}\n</tool_call>"


def render_tool_response(content: str | None) -> str:
    return f"<tool_response>\n{content or ''}\n</tool_response>"


def to_text_messages(messages: list[Message], task: Task | None = None, *,
                     tool_role: Literal["user", "tool"] = "user",
                     release_prompt: bool = True) -> list[Message]:
    """A runtime conversation in text-protocol form, for a model without native tool calling.

    With `task`, the system turn becomes `system_prompt_text(task)` and, when `release_prompt` is set and
    the first user turn is the task's instruction, that turn becomes the authors' "Task Description: …"
    prompt. Assistant tool calls become `<tool_call>` blocks after the assistant's text; consecutive tool
    results become one `tool_role` turn of `<tool_response>` blocks.
    """
    out: list[Message] = []
    seen_user = False
    for msg in messages:
        if msg.role == "system":
            content = system_prompt_text(task) if task is not None else msg.content
            out.append(Message(role="system", actor="system", content=content))
        elif msg.role == "assistant":
            parts = [msg.content.strip()] if msg.content and msg.content.strip() else []
            parts += [render_tool_call(c) for c in msg.tool_calls or []]
            out.append(Message(role="assistant", actor=msg.actor, content="\n".join(parts)))
        elif msg.role == "tool":
            block = render_tool_response(msg.content)
            previous = out[-1] if out else None
            if previous is not None and previous.actor == "tool" and previous.role == tool_role:
                previous.content = f"{previous.content}\n{block}"
            else:
                out.append(Message(role=tool_role, actor="tool", content=block))
        else:
            content = msg.content
            if (not seen_user and release_prompt and task is not None and msg.actor == "user"
                    and (content or "").strip() == task.instruction.strip()):
                content = user_prompt_text(task)
            seen_user = seen_user or msg.actor == "user"
            out.append(Message(role="user", actor=msg.actor, content=content, error=msg.error))
    return out


class TextProtocolPolicy:
    """Wrap a policy whose model speaks the text protocol (tools in the prompt, `<tool_call>` in its text).

    The inner policy's sessions receive the conversation from `to_text_messages` and no native tools; their
    replies are parsed with `parse_text_turn`. The wrapper keeps the inner policy's name unless given one.
    """

    def __init__(self, inner: Policy, *, name: str | None = None, tool_role: Literal["user", "tool"] = "user",
                 release_prompt: bool = True):
        self.inner = inner
        self.name = name or inner.name
        self.tool_role = tool_role
        self.release_prompt = release_prompt

    def session(self, task: Task, seed: int) -> "_TextSession":
        return _TextSession(self, self.inner.session(task, seed), task)


class _TextSession:
    def __init__(self, policy: TextProtocolPolicy, inner: Any, task: Task):
        self.policy = policy
        self.inner = inner
        self.task = task
        self.turn = 0

    async def act(self, messages: list[Message], tools: list[dict[str, Any]]) -> Message:
        view = to_text_messages(messages, self.task, tool_role=self.policy.tool_role,
                                release_prompt=self.policy.release_prompt)
        reply = await resolve(self.inner.act(view, []))
        self.turn += 1
        if not isinstance(reply, Message):
            return reply  # the runtime reports a policy that returns something else
        return parse_text_turn(reply, id_prefix=f"call_{self.turn}_")
