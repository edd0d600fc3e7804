"""Generated domains: a whole tool ecosystem drawn from a seed, named `gen-N`.

Why: the paper's teacher synthesizes a new tool ecosystem per task family, so a trained agent has met many
ecosystems and must read each one. The twelve hand-written domains, and the chimeras and variants built
from them, are few: a small model trained on them learns their names, keys and pairings, and brings them
to a domain it never saw (docs/training.md, "Why nothing transferred"). `gen-N` is a procedural stand-in
for the teacher: N fixes an owner (with identity fields, one of which the verify tool asks for), one to
three owned record kinds with their fields and statuses, and their tools (get, list, a status change with a
precondition, a field change, opening a new record), lookups, distractors, restrictions and policies. About
a third of the nouns are made-up words, so the names cannot be recalled and must be copied from the prompt.

Everything is drawn from the pools below, written for this module, and checked like any domain
(`load_domain`). ID prefixes never repeat a hand-written domain's, so a generated domain shares no ID
prefix with a held-out one. `customer`, `order` and `refund` are left out of the pools, so no generated
entity or tool is named like food_delivery's (the held-out domain of the transfer runs); other shipped
nouns (`booking`, `appointment`, …) do occur. `gen-A..B` in a domain list means every N from A to B
(`expand_names`). Deterministic: the same N gives the same domain on every machine.
"""

from __future__ import annotations

import random
import re
from functools import lru_cache
from typing import Any

from synthagent.worlds.domain_spec import Domain, load_domain

PREFIX = "gen-"
_NAME = re.compile(r"^gen-(\d{1,6})$")
_RANGE = re.compile(r"^gen-(\d{1,6})\.\.(\d{1,6})$")
MAX_RANGE = 10_000

OWNERS = ["member", "client", "tenant", "subscriber", "student", "driver", "passenger", "borrower", "resident",
          "applicant", "traveler", "holder", "owner", "participant", "visitor", "employee"]
RECORDS = ["booking", "ticket", "subscription", "shipment", "appointment", "membership", "lease", "device", "repair",
           "parcel", "voucher", "course", "permit", "rental", "reservation", "contract", "license", "donation",
           "workshop", "locker", "pass", "warranty", "plot", "session", "trip", "application", "service",
           "storage unit", "class", "inspection", "installation", "pickup", "visit", "project", "event"]
SYLLABLES = ["ka", "lo", "mi", "ru", "ze", "ta", "vo", "ni", "pe", "su", "da", "bri", "fen", "gor", "hal", "jun",
             "kel", "mar", "nor", "pim", "qua", "ros", "tev", "ul", "wix", "yor", "zan", "ob", "ek", "ist"]
BRANDS = ["Northwind", "Bluepeak", "Clearwater", "Redstone", "Silverline", "Greenfield", "Brightpath", "Oakridge",
          "Summit", "Harborview", "Maplewood", "Starling", "Ironbridge", "Westgate", "Sunrise", "Pinecrest"]
STATUS_SETS = [["active", "paused", "expired"], ["scheduled", "confirmed", "completed"],
               ["open", "in progress", "resolved"], ["pending", "approved", "shipped", "received"],
               ["requested", "booked", "finished"], ["new", "processing", "ready", "collected"],
               ["draft", "submitted", "accepted"], ["waiting", "assigned", "finalized"]]
# (verb, status it sets, phrase of the goal)
STATUS_CHANGES = [("cancel", "cancelled", "cancel {ref}"), ("suspend", "suspended", "suspend {ref}"),
                  ("pause", "on hold", "put {ref} on hold"), ("close", "closed", "close {ref}"),
                  ("archive", "archived", "archive {ref}"), ("freeze", "frozen", "freeze {ref}"),
                  ("withdraw", "withdrawn", "withdraw {ref}"), ("terminate", "terminated", "end {ref}"),
                  ("renew", "renewed", "renew {ref}"), ("flag", "flagged", "flag {ref} for review")]
REASONS = ["no longer needed", "found a better option", "moving away", "made by mistake", "too expensive",
           "schedule changed", "duplicate by accident", "not satisfied"]
