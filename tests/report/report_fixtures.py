"""Synthetic tasks and scored trajectories for the report's tests and benchmark.

These are *fixtures*, not a world: plausible tasks in a few domains, four policies of different skill
and k samples per task, with tool errors, leaks and failed rubric items mixed in, so every part of the
report has something to show. Seeded and deterministic. `hostile=True` plants markup and script in
places a real run could carry them (instructions, tool outputs, policy and domain names, evidence).
"""

from __future__ import annotations

import hashlib
import json
import random

from synthagent.spec.models import (
    Check,
    Counters,
    FunctionCall,
    FunctionDef,
    GoldAction,
    ItemVerdict,
    Message,
    PrivateSlot,
    Rubric,
    RubricItem,
    RubricResult,
    Source,
    Task,
    ToolCall,
    ToolSpec,
    Trajectory,
)
from synthagent.spec.worlds import SimulatedWorld

HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "</script><script>window.__pwned=1</script>",
    "<!-- \u2028 \u2029 &amp; ${x} {{y}}",
]

POLICIES = [("gpt-4o-mini", 0.95), ("qwen3-8b-grpo", 0.85), ("qwen3-8b", 0.65), ("llama-3.1-8b", 0.45)]

# domain -> (entity noun, id prefix, verify tool, read tool, write tool, write verb, distractor, slots)
DOMAINS = {
    "retail": ("order", "OR", "verify_customer", "get_order", "cancel_order", "cancel", "recommend_products",
               [("customer_id", "CU"), ("zip_code", "digits"), ("reason", "no longer needed")]),
    "airline": ("reservation", "RS", "verify_passenger", "get_reservation", "change_flight", "rebook",
                "search_hotels", [("passenger_id", "PX"), ("date_of_birth", "1988-04-12"), ("new_date", "2025-07-03")]),
    "telecom": ("line", "LN", "verify_account", "get_line", "suspend_line", "suspend", "compare_plans",
                [("account_id", "AC"), ("pin", "digits"), ("reason", "lost phone")]),
    "banking": ("card", "CD", "verify_holder", "get_card", "freeze_card", "freeze", "get_exchange_rate",
                [("holder_id", "HD"), ("last4", "digits"), ("reason", "suspected fraud")]),
    "clinic": ("appointment", "AP", "verify_patient", "get_appointment", "reschedule_appointment", "reschedule",
               "find_pharmacy", [("patient_id", "PT"), ("phone", "digits"), ("new_slot", "Tuesday 10:30")]),
}

NAMES = ["Ana Souza", "Wei Chen", "Fatima Khan", "Luca Romano", "Ngozi Okafor", "Sofia Petrova", "Diego Ruiz"]


def _hid(*parts: object) -> str:
    return hashlib.sha256("\0".join(map(str, parts)).encode()).hexdigest()


def _slot_value(rng: random.Random, spec: str) -> str:
    if spec == "digits":
        return "".join(rng.choice("0123456789") for _ in range(5))
    if len(spec) == 2 and spec.isupper():
        return f"{spec}{rng.randint(1000, 9999)}"
    return spec


def _tool(name: str, desc: str, params: dict[str, str], kind: str = "read", distractor: bool = False,
          returns: dict | None = None) -> ToolSpec:
    props = {k: {"type": "string", "description": v} for k, v in params.items()}
    return ToolSpec(
        function=FunctionDef(name=name, description=desc,
                             parameters={"type": "object", "properties": props, "required": list(params)}),
        returns=returns or {"type": "object", "properties": {"status": {"type": "string"}}},
        kind=kind, distractor=distractor,
    )


