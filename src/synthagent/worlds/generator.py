"""The seeded task generator: one domain spec + one seed + difficulty knobs → one Task.

The generator owns what is common to every task (who the user is, which details are hidden, the
instruction's phrasing, the policy and task-level rubric items); what depends on a tool's operation —
its sub-goal, phrase, gold steps and rubric item — it asks the operation (`operations/*.py`).

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
from typing import Any

from synthagent.spec.models import Check, GoldAction, PrivateSlot, Rubric, RubricItem, Source, Task
from synthagent.spec.worlds import ProceduralWorld
from synthagent.worlds import branching
from synthagent.worlds.branching import BoundBranch, BranchDraw, BranchMix
from synthagent.worlds.database import build_database
from synthagent.worlds.domain_spec import Domain, load_domain
from synthagent.worlds.leaks import find_leak
from synthagent.worlds.operations import CANNED, GET, OPERATIONS, VERIFY, WriteOperation
from synthagent.worlds.plan import GenerationFailed, Param, Subgoal
from synthagent.worlds.spec_parts import Distractor, Entity, Restriction

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


OPENERS = ["Hi, this is {name}.", "Hello, my name is {name}.", "Hey there, {name} here.", "Good morning, I'm {name}.",
           "Hi! I'm {name}.", "{name} here.", "Hello, I'm {name}.", "Good afternoon, this is {name}.", ""]
GOAL_FRAMES = ["I'd like to {g}.", "Could you {g}?", "I need to {g}.", "Please {g}.", "Can you help me {g}?",
               "I want to {g}.", "I was hoping you could {g}."]
JOINERS = [", and also ", ", then ", " and ", "; after that, "]
HIDDEN_REFS = ["one of my {nouns}", "a recent {noun} of mine", "my {noun}", "one {noun} I have"]


def _record_ref(ent: Entity, key: str, hidden: bool, rng: random.Random) -> str:
    noun = ent.noun_or_label
    if hidden:
        return rng.choice(HIDDEN_REFS).format(noun=noun, nouns=ent.plural if ent.plural is not None else noun + "s")
    return f"{noun} {key}"


def _write_op(sg: Subgoal) -> WriteOperation:
    op = OPERATIONS[sg.tool.op]
    assert isinstance(op, WriteOperation)
    return op


def generate_task(spec: Domain | dict[str, Any], seed: int, knobs: Knobs, difficulty: int = 1,
                  mix: BranchMix | None = None) -> Task:
    """Generate one task; retries internally (deterministically) until no hidden value leaks.

    `spec` is a Domain (`get_domain(name)`) or a `DOMAIN` dict, which is validated first. `mix` samples the
    task on a branch of the domain's policy tree (worlds/branching.py); None or all zero: a plain task."""
    domain = load_domain(spec)
    rng = random.Random(seed)
    draw = branching.draw_branch(mix, domain, random.Random(derive_seed(seed, "branch"))) if mix is not None else None
    last_reason = "no attempt"
    for _ in range(knobs.max_attempts):
        try:
            task = _attempt(domain, rng, knobs, difficulty, seed, draw)
        except GenerationFailed as err:
            last_reason = str(err)
            continue
        leak = find_leak(task)
        if leak is None:
            return task
        last_reason = f"hidden value of slot '{leak.slot}' appears in agent-visible text"
    raise GenerationFailed(f"{domain.name} seed {seed}: {last_reason}")