# identity fields of an owner: (name, spec)
IDENTITY = [("email", {"gen": "email", "label": "email address", "keywords": ["email", "e-mail"]}),
            ("phone", {"gen": "phone", "label": "phone number", "keywords": ["phone", "number on file"]}),
            ("zip_code", {"gen": "digits", "n": 5, "label": "ZIP code", "keywords": ["zip", "postal code"]}),
            ("birth_date", {"gen": "date", "min_days": -25000, "max_days": -6600, "label": "date of birth",
                            "keywords": ["date of birth", "birthday", "born"]}),
            ("pin", {"gen": "digits", "n": 4, "label": "PIN", "keywords": ["pin", "security number"]}),
            ("passcode", {"gen": "code", "n": 6, "label": "passcode", "keywords": ["passcode", "code word"]}),
            ("card_last4", {"gen": "digits", "n": 4, "label": "last four digits of the card",
                            "keywords": ["last four", "card digits"]})]
# record fields: (name, spec, may a user change it with an update tool)
FIELDS = [("amount", {"gen": "money", "min": 5, "max": 900}, False),
          ("fee", {"gen": "money", "min": 2, "max": 120, "label": "fee"}, False),
          ("balance", {"gen": "money", "min": 0, "max": 2500}, False),
          ("start_date", {"gen": "date", "min_days": 5, "max_days": 200, "label": "start date"}, True),
          ("due_date", {"gen": "date", "min_days": 5, "max_days": 300, "label": "due date"}, True),
          ("end_date", {"gen": "date", "min_days": 30, "max_days": 400, "label": "end date"}, True),
          ("time_slot", {"gen": "time", "label": "time slot", "keywords": ["time", "slot"]}, True),
          ("address", {"gen": "address", "label": "address", "keywords": ["address", "where"]}, True),
          ("site", {"gen": "address", "label": "site address", "keywords": ["site", "location"]}, True),
          ("reference_code", {"gen": "code", "n": 6, "label": "reference code"}, False),
          ("serial_number", {"gen": "code", "n": 8, "label": "serial number"}, False),
          ("quantity", {"gen": "integer", "min": 1, "max": 9}, True),
          ("seats", {"gen": "integer", "min": 1, "max": 6, "label": "number of seats"}, True),
          ("tier", {"gen": "choice", "values": ["basic", "standard", "premium"]}, True),
          ("size", {"gen": "choice", "values": ["small", "medium", "large"]}, True),
          ("color", {"gen": "choice", "values": ["red", "blue", "green", "black", "white"]}, True),
          ("city", {"gen": "choice", "values": ["Riverton", "Lakewood", "Fairview", "Ashford", "Milford", "Dover"]},
           True),
          ("contact_name", {"gen": "person_name", "label": "contact name"}, True),
          ("nickname", {"gen": "phrase", "label": "nickname"}, True),
          ("priority", {"gen": "choice", "values": ["low", "normal", "high", "urgent"]}, True)]
LOOKUP_GOALS = ["find out the {label} of {ref}", "check the {label} on {ref}", "ask what the {label} of {ref} is",
                "learn the {label} for {ref}"]
UPDATE_VERBS = ["change", "update", "set", "modify"]
CREATE_VERBS = ["open", "request", "create", "add", "start"]
POLICIES = ["Never share one {owner}'s details with another person.",
            "Do not promise outcomes the tools cannot deliver.",
            "Explain any tool error to the {owner} in plain words.",
            "Only act on records that belong to the verified {owner}."]


def is_generated(name: str) -> bool:
    return _NAME.match(name) is not None