def make_task(domain: str, index: int, difficulty: int, rng: random.Random, *, hostile: bool = False) -> Task:
    noun, prefix, verify, read, write, verb, distractor, slot_specs = DOMAINS[domain]
    ref = f"{prefix}{rng.randint(10000, 99999)}"
    person = rng.choice(NAMES)
    slots = [PrivateSlot(name=name, value=_slot_value(rng, spec), description=f"the user's {name.replace('_', ' ')}",
                         required=i < 2 or difficulty >= 3, keywords=[name.replace("_", " ")])
             for i, (name, spec) in enumerate(slot_specs)]
    slots.append(PrivateSlot(name=f"{noun}_ref", value=ref, description=f"which {noun}", required=True,
                             keywords=[f"{noun} number", "which"]))
    instruction = f"Hi, I need help with one of my {noun}s."
    if hostile and index == 0:
        instruction = f"Please {verb} my {noun} {HOSTILE[0]} {HOSTILE[1]} {HOSTILE[2]}"
    tools = [
        _tool(verify, "Verify the user's identity. Required before any account access.",
              {slot_specs[0][0]: "account identifier", slot_specs[1][0]: "second factor"}),
        _tool(read, f"Get the details of one {noun}.", {f"{noun}_id": f"the {noun} id"},
              returns={"type": "object", "properties": {"status": {"type": "string"}, "owner": {"type": "string"}}}),
        _tool(f"list_{noun}s", f"List the {noun}s of a verified user.", {slot_specs[0][0]: "account identifier"}),
        _tool(write, f"{verb.capitalize()} a {noun}. Changes the account; confirm with the user first.",
              {f"{noun}_id": f"the {noun} id", slot_specs[2][0]: slot_specs[2][0].replace("_", " ")}, kind="write"),
        _tool(distractor, "Looks useful, but no solution needs it." if not hostile else HOSTILE[1],
              {"query": "free text"}, distractor=True),
    ]
    rubric = Rubric(
        forbidden=[RubricItem(id="F1", criterion=f"Never {verb} a {noun} without explicit user confirmation.",
                              check=Check(op="confirmed_writes")),
                   RubricItem(id="F2", criterion=f"Never call {distractor}.", check=Check(op="not_called",
                                                                                           args={"tool": distractor}))],
        subgoals=[RubricItem(id="S1", criterion="Verify the user's identity.", check=Check(op="called",
                                                                                        args={"tool": verify})),
                  RubricItem(id="S2", criterion=f"Look up {noun} {ref}.",
                             check=Check(op="called", args={"tool": read})),
                  RubricItem(id="S3", criterion=f"{verb.capitalize()} {noun} {ref}.",
                             check=Check(op="state_equals", args={"table": noun, "key": ref}))],
        interactions=[RubricItem(id=f"I{i + 1}", criterion=f"Ask the user for their {s.name.replace('_', ' ')}.",
                                 check=Check(op="revealed_before_use", args={"slot": s.name}))
                      for i, s in enumerate(slots) if s.required][: 1 + min(difficulty, 3)],
    )
    if difficulty >= 4:
        rubric.subgoals.append(RubricItem(id="S4", criterion="Tell the user the outcome and the new status."))
    task = Task(
        domain=domain if not (hostile and index == 1) else f"{domain} {HOSTILE[0]}",
        instruction=instruction,
        full_instruction=f"{person} wants to {verb} {noun} {ref}; they will give "
                         + ", ".join(f"{s.name}={s.value}" for s in slots) + " when asked.",
        tools=tools,
        policy=[f"Verify identity with {verify} before any access.",
                f"Only {verb} a {noun} after the user explicitly confirms.",
                f"Do NOT use {distractor} for this request; violating it fails the task."],
        private_info=slots,
        user_background=f"You are {person}. You want to {verb} {noun} {ref}. Answer one question at a time; "
                        "never volunteer details.",
        workflow=[f"Ask for {slots[0].name} and {slots[1].name}", f"Call {verify}", f"Ask which {noun}",
                  f"Call {read}", "Confirm the change with the user", f"Call {write}", "Report the outcome"],
        rubric=rubric,
        gold=[GoldAction(kind="ask", slot=slots[0].name), GoldAction(kind="ask", slot=slots[1].name),
              GoldAction(kind="call", tool=verify, arguments={slots[0].name: slots[0].value,
                                                             slots[1].name: slots[1].value}),
              GoldAction(kind="ask", slot=f"{noun}_ref"),
              GoldAction(kind="call", tool=read, arguments={f"{noun}_id": ref}),
              GoldAction(kind="confirm", text=f"Shall I {verb} {noun} {ref}?"),
              GoldAction(kind="call", tool=write, arguments={f"{noun}_id": ref, slots[2].name: slots[2].value}),
              GoldAction(kind="answer", text=f"Done: {noun} {ref} is updated.")],
        difficulty=difficulty,
        source=Source(generator="synthetic-fixture", seed=index, params={"domain": domain}),
        world=SimulatedWorld(state={"tables": {noun: {ref: {"owner": slots[0].value, "status": "active"}}}}),
    )
    return task.with_id()


