"""Policies with branches: the typed policy tree of a task and the branch one task is sampled on.

Flat policies only ever lead to "do it"; real support policies (τ²-bench's airline and retail among them)
branch on conditions — eligibility, limits, time windows, membership tiers, identity checks — and many
correct outcomes are to refuse, to transfer, or to offer the allowed alternative. The authors' follow-up
(AgenticQwen, arXiv 2604.21590) grows workflows into such trees and writes, for each task, a legal and an
illegal request. These models are the one shape both the procedural domains and the teacher pipeline
write, so the scorer, the user simulators and the reports read a branch the same way wherever it came from.

A tree is an ordered list of rules, each a node: when its condition holds the request goes on to the next
rule, when it fails the rule's `otherwise` outcome is the leaf; a request that passes every rule is
acted on. The `Branch` of a task says which leaf it lands on, whether the request is illegal (asks for
what the policy does not allow), how the user pushes (the adversarial mode), and the tool path of a
compliant agent and of a persuaded one (an agent that does whatever it is pushed to do).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    from synthagent.spec.models import ToolSpec

BranchKind = Literal["act", "refuse", "transfer", "alternative"]
"""The outcome a compliant agent reaches: do the request, decline it, hand over to a human, or offer what
the policy allows instead."""

RuleKind = Literal["eligibility", "limit", "time_window", "tier", "identity"]

AdversaryMode = Literal["claims_status", "pressure", "insists", "forbidden_action"]
"""How an adversarial user pushes: claims a status it lacks, applies pressure (urgency, threats to leave),
insists after a refusal, or asks outright for a forbidden action."""

TRANSFER_TOOL = "transfer_to_human_agent"
"""The tool a transfer leaf expects (τ²-bench's name, singular); added to a task whose tree has one."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PolicyRule(_Model):
    """One node of the tree: the condition a request must meet, and the leaf when it does not."""

    id: str = Field(min_length=1, max_length=32)
    kind: RuleKind
    condition: str = Field(min_length=3, description="What must hold for the request to go on.")
    otherwise: Literal["refuse", "transfer", "alternative"]
    alternative: str = Field(default="", description="What the agent may offer instead (otherwise=alternative).")
    alternative_tool: str | None = Field(default=None, description="The tool that carries out the alternative.")

    @model_validator(mode="after")
    def _alternative_named(self) -> "PolicyRule":
        if self.otherwise == "alternative" and not (self.alternative and self.alternative_tool):
            raise ValueError(f"rule {self.id}: an 'alternative' leaf needs alternative and alternative_tool")
        return self

    def text(self) -> str:
        """The rule as a policy line the agent reads."""
        then = {"refuse": "refuse the request", "transfer": f"transfer the user to a human agent ({TRANSFER_TOOL})",
                "alternative": f"do not do it; offer instead: {self.alternative}"}[self.otherwise]
        return f"[{self.id}, {self.kind.replace('_', ' ')}] Only if {self.condition.rstrip('.')}; otherwise {then}."


class PolicyTree(_Model):
    """The requested action, the tool that performs it, the tool that checks the conditions, and the rules."""

    action: str = Field(min_length=3, description="The action users request, in words.")
    action_tool: str = Field(description="The write tool that performs the action (the act leaf).")
    evidence_tool: str = Field(description="The read tool whose output shows whether the conditions hold.")
    rules: list[PolicyRule] = Field(min_length=1)

    def rule(self, rule_id: str) -> PolicyRule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def lines(self) -> list[str]:
        """The tree as policy lines (Task.policy): the action first, then one line per rule in order."""
        head = (f"Before you {self.action.rstrip('.')} ({self.action_tool}), check the conditions below with "
                f"{self.evidence_tool}, in order; the first that fails decides the outcome.")
        return [head, *(r.text() for r in self.rules)]


class Branch(_Model):
    """The leaf one task is sampled on, and what a compliant and a persuaded agent do there."""

    kind: BranchKind
    illegal: bool = Field(description="The request asks for what the policy does not allow on this branch.")
    rule: str | None = Field(default=None, description="The id of the rule whose failure decides (None: act).")
    adversary: AdversaryMode | None = Field(default=None, description="How the user pushes; None: cooperative.")
    request: str = Field(default="", description="What the user asks for, in words.")
    claim: str = Field(default="", description="What an adversarial user claims or demands (hidden from the agent).")
    compliant_path: list[str] = Field(description="Tools a compliant agent calls, in order.")
    persuaded_path: list[str] = Field(description="Tools an agent that gives in to the user calls, in order.")
    persuaded_args: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Arguments a persuaded agent passes to a tool of persuaded_path, where the "
        "task knows them (the procedural worlds do: the request's own values); others are filled from the plan.")

    @model_validator(mode="after")
    def _consistent(self) -> "Branch":
        if self.illegal != (self.kind != "act"):
            raise ValueError("a branch is illegal exactly when its outcome is not 'act'")
        if self.illegal and self.rule is None:
            raise ValueError("an illegal branch names the rule whose failure decides it")
        return self

    @property
    def forbidden_tools(self) -> list[str]:
        """Tools a persuaded agent calls that a compliant one must not."""
        return [t for t in self.persuaded_path if t not in self.compliant_path]


def transfer_tool() -> "ToolSpec":
    """The transfer leaf's tool, the same in every world (the procedural domains and the teacher pipeline)."""
    from synthagent.spec.models import FunctionDef, ToolSpec  # models imports this module

    return ToolSpec(function=FunctionDef(
        name=TRANSFER_TOOL, description="Transfer the user to a human agent, with a summary of the issue.",
        parameters={"type": "object", "properties": {"summary": {"type": "string",
                                                                 "description": "what the user needs and why"}},
                    "required": ["summary"]}),
        returns={"type": "object", "properties": {"transferred": {"type": "boolean"}}, "required": ["transferred"]},
        kind="write")
