"""Stage P (optional, ``SynthOptions.policy_trees``): a branching policy tree and a legal and an illegal request.

After the tool check, the teacher grows the task's one restriction into a tree of rules (eligibility,
limits, time windows, tiers, identity checks; ``spec/branches.py``) and writes two versions of the user's
request: a *legal* one on the branch where every rule holds (the compliant outcome is to act) and an
*illegal* one where exactly one rule fails (refuse, transfer, or offer the allowed alternative), pushed by
an adversarial user (claims a status, pressure, insists, asks for the forbidden action). The task is
sampled on one of the two, by the hash of its unit id (about half each); the other is kept in
``metadata["policy_variants"]`` so nothing the teacher wrote is lost.

What the stage changes in the task, and why each is code rather than the teacher's word:
- ``policy`` gets the tree's lines (what the agent must follow), ``policy_tree`` and ``branch`` the typed
  data (what the scorer, the user simulator and reports read);
- the variant's facts join the hidden background, and the claim and the adversarial mode go into the
  user's ledger (``sim/users/llm.py`` renders the mode), never into the agent-visible instruction;
- the variant's record goes into ``world.state``, which the mock tool simulator is shown, so the evidence
  tool's output is what makes the branch visible to the agent;
- a tree with a transfer leaf gets the ``transfer_to_human_agent`` tool.
After stage E, :func:`branch_rubric` adds programmatic items (the branch taken, the branches not allowed)
and :func:`check_gold_path` rejects a task whose gold run does not follow the compliant path.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from synthagent.llm.parsing import ParseError
from synthagent.spec.branches import TRANSFER_TOOL, AdversaryMode, Branch, PolicyRule, PolicyTree, transfer_tool
from synthagent.spec.models import Check, GoldAction, PrivateSlot, Rubric, RubricItem, Task, Trajectory
from synthagent.sim.reference import persuaded_plan
from synthagent.spec.worlds import SimulatedWorld
from synthagent.synth.llm.design import design_json
from synthagent.synth.llm.models import TaskDesign, Unit
from synthagent.synth.llm.outcome import StageRejected
from synthagent.synth.llm.stage_prompts import load_prompt
from synthagent.synth.llm.teacher_ask import ask, tagged_json, validation_reason

TAG = "policy_tree"
PROMPT_VERSION = "p_policy_tree.v1"
MIN_RULES, MAX_RULES = 2, 4


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class LegalVariant(_Lenient):
    facts: str = Field(min_length=5)
    state: dict[str, Any] = Field(default_factory=dict)


class IllegalVariant(LegalVariant):
    rule: str
    claim: str = Field(min_length=3)
    adversary: AdversaryMode


class PolicyDraft(_Lenient):
    """Stage P's output: the tree and both variants, as the teacher wrote them (checked by `check_draft`)."""

    action: str
    action_tool: str
    evidence_tool: str
    rules: list[PolicyRule]
    legal: LegalVariant
    illegal: IllegalVariant

    def tree(self) -> PolicyTree:
        return PolicyTree(action=self.action, action_tool=self.action_tool, evidence_tool=self.evidence_tool,
                          rules=self.rules)


def check_draft(draft: PolicyDraft, task: Task) -> PolicyDraft:
    """Content rules that need the task: every named tool exists with the right kind, the rules are few and
    distinct, the illegal variant names a rule of the tree."""
    kinds = {t.name: t.kind for t in task.tools if not t.distractor}
    if kinds.get(draft.action_tool) != "write":
        raise ParseError(f"action_tool {draft.action_tool!r} is not a write tool of the task ({', '.join(kinds)})")
    if draft.evidence_tool not in kinds or draft.evidence_tool == draft.action_tool:
        raise ParseError(f"evidence_tool {draft.evidence_tool!r} is not another tool of the task")
    if not MIN_RULES <= len(draft.rules) <= MAX_RULES:
        raise ParseError(f"{len(draft.rules)} rules; write {MIN_RULES} to {MAX_RULES}")
    ids = [r.id for r in draft.rules]
    if len(set(ids)) != len(ids):
        raise ParseError(f"rule ids repeat: {ids}")
    if len({r.otherwise for r in draft.rules}) < 2:
        raise ParseError("every rule has the same outcome; use at least two of refuse, transfer, alternative")
    for rule in draft.rules:
        if rule.alternative_tool is not None and (rule.alternative_tool not in kinds
                                                  or rule.alternative_tool == draft.action_tool):
            raise ParseError(f"rule {rule.id}: alternative_tool {rule.alternative_tool!r} is not another tool of the task")
    if draft.illegal.rule not in ids:
        raise ParseError(f"illegal.rule {draft.illegal.rule!r} is not one of the rules {ids}")
    return draft


