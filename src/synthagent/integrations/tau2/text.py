"""Text transforms for importing τ² user scenarios: the opening message, the private ledger, the policy.

τ²'s user instructions speak to the simulated user in the second person ("You want to cancel
reservation EHGLP3."); the agent sees only what the user says. Our `instruction` is the user's opening
message, so it is the first sentence of `reason_for_call` turned into the first person; the rest of the
scenario goes to the hidden background. These are heuristics over τ²'s actual phrasing, kept small and
tested on every airline, retail and telecom task.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from synthagent.spec.models import PrivateSlot

# ------------------------------------------------------------------------------ second → first person

_SUBJECT_BEFORE = {"", "and", "but", "or", "if", "that", "because", "when", "so", "since", "although", "though",
                   "as", "while", "unless", "until", "then", "where", "whether", "before", "after", "once",
                   "which", "who", "what", "how", "why", "also", "now", "otherwise", "only", "still", "just"}
_FIXED = [
    (r"\byou are\b", "I am"), (r"\byou were\b", "I was"), (r"\byou're\b", "I'm"), (r"\byou've\b", "I've"),
    (r"\byou'd\b", "I'd"), (r"\byou'll\b", "I'll"), (r"\byourself\b", "myself"), (r"\byours\b", "mine"),
    (r"\byour\b", "my"), (r"\bare you\b", "am I"),
]
_YOU = re.compile(r"\byou\b", re.IGNORECASE)
# words that follow a subject "you" (→ "I"), whatever precedes it
_SUBJECT_AFTER = {"have", "had", "want", "wanted", "need", "needed", "do", "did", "don't", "didn't", "can", "cannot",
                  "can't", "could", "couldn't", "will", "won't", "would", "wouldn't", "should", "may", "might", "must",
                  "know", "think", "thought", "wish", "wonder", "received", "ordered", "bought", "placed", "booked",
                  "just", "also", "only", "still", "really", "recently", "prefer", "like", "realize", "realized",
                  "remember", "forgot", "got", "made", "paid", "live", "lived", "moved", "used", "guess", "believe",
                  "feel", "get", "go", "am", "was", "purchased", "mistakenly", "accidentally", "already", "never"}
# τ² typos such as "You mobile data is not working": a possessive "your" missing its "r"
_POSSESSIVE_TYPO = re.compile(r"\b([Yy])ou (?=(mobile|phone|order|flight|reservation|account|data)\b)")


def _match_case(template: str, word: str) -> str:
    return template[0].upper() + template[1:] if word[:1].isupper() else template


def first_person(text: str) -> str:
    """Turn τ²'s second-person user instructions into what that user would say ("your" → "my")."""
    out = _POSSESSIVE_TYPO.sub(lambda m: "My " if m.group(1) == "Y" else "my ", text)
    for pattern, repl in _FIXED:
        out = re.sub(pattern, lambda m, r=repl: r if r.startswith("I") else _match_case(r, m.group(0)), out,
                     flags=re.IGNORECASE)

    def you(match: re.Match[str]) -> str:
        before = out[:match.start()].rstrip()
        prev = re.search(r"([A-Za-z']+|[,;:(\-.!?])$", before)
        token = prev.group(1).lower() if prev else ""
        following = re.match(r"\s+([A-Za-z']+)", out[match.end():])
        if following and following.group(1).lower() in _SUBJECT_AFTER:
            return "I"
        return "I" if token in _SUBJECT_BEFORE or token in {",", ";", ":", "(", "-", ".", "!", "?"} else "me"

    out = _YOU.sub(you, out)
    return out[:1].upper() + out[1:] if out else out


_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"'])|\n+")


def sentences(text: str | None) -> list[str]:
    if not text:
        return []
    parts = [p.strip(" \t-•") for p in _SENTENCE.split(text)]
    return [p for p in (q.lstrip(". ") for q in parts) if p and any(c.isalnum() for c in p)]


_META = re.compile(r"\b(agent|representative|simulat|role ?play|pretend)\w*", re.IGNORECASE)


_CLAUSE_END = re.compile(r"(,|;|\s-\s|\b(?:but|and|if|when|so|then)\b)", re.IGNORECASE)


def _speakable(sentence: str) -> str | None:
    """The sentence, or its opening clauses before any stage direction about the agent (None if too short)."""
    meta = _META.search(sentence)
    if meta is None:
        return sentence
    cuts = [m.start() for m in _CLAUSE_END.finditer(sentence, 0, meta.start())]
    head = sentence[:cuts[-1]].rstrip(" ,;-") if cuts else ""
    while True:  # drop dangling conjunctions left by the cut
        trimmed = re.sub(r"\s*\b(but|and|if|when|so|then)$", "", head, flags=re.IGNORECASE).rstrip(" ,;-")
        if trimmed == head:
            break
        head = trimmed
    return head if len(head.split()) >= 4 else None


