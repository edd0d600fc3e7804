"""The LLM rubric judge: per item Completed / Not Completed with a one-line justification.

`LLMJudge(client)` is an async callable with the scorer's judge signature, so hybrid scoring is just
`await score_async(task, trajectory, config, judge=LLMJudge(client))`: items with a programmatic check are
decided by the check, the rest by the judge.

The judge (role "judge", `prompts/judge_v1.txt`) sees the policy, the tools, the user's hidden
background, the transcript with numbered messages and the items to grade, and answers one JSON object
`{"verdicts": [{"id", "verdict", "justification", "message"}]}`. Parsing is strict: every item exactly
once, no unknown ids, the verdict exactly "Completed" or "Not Completed" (case and spacing aside), a
non-empty justification (collapsed to one line); a `<verdicts>` tag around the JSON is accepted. A
rejected reply gets one repair request naming the problem (`chat_structured`); when that fails too, or
the endpoint fails for good, `JudgeError` (a `ScoringError`) is raised, so the runner records the reason
on the trajectory instead of crashing.

For forbidden items `met` keeps the scorer's meaning (True: the behaviour did not happen), which is
what "Completed" means in the prompt's policy-compliance section.

`mode="batch"` (default) grades all of a trajectory's items in one call; `mode="per_item"` makes one
call per item, which small judge models handle more reliably.
"""

from __future__ import annotations

import functools
import asyncio
import json
import re
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from synthagent.llm.client import BudgetExceeded, LLMClient, LLMError
from synthagent.llm.parsing import ParseError, StructuredOutputError, chat_structured, parse_json_object, strip_think
from synthagent.reward.scorer import ScoringError
from synthagent.spec.models import ItemVerdict, RubricItem, Task, Trajectory

PROMPT_VERSION = "v1"
MAX_MESSAGE_CHARS = 2_000
SECTION_TITLES = {"forbidden": "forbidden (policy compliance)", "subgoals": "subgoals",
                  "interactions": "interactions (required user interaction)"}
_VERDICTS = {"completed": True, "not completed": False}


class JudgeError(ScoringError):
    """The judge gave no usable verdicts for a trajectory (after one repair), or could not be reached."""