def _call(i: int, name: str, args: dict) -> ToolCall:
    return ToolCall(id=f"call_{i}", function=FunctionCall(name=name, arguments=json.dumps(args)))


def make_trajectory(task: Task, policy: str, skill: float, sample: int, *, hostile: bool = False) -> Trajectory:
    rng = random.Random(int(_hid(task.id, policy, sample)[:12], 16))
    noun, prefix, verify, read, write, verb, distractor, _ = DOMAINS[task.source.params["domain"]]
    slots = task.private_info
    ref = slots[-1].value
    p = max(0.05, min(0.98, skill - 0.07 * (task.difficulty - 1)))
    asks = rng.random() < p
    verifies = rng.random() < p + 0.1
    confirms = rng.random() < p + 0.05
    uses_distractor = rng.random() < (1 - p) * 0.3
    tool_error = rng.random() < 0.2
    finishes = rng.random() < p + 0.15
    leak = rng.random() < 0.08

    msgs: list[Message] = [
        Message(role="system", actor="system", content="You are a customer-service agent.\n\nPolicy:\n- "
                + "\n- ".join(task.policy)),
        Message(role="user", actor="user", content=task.instruction),
    ]
    decided: dict[str, int] = {}
    n_calls = n_err = 0

    def agent(text: str | None = None, calls: list[ToolCall] | None = None) -> int:
        msgs.append(Message(role="assistant", actor="agent", content=text, tool_calls=calls))
        return len(msgs) - 1

    def tool(call: ToolCall, payload: object, error: bool = False) -> int:
        nonlocal n_calls, n_err
        n_calls += 1
        n_err += error
        content = payload if isinstance(payload, str) else json.dumps(payload)
        msgs.append(Message(role="tool", actor="tool", content=content, tool_call_id=call.id,
                            name=call.function.name, error=error))
        return len(msgs) - 1

    def user(text: str) -> int:
        msgs.append(Message(role="user", actor="user", content=text))
        return len(msgs) - 1

    if asks:
        decided["I1"] = agent(f"I can help. Could you tell me your {slots[0].name.replace('_', ' ')} "
                              f"and {slots[1].name.replace('_', ' ')}?")
        user(f"Sure, it's {slots[0].value}." + (f" And {slots[1].value}." if rng.random() < 0.5 else ""))
        if "I2" in {i.id for i in task.rubric.interactions}:
            decided["I2"] = agent(f"Thanks. And your {slots[1].name.replace('_', ' ')}?")
            user(f"{slots[1].value}." + (f" Also my {slots[2].name} is {slots[2].value}." if leak else ""))
    args = {slots[0].name: slots[0].value if asks else "UNKNOWN", slots[1].name: slots[1].value if asks else "00000"}
    if verifies:
        c = _call(len(msgs), verify, args)
        agent(None, [c])
        ok = asks
        decided["S1"] = tool(c, {"verified": ok} if ok else {"error": "identity could not be verified"}, error=not ok)
    if uses_distractor:
        c = _call(len(msgs), distractor, {"query": task.instruction[:40]})
        decided["F2"] = agent("Let me look something up first.", [c])
        tool(c, {"results": []})
    if tool_error:
        c = _call(len(msgs), read, {f"{noun}_id": ref.lower()})
        agent(None, [c])
        payload = (f"error: {noun} not found: {HOSTILE[0]} {HOSTILE[1]}" if hostile
                   else {"error": f"{noun} '{ref.lower()}' not found", "code": 404})
        tool(c, payload, error=True)
    c = _call(len(msgs), read, {f"{noun}_id": ref})
    agent(f"Let me check {noun} {ref}.", [c])
    decided["S2"] = tool(c, {"id": ref, "status": "active", "owner": slots[0].value,
                             "note": HOSTILE[3] if hostile else "ok"})
    wrote = False
    if finishes:
        if confirms:
            agent(f"I found {noun} {ref}. Do you want me to {verb} it now?")
            decided["F1"] = user("Yes, please go ahead.")
        c = _call(len(msgs), write, {f"{noun}_id": ref, slots[2].name: slots[2].value})
        idx = agent(None, [c])
        decided.setdefault("F1", idx)
        decided["S3"] = tool(c, {"status": "done", "id": ref})
        wrote = True
        decided["S4"] = agent(f"All set: {noun} {ref} is updated. Anything else?")
        user("No, that's all. Thanks! ###STOP###")
        termination = "user_stop"
        answer = msgs[-2].content
    else:
        agent(f"I'm sorry, I can't {verb} {noun} {ref} right now.")
        termination = rng.choice(["answer", "max_turns"])
        answer = msgs[-1].content

    items: list[ItemVerdict] = []
    for section, group in task.rubric.sections():
        for item in group:
            if section == "forbidden":
                met = not (item.id == "F1" and wrote and not confirms) and not (item.id == "F2" and uses_distractor)
            elif section == "subgoals":
                met = {"S1": verifies and asks, "S2": True, "S3": wrote, "S4": wrote}.get(item.id, True)
            else:
                met = asks and (item.id in ("I1", "I2") or rng.random() < p)
            mi = decided.get(item.id)
            evidence = ("seen in message" if mi is not None else "no message shows it")
            if hostile and item.id == "S2":
                evidence = f"tool said {HOSTILE[1]}"
            items.append(ItemVerdict(id=item.id, section=section, criterion=item.criterion, met=met,
                                     evidence=f"{'met' if met else 'not met'}: {evidence}", message_index=mi,
                                     method="check" if item.check else "judge"))
    gate = 0.0 if any(not v.met for v in items if v.section == "forbidden") else 1.0
    sub = [v.met for v in items if v.section == "subgoals"]
    inter = [v.met for v in items if v.section == "interactions"]
    sf = sum(sub) / len(sub) if sub else None
    inf = sum(inter) / len(inter) if inter else None
    reward = gate * 0.5 * ((sf if sf is not None else 1.0) + (inf if inf is not None else 1.0))
    result = RubricResult(task_id=task.id, items=items, gate=gate, subgoal_fraction=sf, interaction_fraction=inf,
                          reward=round(reward, 4), success=reward >= 0.999)
    n_agent = sum(m.actor == "agent" for m in msgs)
    n_user = sum(m.actor == "user" for m in msgs)
    return Trajectory(
        task_id=task.id, domain=task.domain, difficulty=task.difficulty, policy=policy, sample=sample,
        seed=rng.randint(0, 2**31), messages=msgs, termination=termination, answer=answer,
        counters=Counters(agent_turns=n_agent, user_turns=n_user, tool_calls=n_calls, tool_errors=n_err,
                          tokens={"agent": 60 * n_agent, "user": 25 * n_user}),
        metrics={"user_leak": float(leak), "premature_stop": float(not finishes),
                 "tool_cache_hit_rate": round(rng.random(), 3), "schema_violations": float(tool_error)},
        result=result,
    )


def sample_report_data(n_tasks: int = 15, *, k: int = 2, policies: list[tuple[str, float]] | None = None,
                       seed: int = 0, hostile: bool = False) -> tuple[list[Task], list[Trajectory]]:
    """`n_tasks` tasks over five domains and difficulties 1–5, each run `k` times by every policy."""
    rng = random.Random(seed)
    pols = list(policies or POLICIES)
    if hostile:
        pols[-1] = (f"evil {HOSTILE[1]}", pols[-1][1])
    domains = list(DOMAINS)
    tasks = [make_task(domains[i % len(domains)], i, 1 + (i * 7 // len(domains)) % 5 if n_tasks > 5 else 1 + i % 5,
                       rng, hostile=hostile) for i in range(n_tasks)]
    runs = [make_trajectory(t, name, skill, s, hostile=hostile)
            for t in tasks for name, skill in pols for s in range(k)]
    return tasks, runs