def opening_message(reason_for_call: str) -> str:
    """The user's first message: the first sentence of the reason for calling, minus stage directions."""
    parts = sentences(reason_for_call)
    chosen = None
    for i, sentence in enumerate(parts):
        if sentence.lower().startswith(("if ", "first,", "then ")):
            continue  # a conditional or an order of play, not what the user wants
        chosen = _speakable(sentence)
        if chosen and chosen.endswith(":"):  # "you want to: - add 3 bags - ..."
            chosen = chosen + " " + ", ".join(p.rstrip(".") for p in parts[i + 1:i + 4])
        if chosen:
            break
    if chosen is None:
        return "Hi, I need some help."
    said = first_person(chosen)
    if said[-1:] not in ".!?":
        said += "."
    return f"Hi! {said}"


# ------------------------------------------------------------------------------------ the ledger


@dataclass(frozen=True)
class _SlotKind:
    name: str
    pattern: re.Pattern[str]
    description: str
    keywords: tuple[str, ...]
    group: int = 0


_KINDS = [
    _SlotKind("email", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "the user's email address", ("email",)),
    _SlotKind("user_id", re.compile(r"\b[a-z]+(?:_[a-z]+)+_\d{3,5}\b"), "the user's user id",
              ("user id", "user_id", "username", "account id")),
    _SlotKind("order_id", re.compile(r"#?W\d{7}\b"), "the user's order number", ("order id", "order number")),
    _SlotKind("phone_number", re.compile(r"\b\d{3}-\d{3}-\d{4}\b"), "the user's phone number",
              ("phone", "number you")),
    _SlotKind("reservation_id",
              re.compile(r"(?:reservation|confirmation|booking)\s+(?:number|id|ID|code)?\s*(?:is)?:?\s*"
                         r"'?\b((?=[A-Z0-9]*\d)(?=[A-Z0-9]*[A-Z])[A-Z0-9]{6})\b", re.IGNORECASE),
              "the user's reservation number", ("reservation", "confirmation number", "booking"), group=1),
    _SlotKind("zip_code", re.compile(r"\b\d{5}\b"), "the user's ZIP code", ("zip", "postal code")),
    _SlotKind("name", re.compile(r"(?:\bYou are|\bYour name is|\bcalled|\bI am)\s+"
                                 r"((?:[A-Z][a-z]+)(?:\s(?:[A-Z][a-z]+))+)"),
              "the user's full name", ("name",), group=1),
]


@dataclass
class Ledger:
    slots: list[PrivateSlot] = field(default_factory=list)

    def add(self, slot: PrivateSlot) -> None:
        taken = {s.name for s in self.slots}
        name, n = slot.name, 2
        while name in taken:
            name, n = f"{slot.name}_{n}", n + 1
        self.slots.append(slot.model_copy(update={"name": name}))


def parse_ledger(known_info: str | None, unknown_info: str | None) -> list[PrivateSlot]:
    """Private slots from τ²'s known/unknown info.

    Identifiers the agent must ask for (user id, email, order/reservation number, ZIP code, phone, name)
    become required slots with their value; any other sentence of known info becomes an optional fact
    slot whose value is the sentence, and each sentence of unknown info an optional slot saying what the
    user does not know (no keywords, so a scripted user never "reveals" it).
    """
    ledger = Ledger()
    seen_values: set[str] = set()
    for sentence in sentences(known_info):
        found = False
        rest = sentence
        for kind in _KINDS:
            for match in kind.pattern.finditer(rest):
                value = match.group(kind.group).strip()
                if kind.name == "name" and value.lower().startswith(("in ", "with ")):
                    continue
                found = True
                if value in seen_values:
                    continue
                seen_values.add(value)
                ledger.add(PrivateSlot(name=kind.name, value=value, description=kind.description,
                                       required=True, keywords=list(kind.keywords)))
            rest = kind.pattern.sub(" ", rest)
        if not found:
            ledger.add(PrivateSlot(name="known_fact", value=sentence, description="something the user knows",
                                   required=False))
    for sentence in sentences(unknown_info):
        ledger.add(PrivateSlot(name="unknown", value=sentence, description="something the user does not know",
                               required=False))
    return ledger.slots


# ------------------------------------------------------------------------------------ the policy


def split_policy(policy: str) -> list[str]:
    """One rule per paragraph, bullet or heading of τ²'s markdown policy, in order, text unchanged."""
    rules: list[str] = []
    block: list[str] = []

    def flush() -> None:
        if block:
            rules.append(" ".join(line.strip() for line in block))
            block.clear()

    for line in policy.splitlines():
        stripped = line.strip()
        if not stripped:
            flush()
        elif stripped.startswith("#") or re.match(r"^([-*+]|\d+[.)])\s", stripped) or stripped.startswith("<"):
            flush()
            block.append(stripped)
            if stripped.startswith(("#", "<")):
                flush()
        else:
            block.append(stripped)
    flush()
    return rules
