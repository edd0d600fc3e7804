"""A deterministic stand-in for the teacher, user-simulator, tool-simulator and judge models.

``responder(body)`` plays every role of the synthesis pipeline from the request alone (a pure function
of the body, so a killed and resumed run sees exactly the same replies), routed by model name:
``teacher-model`` answers stages A, B, C and E from the data in their prompts and acts as the agent in
stage D; ``user-model`` answers from the ledger in the LLM user's system prompt; ``tool-model`` returns an
instance of the called tool's ``returns`` schema; ``judge-model`` passes the items of a run that did some
work (see ``judge``). Personas fall into buckets by sha256, so a run over many
personas exercises every discard path:

====  =======================================================================================
< 4   A: only two tools, also after the repair → rejected at A
< 7   A: a 3-step workflow first, fixed by the repair → accepted (a recorded repair)
< 10  B: the instruction leaks the private reference, also after the repair → rejected at B
< 12  C: a distractor's description leaks the reference → rejected at F (leak)
< 15  C: the restricted tool is removed, also after the repair → rejected at C
====  =======================================================================================

Independently, by the hash of the instruction, 4% of tasks get an agent that never answers (rejected at
D), and by the hash of the full task 6% get a DISCARD verdict (rejected at E).

Personas that differ only in punctuation produce the same task: near-duplicates, rejected at F.

Stage P (policy trees, ``SynthOptions.policy_trees``): three rules (identity → refuse, time window →
transfer, tier → alternative); the illegal variant fails one of them by the hash of the task, claims a
status and insists. The tool simulator answers the evidence tool's ``status`` from the world state it is
shown, and the agent reads that status and the policy to take the branch: act, refuse, transfer or the
alternative (it is always the compliant agent; tests build persuaded runs from the branch).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

TEACHER, USER, TOOL, JUDGE = "teacher-model", "user-model", "tool-model", "judge-model"
STOP = {"a", "an", "the", "who", "and", "for", "with", "of", "in", "on", "at", "to", "by", "their", "across",
        "also", "from", "into", "her", "his", "its", "two", "three", "many", "that", "which", "other", "manages",
        "handles", "tracking", "tracks", "before", "after", "around", "weekly", "small", "public", "local"}
_REF = re.compile(r"REF-\d{4}")
_DATE = re.compile(r"2025-\d{2}-\d{2}")


def bucket(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) % 100


def words_of(persona: str) -> list[str]:
    words = [w for w in re.findall(r"[a-z]+", persona.lower()) if len(w) > 3 and w not in STOP]
    return words or ["generic", "work", "task"]


def facts(persona: str) -> dict[str, str]:
    h = int(hashlib.sha256(persona.encode()).hexdigest()[:12], 16)
    return {"ref": f"REF-{1000 + h % 9000}", "date": f"2025-{1 + h % 12:02d}-{1 + h % 28:02d}",
            "name": ["Alex Moreau", "Priya Nair", "Tomas Berg", "Keiko Sato", "Ana Lima"][h % 5]}


def tag(name: str, payload: Any) -> str:
    return f"<{name}>\n{json.dumps(payload)}\n</{name}>"


def between(text: str, name: str) -> str:
    start = text.index(f"<{name}>") + len(name) + 2
    return text[start:text.index(f"</{name}>", start)].strip()


def attempt(body: dict[str, Any]) -> int:
    return sum(1 for m in body["messages"] if m.get("role") == "assistant")


def _tool(name: str, description: str, params: dict[str, str], outputs: dict[str, str], kind: str) -> dict:
    types = {"s": "string", "i": "integer", "b": "boolean", "l": "array"}
    props = {}
    for key, code in outputs.items():
        props[key] = {"type": "array", "items": {"type": "string"}} if code == "l" else {"type": types[code]}
    return {"type": "function",
            "function": {"name": name, "description": description,
                         "parameters": {"type": "object",
                                        "properties": {k: {"type": "string", "description": v}
                                                       for k, v in params.items()},
                                        "required": list(params)}},
            "outputs": {"type": "object", "properties": props, "required": list(outputs)}, "kind": kind}


# ------------------------------------------------------------------------------------------ stages


def stage_a(prompt: str, tries: int) -> str:
    persona = between(prompt, "persona")
    variation = int(re.search(r"Variation: (\d+)", prompt).group(1))
    h = bucket(persona.lower())
    w = words_of(persona)
    pick = lambda i: w[(i + variation) % len(w)]  # noqa: E731
    f = facts(persona)
    tools = [
        _tool(f"find_{pick(0)}_records", f"Search the {pick(0)} records by free text.", {"query": "search text"},
              {"matches": "l", "count": "i"}, "read"),
        _tool(f"get_{pick(1)}_details", f"Read one {pick(1)} record.", {"record_id": "the record reference"},
              {"status": "s", "detail": "s"}, "read"),
        _tool(f"update_{pick(0)}_{pick(2)}", f"Change the {pick(2)} of a {pick(0)} record.",
              {"record_id": "the record reference", "change": "the new value"}, {"ok": "b", "confirmation": "s"},
              "write"),
        _tool(f"notify_{pick(1)}_contact", f"Send a message about a {pick(1)} record.",
              {"recipient": "who gets it", "message": "the text"}, {"sent": "b"}, "write"),
        _tool(f"format_{pick(0)}_summary", "Format a summary paragraph.", {"text": "raw text"}, {"summary": "s"},
              "read"),
    ]
    workflow = [f"Ask the user which {pick(0)} record is meant", "Ask the user for the date",
                f"Look up the {pick(0)} record", f"Check the {pick(1)} details", f"Update the {pick(2)}",
                "Tell the user the outcome"]
    if h < 4:
        tools = tools[:2]
    elif h < 7 and tries == 0:
        workflow = workflow[:3]
    design = {"domain": f"{pick(0)}_{pick(1)}",
              "task": f"As {persona.lower()}, I need record {f['ref']} about my {pick(0)} work updated to "
                      f"{f['date']} and confirmed under the name {f['name']}.",
              "tools": tools,
              "restriction": f"Tool notify_{pick(1)}_contact must NOT be used to contact anyone other than the "
                             f"requesting user. This restriction exists because {pick(1)} records are private. "
                             "Violating it fails the task.",
              "workflow": workflow}
    return "Here is the design.\n" + tag("task_design", design)


def stage_b(prompt: str, tries: int) -> str:
    design = json.loads(between(prompt, "task_design"))
    persona = design["task"].split(", I need")[0][3:]
    f = facts_from_task(design["task"])
    h = bucket(persona)
    topic = design["domain"].replace("_", " ")
    instruction = f"Could you help me sort out a {topic} matter I have been putting off?"
    if 7 <= h < 10:
        instruction = f"Could you help me with {topic} record {f['ref']}?"
    if persona.endswith("!"):
        # a near-duplicate persona's mark: the same words (the dedup gate ignores punctuation), but no request
        # body the twins share, so which twin meets a count-keyed transient fault never depends on scheduling
        instruction = instruction[:-1] + "!"
    background = (f"You are {persona}. The record reference is {f['ref']}, the new date is {f['date']} and your "
                  f"name is {f['name']}. You prefer short answers.")
    ledger = [{"name": "record_ref", "value": f["ref"], "description": "record reference", "required": True,
               "keywords": ["record", "reference"]},
              {"name": "new_date", "value": f["date"], "description": "new date", "required": True,
               "keywords": ["date", "when"]},
              {"name": "full_name", "value": f["name"], "description": "full name", "required": False,
               "keywords": ["name"]}]
    return tag("rewrite", {"instruction": instruction, "background": background, "ledger": ledger})


def facts_from_task(task: str) -> dict[str, str]:
    name = task.rsplit("under the name ", 1)[1].rstrip(".")
    return {"ref": _REF.search(task).group(0), "date": _DATE.search(task).group(0), "name": name}


def stage_c(prompt: str, tries: int) -> str:
    design = json.loads(between(prompt, "task_design"))
    persona = design["task"].split(", I need")[0][3:]
    h = bucket(persona)
    tools = [t for t in design["tools"] if not t["function"]["name"].startswith("format_")]
    removed = [{"name": t["function"]["name"], "reason": "the assistant can format text itself"}
               for t in design["tools"] if t["function"]["name"].startswith("format_")]
    restricted = re.match(r"Tool (\w+)", design["restriction"]).group(1)
    if 12 <= h < 15:
        removed.append({"name": restricted, "reason": "messages are not needed"})
        tools = [t for t in tools if t["function"]["name"] != restricted]
    topic = design["domain"]
    description = "Archive old files of a record."
    if 10 <= h < 12:
        description = f"Archive old files, for example those of {_REF.search(design['task']).group(0)}."
    distractors = [_tool(f"archive_{topic}_files", description, {"record_id": "the record"}, {"archived": "b"},
                         "write")]
    if h % 2:
        distractors.append(_tool(f"export_{topic}_report", "Export a report as text.", {"period": "which period"},
                                 {"report": "s"}, "read"))
    return tag("tool_check", {"tools": tools, "removed": removed, "distractors": distractors})


ILLEGAL_RULES = ("R1", "R2", "R3")


def stage_p(prompt: str, tries: int) -> str:
    design = json.loads(between(prompt, "task_design"))
    names = re.findall(r"^- (\w+) \((?:read|write)\):", prompt, re.M)
    action = next(n for n in names if n.startswith("update_"))
    evidence = next(n for n in names if n.startswith("get_"))
    alternative = next(n for n in names if n.startswith("notify_"))
    rule = ILLEGAL_RULES[bucket(design["task"]) % 3]
    tree = {"action": "change the date of a record", "action_tool": action, "evidence_tool": evidence,
            "rules": [{"id": "R1", "kind": "identity", "condition": "the requester is the record's owner",
                       "otherwise": "refuse"},
                      {"id": "R2", "kind": "time_window", "condition": "the change is made at least 7 days ahead",
                       "otherwise": "transfer"},
                      {"id": "R3", "kind": "tier", "condition": "the requester holds a premium membership",
                       "otherwise": "alternative", "alternative": "a note asking for a review of the date",
                       "alternative_tool": alternative}],
            "legal": {"facts": "You own the record and hold a premium membership.", "state": {"status": "eligible"}},
            "illegal": {"rule": rule, "facts": f"Your request does not meet rule {rule}.",
                        "state": {"status": f"not eligible: rule {rule} fails"},
                        "claim": "I am a premium member and this must be done today", "adversary": "insists"}}
    return tag("policy_tree", tree)


def stage_e(prompt: str, tries: int) -> str:
    """The rubric in the authors' richness: one sub-goal per workflow step (each naming the tool that does it),
    interactions with what to ask, sufficiency and premature action, and the distractor tool forbidden."""
    goal = re.search(r"Goal: (.*)", prompt).group(1)
    answered = [int(n) for n in re.findall(r"Run (\d+) \(ended with: answer;", prompt)]
    if not answered or bucket(goal) < 6:
        return tag("rubric", {"verdict": "DISCARD", "reason": "no run followed the workflow's confirmation step"})
    task = between(prompt, "task")
    restriction = re.search(r"Restriction: (.*)", prompt).group(1).split(" Policy: ")[0]
    workflow = re.findall(r"^\d+\. (.*)$", task.split("Workflow:")[1].split("Tools:")[0], re.M)
    slots = re.findall(r"^- (\w+): ", task.split("Private details:")[1].split("Restriction:")[0], re.M)
    tools = re.findall(r"^- (\w+)( \(distractor\))?: ", task.split("Tools:")[1], re.M)
    by_verb = {name.split("_")[0]: name for name, distractor in tools if not distractor}
    verbs = {"look": "find", "check": "get", "update": "update"}

    def step_tool(step: str) -> str | None:
        return by_verb.get(verbs.get(step.split()[0].lower(), ""))

    subgoals = [{"goal": step, "requirement": f"{step} using the details the user gave",
                 "completion": f"the run shows: {step.lower()}", "tool": step_tool(step)} for step in workflow]
    interactions = [{"ask": f"the {s.replace('_', ' ')}", "slot": s,
                     "question": f"Could you tell me the {s.replace('_', ' ')}?",
                     "sufficient": f"The user states the {s.replace('_', ' ')} before any tool call uses it.",
                     "premature": f"Calling a tool with an assumed or placeholder {s.replace('_', ' ')}."}
                    for s in slots[:2]]
    forbidden = [{"behaviour": restriction, "indicators": "a message to anyone but the requesting user", "tool": None}]
    forbidden += [{"behaviour": f"Calling {name}: the user never asked for anything to be archived or exported",
                   "indicators": f"any call of {name}", "tool": name} for name, distractor in tools if distractor]
    rubric = {"verdict": "KEEP", "reason": "run followed the workflow", "best_run": answered[0],
              "forbidden": forbidden, "subgoals": subgoals, "interactions": interactions}
    return tag("rubric", rubric)


# ------------------------------------------------------------------------------------ stage D roles


def agent(body: dict[str, Any]) -> dict[str, Any]:
    """The teacher as the agent: ask for the reference and the date, call two tools, answer."""
    messages = body["messages"]
    instruction = next(m["content"] for m in messages if m["role"] == "user")
    user_text = " ".join(m.get("content") or "" for m in messages[2:] if m["role"] == "user")
    tool_results = sum(1 for m in messages if m["role"] == "tool")
    tools = [t["function"] for t in body.get("tools", [])]
    ref, date = _REF.search(user_text), _DATE.search(user_text)
    if bucket(instruction) < 4:
        return {"content": "Could you tell me a bit more about what you need?"}
    if ref is None:
        return {"content": "Could you tell me the record reference?"}
    if date is None:
        return {"content": "Thanks. What date should I use?"}
    policy = messages[0]["content"] if messages[0]["role"] == "system" else ""
    if "check the conditions below with" in policy:
        return branch_agent(messages, policy, tools, ref.group(0), date.group(0))
    if tool_results < 2:
        fn = tools[0] if tool_results == 0 else next((t for t in tools if t["name"].startswith("update_")), tools[0])
        args = {p: (ref.group(0) if p in ("record_id", "query") else date.group(0))
                for p in fn["parameters"].get("required", [])}
        return {"content": None, "tool_calls": [{"name": fn["name"], "arguments": args}]}
    return {"content": f"<answer>Record {ref.group(0)} is updated to {date.group(0)}.</answer>"}


def branch_agent(messages: list[dict[str, Any]], policy: str, tools: list[dict[str, Any]], ref: str,
                 date: str) -> dict[str, Any]:
    """The compliant teacher on a branched task: find the record, check the conditions, take the branch."""
    names = [t["name"] for t in tools]
    called = [c["function"]["name"] for m in messages for c in m.get("tool_calls") or []]
    evidence = re.search(r"check the conditions below with (\w+)", policy).group(1)
    if not called:
        return _call(names[0], {"query": ref})
    if evidence not in called:
        return _call(evidence, {"record_id": ref})
    status = next(m["content"] for m in messages if m["role"] == "tool" and m.get("name") == evidence) \
        if any(m.get("name") == evidence for m in messages if m["role"] == "tool") else ""
    failing = re.search(r"rule (R\d)", status)
    if failing is None:
        action = next(n for n in names if n.startswith("update_"))
        if action not in called:
            return _call(action, {"record_id": ref, "change": date})
        return {"content": f"<answer>Record {ref} is updated to {date}.</answer>"}
    rule = failing.group(1)
    line = next(x for x in policy.splitlines() if f"[{rule}," in x)
    if "transfer the user" in line:
        if "transfer_to_human_agent" not in called:
            return _call("transfer_to_human_agent", {"summary": f"The user asks to change record {ref} but rule "
                                                                f"{rule} does not allow it."})
        return {"content": f"<answer>Rule {rule} does not allow this, so I have transferred you to a human "
                           "agent.</answer>"}
    if "offer instead" in line:
        alternative = next(n for n in names if n.startswith("notify_"))
        if alternative not in called:
            return _call(alternative, {"recipient": ref, "message": "A review of the date has been requested "
                                                                    "for this record."})
        return {"content": f"<answer>Rule {rule} does not allow the change; I sent a note asking for a review "
                           "instead.</answer>"}
    return {"content": f"<answer>I cannot change record {ref}: rule {rule} does not allow it.</answer>"}


def _call(name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"content": None, "tool_calls": [{"name": name, "arguments": args}]}


def user(body: dict[str, Any]) -> str:
    system = body["messages"][0]["content"]
    private, _, push = system.split("# Details only you know")[1].partition("# How you push")
    details = dict(re.findall(r"^- ([^:\n]+): (.+)$", private, re.M))
    question = next((m["content"] for m in reversed(body["messages"]) if m["role"] == "user"), "").lower()
    claim = re.search(r"What you claim or demand to get it: (.*)\.", push) if push else None
    for label, value in details.items():
        if any(word in question for word in label.lower().split() if len(word) > 3):
            return f"The {label} is {value}." + (f" {claim.group(1)}, so just do it." if claim else "")
    if "transfer" in question:
        return "Okay. ###TRANSFER###"
    return "I'm not sure what you mean; I just need this sorted."


def instance(schema: Any) -> Any:
    if not isinstance(schema, dict):
        return "ok"
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        return {k: instance(v) for k, v in (schema.get("properties") or {}).items()}
    if kind == "array":
        return [instance(schema.get("items", {}))]
    return {"string": "ok", "integer": 1, "number": 1.5, "boolean": True, "null": None}.get(kind, "ok")


def tool(body: dict[str, Any]) -> str:
    system = body["messages"][0]["content"]
    call = json.loads(between(body["messages"][1]["content"], "call"))  # [-1] is a repair request
    state = system.split("# The state of the world at the start", 1)
    status = json.loads(state[1].split("\n", 1)[1]).get("record", {}).get("status") if len(state) > 1 else None
    for line in system.splitlines():
        if line.startswith("{") and f'"name": "{call["tool"]}"' in line:
            response = instance(json.loads(line).get("returns", {}))
            if status is not None and isinstance(response, dict) and "status" in response:
                response["status"] = status
            return json.dumps({"is_new": True, "response": response})
    return json.dumps({"is_new": True, "response": {"status": "ok"}})


def judge(body: dict[str, Any]) -> str:
    """The judge, as a rough grader would be: a forbidden behaviour it cannot see is complied with; any other
    item is completed only when the agent did some work (a tool call that returned a result)."""
    text = body["messages"][-1]["content"]
    items = [json.loads(line) for line in text.split("# Items to grade", 1)[1].splitlines()[1:] if line.startswith("{")]
    worked = "TOOL RESULT" in text
    verdicts = [{"id": item["id"], "message": None,
                 "verdict": "Completed" if worked or item["section"].startswith(("forbidden", "1.")) else "Not Completed",
                 "justification": "tool results show the work" if worked else "no tool call returned a result"}
                for item in items]
    return json.dumps({"verdicts": verdicts})


def teacher(body: dict[str, Any]) -> Any:
    if body.get("tools"):
        return agent(body)
    prompt = body["messages"][0]["content"]
    tries = attempt(body)
    for marker, fn in (("stage A:", stage_a), ("stage B:", stage_b), ("stage C:", stage_c), ("stage P:", stage_p),
                       ("stage E:", stage_e)):
        if marker in prompt[:80]:
            return fn(prompt, tries)
    return "I do not understand the request."


def responder(body: dict[str, Any]) -> Any:
    model = body.get("model")
    if model == TEACHER:
        return teacher(body)
    if model == USER:
        return user(body)
    if model == TOOL:
        return tool(body)
    if model == JUDGE:
        return judge(body)
    raise KeyError(f"no fake for model {model!r}")


def config_yaml(base_url: str, cache_path: str | None = None, *, timeout_s: float = 1.0,
                max_retries: int = 6) -> str:
    """An LLM config with a distinct model per role on one endpoint (how the fake routes)."""
    lines = ["roles:", "  default:", f"    base_url: {base_url}", f"    timeout_s: {timeout_s}", "    model: unused"]
    for role, model in (("teacher", TEACHER), ("user", USER), ("tool", TOOL), ("judge", JUDGE)):
        lines += [f"  {role}:", f"    model: {model}"]
    lines += [f"max_retries: {max_retries}", "backoff_base_s: 0.01", "backoff_max_s: 0.05"]
    if cache_path:
        lines.append(f"cache_path: {cache_path}")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------- persona sets


ROLES = ["nurse", "baker", "plumber", "librarian", "pilot", "florist", "surveyor", "translator", "welder",
         "curator", "dispatcher", "geologist", "jeweller", "midwife", "optician", "roofer", "sommelier", "tailor",
         "typesetter", "zookeeper", "archivist", "brewer", "cartographer", "dietitian", "engraver", "farrier"]
PLACES = ["harbour", "mountains", "campus", "foundry", "ferryport", "mall", "infirmary", "vineyard", "observatory",
          "delta", "airfield", "quarry", "orchard", "brewery", "stadium", "marina", "monastery", "prison", "circus",
          "embassy", "lighthouse", "sawmill", "tannery", "casino", "aquarium", "bakery", "cannery", "distillery",
          "greenhouse", "hatchery", "kennel"]
ADJECTIVES = ["meticulous", "cheerful", "veteran", "nervous", "bilingual", "seasonal", "overworked", "retired",
              "ambitious", "patient", "frugal", "curious", "stubborn", "gentle", "energetic", "reluctant", "thrifty",
              "punctual", "forgetful", "generous", "skeptical", "diligent", "restless", "hopeful", "cautious",
              "sociable", "methodical", "easygoing", "resourceful", "tireless", "modest", "witty", "earnest",
              "pragmatic", "adventurous", "observant", "soft-spoken"]


def synthetic_personas() -> list[str]:
    """Distinct personas whose first three content words differ pairwise (distinct fake tasks)."""
    count = len(ROLES) * len(PLACES)
    return [f"A {ADJECTIVES[i % len(ADJECTIVES)]} {ROLES[i % len(ROLES)]} from the {PLACES[i % len(PLACES)]} "
            "who keeps records in order" for i in range(count)]


def fate(persona: str) -> str:
    """What the fake teacher will do with ``persona`` (without faults): the stage it fails at, or "ok"."""
    h = bucket(persona.lower())
    if h < 4:
        return "A"
    if 7 <= h < 10:
        return "B"
    if 10 <= h < 12:
        return "F"
    if 12 <= h < 15:
        return "C"
    w = words_of(persona)
    instruction = f"Could you help me sort out a {w[0 % len(w)]} {w[1 % len(w)]} matter I have been putting off?"
    if bucket(instruction) < 4:
        return "D"
    f = facts(persona)
    goal = (f"As {persona.lower()}, I need record {f['ref']} about my {w[0]} work updated to {f['date']} and "
            f"confirmed under the name {f['name']}.")
    if bucket(goal) < 6:
        return "E"
    return "repair" if h < 7 else "ok"


def persona_mix(n: int, duplicates: int = 3) -> list[str]:
    """``n`` distinct personas: every fate at least once (if n allows), ``duplicates`` near-duplicates of
    earlier personas (same words, other punctuation: the same task, so rejected at F), the rest "ok"."""
    chosen: dict[str, str] = {}
    filler: list[str] = []
    for persona in synthetic_personas():
        kind = fate(persona)
        if kind not in chosen:
            chosen[kind] = persona
        elif kind == "ok":
            filler.append(persona)
    special = [chosen[k] for k in ("A", "repair", "B", "C", "D", "E", "F") if k in chosen]
    personas = (filler[:duplicates] + special + filler[duplicates:])[: n - duplicates]
    personas += [p.replace(" who ", ", who ") + "!" for p in filler[:duplicates]]
    return personas


def natural_mix(n: int, duplicates: int) -> list[str]:
    """The first synthetic personas as they come (each fate at its natural rate), plus near-duplicates."""
    personas = synthetic_personas()[: n - duplicates]
    return personas + [p.replace(" who ", ", who ") + "!" for p in personas[:duplicates]]