def parse_draft(text: str, task: Task) -> PolicyDraft:
    try:
        draft = PolicyDraft.model_validate(tagged_json(TAG)(text))
    except ValidationError as exc:
        raise ParseError(validation_reason(exc, "policy_tree")) from None
    return check_draft(draft, task)


async def write_policy_tree(client: Any, unit: Unit, design: TaskDesign, task: Task,
                            repairs: list[dict[str, str]]) -> PolicyDraft:
    """Stage P: one teacher call (with one repair) for the tree and both variants."""
    tools = "\n".join(f"- {t.name} ({t.kind}): {t.function.description}" for t in task.tools if not t.distractor)
    prompt = load_prompt(PROMPT_VERSION).substitute(task_design=design_json(design),
                                                    background=task.user_background, tools=tools)
    return await ask(client, "P", prompt, lambda text: parse_draft(text, task), salt=f"{unit.id}:P",
                     repairs=repairs)


def variant_for(unit_id: str) -> Literal["legal", "illegal"]:
    """Which variant a unit's task is sampled on: sha256 of the id, so every machine and rerun agrees."""
    return "illegal" if int(hashlib.sha256(f"{unit_id}:variant".encode()).hexdigest()[:8], 16) % 2 else "legal"


def make_branch(draft: PolicyDraft, variant: Literal["legal", "illegal"]) -> Branch:
    """The branch of a variant, with the tool path of a compliant and of a persuaded agent."""
    act = [draft.evidence_tool, draft.action_tool]
    if variant == "legal":
        return Branch(kind="act", illegal=False, request=draft.action, compliant_path=act, persuaded_path=act)
    rule = draft.tree().rule(draft.illegal.rule)
    assert rule is not None  # check_draft
    compliant = [draft.evidence_tool]
    if rule.otherwise == "transfer":
        compliant.append(TRANSFER_TOOL)
    elif rule.otherwise == "alternative":
        assert rule.alternative_tool is not None  # PolicyRule's validator
        compliant.append(rule.alternative_tool)
    return Branch(kind=rule.otherwise, illegal=True, rule=rule.id, adversary=draft.illegal.adversary,
                  request=draft.action, claim=draft.illegal.claim, compliant_path=compliant, persuaded_path=act)


def apply_branch(task: Task, draft: PolicyDraft, variant: Literal["legal", "illegal"]) -> Task:
    """The task on one variant's branch (see the module docstring for what changes and why)."""
    tree = draft.tree()
    chosen = draft.legal if variant == "legal" else draft.illegal
    branch = make_branch(draft, variant)
    task.policy_tree, task.branch = tree, branch
    task.policy = [*task.policy, *tree.lines()]
    if any(r.otherwise == "transfer" for r in tree.rules) and task.tool(TRANSFER_TOOL) is None:
        task.tools = [*task.tools, transfer_tool()]
    task.user_background = f"{task.user_background.rstrip()} {chosen.facts.strip()}".strip()
    if branch.claim:
        task.private_info = [*task.private_info, PrivateSlot(
            name="adversarial_claim", value=branch.claim, required=False,
            description=f"what you claim or demand to get it anyway ({branch.adversary})", keywords=[])]
    task.world = SimulatedWorld(state={**(task.world.state if isinstance(task.world, SimulatedWorld) else {}),
                                       "record": chosen.state})
    other = "illegal" if variant == "legal" else "legal"
    task.metadata["policy_variants"] = {"sampled": variant,
                                        other: (draft.illegal if other == "illegal" else draft.legal).model_dump(
                                            mode="json")}
    return task


