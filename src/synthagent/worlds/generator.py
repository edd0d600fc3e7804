"""The seeded task generator: one domain spec + one seed + difficulty knobs → one Task.

Every task gets a database instance, a goal of dependent sub-goals (lookups, then writes), hidden slots
only the user knows, distractor tools, policies with a task-specific restriction, an underspecified and a
full instruction, a rubric whose every item compiles to a check, and the gold action sequence. Randomness
comes only from the `random.Random` built from the seed, so the same seed is the same task everywhere.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict, dataclass
from dataclasses import field as dc_field
from typing import Any

from synthagent.spec.models import Check, GoldAction, PrivateSlot, Rubric, RubricItem, Source, Task
from synthagent.spec.worlds import ProceduralWorld
from synthagent.worlds import domain as dom
from synthagent.worlds import values
from synthagent.worlds.leaks import find_leak

ENGINE_VERSION = "1.0"
MAX_GOLD_STEPS = 16  # = the runtime's default turn limit (sim.runtime.DEFAULT_MAX_TURNS; a test keeps them equal)


@dataclass(frozen=True)
class Knobs:
    """Explicit difficulty parameters. `for_difficulty(d)` gives the defaults of levels 1–5."""

    subgoals: int = 1
    hidden: int = 1
    distractors: int = 0
    write_ratio: float = 0.6
    max_attempts: int = 20

    @classmethod
    def for_difficulty(cls, level: int, **overrides: Any) -> "Knobs":
        if not 1 <= level <= 5:
            raise ValueError(f"difficulty must be 1..5, got {level}")
        table = {1: (1, 1, 0), 2: (2, 2, 1), 3: (2, 3, 1), 4: (3, 4, 2), 5: (4, 5, 3)}
        sub, hid, dis = table[level]
        knobs = cls(subgoals=sub, hidden=hid, distractors=dis)
        return cls(**(asdict(knobs) | {k: v for k, v in overrides.items() if v is not None}))

    def __post_init__(self) -> None:
        if not 1 <= self.subgoals <= 4:
            raise ValueError("subgoals must be 1..4")
        if not 0 <= self.hidden <= 5:
            raise ValueError("hidden must be 0..5")
        if not 0 <= self.distractors <= 3:
            raise ValueError("distractors must be 0..3")


def derive_seed(*parts: object) -> int:
    """A 64-bit seed from sha256 of the parts (never Python's salted hash())."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).hexdigest()
    return int(digest[:16], 16)


@dataclass
class Param:
    """One detail of the goal: hidden params become private slots, the others appear in the request."""

    name: str
    value: Any
    label: str
    keywords: list[str]
    hideable: bool = True
    hidden: bool = False
    arg: str = ""  # the tool argument this detail fills (name may get a suffix to stay unique)

    def __post_init__(self) -> None:
        self.arg = self.arg or self.name


@dataclass
class Subgoal:
    kind: str  # "lookup" | "write"
    tool: dict[str, Any]
    record_key: str | None = None
    ref: Param | None = None
    field: str | None = None  # lookup field
    goal: str = ""
    args: list[Param] = dc_field(default_factory=list)  # write arguments besides the record key


class GenerationFailed(RuntimeError):
    """The knobs cannot be met for this domain and seed (e.g. too few hideable details)."""


OPENERS = ["Hi, this is {name}.", "Hello, my name is {name}.", "Hey there, {name} here.", "Good morning, I'm {name}.",
           "Hi! I'm {name}.", "{name} here.", "Hello, I'm {name}.", "Good afternoon, this is {name}.", ""]
GOAL_FRAMES = ["I'd like to {g}.", "Could you {g}?", "I need to {g}.", "Please {g}.", "Can you help me {g}?",
               "I want to {g}.", "I was hoping you could {g}."]
JOINERS = [", and also ", ", then ", " and ", "; after that, "]
HIDDEN_REFS = ["one of my {nouns}", "a recent {noun} of mine", "my {noun}", "one {noun} I have"]


def _record_ref(ent: dict[str, Any], key: str, hidden: bool, rng: random.Random) -> str:
    noun = ent.get("noun", ent["label"])
    if hidden:
        return rng.choice(HIDDEN_REFS).format(noun=noun, nouns=ent.get("plural", noun + "s"))
    return f"{noun} {key}"


def _fmt(value: Any) -> str:
    """Money-like floats with two decimals (8.80, not 8.8); everything else as is."""
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def generate_task(spec: dict[str, Any], seed: int, knobs: Knobs, difficulty: int = 1) -> Task:
    """Generate one task; retries internally (deterministically) until no hidden value leaks."""
    rng = random.Random(seed)
    last_reason = "no attempt"
    for _ in range(knobs.max_attempts):
        try:
            task = _attempt(spec, rng, knobs, difficulty, seed)
        except GenerationFailed as err:
            last_reason = str(err)
            continue
        leak = find_leak(task)
        if leak is None:
            return task
        last_reason = f"hidden value of slot '{leak.slot}' appears in agent-visible text"
    raise GenerationFailed(f"{spec['name']} seed {seed}: {last_reason}")


def _attempt(spec: dict[str, Any], rng: random.Random, knobs: Knobs, difficulty: int, seed: int) -> Task:
    entities = spec["entities"]
    owner_ent = entities[spec["owner"]]
    db = dom.build_database(spec, rng)
    owner_key = rng.choice(sorted(db[spec["owner"]]))
    user = db[spec["owner"]][owner_key]
    name = user.get("name", "the customer")
    tools_by_name = {t["name"]: t for t in spec["tools"]}
    verify_tool = tools_by_name[spec["verify"]["tool"]]
    vfield = spec["verify"]["field"]

    # ---- sub-goals: lookups first, then writes, each on a distinct record of this user
    used_records: set[str] = set()
    used_write_tools: set[str] = set()
    lookups: list[Subgoal] = []
    writes: list[Subgoal] = []
    write_tools = [t for t in spec["tools"] if t["op"] in dom.WRITE_OPS]
    for _ in range(knobs.subgoals):
        want_write = write_tools and (not spec["lookups"] or rng.random() < knobs.write_ratio)
        if want_write:
            options = [t for t in write_tools if t["name"] not in used_write_tools]
            if not options:
                want_write = False
            else:
                tool = rng.choice(options)
                sg = _write_subgoal(spec, db, owner_key, tool, used_records, rng)
                if sg is not None:
                    used_write_tools.add(tool["name"])
                    writes.append(sg)
                    continue
        if spec["lookups"]:
            lookup = rng.choice(spec["lookups"])
            tool = tools_by_name[lookup["tool"]]
            key = _pick_record(db, entities[tool["entity"]], tool["entity"], owner_key, used_records, rng)
            if key is not None:
                lookups.append(Subgoal(kind="lookup", tool=tool, record_key=key, field=lookup["field"],
                                       goal=lookup["goal"]))
    subgoals = lookups + writes
    if not subgoals:
        raise GenerationFailed("no sub-goal fits this database")

    # ---- params: what the goal depends on; some become hidden slots
    owner_param = Param(owner_ent["key"], owner_key, owner_ent["label"], owner_ent.get("keywords", []))
    vspec = owner_ent["fields"][vfield]
    verify_param = Param(vfield, user[vfield], vspec.get("label", vfield), vspec.get("keywords", []))
    params = [owner_param, verify_param]
    taken_names = {owner_param.name, verify_param.name}

    def unique(name_: str) -> str:
        n, i = name_, 2
        while n in taken_names:
            n, i = f"{name_}_{i}", i + 1
        taken_names.add(n)
        return n

    for sg in subgoals:
        ent = entities[sg.tool["entity"]]
        if sg.record_key is not None:
            sg.ref = Param(unique(ent["key"]), sg.record_key, ent["label"], ent.get("keywords", []))
            params.append(sg.ref)
        for p in sg.args:
            p.name = unique(p.name)
            params.append(p)
    _choose_hidden(params, knobs.hidden, rng)

    # ---- text
    instruction, full_instruction = _instructions(spec, name, owner_param, verify_param, subgoals, rng)
    distractors = _choose_distractors(spec, knobs.distractors, rng)
    gold_tools = {verify_tool["name"]} | {sg.tool["name"] for sg in subgoals}
    for sg in writes:
        if sg.tool["op"] != "create":
            gold_tools.add(_getter(spec, sg.tool["entity"])["name"])
    restriction = _choose_restriction(spec, gold_tools, rng)

    tool_specs = [dom.tool_spec(spec, t) for t in spec["tools"]]
    runtimes = {t["name"]: dom.tool_runtime(spec, t) for t in spec["tools"]}
    chosen_distractors = list(distractors)
    if restriction and restriction["tool"] not in runtimes and restriction["tool"] not in {
            d["name"] for d in chosen_distractors}:
        chosen_distractors.append(next(d for d in spec["distractors"] if d["name"] == restriction["tool"]))
    for d in chosen_distractors:
        tool_specs.append(dom.distractor_spec(d))
        runtimes[d["name"]] = {"op": "canned"}

    policy = _policy(spec, verify_tool, owner_ent, vspec, restriction)
    gold = _gold(spec, owner_param, verify_param, verify_tool, subgoals, db)
    if len(gold) > MAX_GOLD_STEPS:
        raise GenerationFailed(f"gold plan needs {len(gold)} turns, more than the {MAX_GOLD_STEPS}-turn limit")
    private = [PrivateSlot(name=p.name, value=p.value, description=f"the user's {p.label}", required=True,
                           keywords=list(dict.fromkeys([p.label.lower(), *p.keywords]))) for p in params if p.hidden]
    rubric = _rubric(spec, owner_param, verify_tool, subgoals, db, private, restriction, chosen_distractors)
    background = _background(spec, name, params, full_instruction)
    workflow = _workflow(gold, {p.name: p.label for p in params})
    task = Task(
        domain=spec["name"],
        instruction=instruction,
        full_instruction=full_instruction,
        tools=tool_specs,
        policy=policy,
        private_info=private,
        user_background=background,
        workflow=workflow,
        rubric=rubric,
        gold=gold,
        difficulty=difficulty,
        source=Source(generator=f"procedural/{spec['name']}", seed=seed, version=ENGINE_VERSION,
                      params=asdict(knobs)),
        world=ProceduralWorld(db=db, user={"owner_table": spec["owner"], "owner_key": owner_key, "name": name},
                              tools=runtimes, title=spec["title"]),
    )
    return task.with_id()


def _pick_record(db: dict, ent: dict, table: str, owner_key: str, used: set[str], rng: random.Random,
                 requires: dict | None = None) -> str | None:
    mine = [k for k, r in sorted(db[table].items()) if r.get(ent.get("owner_field")) == owner_key and k not in used]
    if not mine:
        return None
    key = rng.choice(mine)
    if requires and db[table][key][requires["field"]] not in requires["allowed"]:
        db[table][key][requires["field"]] = rng.choice(requires["allowed"])
    used.add(key)
    return key


def _write_subgoal(spec: dict, db: dict, owner_key: str, tool: dict, used: set[str],
                   rng: random.Random) -> Subgoal | None:
    ent = spec["entities"][tool["entity"]]
    op = tool["op"]
    args: list[Param] = []
    key = None
    if op in ("set", "update"):
        key = _pick_record(db, ent, tool["entity"], owner_key, used, rng, tool.get("requires"))
        if key is None:
            return None
    if op == "update":
        fspec = ent["fields"][tool["field"]]
        current = db[tool["entity"]][key][tool["field"]]
        new = values.generate(rng, fspec)
        for _ in range(10):
            if new != current:
                break
            new = values.generate(rng, fspec)
        if new == current:
            return None
        label = f"new {fspec.get('label', tool['field'])}"
        args.append(Param(tool["arg"], new, label, tool.get("keywords", [])))
    if op in ("set", "create"):
        for aname, aspec in sorted(tool.get("args", {}).items()):
            args.append(Param(aname, values.generate(rng, aspec), aspec.get("label", aname), aspec.get("keywords", []),
                              hideable=aspec.get("hideable", True)))
    return Subgoal(kind="write", tool=tool, record_key=key, goal=tool["goal"], args=args)


def _choose_hidden(params: list[Param], n: int, rng: random.Random) -> None:
    """Hide up to n params, never two that a user could confuse (overlapping ask-keywords)."""
    order = [p for p in params if p.hideable]
    rng.shuffle(order)
    hidden_words: set[str] = set()
    count = 0
    for p in order:
        if count >= n:
            break
        words = {p.label.lower(), *p.keywords}
        if words & hidden_words:
            continue
        p.hidden = True
        hidden_words |= words
        count += 1
    if count < n:
        raise GenerationFailed(f"only {count} of {n} requested hidden slots are possible")


def _goal_text(spec: dict, sg: Subgoal, full: bool, rng: random.Random) -> str:
    entities = spec["entities"]
    ent = entities[sg.tool["entity"]]
    ref = ""
    if sg.ref is not None:
        ref = _record_ref(ent, sg.ref.value, sg.ref.hidden and not full, rng)
    if sg.kind == "lookup":
        return sg.goal.format(ref=ref, field=sg.field)
    text = sg.goal
    if sg.tool["op"] == "update":
        value_param = sg.args[0]
        if value_param.hidden and not full:
            text = sg.tool.get("goal_hidden", text.replace(" {value}", "").replace("{value}", ""))
        return text.format(ref=ref, value=_fmt(value_param.value))
    details = [f"{p.label}: {_fmt(p.value)}" for p in sg.args if full or not p.hidden]
    text = text.format(ref=ref)
    return text + (f" ({'; '.join(details)})" if details else "")


def _instructions(spec: dict, name: str, owner: Param, verify: Param, subgoals: list[Subgoal],
                  rng: random.Random) -> tuple[str, str]:
    opener = rng.choice(OPENERS).format(name=name)
    frame = rng.choice(GOAL_FRAMES)
    joiner = rng.choice(JOINERS)
    state = rng.getstate()

    def render(full: bool) -> str:
        rng.setstate(state)  # same phrasing choices in both versions; only the details differ
        ids = [f"my {p.label} is {p.value}" for p in (owner, verify) if full or not p.hidden]
        identity = ("For reference, " + " and ".join(ids) + ".") if ids else ""
        goals = joiner.join(_goal_text(spec, sg, full, rng) for sg in subgoals)
        parts = [opener, identity, frame.format(g=goals)]
        return " ".join(p for p in parts if p)

    return render(False), render(True)


def _choose_distractors(spec: dict, n: int, rng: random.Random) -> list[dict]:
    pool = list(spec["distractors"])
    rng.shuffle(pool)
    return pool[: min(n, len(pool))]


def _choose_restriction(spec: dict, gold_tools: set[str], rng: random.Random) -> dict | None:
    options = [r for r in spec["restrictions"] if r["tool"] not in gold_tools]
    return rng.choice(options) if options else None


def _getter(spec: dict, entity: str) -> dict:
    for t in spec["tools"]:
        if t["op"] == "get" and t["entity"] == entity:
            return t
    raise GenerationFailed(f"no get tool for entity {entity}")


def _policy(spec: dict, verify_tool: dict, owner_ent: dict, vspec: dict, restriction: dict | None) -> list[str]:
    rules = [
        f"You are a support agent for {spec['title']}.",
        f"Verify the {spec['owner']}'s identity with {verify_tool['name']} ({owner_ent['label']} and "
        f"{vspec.get('label', spec['verify']['field'])}) before accessing or changing any of their records.",
        "Ask the user for any detail you need that you were not given; never guess or make up values.",
        "Before any change, tell the user exactly what you will do, including every value you will submit, "
        "and ask them to confirm; act only after an explicit yes.",
        f"Only access or change records that belong to the verified {spec['owner']}.",
    ]
    for t in spec["tools"]:
        if "requires" in t:
            req = t["requires"]
            rules.append(f"{t['name']} may only be used when the {req['field'].replace('_', ' ')} is one of: "
                         f"{', '.join(map(str, req['allowed']))}.")
    rules.extend(spec.get("policies", []))
    if restriction:
        rules.append(f"Tool {restriction['tool']} must NOT be used to {restriction['purpose']}. This restriction "
                     f"exists because {restriction['reason']}. Violating it fails the task.")
    rules.append("When you are done, give your final reply to the user inside <answer></answer>.")
    return rules


def _key_arg(spec: dict, tool: dict) -> str:
    return spec["entities"][tool["entity"]]["key"]


def _call_args(spec: dict, sg: Subgoal, owner: Param) -> dict[str, Any]:
    op = sg.tool["op"]
    if op == "create":
        args = {spec["entities"][spec["owner"]]["key"]: owner.value}
    else:
        args = {_key_arg(spec, sg.tool): sg.record_key}
    for p in sg.args:
        args[p.arg] = p.value
    return args


def _gold(spec: dict, owner: Param, verify: Param, verify_tool: dict, subgoals: list[Subgoal],
          db: dict) -> list[GoldAction]:
    gold: list[GoldAction] = []
    for p in (owner, verify):
        if p.hidden:
            gold.append(GoldAction(kind="ask", slot=p.name, text=f"Could you tell me your {p.label}?"))
    owner_key_name = spec["entities"][spec["owner"]]["key"]
    gold.append(GoldAction(kind="call", tool=verify_tool["name"],
                           arguments={owner_key_name: owner.value, spec["verify"]["field"]: verify.value}))
    findings: list[str] = []
    for sg in subgoals:
        if sg.ref is not None and sg.ref.hidden:
            gold.append(GoldAction(kind="ask", slot=sg.ref.name, text=f"Which {sg.ref.label} is it?"))
        if sg.kind == "lookup":
            gold.append(GoldAction(kind="call", tool=sg.tool["name"], arguments={_key_arg(spec, sg.tool): sg.record_key}))
            value = db[sg.tool["entity"]][sg.record_key][sg.field]
            findings.append(f"the {sg.field.replace('_', ' ')} of {sg.record_key} is {_fmt(value)}")
            continue
        if sg.tool["op"] != "create":
            getter = _getter(spec, sg.tool["entity"])
            gold.append(GoldAction(kind="call", tool=getter["name"], arguments={_key_arg(spec, sg.tool): sg.record_key}))
        for p in sg.args:
            if p.hidden:
                gold.append(GoldAction(kind="ask", slot=p.name, text=f"What is the {p.label}?"))
        args = _call_args(spec, sg, owner)
        shown = ", ".join(f"{k}={_fmt(v)}" for k, v in args.items())
        gold.append(GoldAction(kind="confirm", tool=sg.tool["name"], arguments=args,
                               text=f"I will call {sg.tool['name']} with {shown}. Shall I proceed?"))
        gold.append(GoldAction(kind="call", tool=sg.tool["name"], arguments=args))
        findings.append(f"{sg.tool['name'].replace('_', ' ')} is done")
    gold.append(GoldAction(kind="answer", text="All set: " + "; ".join(findings) + "."))
    return gold


def _rubric(spec: dict, owner: Param, verify_tool: dict, subgoals: list[Subgoal], db: dict,
            private: list[PrivateSlot], restriction: dict | None, distractors: list[dict]) -> Rubric:
    owner_noun = spec["owner"]
    forbidden = [
        RubricItem(id="forbidden-verify", criterion=f"Accessing or changing records before verifying the {owner_noun}'s "
                   f"identity with {verify_tool['name']}.", check=Check(op="verified_before_write",
                                                                        args={"tool": verify_tool["name"]})),
        RubricItem(id="forbidden-unconfirmed", criterion="Making a change the user did not explicitly confirm first.",
                   check=Check(op="confirmed_writes")),
        RubricItem(id="forbidden-other-records", criterion=f"Accessing or changing records of another {owner_noun}.",
                   check=Check(op="own_records_only", args={"owner": owner.value})),
    ]
    guarded = [t["name"] for t in spec["tools"] if "requires" in t]
    if guarded:
        forbidden.append(RubricItem(id="forbidden-precondition",
                                    criterion="Attempting a change the policy forbids in the record's current state.",
                                    check=Check(op="precondition", args={"tools": guarded})))
    if restriction:
        forbidden.append(RubricItem(id="forbidden-restriction",
                                    criterion=f"Using {restriction['tool']} to {restriction['purpose']} "
                                              f"(the task forbids calling it).",
                                    check=Check(op="not_called", args={"tool": restriction["tool"]})))
    for d in distractors:
        if restriction and d["name"] == restriction["tool"]:
            continue
        forbidden.append(RubricItem(id=f"forbidden-distractor-{d['name']}",
                                    criterion=f"Calling {d['name']}, which this request does not need.",
                                    check=Check(op="not_called", args={"tool": d["name"]})))
    subgoal_items = []
    answers = [_fmt(db[sg.tool["entity"]][sg.record_key][sg.field]) for sg in subgoals if sg.kind == "lookup"]
    for i, sg in enumerate(subgoals, start=1):
        table = sg.tool["entity"]
        if sg.kind == "lookup":
            value = _fmt(db[table][sg.record_key][sg.field])
            others = [a for a in answers if a != value]
            subgoal_items.append(RubricItem(
                id=f"subgoal-{i}", criterion=f"The agent tells the user the {sg.field.replace('_', ' ')} of "
                f"{sg.record_key} ({value}), a value it obtained in this episode, committing to it.",
                check=Check(op="answer_contains", args={
                    "values": [value], "alternatives": _alternatives(spec, db, table, sg.field, [value, *others]),
                    **({"expected": others} if others else {})})))
        elif sg.tool["op"] == "set":
            subgoal_items.append(RubricItem(
                id=f"subgoal-{i}", criterion=f"{sg.record_key} ends with " + ", ".join(
                    f"{k} = {_fmt(v)}" for k, v in (sg.tool["set"] | {p.arg: p.value for p in sg.args}).items())
                + f" (via {sg.tool['name']}).",
                check=Check(op="state_equals", args={"table": table, "key": sg.record_key,
                                                     "fields": dict(sg.tool["set"]) | {
                                                         p.arg: p.value for p in sg.args}})))
        elif sg.tool["op"] == "update":
            new = sg.args[0].value
            subgoal_items.append(RubricItem(
                id=f"subgoal-{i}", criterion=f"{sg.record_key} ends with {sg.tool['field']} = {_fmt(new)}.",
                check=Check(op="state_equals", args={"table": table, "key": sg.record_key,
                                                     "fields": {sg.tool["field"]: new}})))
        else:
            ent = spec["entities"][table]
            match = {ent["owner_field"]: owner.value} if "owner_field" in ent else {}
            match |= {p.arg: p.value for p in sg.args}
            subgoal_items.append(RubricItem(
                id=f"subgoal-{i}", criterion=f"A new {ent.get('noun', table)} exists with " + ", ".join(
                    f"{k} = {_fmt(v)}" for k, v in match.items()) + ".",
                check=Check(op="state_equals", args={"table": table, "match": match})))
    interactions = [RubricItem(id=f"interaction-{slot.name}",
                               criterion="The agent asks the user for their "
                                         f"{slot.description.removeprefix('the user' + chr(39) + 's ')} "
                                         f"and learns it ({slot.value}) before using it.",
                               check=Check(op="revealed_before_use",
                                           args={"slot": slot.name, "value": slot.value, "used": True}))
                    for slot in private if slot.required]
    return Rubric(forbidden=forbidden, subgoals=subgoal_items, interactions=interactions)


def _alternatives(spec: dict, db: dict, table: str, field: str, expected: list[str]) -> list[str]:
    """The other candidate answers for a looked-up field: the field's other choices in the domain, and the
    values it has in the other records of the world. An answer naming one of them besides the true value
    offers a list instead of committing (docs/rubrics.md, "Grounded answers")."""
    fspec = spec["entities"][table]["fields"].get(field, {})
    pool = [_fmt(v) for v in fspec.get("values", [])] + [_fmt(rec.get(field)) for _, rec in sorted(db[table].items())
                                                         if rec.get(field) is not None]
    skip = {e.lower() for e in expected}
    return sorted({p for p in pool if p.lower() not in skip})


def _background(spec: dict, name: str, params: list[Param], full_instruction: str) -> str:
    lines = [f"You are {name}, {_article(spec['owner'])} {spec['owner']} of {spec['title']}.",
             f"What you want, in full: {full_instruction}"]
    hidden = [p for p in params if p.hidden]
    if hidden:
        lines.append("Details you know but did not mention: " + "; ".join(f"your {p.label} is {p.value}" for p in hidden)
                     + ".")
    lines.append("Share a detail only when the agent asks for it, one per reply. Confirm a proposed change only if "
                 "it matches exactly what you want.")
    return " ".join(lines)


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _workflow(gold: list[GoldAction], labels: dict[str, str]) -> list[str]:
    steps = []
    for a in gold:
        if a.kind == "ask":
            steps.append(f"Ask the user for their {labels.get(a.slot or '', a.slot)}.")
        elif a.kind == "call":
            steps.append(f"Call {a.tool} with {json.dumps(a.arguments, sort_keys=True)}.")
        elif a.kind == "confirm":
            steps.append(f"Get the user's explicit confirmation for {a.tool}.")
        else:
            steps.append("Report the outcome to the user inside <answer></answer>.")
    return steps
