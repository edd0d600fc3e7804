"""The typed domain spec: `Domain`, and `load_domain`, which turns a `DOMAIN` dict into one or fails
with the path of the bad key (`retail.tools[3].op: must be one of ...`).

Validation has two passes. Pydantic checks the shape (keys, types, each operation's own keys, picked by
`op`); then `Domain.check` checks what refers to something else (entities, fields, tool names), asking each
operation to check its own part.
"""

from __future__ import annotations

from functools import cached_property
from typing import Annotated, Any, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from synthagent.worlds.operations import OPERATIONS
from synthagent.worlds.spec_parts import Distractor, DomainError, Entity, Lookup, Restriction, ToolDef, TreeSpec, \
    VerifyRef, domain_error

TOOL_MODELS = tuple(op.tool_model for op in OPERATIONS.values() if op.tool_model is not None)
TOOL_OPS = tuple(op.name for op in OPERATIONS.values() if op.tool_model is not None)
DomainTool = Annotated[Union[TOOL_MODELS], Field(discriminator="op")]  # type: ignore[valid-type]


class Domain(BaseModel):
    """One procedural domain; see docs/domains.md for what each key means."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    title: str
    owner: str
    verify: VerifyRef
    entities: dict[str, Entity]
    tools: list[DomainTool]
    lookups: list[Lookup]
    distractors: list[Distractor]
    restrictions: list[Restriction]
    policies: list[str] = Field(default_factory=list)
    trees: list[TreeSpec] = Field(default_factory=list)
    tree_tools: list[DomainTool] = Field(default_factory=list)  # type: ignore[valid-type]
    """Tools only a task sampled on a branch is offered (an alternative leaf's tool): plain tasks keep their
    tool list, so a domain gains a tree without changing one of its existing tasks."""

    def tree_for(self, tool_name: str) -> TreeSpec | None:
        return next((t for t in self.trees if t.tool == tool_name), None)

    def tree_tool(self, name: str) -> Any:
        return next(t for t in self.tree_tools if t.name == name)

    @cached_property
    def owner_entity(self) -> Entity:
        return self.entities[self.owner]

    @cached_property
    def tools_by_name(self) -> dict[str, ToolDef]:
        return {t.name: t for t in self.tools}

    def tool(self, name: str) -> Any:
        return self.tools_by_name[name]

    def getter(self, entity: str) -> ToolDef | None:
        """The first `get` tool of an entity (what the gold plan reads a record with)."""
        return next((t for t in self.tools if t.op == "get" and t.entity == entity), None)

    @cached_property
    def write_tools(self) -> list[Any]:
        return [t for t in self.tools if OPERATIONS[t.op].writes]

    @cached_property
    def stored_runtimes(self) -> dict[str, dict[str, Any]]:
        """Each tool's runtime as stored in `ProceduralWorld.tools`; it depends only on the domain, so it is
        built once (a task gets its own copy of the outer dicts)."""
        return {t.name: OPERATIONS[t.op].runtime(self, t).to_world() for t in self.tools}

    def check(self) -> None:
        """Cross-references; the first problem raises DomainError with its path."""
        name = self.name
        if self.owner not in self.entities:
            raise domain_error(name, "owner", f"'{self.owner}' is not an entity")
        owner_key = self.owner_entity.key
        for ename, ent in self.entities.items():
            if ent.owner_field is not None and ent.owner_field != owner_key:
                raise domain_error(name, f"entities.{ename}.owner_field", f"must be the owner entity's key '{owner_key}'")
        seen: set[str] = set()
        for i, tool in enumerate(self.tools):
            path = f"tools[{i}]"
            if tool.entity not in self.entities:
                raise domain_error(name, f"{path}.entity", f"unknown entity {tool.entity!r}")
            if tool.name in seen:
                raise domain_error(name, f"{path}.name", f"duplicate tool name {tool.name!r}")
            seen.add(tool.name)
            OPERATIONS[tool.op].check(self, tool, path)
        verify = self.tools_by_name.get(self.verify.tool)
        if verify is None or verify.op != "verify":
            raise domain_error(name, "verify.tool", "must name a verify tool of this domain")
        if self.verify.field not in self.owner_entity.fields:
            raise domain_error(name, "verify.field", "not an owner field")
        for i, lookup in enumerate(self.lookups):
            tool = self.tools_by_name.get(lookup.tool)
            if tool is None or tool.op != "get":
                raise domain_error(name, f"lookups[{i}].tool", "must name a get tool")
            ent = self.entities[tool.entity]
            if lookup.field not in ent.fields:
                raise domain_error(name, f"lookups[{i}].field", f"unknown field {lookup.field!r}")
            if not ent.owned:
                raise domain_error(name, f"lookups[{i}]", "lookups must be on owned records")
        all_names = seen | {d.name for d in self.distractors}
        for i, restriction in enumerate(self.restrictions):
            if restriction.tool not in all_names:
                raise domain_error(name, f"restrictions[{i}].tool", f"unknown tool {restriction.tool!r}")
        self._check_trees(seen)
        if not self.write_tools and not self.lookups:
            raise domain_error(name, "tools", "no possible goal: no write tool and no lookup")


    def _check_trees(self, tool_names: set[str]) -> None:
        """Each tree guards a write tool with a getter; rule fields are new fields, distinct from the tool's
        precondition; an alternative leaf names an argument-free tree tool on the same entity."""
        name = self.name
        for i, tool in enumerate(self.tree_tools):
            path = f"tree_tools[{i}]"
            if tool.entity not in self.entities:
                raise domain_error(name, f"{path}.entity", f"unknown entity {tool.entity!r}")
            if tool.name in tool_names or not OPERATIONS[tool.op].writes or getattr(tool, "args", None):
                raise domain_error(name, f"{path}", "must be a new write tool without arguments")
            OPERATIONS[tool.op].check(self, tool, path)
        tree_tool_names = {t.name for t in self.tree_tools}
        for i, tree in enumerate(self.trees):
            path = f"trees[{i}]"
            tool = self.tools_by_name.get(tree.tool)
            if tool is None or not OPERATIONS[tool.op].writes or tool.op == "create":
                raise domain_error(name, f"{path}.tool", "must name a set or update tool of this domain")
            ent = self.entities[tool.entity]
            requires = getattr(tool, "requires", None)
            for j, rule in enumerate(tree.rules):
                rpath = f"{path}.rules[{j}]"
                if rule.field in ent.fields or (requires is not None and rule.field == requires.field):
                    raise domain_error(name, f"{rpath}.field", f"{rule.field!r} is already a field of {tool.entity}")
                if not set(rule.allowed) < set(rule.values):
                    raise domain_error(name, f"{rpath}.allowed", "must be a proper subset of values")
                if rule.otherwise == "alternative":
                    if rule.alternative_tool not in tree_tool_names or not rule.alternative:
                        raise domain_error(name, f"{rpath}.alternative_tool", "an alternative leaf names one of tree_tools "
                                           "and says what it offers")
                    if self.tree_tool(rule.alternative_tool).entity != tool.entity:
                        raise domain_error(name, f"{rpath}.alternative_tool", f"must act on {tool.entity} records")




def _path(loc: tuple[Any, ...]) -> str:
    """('tools', 3, 'set', 'args') → 'tools[3].args' (the discriminator's tag is not part of the data)."""
    parts: list[str] = []
    for i, item in enumerate(loc):
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif i == 2 and loc[0] == "tools" and item in TOOL_OPS:
            continue
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts)


def _reason(error: Any) -> tuple[str, str]:
    """(extra path, reason) of one pydantic error, in the words of the spec rather than of pydantic."""
    kind = error["type"]
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return ".op", f"must be one of {list(TOOL_OPS)}"
    if kind == "missing":
        return "", "missing"
    if kind == "extra_forbidden":
        return "", "unknown key"
    return "", str(error["msg"]).removeprefix("Value error, ")


def load_domain(data: Any) -> Domain:
    """A validated Domain from a `DOMAIN` dict (or the Domain itself); DomainError names every bad path."""
    if isinstance(data, Domain):
        return data
    name = data.get("name", "<unnamed>") if isinstance(data, dict) else "<unnamed>"
    try:
        domain = Domain.model_validate(data)
    except ValidationError as err:
        lines = []
        for e in err.errors():
            extra, reason = _reason(e)
            lines.append(f"{name}.{_path(tuple(e['loc']))}{extra}: {reason}")
        raise DomainError("\n".join(lines)) from None
    domain.check()
    return domain


def validate_domain(data: Any) -> None:
    """Raise DomainError when `data` is not a working domain spec."""
    load_domain(data)