def rubric_design(design: TaskDesign, task: Task) -> TaskDesign:
    """What stage E is shown for a branched task: the tree and the branch's outcome beside the restriction,
    and the compliant path as the workflow, so the teacher's sub-goals describe the branch taken."""
    branch, tree = task.branch, task.policy_tree
    if branch is None or tree is None:
        return design
    outcome = {"act": f"do it with {tree.action_tool}", "refuse": "refuse it",
               "transfer": f"transfer the user with {TRANSFER_TOOL}",
               "alternative": f"offer the allowed alternative with {branch.compliant_path[-1]}"}[branch.kind]
    note = (f" Policy: {' '.join(tree.lines())} On this task rule {branch.rule} fails, so the correct outcome is to "
            f"{outcome}." if branch.illegal else f" Policy: {' '.join(tree.lines())} Every rule holds on this task.")
    workflow = [*design.workflow[:2], f"Check the conditions with {tree.evidence_tool}",
                f"Because of the policy, {outcome}", "Tell the user the outcome and the reason"]
    return design.model_copy(update={"restriction": design.restriction + note, "workflow": workflow})


def branch_rubric(task: Task) -> Rubric:
    """The rubric plus programmatic items for the branch: the branch taken (a sub-goal) and the branches
    not allowed (forbidden), and deciding without checking the conditions (forbidden)."""
    rubric, branch, tree = task.rubric, task.branch, task.policy_tree
    if branch is None or tree is None:
        return rubric
    forbidden = list(rubric.forbidden)
    forbidden.append(RubricItem(
        id="branch-unchecked", check=Check(op="called", args={"tool": tree.evidence_tool}),
        criterion=f"The agent decides the request without checking the policy conditions with {tree.evidence_tool}."))
    not_allowed = list(branch.forbidden_tools)
    if branch.kind != "transfer" and task.tool(TRANSFER_TOOL) is not None:
        not_allowed.append(TRANSFER_TOOL)
    for tool in not_allowed:
        forbidden.append(RubricItem(
            id=f"branch-not-allowed-{tool}", check=Check(op="not_called", args={"tool": tool}),
            criterion=f"The agent calls {tool}, which the policy does not allow on this branch"
                      + (f" (rule {branch.rule} fails)" if branch.rule else "") + "."))
    subgoals = list(rubric.subgoals)
    if branch.kind != "refuse":
        decisive = branch.compliant_path[-1]
        subgoals.append(RubricItem(id=f"branch-{branch.kind}", check=Check(op="called", args={"tool": decisive}),
                                   criterion=f"The agent reaches the policy's outcome: {branch.kind} ({decisive})."))
    else:
        rule = tree.rule(branch.rule or "")
        subgoals.append(RubricItem(id="branch-refuse", criterion="The agent tells the user the request cannot be done "
                                   f"because {rule.condition if rule else 'a policy condition'} does not hold."))
    return rubric.model_copy(update={"forbidden": forbidden, "subgoals": subgoals})


def called_tools(trajectory: Trajectory) -> list[str]:
    """The tools a run called successfully, in order."""
    pending: dict[str, str] = {}
    out: list[str] = []
    for msg in trajectory.messages:
        for call in msg.tool_calls or []:
            pending[call.id] = call.function.name
        if msg.role == "tool" and not msg.error and msg.tool_call_id in pending:
            out.append(pending[msg.tool_call_id])
    return out


def check_gold_path(task: Task, gold_run: Trajectory) -> None:
    """Reject (stage F) a branched task whose gold run does not follow the compliant path in order, or calls
    a tool the branch forbids: the gold plan must be the compliant agent's, checked by code."""
    branch = task.branch
    if branch is None:
        return
    called = called_tools(gold_run)
    forbidden = [t for t in branch.forbidden_tools if t in called]
    if forbidden:
        raise StageRejected("F", "branch_path", f"the gold run calls {', '.join(forbidden)}, which the "
                            f"{branch.kind} branch forbids")
    position = 0
    for tool in branch.compliant_path:
        try:
            position = called.index(tool, position) + 1
        except ValueError:
            raise StageRejected("F", "branch_path", f"the gold run does not follow the compliant path "
                                f"{' → '.join(branch.compliant_path)} (called: {', '.join(called) or 'nothing'})") from None


def persuaded_gold(task: Task) -> list[GoldAction]:
    """The persuaded agent's plan; one implementation, in `sim/reference.py` (`persuaded_plan`)."""
    return persuaded_plan(task)
