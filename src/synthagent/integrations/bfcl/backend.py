"""BFCL's executable multi-turn APIs as a tool backend, and BFCL's multi-turn verdict computed on our runs.

A session holds one instance of each API class the entry involves, loaded with the entry's initial
configuration as BFCL loads it (`_load_scenario`, long context for that category; stateless classes are
not loaded). A call is dispatched by method name to the class that defines it — never through `eval` of
a string, which is how BFCL's checker runs calls — and its result is rendered as BFCL renders it (a
string as is, a dict as JSON, anything else `str`); an exception becomes BFCL's "Error during execution"
text.

`check` is BFCL's multi-turn checker, restated on our sessions: per turn, the model's calls and the
ground truth's run on two persistent sessions; a turn whose ground truth has calls fails when the model
made none; then every public attribute of each ground-truth instance must equal the model instance's
(state check), and the turn's ground-truth results must all occur among the model's results so far,
as a multiset (response check). The tests and `bench/bfcl_agreement.py` compare it with BFCL's own
`multi_turn_checker` on gold and perturbed runs.
"""

from __future__ import annotations

import ast
import copy
import importlib
import inspect
import json
from dataclasses import dataclass, field
from typing import Any

from synthagent.integrations.bfcl.data import BfclEntry

FORBIDDEN = frozenset({"kill", "exit", "quit", "remove", "unlink", "popen", "Popen", "run"})  # as BFCL refuses


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        """BFCL's call-string form, `name(a=1, b='x')`."""
        parts = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"{self.name}({', '.join(parts)})"


def parse_call_string(text: str) -> Call:
    """`cd(folder='document')` → Call; arguments must be literals (BFCL's ground truth always is)."""
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as err:
        raise ValueError(f"not a call: {text!r} ({err.msg})") from None
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        raise ValueError(f"not a plain function call: {text!r}")
    try:
        args = tuple(ast.literal_eval(a) for a in node.args)
        kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords if kw.arg is not None}
    except ValueError:
        raise ValueError(f"arguments are not literals: {text!r}") from None
    return Call(node.func.id, args, kwargs)


def _render(result: Any) -> str:
    if isinstance(result, str):
        return result
    if isinstance(result, dict):
        try:
            return json.dumps(result)
        except (TypeError, ValueError):
            return str(result)
    return str(result)


class BfclSession:
    def __init__(self, entry: BfclEntry):
        from bfcl_eval.constants.executable_backend_config import CLASS_FILE_PATH_MAPPING, STATELESS_CLASSES

        self.instances: dict[str, Any] = {}
        self.methods: dict[str, Any] = {}
        for cls_name in entry.involved_classes:
            cls = getattr(importlib.import_module(CLASS_FILE_PATH_MAPPING[cls_name]), cls_name)
            instance = cls()
            if cls_name not in STATELESS_CLASSES:
                instance._load_scenario(copy.deepcopy(entry.initial_config.get(cls_name, {})),
                                        long_context=entry.long_context)
            self.instances[cls_name] = instance
            for name, method in inspect.getmembers(instance, predicate=inspect.ismethod):
                if not name.startswith("_"):
                    self.methods[name] = method  # a later class wins a shared name, as in BFCL's mapping

    def call(self, call: Call) -> str:
        try:
            if call.name in FORBIDDEN:
                raise Exception(f"Function call {call.name} is not allowed.")
            method = self.methods.get(call.name)
            if method is None:
                raise NameError(f"name '{call.name}' is not defined")
            return _render(method(*call.args, **call.kwargs))
        except Exception as err:  # BFCL turns every failure into a result the model sees
            return f"Error during execution: {err}"

    def state(self) -> dict[str, dict[str, Any]]:
        return {name: {k: v for k, v in vars(inst).items() if not k.startswith("_")}
                for name, inst in self.instances.items()}


@dataclass
class BfclVerdict:
    valid: bool
    error_type: str = ""
    message: str = ""
    turn: int | None = None


def _multiset_missing(needles: list[str], haystack: list[str]) -> list[str]:
    pool = list(haystack)
    missing = []
    for item in needles:
        if item in pool:
            pool.remove(item)
        else:
            missing.append(item)
    return missing


def check(entry: BfclEntry, model_result: list[list[list[Call | str]]], *, irrelevance: bool = False) -> BfclVerdict:
    """BFCL's multi-turn verdict. `model_result`: per turn, per step, the calls (Call or BFCL call strings).

    A turn whose ground truth is empty (the `miss_func` turn before the functions come, the `miss_param`
    turn that lacks a value) is where the model should not manage the request. As BFCL's eval runner
    scores it (bfcl-eval 2026.3.23), such a turn is not judged: its calls run, so the next turn's state
    check sees them, and nothing else. BFCL also defines a stricter rule its runner never calls
    (`multi_turn_irrelevance_checker`): such a turn must hold no call at all. `irrelevance=True` adds
    that rule, checked after the turn-by-turn check, as the two checkers would combine.
    """
    verdict = _turn_by_turn(entry, model_result)
    if verdict.valid and irrelevance:
        for turn, gold_turn in enumerate(entry.ground_truth):
            steps = model_result[turn] if turn < len(model_result) else []
            if not gold_turn and any(step for step in steps):
                return BfclVerdict(False, "multi_turn:irrelevance_error:decoder_success",
                                   f"turn {turn}: function calls where the ground truth has none", turn)
    return verdict


def _turn_by_turn(entry: BfclEntry, model_result: list[list[list[Call | str]]]) -> BfclVerdict:
    model, gold = BfclSession(entry), BfclSession(entry)
    so_far: list[str] = []
    for turn, gold_turn in enumerate(entry.ground_truth):
        steps = model_result[turn] if turn < len(model_result) else []
        for step in steps:
            for call in step:
                so_far.append(model.call(call if isinstance(call, Call) else _safe_parse(call)))
        gold_results = [gold.call(parse_call_string(c)) for c in gold_turn]
        if not gold_turn:
            continue  # not judged here; see `check`
        if not steps or (len(steps) == 1 and not steps[0]):
            return BfclVerdict(False, "multi_turn:empty_turn_model_response", f"no calls in turn {turn}", turn)
        for cls_name, gold_inst in gold.instances.items():
            model_inst = model.instances[cls_name]
            for attr in vars(gold_inst):
                if not attr.startswith("_") and getattr(model_inst, attr) != getattr(gold_inst, attr):
                    return BfclVerdict(False, "multi_turn:instance_state_mismatch",
                                       f"{cls_name}.{attr} differs after turn {turn}", turn)
        missing = _multiset_missing(gold_results, so_far)
        if missing:
            return BfclVerdict(False, "multi_turn:execution_response_mismatch",
                               f"turn {turn}: {len(missing)} ground-truth result(s) never produced", turn)
    return BfclVerdict(True)


def _safe_parse(text: str) -> Call:
    try:
        return parse_call_string(text)
    except ValueError:
        return Call(name=f"<unparseable {text!r}>")
