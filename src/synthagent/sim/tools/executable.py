"""The executable tool backend: tool calls run against the task's own database instance.

Each session works on a private copy of the database, so rollouts of one task never see each other's
writes. Every failure — unknown tool, non-JSON or oversized arguments, schema violations, missing records,
forbidden state — becomes an error observation; nothing here raises into the episode.
"""

from __future__ import annotations

import json
from typing import Any

from synthagent.sim.interfaces import ToolResult
from synthagent.sim.tools.validate import parse_call
from synthagent.spec.models import Task
from synthagent.spec.worlds import ProceduralWorld

CANNED = json.dumps({"status": "ok", "message": "Request recorded."})


def copy_db(db: dict[str, dict[str, dict[str, Any]]]) -> dict[str, dict[str, dict[str, Any]]]:
    return {table: {key: dict(rec) for key, rec in rows.items()} for table, rows in db.items()}


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


class ExecutableBackend:
    """Factory of sessions; stateless itself."""

    def session(self, task: Task) -> "ExecutableSession":
        return ExecutableSession(task)


class ExecutableSession:
    def __init__(self, task: Task):
        world = task.world
        if not isinstance(world, ProceduralWorld):
            raise ValueError(f"task {task.id}: a {world.kind} world has no database; the executable backend plays "
                             "procedural worlds only")
        self.task = task
        self.db = copy_db(world.db)
        self.runtimes: dict[str, dict[str, Any]] = world.tools
        self.schemas = {t.name: t.function.parameters for t in task.tools}
        self.kinds = {t.name: t.kind for t in task.tools}
        self.created = 0

    def call(self, name: str, arguments: str | dict[str, Any]) -> ToolResult:
        result = ToolResult(content="", name=name, kind=self.kinds.get(name, "read"))
        if name in self.schemas and name not in self.runtimes:
            return _fail(result, f"tool '{name}' has no executable implementation")
        args, problem = parse_call(name, arguments, self.schemas)
        result.args = args
        if problem:
            return _fail(result, problem)
        rt = self.runtimes[name]
        handler = _HANDLERS.get(rt["op"])
        if handler is None:
            return _fail(result, f"tool '{name}' has no executable implementation")
        handler(self, rt, args, result)
        return result

    # ------------------------------------------------------------------------------- helpers

    def _record(self, rt: dict[str, Any], key: Any, result: ToolResult) -> dict[str, Any] | None:
        rec = self.db.get(rt["table"], {}).get(key)
        if rec is None:
            _fail(result, f"{rt['table']} '{key}' not found")
            return None
        if rt.get("owner_field"):
            result.owners = (rec.get(rt["owner_field"]),)
        elif rt["table"] == rt.get("owner_table"):
            result.owners = (key,)
        return rec

    def _check_requires(self, rt: dict[str, Any], rec: dict[str, Any], result: ToolResult) -> bool:
        req = rt.get("requires")
        if req and rec.get(req["field"]) not in req["allowed"]:
            result.precondition_violation = True
            _fail(result, f"not allowed: {req['field']} is '{rec.get(req['field'])}'; must be one of "
                          f"{', '.join(map(str, req['allowed']))}")
            return False
        return True


def _fail(result: ToolResult, message: str) -> ToolResult:
    result.content = f"Error: {message}"
    result.error = True
    return result


def _full(rt: dict[str, Any], key: str, rec: dict[str, Any]) -> dict[str, Any]:
    return {rt["key"]: key, **rec}


def _verify(s: ExecutableSession, rt: dict, args: dict, result: ToolResult) -> None:
    key = args.get(rt["owner_key"])
    rec = s.db.get(rt["owner_table"], {}).get(key)
    if rec is None or str(rec.get(rt["field"])) != str(args.get(rt["field"])):
        _fail(result, "identity could not be verified")
        return
    result.owners = (key,)
    result.content = _dumps({"verified": True, rt["owner_key"]: key})


def _get(s: ExecutableSession, rt: dict, args: dict, result: ToolResult) -> None:
    key = args[rt["key"]]
    rec = s._record(rt, key, result)
    if rec is not None:
        result.content = _dumps(_full(rt, key, rec))


def _list(s: ExecutableSession, rt: dict, args: dict, result: ToolResult) -> None:
    owner = args[rt["owner_key"]]
    if owner not in s.db.get(rt["owner_table"], {}):
        _fail(result, f"{rt['owner_table']} '{owner}' not found")
        return
    result.owners = (owner,)
    items = [{rt["key"]: k, **{f: r.get(f) for f in rt.get("show", [])}}
             for k, r in s.db[rt["table"]].items() if r.get(rt["owner_field"]) == owner]
    result.content = _dumps({"items": items})


def _set(s: ExecutableSession, rt: dict, args: dict, result: ToolResult) -> None:
    key = args[rt["key"]]
    rec = s._record(rt, key, result)
    if rec is None or not s._check_requires(rt, rec, result):
        return
    rec.update(rt["set"])
    for arg in rt.get("args", []):
        rec[arg] = args[arg]
    result.content = _dumps(_full(rt, key, rec))


def _update(s: ExecutableSession, rt: dict, args: dict, result: ToolResult) -> None:
    key = args[rt["key"]]
    rec = s._record(rt, key, result)
    if rec is None or not s._check_requires(rt, rec, result):
        return
    rec[rt["field"]] = args[rt["arg"]]
    result.content = _dumps(_full(rt, key, rec))


def _create(s: ExecutableSession, rt: dict, args: dict, result: ToolResult) -> None:
    owner = args[rt["owner_key"]]
    if owner not in s.db.get(rt["owner_table"], {}):
        _fail(result, f"{rt['owner_table']} '{owner}' not found")
        return
    result.owners = (owner,)
    table = s.db.setdefault(rt["table"], {})
    key = f"{rt['id_prefix']}-N{len(table) + 1:05d}"
    rec = dict(rt.get("defaults", {}))
    rec.update({a: args[a] for a in rt.get("args", [])})
    if rt.get("owner_field"):
        rec[rt["owner_field"]] = owner
    table[key] = rec
    result.content = _dumps(_full(rt, key, rec))


def _canned(s: ExecutableSession, rt: dict, args: dict, result: ToolResult) -> None:
    result.content = CANNED


_HANDLERS = {"verify": _verify, "get": _get, "list": _list, "set": _set, "update": _update, "create": _create,
             "canned": _canned}
