"""Domain specs: validation, the database they describe, and the tools derived from their operations.

A domain is data (see `domains/retail.py` for a complete example and `docs/domains.md` for the format).
This module is the code that turns that data into a database instance and OpenAI tool specs; nothing in
it is specific to any one domain.
"""

from __future__ import annotations

import random
from typing import Any

from synthagent.spec.models import FunctionDef, ToolSpec
from synthagent.worlds import values

OPS = {"verify", "get", "list", "set", "update", "create"}
WRITE_OPS = {"set", "update", "create"}
MAX_STRING = 200


class DomainError(ValueError):
    """A domain spec that cannot work; the message names the domain and the offending path."""


def _need(cond: bool, domain: str, path: str, reason: str) -> None:
    if not cond:
        raise DomainError(f"domain '{domain}': {path}: {reason}")


def validate_domain(spec: dict[str, Any]) -> None:
    """Fail early, with a path, on specs the engine could only fail on later and less clearly."""
    name = spec.get("name", "<unnamed>")
    for key in ("name", "title", "owner", "verify", "entities", "tools", "lookups", "distractors", "restrictions"):
        _need(key in spec, name, key, "missing")
    entities = spec["entities"]
    _need(spec["owner"] in entities, name, "owner", f"'{spec['owner']}' is not an entity")
    for ename, ent in entities.items():
        for key in ("key", "id_prefix", "label", "fields"):
            _need(key in ent, name, f"entities.{ename}.{key}", "missing")
        owner_field = ent.get("owner_field")
        if owner_field is not None:
            _need(owner_field == entities[spec["owner"]]["key"], name, f"entities.{ename}.owner_field",
                  "must be the owner entity's key")
        for fname, field in ent["fields"].items():
            _need(field.get("gen") in values.GENERATORS, name, f"entities.{ename}.fields.{fname}.gen",
                  f"unknown generator {field.get('gen')!r}")
    tool_names = set()
    for i, tool in enumerate(spec["tools"]):
        path = f"tools[{i}]"
        _need(tool.get("op") in OPS, name, f"{path}.op", f"must be one of {sorted(OPS)}")
        _need(tool.get("entity") in entities, name, f"{path}.entity", "unknown entity")
        _need(bool(tool.get("name")), name, f"{path}.name", "missing")
        _need(tool["name"] not in tool_names, name, f"{path}.name", "duplicate tool name")
        tool_names.add(tool["name"])
        if tool["op"] in WRITE_OPS:
            _need("goal" in tool, name, f"{path}.goal", "write tools need a goal phrase")
        if tool["op"] == "update":
            _need(tool.get("field") in entities[tool["entity"]]["fields"], name, f"{path}.field", "unknown field")
            _need("arg" in tool, name, f"{path}.arg", "missing")
        if tool["op"] in ("set", "update", "get", "list"):
            ent = entities[tool["entity"]]
            if tool["op"] == "list":
                _need("owner_field" in ent, name, f"{path}.entity", "list needs an owned entity")
        if "requires" in tool and tool["op"] == "create":
            _need(False, name, f"{path}.requires", "create tools cannot have a precondition (there is no record yet)")
        if "requires" in tool:
            _need(tool["requires"].get("field") in entities[tool["entity"]]["fields"], name,
                  f"{path}.requires.field", "unknown field")
    verify = spec["verify"]
    _need(verify.get("tool") in tool_names, name, "verify.tool", "not a tool of this domain")
    _need(verify.get("field") in entities[spec["owner"]]["fields"], name, "verify.field", "not an owner field")
    by_name = {t["name"]: t for t in spec["tools"]}
    for i, lookup in enumerate(spec["lookups"]):
        tool = by_name.get(lookup.get("tool"))
        _need(tool is not None and tool["op"] == "get", name, f"lookups[{i}].tool", "must name a get tool")
        _need(lookup.get("field") in entities[tool["entity"]]["fields"], name, f"lookups[{i}].field", "unknown field")
        _need("owner_field" in entities[tool["entity"]], name, f"lookups[{i}]", "lookups must be on owned records")
    all_names = tool_names | {d["name"] for d in spec["distractors"]}
    for i, restriction in enumerate(spec["restrictions"]):
        _need(restriction.get("tool") in all_names, name, f"restrictions[{i}].tool", "unknown tool")
    _need(any(t["op"] in WRITE_OPS for t in spec["tools"]) or spec["lookups"], name, "tools", "no possible goal")


# ------------------------------------------------------------------------------------------- database


def build_database(spec: dict[str, Any], rng: random.Random) -> dict[str, dict[str, dict[str, Any]]]:
    """{table: {key: record}}. Owners first, then records per owner, then unowned tables."""
    db: dict[str, dict[str, dict[str, Any]]] = {}
    used_keys: set[str] = set()

    def new_key(ent: dict[str, Any]) -> str:
        while True:
            key = f"{ent['id_prefix']}-{rng.randrange(100000, 999999)}"
            if key not in used_keys:
                used_keys.add(key)
                return key

    def new_record(ent: dict[str, Any]) -> dict[str, Any]:
        return {fname: values.generate(rng, fspec) for fname, fspec in ent["fields"].items()}

    owner_name = spec["owner"]
    owner = spec["entities"][owner_name]
    lo, hi = owner.get("count", [4, 6])
    db[owner_name] = {}
    for _ in range(rng.randint(lo, hi)):
        db[owner_name][new_key(owner)] = new_record(owner)
    for ename, ent in spec["entities"].items():
        if ename == owner_name:
            continue
        db[ename] = {}
        if "owner_field" in ent:
            lo, hi = ent.get("per_owner", [1, 3])
            for owner_key in db[owner_name]:
                for _ in range(rng.randint(lo, hi)):
                    record = new_record(ent)
                    record[ent["owner_field"]] = owner_key
                    db[ename][new_key(ent)] = record
        else:
            lo, hi = ent.get("count", [3, 6])
            for _ in range(rng.randint(lo, hi)):
                db[ename][new_key(ent)] = new_record(ent)
    return db