def expand_names(names: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Domain names with every `gen-A..B` replaced by gen-A, …, gen-B (a bad range raises ValueError)."""
    out: list[str] = []
    for name in names:
        m = _RANGE.match(name)
        if m is None:
            out.append(name)
            continue
        lo, hi = int(m.group(1)), int(m.group(2))
        if hi < lo or hi - lo >= MAX_RANGE:
            raise ValueError(f"{name}: a range of generated domains is gen-A..B with A <= B and at most "
                             f"{MAX_RANGE} names")
        out.extend(f"{PREFIX}{i}" for i in range(lo, hi + 1))
    return tuple(out)


def _made_up(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.choice([2, 2, 3])))


def _noun(rng: random.Random, pool: list[str], used: set[str]) -> str:
    """A record or owner noun not used yet in this domain: a third of the time a made-up word."""
    for _ in range(50):
        noun = _made_up(rng) if rng.random() < 0.35 else rng.choice(pool)
        if noun not in used and not any(noun in u or u in noun for u in used):
            used.add(noun)
            return noun
    raise RuntimeError("could not draw a fresh noun")  # pragma: no cover - pools are far larger than a domain


def _prefix(rng: random.Random, taken: set[str]) -> str:
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    while True:
        prefix = rng.choice(letters) + rng.choice(letters)
        if prefix not in taken:
            taken.add(prefix)
            return prefix


def _snake(text: str) -> str:
    return text.replace(" ", "_")


def _plural(noun: str) -> str:
    if noun.endswith(("s", "x", "sh", "ch")):
        return noun + "es"
    if noun.endswith("y") and noun[-2:-1] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


def _label(spec: dict[str, Any], name: str) -> str:
    return spec.get("label") or name.replace("_", " ")


def _record(rng: random.Random, noun: str, owner_key: str, taken: set[str]) -> tuple[dict[str, Any], list[str]]:
    """One owned entity: status plus three or four fields; returns it and the fields an update may change."""
    picked = rng.sample(FIELDS, rng.choice([3, 4]))
    fields: dict[str, Any] = {name: dict(spec) for name, spec, _ in picked}
    fields["status"] = {"gen": "choice", "values": list(rng.choice(STATUS_SETS))}
    label = f"{noun} {rng.choice(['number', 'ID', 'reference'])}"
    entity = {"key": f"{_snake(noun)}_id", "id_prefix": _prefix(rng, taken), "owner_field": owner_key,
              "per_owner": [1, 3], "noun": noun, "label": label, "keywords": [label, f"which {noun}"],
              "fields": fields}
    return entity, [name for name, _, changeable in picked if changeable]


def _tools(rng: random.Random, ename: str, ent: dict[str, Any], changeable: list[str], owner: str,
           creatable: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The tools of one owned entity and its lookups."""
    noun, key, fields = ent["noun"], ename, ent["fields"]
    snake = _snake(noun)
    shown = [f for f in fields if f != "status"]
    described = ", ".join(_label(fields[f], f) for f in fields)
    tools: list[dict[str, Any]] = [{"name": f"get_{snake}", "op": "get", "entity": key,
                                    "description": f"Get one {noun}: {described}."}]
    if rng.random() < 0.7:
        show = [rng.choice(shown), "status"]
        tools.append({"name": f"list_{_snake(_plural(noun))}", "op": "list", "entity": key, "show": show,
                      "description": f"List a verified {owner}'s {_plural(noun)} with {_label(fields[show[0]], show[0])} "
                                     "and status."})
    statuses = fields["status"]["values"]
    if rng.random() < 0.85:
        verb, new_status, goal = rng.choice(STATUS_CHANGES)
        allowed = rng.sample(statuses, rng.randrange(1, len(statuses)))
        tool = {"name": f"{verb}_{snake}", "op": "set", "entity": key, "set": {"status": new_status},
                "requires": {"field": "status", "allowed": allowed}, "goal": goal,
                "description": f"{verb.capitalize()} a {noun} whose status is {' or '.join(allowed)}."}
        if rng.random() < 0.5:
            tool["args"] = {"reason": {"gen": "choice", "label": f"reason to {verb} it", "keywords": ["reason", "why"],
                                       "values": rng.sample(REASONS, 4)}}
        tools.append(tool)
    if changeable and rng.random() < 0.75:
        field = rng.choice(changeable)
        label = _label(fields[field], field)
        verb = rng.choice(UPDATE_VERBS)
        tool = {"name": f"{verb}_{snake}_{field}", "op": "update", "entity": key, "field": field,
                "arg": f"new_{field}", "keywords": [label, *fields[field].get("keywords", [])],
                "goal": f"{verb} the {label} of {{ref}} to {{value}}", "goal_hidden": f"{verb} the {label} of {{ref}}",
                "description": f"{verb.capitalize()} the {label} of a {noun}."}
        if rng.random() < 0.5:
            tool["requires"] = {"field": "status", "allowed": rng.sample(statuses, len(statuses) - 1)}
        tools.append(tool)
    if creatable:
        args = {}
        for field in rng.sample(shown, 2):
            spec = dict(fields[field])
            spec["keywords"] = [_label(spec, field), *spec.get("keywords", [])]
            args[field] = spec
        verb = rng.choice(CREATE_VERBS)
        tools.append({"name": f"{verb}_{snake}", "op": "create", "entity": key, "args": args,
                      "defaults": {"status": statuses[0]}, "goal": f"{verb} a new {noun}",
                      "description": f"{verb.capitalize()} a new {noun} for a verified {owner}."})
    lookups = [{"tool": f"get_{snake}", "field": f,
                "goal": rng.choice(LOOKUP_GOALS).replace("{label}", _label(fields[f], f))}
               for f in rng.sample(list(fields), 2)]
    return tools, lookups


def generate_domain(n: int) -> dict[str, Any]:
    """The `DOMAIN` dict of `gen-n` (see the module docstring)."""
    rng = random.Random(f"{PREFIX}{n}")
    used: set[str] = set()
    taken = set(_hand_written_prefixes())
    owner = _noun(rng, OWNERS, used)
    owner_key = f"{_snake(owner)}_id"
    identity = rng.sample(IDENTITY, 3)
    verify_field = identity[0][0]
    owner_label = f"{owner} {rng.choice(['ID', 'number', 'account number'])}"
    entities: dict[str, Any] = {owner: {
        "key": owner_key, "id_prefix": _prefix(rng, taken), "count": [3, 5], "label": owner_label,
        "keywords": [owner_label, f"{owner} id"],
        "fields": {"name": {"gen": "person_name"}, **{f: dict(spec) for f, spec in identity}}}}
    verify_label = identity[0][1]["label"]
    tools: list[dict[str, Any]] = []
    lookups: list[dict[str, Any]] = []
    nouns = []
    n_records = rng.choice([1, 2, 2, 3])
    create_at = rng.randrange(n_records) if rng.random() < 0.6 else -1
    for i in range(n_records):
        noun = _noun(rng, RECORDS, used)
        ename = _snake(noun)
        ent, changeable = _record(rng, noun, owner_key, taken)
        entities[ename] = ent
        more, found = _tools(rng, ename, ent, changeable, owner, creatable=i == create_at)
        tools += more
        lookups += found
        nouns.append(_plural(noun))
    verify_name = rng.choice([f"verify_{_snake(owner)}", f"authenticate_{_snake(owner)}", f"check_{_snake(owner)}"])
    tools.insert(0, {"name": verify_name, "op": "verify", "entity": owner,
                     "description": f"Verify a {owner} from their {owner_label} and {verify_label}. Required before "
                                    f"looking at or changing any {' or '.join(nouns)}."})
    first = next(e for e in entities if e != owner)
    first_noun = entities[first]["noun"]
    distractors = [
        {"name": f"send_{_snake(first_noun)}_reminder", "kind": "write",
         "description": f"Send the {owner} a reminder about a {first_noun}.",
         "parameters": {entities[first]["key"]: "string"}},
        {"name": f"get_{_snake(owner)}_preferences", "kind": "read",
         "description": f"Read a {owner}'s contact preferences.", "parameters": {owner_key: "string"}},
        {"name": f"apply_{_snake(owner)}_credit", "kind": "write",
         "description": f"Add account credit for a {owner}.", "parameters": {owner_key: "string", "amount": "number"}},
    ]
    restrictions = [{"tool": f"apply_{_snake(owner)}_credit", "purpose": f"make up for a problem with a {first_noun}",
                     "reason": "credit is granted only by the billing team"}]
    lister = next((t for t in tools if t["op"] == "list"), None)
    if lister is not None:
        restrictions.append({"tool": lister["name"], "purpose": f"guess which record the {owner} means",
                             "reason": f"acting on the wrong {entities[lister['entity']]['noun']} cannot be undone"})
    return {
        "name": f"{PREFIX}{n}",
        "title": f"{rng.choice(BRANDS)} {first_noun} services",
        "owner": owner,
        "verify": {"tool": verify_name, "field": verify_field},
        "entities": entities,
        "tools": tools,
        "lookups": lookups,
        "distractors": [distractors[2], distractors[rng.randrange(2)]],
        "restrictions": restrictions,
        "policies": [p.format(owner=owner) for p in rng.sample(POLICIES, 2)],
    }


@lru_cache(maxsize=None)
def _hand_written_prefixes() -> frozenset[str]:
    from synthagent.worlds.registry import all_domains
    return frozenset(e.id_prefix for d in all_domains().values() for e in d.entities.values())


@lru_cache(maxsize=4096)
def generated_domain(name: str) -> Domain:
    """`gen-N` as a validated Domain (KeyError for a name that is not one)."""
    m = _NAME.match(name)
    if m is None:
        raise KeyError(f"unknown domain {name!r}: a generated domain is named gen-N, N a number")
    return load_domain(generate_domain(int(m.group(1))))