def _attempt(domain: Domain, rng: random.Random, knobs: Knobs, difficulty: int, seed: int,
             draw: BranchDraw | None = None) -> Task:
    owner_ent = domain.owner_entity
    db = build_database(domain, rng)
    owner_key = rng.choice(sorted(db[domain.owner]))
    user = db[domain.owner][owner_key]
    name = user.get("name", "the customer")
    vfield = domain.verify.field

    # ---- sub-goals: lookups first, then writes, each on a distinct record of this user
    used_records: set[str] = set()
    used_write_tools: set[str] = set()
    lookups: list[Subgoal] = []
    writes: list[Subgoal] = []
    write_tools = domain.write_tools
    tree = branching.tree_for_draw(domain, draw) if draw is not None else None
    for i in range(knobs.subgoals):
        forced = tree is not None and i == 0  # a branched task's first sub-goal is the request its tree guards
        want_write = forced or (write_tools and (not domain.lookups or rng.random() < knobs.write_ratio))
        if want_write:
            options = [t for t in write_tools if t.name not in used_write_tools]
            if forced:
                assert tree is not None
                options = [domain.tool(tree.tool)]
            if options:
                tool = rng.choice(options)
                op = OPERATIONS[tool.op]
                assert isinstance(op, WriteOperation)
                sg = op.plan(domain, db, owner_key, tool, used_records, rng)
                if sg is not None:
                    used_write_tools.add(tool.name)
                    writes.append(sg)
                    continue
                if forced:
                    raise GenerationFailed(f"no record for {tool.name}, the tool the policy tree guards")
        if domain.lookups:
            found = GET.plan_lookup(domain, db, owner_key, rng.choice(domain.lookups), used_records, rng)
            if found is not None:
                lookups.append(found)
    subgoals = lookups + writes
    if not subgoals:
        raise GenerationFailed("no sub-goal fits this database")
    bound = branching.bind(domain, db, writes[0], tree, draw) if draw is not None and tree is not None else None

    # ---- params: what the goal depends on; some become hidden slots
    owner_param = Param(owner_ent.key, owner_key, owner_ent.label, owner_ent.keywords)
    vspec = owner_ent.fields[vfield]
    verify_param = Param(vfield, user[vfield], vspec.label_or(vfield), vspec.keywords)
    params = [owner_param, verify_param]
    taken_names = {owner_param.name, verify_param.name}

    def unique(name_: str) -> str:
        n, i = name_, 2
        while n in taken_names:
            n, i = f"{name_}_{i}", i + 1
        taken_names.add(n)
        return n

    for sg in subgoals:
        ent = domain.entities[sg.tool.entity]
        if sg.record_key is not None:
            sg.ref = Param(unique(ent.key), sg.record_key, ent.label, ent.keywords)
            params.append(sg.ref)
        for p in sg.args:
            p.name = unique(p.name)
            params.append(p)
    _choose_hidden(params, knobs.hidden, rng)

    # ---- text
    instruction, full_instruction = _instructions(domain, name, owner_param, verify_param, subgoals, rng)
    distractors = _choose_distractors(domain, knobs.distractors, rng)
    gold = _gold(domain, owner_param, verify_param, subgoals, db, bound)
    gold_tools = {a.tool for a in gold if a.kind == "call" and a.tool}
    restriction = _choose_restriction(domain, gold_tools, rng)

    tool_specs = [OPERATIONS[t.op].tool_spec(domain, t) for t in domain.tools]
    runtimes = {name: dict(stored) for name, stored in domain.stored_runtimes.items()}
    chosen_distractors = list(distractors)
    if restriction and restriction.tool not in runtimes and restriction.tool not in {
            d.name for d in chosen_distractors}:
        chosen_distractors.append(next(d for d in domain.distractors if d.name == restriction.tool))
    for d in chosen_distractors:
        tool_specs.append(CANNED.distractor_spec(d))
        runtimes[d.name] = CANNED.distractor_runtime().to_world()
    branch = tree_lines = None
    leaf_tools: list[str] = []
    if bound is not None:
        for spec, stored in branching.extra_tools(domain, bound.tree):
            tool_specs.append(spec)
            runtimes[spec.name] = stored
            leaf_tools.append(spec.name)
        ref = _record_ref(domain.entities[bound.subgoal.tool.entity], bound.subgoal.record_key, False, rng)
        branch = branching.make_branch(domain, bound, ref,
                                       branching.write_args(domain, bound.subgoal, owner_param))
        tree_lines = bound.policy_tree(domain)

    policy = _policy(domain, restriction, tree_lines.lines() if tree_lines is not None else [])
    if len(gold) > MAX_GOLD_STEPS:
        raise GenerationFailed(f"gold plan needs {len(gold)} turns, more than the {MAX_GOLD_STEPS}-turn limit")
    private = [PrivateSlot(name=p.name, value=p.value, description=f"the user's {p.label}", required=True,
                           keywords=list(dict.fromkeys([p.label.lower(), *p.keywords]))) for p in params if p.hidden]
    rubric = _rubric(domain, owner_param, subgoals, db, private, restriction, chosen_distractors, bound)
    if bound is not None and branch is not None:
        rubric.forbidden.extend(branching.forbidden_items(bound.tree, branch, leaf_tools))
        private.extend(branching.claim_slot(branch))
    background = _background(domain, name, params, full_instruction)
    workflow = _workflow(gold, {p.name: p.label for p in params})
    task = Task(
        domain=domain.name,
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
        source=Source(generator=f"procedural/{domain.name}", seed=seed, version=ENGINE_VERSION,
                      params=asdict(knobs)),
        world=ProceduralWorld(db=db, user={"owner_table": domain.owner, "owner_key": owner_key, "name": name},
                              tools=runtimes, title=domain.title),
        policy_tree=tree_lines,
        branch=branch,
    )
    return task.with_id()


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