class _Verdict(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    met: bool
    justification: str
    message: int | None = None


@functools.lru_cache(maxsize=None)
def load_prompt(name: str) -> str:
    return resources.files("synthagent.reward").joinpath("prompts", name).read_text(encoding="utf-8")


def _clip(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + f" […{len(text) - limit} more characters]"


def render_transcript(trajectory: Trajectory) -> str:
    """Numbered messages (the numbers are `Message` indices, as `ItemVerdict.message_index` uses them)."""
    lines = []
    for index, msg in enumerate(trajectory.messages):
        if msg.actor == "system":
            continue
        if msg.actor == "agent":
            if msg.content and msg.content.strip():
                lines.append(f"[{index}] AGENT: {_clip(msg.content.strip())}")
            for call in msg.tool_calls or []:
                lines.append(f"[{index}] AGENT CALLS {call.function.name}({_clip(call.function.arguments)})")
        elif msg.actor == "tool":
            tag = "TOOL ERROR" if msg.error else "TOOL RESULT"
            lines.append(f"[{index}] {tag} {msg.name or ''}: {_clip(msg.content or '')}")
        else:
            lines.append(f"[{index}] USER: {_clip((msg.content or '').strip()) or '(empty)'}")
    ending = f"The episode ended: {trajectory.termination}"
    if trajectory.answer is not None:
        ending += f"; final answer: {_clip(trajectory.answer)}"
    return "\n".join(lines) + f"\n\n{ending}."


def judge_messages(task: Task, trajectory: Trajectory, items: list[tuple[str, RubricItem]],
                   version: str = PROMPT_VERSION) -> list[dict[str, str]]:
    policy = "\n".join(f"- {rule}" for rule in task.policy) or "(no policy rules)"
    tools = "\n".join(f"- {t.name}: {t.function.description}" for t in task.tools) or "(no tools)"
    ledger = "\n".join(f"- {s.description or s.name}: {s.value}" for s in task.private_info)
    background = task.user_background.strip() or "(none)"
    if ledger:
        background += f"\n{ledger}"
    listed = "\n".join(json.dumps({"id": item.id, "section": SECTION_TITLES[section], "criterion": item.criterion},
                                  ensure_ascii=False) for section, item in items)
    user = (f"# Policy\n{policy}\n\n# Tools\n{tools}\n\n# The user's private background\n{background}\n\n"
            f"# The user's opening request\n{task.instruction}\n\n# Transcript\n{render_transcript(trajectory)}\n\n"
            f"# Items to grade ({len(items)}; one JSON object per line)\n{listed}")
    return [{"role": "system", "content": load_prompt(f"judge_{version}.txt")}, {"role": "user", "content": user}]


def parse_verdicts(text: str, ids: list[str], n_messages: int) -> dict[str, _Verdict]:
    """Strictly parse a judge reply into one verdict per expected id; ParseError names the first problem."""
    body = strip_think(text)
    tagged = re.search(r"<verdicts>(.*?)</verdicts>", body, re.DOTALL)
    obj = parse_json_object(tagged.group(1) if tagged else body)
    rows = obj.get("verdicts")
    if not isinstance(rows, list):
        raise ParseError("expected {\"verdicts\": [...]} with a list of verdicts")
    expected = set(ids)
    found: dict[str, _Verdict] = {}
    for n, row in enumerate(rows):
        if not isinstance(row, dict):
            raise ParseError(f"verdicts[{n}] is not an object")
        item_id = row.get("id")
        if not isinstance(item_id, str) or item_id not in expected:
            raise ParseError(f"verdicts[{n}] has unknown id {json.dumps(item_id)}; ids are {sorted(expected)}")
        if item_id in found:
            raise ParseError(f"item {item_id!r} is graded more than once")
        label = row.get("verdict")
        key = re.sub(r"[\s_\-]+", " ", label.strip().lower()) if isinstance(label, str) else None
        if key not in _VERDICTS:
            raise ParseError(f"item {item_id!r}: verdict must be \"Completed\" or \"Not Completed\", "
                             f"got {json.dumps(label)}")
        why = row.get("justification")
        if not isinstance(why, str) or not why.strip():
            raise ParseError(f"item {item_id!r}: a one-line justification is required")
        ref = row.get("message")
        message = ref if isinstance(ref, int) and not isinstance(ref, bool) and 0 <= ref < n_messages else None
        found[item_id] = _Verdict(id=item_id, met=_VERDICTS[key], justification=" ".join(why.split()),
                                  message=message)
    missing = [i for i in ids if i not in found]
    if missing:
        raise ParseError(f"no verdict for item(s) {missing}")
    return found


class LLMJudge:
    """Async judge callable: `await judge(task, trajectory, [(section, item), ...]) -> [ItemVerdict]`."""

    def __init__(self, client: LLMClient, *, mode: Literal["batch", "per_item"] = "batch",
                 prompt_version: str = PROMPT_VERSION, role: str = "judge", stage: str = "judge",
                 **chat_overrides: Any):
        if mode not in ("batch", "per_item"):
            raise ValueError(f"mode must be 'batch' or 'per_item', got {mode!r}")
        self.client = client
        self.mode = mode
        self.prompt_version = prompt_version
        self.role = role
        self.stage = stage
        self.chat_overrides = chat_overrides
        self.repairs = 0
        self.calls = 0

    async def __call__(self, task: Task, trajectory: Trajectory,
                       items: list[tuple[str, RubricItem]]) -> list[ItemVerdict]:
        if not items:
            return []
        if self.mode == "per_item":
            groups = await asyncio.gather(*(self._judge(task, trajectory, [pair]) for pair in items))
            return [v for group in groups for v in group]
        return await self._judge(task, trajectory, items)

    async def _judge(self, task: Task, trajectory: Trajectory,
                     items: list[tuple[str, RubricItem]]) -> list[ItemVerdict]:
        ids = [item.id for _, item in items]
        if len(set(ids)) != len(ids):
            raise JudgeError(f"task {task.id}: rubric item ids are not unique: {ids}")
        messages = judge_messages(task, trajectory, items, self.prompt_version)
        n_messages = len(trajectory.messages)
        try:
            structured = await chat_structured(self.client, self.role, messages,
                                               lambda text: parse_verdicts(text, ids, n_messages),
                                               stage=self.stage, **self.chat_overrides)
        except StructuredOutputError as err:
            self.calls += len(err.reasons)
            raise JudgeError(f"task {task.id}: judge output rejected twice: {' | then: '.join(err.reasons)}") from err
        except BudgetExceeded:
            raise
        except LLMError as err:
            raise JudgeError(f"task {task.id}: judge call failed: {err}") from err
        self.calls += structured.attempts
        self.repairs += structured.attempts - 1
        found = structured.value
        return [ItemVerdict(id=item.id, section=section, criterion=item.criterion, met=found[item.id].met,
                            evidence=found[item.id].justification, message_index=found[item.id].message,
                            method="judge")
                for section, item in items]
