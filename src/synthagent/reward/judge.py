"""The LLM rubric judge: per item Completed / Not Completed with a one-line justification and the message
that decided it.

`LLMJudge(client)` is an async callable with the scorer's judge signature, so hybrid scoring is just
`await score_episode(task, trajectory, config, judge=LLMJudge(client))`: items with a programmatic check are
decided by the check, the rest by the judge.

Two views of the episode (`view=`), because what the judge is shown changes what it decides:

- `ours` (default, `prompts/judge_v1.txt`): the policy, the tools, the user's hidden background and
  private ledger, the opening request, the transcript with each message clipped at 2,000 characters.
- `authors`: what the authors' judge saw: the question (the task description), the rubric markdown (the
  release's own text for an imported task, else the items in its three sections) and the whole
  solution, unclipped; no policy, no tools, no background.

Both number the transcript by `Message` index, so a verdict's `message` is an `ItemVerdict.message_index`.
The reply is one JSON object `{"verdicts": [{"id", "verdict", "justification", "message"}]}`. Parsing is
strict: every item exactly once, no unknown ids, the verdict exactly "Completed" or "Not Completed" (case
and spacing aside), a non-empty justification (collapsed to one line); a `<verdicts>` tag around the JSON
is accepted. A rejected reply gets one repair request naming the problem (`chat_structured`); the client
retries transport failures itself.

Self-consistency (`votes=n`): n calls with distinct cache salts, each item decided by the majority of the
votes that came back (a tie is "Not Completed": an item counts as satisfied only when most votes say so);
the evidence names the split. When no vote comes back usable, `JudgeError` is raised, which
`score_episode` turns into an unscored episode (`Trajectory.fault`, role "judge").

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
from synthagent.reward.grounding import obtained_marks
from synthagent.reward.scorer import JudgeError
from synthagent.spec.models import ItemVerdict, RubricItem, Task, Trajectory

__all__ = ["JUDGE_VIEWS", "JudgeError", "LLMJudge", "judge_messages", "parse_verdicts", "render_transcript"]

PROMPT_VERSION = "v2"  # v2: stuffed or hedged answers do not meet an item; the input marks obtained values
MAX_MESSAGE_CHARS = 2_000
SECTION_TITLES = {"forbidden": "forbidden (policy compliance)", "subgoals": "subgoals",
                  "interactions": "interactions (required user interaction)"}
AUTHORS_SECTION_TITLES = {"forbidden": "1. Policy Compliance Criteria", "subgoals": "2. Task Sub-goals",
                          "interactions": "3. Required User Interactions"}
_VERDICTS = {"completed": True, "not completed": False}
JudgeView = Literal["ours", "authors"]
JUDGE_VIEWS: tuple[str, ...] = ("ours", "authors")


class _Verdict(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    met: bool
    justification: str
    message: int | None = None


@functools.lru_cache(maxsize=None)
def load_prompt(name: str) -> str:
    return resources.files("synthagent.reward").joinpath("prompts", name).read_text(encoding="utf-8")


def render_transcript(trajectory: Trajectory, limit: int | None = MAX_MESSAGE_CHARS) -> str:
    """Numbered messages (the numbers are `Message` indices, as `ItemVerdict.message_index` uses them);
    each message clipped at `limit` characters (None: the whole solution, as the authors' judge saw it)."""

    def _clip(text: str) -> str:
        if limit is None or len(text) <= limit:
            return text
        return text[:limit] + f" […{len(text) - limit} more characters]"

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


def _listed(items: list[tuple[str, RubricItem]], titles: dict[str, str]) -> str:
    return "\n".join(json.dumps({"id": item.id, "section": titles[section], "criterion": item.criterion},
                                ensure_ascii=False) for section, item in items)


def judge_messages(task: Task, trajectory: Trajectory, items: list[tuple[str, RubricItem]],
                   version: str = PROMPT_VERSION, view: JudgeView = "ours") -> list[dict[str, str]]:
    """The [system, user] request for grading `items` of one trajectory, in the chosen view."""
    if view == "authors":
        return authors_messages(task, trajectory, items)
    if view != "ours":
        raise ValueError(f"judge view must be one of {JUDGE_VIEWS}, got {view!r}")
    policy = "\n".join(f"- {rule}" for rule in task.policy) or "(no policy rules)"
    tools = "\n".join(f"- {t.name}: {t.function.description}" for t in task.tools) or "(no tools)"
    ledger = "\n".join(f"- {s.description or s.name}: {s.value}" for s in task.private_info)
    background = task.user_background.strip() or "(none)"
    if ledger:
        background += f"\n{ledger}"
    user = (f"# Policy\n{policy}\n\n# Tools\n{tools}\n\n# The user's private background\n{background}\n\n"
            f"# The user's opening request\n{task.instruction}\n\n# Transcript\n{render_transcript(trajectory)}\n\n"
            f"# What the agent obtained\n{obtained_marks(task, trajectory, items)}\n\n"
            f"# Items to grade ({len(items)}; one JSON object per line)\n{_listed(items, SECTION_TITLES)}")
    return [{"role": "system", "content": load_prompt(f"judge_{version}.txt")}, {"role": "user", "content": user}]


def rubric_markdown(task: Task) -> str:
    """The rubric as the authors' judge read it: the release's own markdown for an imported task (kept in
    `metadata["release_verbatim"]`), else the task's items under the release's three section titles."""
    verbatim = task.metadata.get("release_verbatim")
    text = verbatim.get("rubrics") if isinstance(verbatim, dict) else None
    if isinstance(text, str) and text.strip():
        return text
    blocks = []
    for section, section_items in task.rubric.sections():
        body = "\n".join(f"- {item.criterion}" for item in section_items) or "- None"
        blocks.append(f"### {AUTHORS_SECTION_TITLES[section]}\n\n{body}")
    return "\n\n---\n\n".join(blocks)


def authors_messages(task: Task, trajectory: Trajectory, items: list[tuple[str, RubricItem]]) -> list[dict[str, str]]:
    """The authors' inputs: question, rubric markdown, the whole solution; nothing the agent could not see
    except the rubric itself (no background, no ledger, no tool list, no policy beyond what the rubric says)."""
    user = (f"# Question\n{task.instruction}\n\n# Rubric\n{rubric_markdown(task)}\n\n"
            f"# Solution\n{render_transcript(trajectory, limit=None)}\n\n"
            f"# Items to grade ({len(items)}; one JSON object per line)\n{_listed(items, AUTHORS_SECTION_TITLES)}")
    return [{"role": "system", "content": load_prompt("judge_authors_v1.txt")}, {"role": "user", "content": user}]


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
                 view: JudgeView = "ours", votes: int = 1, prompt_version: str = PROMPT_VERSION,
                 role: str = "judge", stage: str = "judge", **chat_overrides: Any):
        if mode not in ("batch", "per_item"):
            raise ValueError(f"mode must be 'batch' or 'per_item', got {mode!r}")
        if view not in JUDGE_VIEWS:
            raise ValueError(f"view must be one of {JUDGE_VIEWS}, got {view!r}")
        if votes < 1:
            raise ValueError(f"votes must be at least 1, got {votes}")
        self.client = client
        self.mode = mode
        self.view = view
        self.votes = votes
        self.prompt_version = prompt_version
        self.role = role
        self.stage = stage
        self.chat_overrides = chat_overrides
        self.repairs = 0
        self.calls = 0
        self.failed_votes = 0

    async def __call__(self, task: Task, trajectory: Trajectory,
                       items: list[tuple[str, RubricItem]]) -> list[ItemVerdict]:
        if not items:
            return []
        if self.mode == "per_item":
            groups = await asyncio.gather(*(self._vote(task, trajectory, [pair]) for pair in items))
            return [v for group in groups for v in group]
        return await self._vote(task, trajectory, items)

    async def _vote(self, task: Task, trajectory: Trajectory,
                    items: list[tuple[str, RubricItem]]) -> list[ItemVerdict]:
        """One call, or `votes` calls decided item by item by majority."""
        if self.votes == 1:
            return await self._judge(task, trajectory, items)
        results = await asyncio.gather(*(self._judge(task, trajectory, items, salt=f"vote-{n}")
                                         for n in range(self.votes)), return_exceptions=True)
        ballots: list[list[ItemVerdict]] = []
        errors: list[BaseException] = []
        for r in results:
            (errors if isinstance(r, BaseException) else ballots).append(r)  # type: ignore[arg-type]
        for err in errors:
            if not isinstance(err, JudgeError):
                raise err
        self.failed_votes += len(errors)
        if not ballots:
            raise JudgeError(f"task {task.id}: all {self.votes} judge votes failed; first: {errors[0]}")
        return [majority([ballot[i] for ballot in ballots], self.votes) for i in range(len(items))]

    async def _judge(self, task: Task, trajectory: Trajectory, items: list[tuple[str, RubricItem]],
                     salt: str | None = None) -> list[ItemVerdict]:
        ids = [item.id for _, item in items]
        if len(set(ids)) != len(ids):
            raise JudgeError(f"task {task.id}: rubric item ids are not unique: {ids}")
        messages = judge_messages(task, trajectory, items, self.prompt_version, self.view)
        n_messages = len(trajectory.messages)
        extra = {"cache_salt": salt} if salt is not None else {}
        try:
            structured = await chat_structured(self.client, self.role, messages,
                                               lambda text: parse_verdicts(text, ids, n_messages),
                                               stage=self.stage, **extra, **self.chat_overrides)
        except StructuredOutputError as err:
            self.calls += len(err.reasons)
            raise JudgeError(f"task {task.id}: judge output rejected twice: {' | then: '.join(err.reasons)}") from err
        except BudgetExceeded:
            raise
        except LLMError as err:
            self.calls += 1
            raise JudgeError(f"task {task.id}: judge call failed: {err}") from err
        self.calls += structured.attempts
        self.repairs += structured.attempts - 1
        found = structured.value
        return [ItemVerdict(id=item.id, section=section, criterion=item.criterion, met=found[item.id].met,
                            evidence=found[item.id].justification, message_index=found[item.id].message,
                            method="judge")
                for section, item in items]


def majority(ballot: list[ItemVerdict], votes: int) -> ItemVerdict:
    """One item's verdict from several votes: met when more than half of the returned votes say met.

    The evidence and message come from the first vote on the winning side, prefixed with the split (and
    with how many of the `votes` asked for never came back)."""
    met_votes = sum(v.met for v in ballot)
    met = met_votes * 2 > len(ballot)
    winner = next(v for v in ballot if v.met == met)
    split = f"{met_votes if met else len(ballot) - met_votes}/{len(ballot)} votes"
    if len(ballot) < votes:
        split += f", {votes - len(ballot)} failed"
    return winner.model_copy(update={"met": met, "evidence": f"({split}) {winner.evidence}"})