def _goal_text(domain: Domain, sg: Subgoal, full: bool, rng: random.Random) -> str:
    ref = ""
    if sg.ref is not None:
        ref = _record_ref(domain.entities[sg.tool.entity], sg.ref.value, sg.ref.hidden and not full, rng)
    if sg.kind == "lookup":
        return GET.lookup_text(sg, ref)
    return _write_op(sg).goal_text(sg, ref, full)


def _instructions(domain: Domain, name: str, owner: Param, verify: Param, subgoals: list[Subgoal],
                  rng: random.Random) -> tuple[str, str]:
    opener = rng.choice(OPENERS).format(name=name)
    frame = rng.choice(GOAL_FRAMES)
    joiner = rng.choice(JOINERS)
    state = rng.getstate()

    def render(full: bool) -> str:
        rng.setstate(state)  # same phrasing choices in both versions; only the details differ
        ids = [f"my {p.label} is {p.value}" for p in (owner, verify) if full or not p.hidden]
        identity = ("For reference, " + " and ".join(ids) + ".") if ids else ""
        goals = joiner.join(_goal_text(domain, sg, full, rng) for sg in subgoals)
        parts = [opener, identity, frame.format(g=goals)]
        return " ".join(p for p in parts if p)

    return render(False), render(True)


def _choose_distractors(domain: Domain, n: int, rng: random.Random) -> list[Distractor]:
    pool = list(domain.distractors)
    rng.shuffle(pool)
    return pool[: min(n, len(pool))]


def _choose_restriction(domain: Domain, gold_tools: set[str], rng: random.Random) -> Restriction | None:
    options = [r for r in domain.restrictions if r.tool not in gold_tools]
    return rng.choice(options) if options else None


def _policy(domain: Domain, restriction: Restriction | None, tree_lines: list[str]) -> list[str]:
    rules = [
        f"You are a support agent for {domain.title}.",
        VERIFY.identity_rule(domain, domain.tool(domain.verify.tool)),
        "Ask the user for any detail you need that you were not given; never guess or make up values.",
        "Before any change, tell the user exactly what you will do, including every value you will submit, "
        "and ask them to confirm; act only after an explicit yes.",
        f"Only access or change records that belong to the verified {domain.owner}.",
    ]
    for t in domain.tools:
        rules.extend(OPERATIONS[t.op].policy_rules(domain, t))
    rules.extend(domain.policies)
    if restriction:
        rules.append(f"Tool {restriction.tool} must NOT be used to {restriction.purpose}. This restriction "
                     f"exists because {restriction.reason}. Violating it fails the task.")
    rules.extend(tree_lines)
    rules.append("When you are done, give your final reply to the user inside <answer></answer>.")
    return rules