# -------------------------------------------------------------------------------------------- tools


def _string(description: str) -> dict[str, Any]:
    return {"type": "string", "description": description, "maxLength": MAX_STRING}


def _field_schema(fspec: dict[str, Any], description: str) -> dict[str, Any]:
    kind = values.json_type(fspec)
    if kind == "string":
        return _string(description)
    return {"type": kind, "description": description}


def _record_schema(ent: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = {ent["key"]: {"type": "string"}}
    for fname, fspec in ent["fields"].items():
        props[fname] = {"type": values.json_type(fspec)}
    if "owner_field" in ent:
        props[ent["owner_field"]] = {"type": "string"}
    return {"type": "object", "properties": props, "required": sorted(props)}


def tool_runtime(spec: dict[str, Any], tool: dict[str, Any]) -> dict[str, Any]:
    """The compact, self-contained description the executable backend runs a tool from."""
    ent = spec["entities"][tool["entity"]]
    owner = spec["entities"][spec["owner"]]
    rt: dict[str, Any] = {"op": tool["op"], "table": tool["entity"], "key": ent["key"],
                          "owner_field": ent.get("owner_field"), "owner_table": spec["owner"],
                          "owner_key": owner["key"], "id_prefix": ent["id_prefix"]}
    if tool["op"] == "verify":
        rt["field"] = spec["verify"]["field"]
    if tool["op"] == "list":
        rt["show"] = tool.get("show", [])
    if tool["op"] == "set":
        rt["set"] = tool["set"]
        rt["args"] = sorted(tool.get("args", {}))
    if tool["op"] == "update":
        rt["field"] = tool["field"]
        rt["arg"] = tool["arg"]
    if tool["op"] == "create":
        rt["args"] = sorted(tool.get("args", {}))
        rt["defaults"] = tool.get("defaults", {})
    if "requires" in tool:
        rt["requires"] = tool["requires"]
    return rt


def tool_spec(spec: dict[str, Any], tool: dict[str, Any]) -> ToolSpec:
    """Derive the OpenAI function object and output schema from an operation."""
    ent = spec["entities"][tool["entity"]]
    owner = spec["entities"][spec["owner"]]
    op = tool["op"]
    props: dict[str, Any] = {}
    returns: dict[str, Any]
    if op == "verify":
        vfield = spec["verify"]["field"]
        props[owner["key"]] = _string(f"The {owner['label']}.")
        props[vfield] = _string(f"The {owner['fields'][vfield].get('label', vfield)} on file.")
        returns = {"type": "object", "properties": {"verified": {"type": "boolean"}, owner["key"]: {"type": "string"}},
                   "required": ["verified"]}
    elif op == "get":
        props[ent["key"]] = _string(f"The {ent['label']}.")
        returns = _record_schema(ent)
    elif op == "list":
        props[owner["key"]] = _string(f"The {owner['label']}.")
        item = {"type": "object", "properties": {ent["key"]: {"type": "string"}} | {
            f: {"type": values.json_type(ent["fields"][f])} for f in tool.get("show", [])}}
        returns = {"type": "object", "properties": {"items": {"type": "array", "items": item}}, "required": ["items"]}
    elif op == "set":
        props[ent["key"]] = _string(f"The {ent['label']}.")
        for aname, aspec in tool.get("args", {}).items():
            props[aname] = _string(aspec.get("label", aname).capitalize() + ".")
        returns = _record_schema(ent)
    elif op == "update":
        props[ent["key"]] = _string(f"The {ent['label']}.")
        fspec = ent["fields"][tool["field"]]
        props[tool["arg"]] = _field_schema(fspec, f"The new {fspec.get('label', tool['field'])}.")
        returns = _record_schema(ent)
    else:  # create
        props[owner["key"]] = _string(f"The {owner['label']}.")
        for aname, aspec in tool.get("args", {}).items():
            props[aname] = _field_schema(aspec, aspec.get("label", aname).capitalize() + ".")
        returns = _record_schema(ent)
    parameters = {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}
    return ToolSpec(
        function=FunctionDef(name=tool["name"], description=tool.get("description", ""), parameters=parameters),
        returns=returns,
        kind="write" if op in WRITE_OPS else "read",
    )


def distractor_spec(distractor: dict[str, Any]) -> ToolSpec:
    """Distractors are declared with flat `{arg: type}` parameters; they return a canned acknowledgement."""
    props = {arg: ({"type": t, "maxLength": MAX_STRING} if t == "string" else {"type": t})
             for arg, t in distractor.get("parameters", {}).items()}
    parameters = {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}
    return ToolSpec(
        function=FunctionDef(name=distractor["name"], description=distractor.get("description", ""),
                             parameters=parameters),
        returns={"type": "object", "properties": {"status": {"type": "string"}, "message": {"type": "string"}},
                 "required": ["status"]},
        kind=distractor.get("kind", "read"),
        distractor=True,
    )