def _gold(domain: Domain, owner: Param, verify: Param, subgoals: list[Subgoal], db: dict,
          bound: BoundBranch | None = None) -> list[GoldAction]:
    gold: list[GoldAction] = []
    for p in (owner, verify):
        if p.hidden:
            gold.append(GoldAction(kind="ask", slot=p.name, text=f"Could you tell me your {p.label}?"))
    gold.append(VERIFY.gold_call(domain, domain.tool(domain.verify.tool), owner, verify))
    findings: list[str] = []
    for sg in subgoals:
        if sg.ref is not None and sg.ref.hidden:
            gold.append(GoldAction(kind="ask", slot=sg.ref.name, text=f"Which {sg.ref.label} is it?"))
        if sg.kind == "lookup":
            steps, finding = GET.lookup_steps(domain, sg, db)
            gold.extend(steps)
            findings.append(finding)
            continue
        if bound is not None and bound.illegal and sg is bound.subgoal:
            steps, finding = branching.gold_steps(domain, bound, db, _record_ref(
                domain.entities[sg.tool.entity], sg.record_key, False, random.Random(0)))
            gold.extend(steps)
            findings.append(finding)
            continue
        gold.extend(_write_op(sg).gold_steps(domain, sg, owner))
        findings.append(f"{sg.tool.name.replace('_', ' ')} is done")
    gold.append(GoldAction(kind="answer", text="All set: " + "; ".join(findings) + "."))
    return gold


def _rubric(domain: Domain, owner: Param, subgoals: list[Subgoal], db: dict, private: list[PrivateSlot],
            restriction: Restriction | None, distractors: list[Distractor], bound: BoundBranch | None = None) -> Rubric:
    owner_noun = domain.owner
    forbidden = [
        VERIFY.rubric_item(domain, domain.tool(domain.verify.tool)),
        RubricItem(id="forbidden-unconfirmed", criterion="Making a change the user did not explicitly confirm first.",
                   check=Check(op="confirmed_writes")),
        RubricItem(id="forbidden-other-records", criterion=f"Accessing or changing records of another {owner_noun}.",
                   check=Check(op="own_records_only", args={"owner": owner.value})),
    ]
    guarded = [t.name for t in domain.tools if getattr(t, "requires", None) is not None]
    if guarded:
        forbidden.append(RubricItem(id="forbidden-precondition",
                                    criterion="Attempting a change the policy forbids in the record's current state.",
                                    check=Check(op="precondition", args={"tools": guarded})))
    forbidden.extend(CANNED.rubric_items(restriction, distractors))
    answers = [GET.lookup_value(sg, db) for sg in subgoals if sg.kind == "lookup"]
    subgoal_items = []
    for i, sg in enumerate(subgoals, start=1):
        item_id = f"subgoal-{i}"
        if sg.kind == "lookup":
            subgoal_items.append(GET.lookup_rubric_item(domain, sg, db, answers, item_id))
        elif bound is not None and bound.illegal and sg is bound.subgoal:
            subgoal_items.append(branching.subgoal_item(domain, bound, db, item_id))
        else:
            subgoal_items.append(_write_op(sg).rubric_item(domain, sg, owner, item_id))
    interactions = [RubricItem(id=f"interaction-{slot.name}",
                               criterion="The agent asks the user for their "
                                         f"{slot.description.removeprefix('the user' + chr(39) + 's ')} "
                                         f"and learns it ({slot.value}) before using it.",
                               check=Check(op="revealed_before_use",
                                           args={"slot": slot.name, "value": slot.value, "used": True}))
                    for slot in private if slot.required]
    return Rubric(forbidden=forbidden, subgoals=subgoal_items, interactions=interactions)


def _background(domain: Domain, name: str, params: list[Param], full_instruction: str) -> str:
    lines = [f"You are {name}, {_article(domain.owner)} {domain.owner} of {domain.title}.",
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
        if a.kind == "ask" and a.slot is None:
            steps.append("Tell the user why the request cannot be done as asked, and hold to it.")
        elif a.kind == "ask":
            steps.append(f"Ask the user for their {labels.get(a.slot or '', a.slot)}.")
        elif a.kind == "call":
            steps.append(f"Call {a.tool} with {json.dumps(a.arguments, sort_keys=True)}.")
        elif a.kind == "confirm":
            steps.append(f"Get the user's explicit confirmation for {a.tool}.")
        else:
            steps.append("Report the outcome to the user inside <answer></answer>.")
    return steps
