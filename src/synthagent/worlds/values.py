"""Seeded value generators for procedural worlds (stdlib only, deterministic on every machine).

A field spec names its generator with `gen`; everything else in the spec parameterises it. Generators
draw only from the `random.Random` they are handed, so one seed fixes a whole world.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any, Callable

FIRST = ["Maria", "James", "Aisha", "Kenji", "Sofia", "Liam", "Priya", "Omar", "Elena", "Noah", "Chen", "Fatima",
         "Lucas", "Amara", "Mateo", "Yuki", "Hannah", "Diego", "Ingrid", "Kwame", "Leila", "Tomas", "Zara", "Ravi",
         "Nina", "Samuel", "Mei", "Jonas", "Carmen", "Arjun", "Olga", "Felix", "Rosa", "Ibrahim", "Clara", "Hugo",
         "Ana", "Dmitri", "Grace", "Tariq", "Lena", "Pablo", "Sana", "Erik", "Julia", "Kofi", "Maya", "Victor"]
LAST = ["Lopez", "Smith", "Khan", "Tanaka", "Rossi", "Murphy", "Patel", "Haddad", "Petrova", "Johnson", "Wei",
        "Okafor", "Silva", "Mensah", "Garcia", "Sato", "Becker", "Moreno", "Larsen", "Boateng", "Nasser", "Novak",
        "Ahmed", "Sharma", "Weber", "Kim", "Dubois", "Fischer", "Reyes", "Iyer", "Ivanova", "Costa", "Nguyen",
        "Hughes", "Bauer", "Mendes", "Kowalski", "Adams", "Yilmaz", "Berg", "Santos", "Ali", "Lindqvist", "Otieno"]
STREETS = ["Maple", "Oak", "Cedar", "Harbor", "Willow", "Hillcrest", "Lakeview", "Sunset", "Park", "River", "Elm",
           "Birch", "Chestnut", "Mill", "Station", "Orchard", "Meadow", "Ridge", "Bay", "Forest"]
STREET_KINDS = ["Street", "Avenue", "Road", "Lane", "Drive", "Court", "Way", "Boulevard"]
CITIES = ["Springfield", "Riverton", "Lakewood", "Fairview", "Georgetown", "Ashford", "Brookfield", "Milford",
          "Kingston", "Newport", "Clayton", "Dover", "Salem", "Hudson", "Marion", "Franklin"]
WORDS = ["amber", "birch", "cobalt", "delta", "ember", "falcon", "garnet", "harbor", "indigo", "juniper", "kestrel",
         "lagoon", "meadow", "nimbus", "onyx", "prairie", "quartz", "raven", "sierra", "tundra", "umber", "violet"]
BASE_DATE = date(2026, 1, 5)


def _person_name(rng: random.Random, spec: dict[str, Any]) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def _digits(rng: random.Random, spec: dict[str, Any]) -> str:
    n = int(spec.get("n", 6))
    return str(rng.randrange(10 ** (n - 1), 10**n))


def _email(rng: random.Random, spec: dict[str, Any]) -> str:
    return f"{rng.choice(WORDS)}.{rng.choice(WORDS)}{rng.randrange(10, 99)}@example.com"


def _address(rng: random.Random, spec: dict[str, Any]) -> str:
    return f"{rng.randrange(1, 999)} {rng.choice(STREETS)} {rng.choice(STREET_KINDS)}, {rng.choice(CITIES)}"


def _choice(rng: random.Random, spec: dict[str, Any]) -> Any:
    return rng.choice(spec["values"])


def _money(rng: random.Random, spec: dict[str, Any]) -> float:
    cents = rng.randrange(int(spec.get("min", 1)) * 100, int(spec.get("max", 1000)) * 100)
    return round(cents / 100, 2)


def _integer(rng: random.Random, spec: dict[str, Any]) -> int:
    return rng.randrange(int(spec.get("min", 0)), int(spec.get("max", 100)) + 1)


def _date(rng: random.Random, spec: dict[str, Any]) -> str:
    offset = rng.randrange(int(spec.get("min_days", 0)), int(spec.get("max_days", 365)) + 1)
    return (BASE_DATE + timedelta(days=offset)).isoformat()


def _time(rng: random.Random, spec: dict[str, Any]) -> str:
    return f"{rng.randrange(int(spec.get('min_hour', 8)), int(spec.get('max_hour', 18)))}:{rng.choice(['00', '15', '30', '45'])}"


def _phone(rng: random.Random, spec: dict[str, Any]) -> str:
    return f"555-{rng.randrange(100, 999)}-{rng.randrange(1000, 9999)}"


def _code(rng: random.Random, spec: dict[str, Any]) -> str:
    """Upper-case letters and digits, e.g. a plate, booking reference or serial number."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(rng.choice(alphabet) for _ in range(int(spec.get("n", 6))))


def _phrase(rng: random.Random, spec: dict[str, Any]) -> str:
    return f"{rng.choice(WORDS)} {rng.choice(WORDS)}"


GENERATORS: dict[str, Callable[[random.Random, dict[str, Any]], Any]] = {
    "person_name": _person_name,
    "digits": _digits,
    "email": _email,
    "address": _address,
    "choice": _choice,
    "money": _money,
    "integer": _integer,
    "date": _date,
    "time": _time,
    "phone": _phone,
    "code": _code,
    "phrase": _phrase,
}

JSON_TYPES = {"money": "number", "integer": "integer"}


def generate(rng: random.Random, spec: dict[str, Any]) -> Any:
    return GENERATORS[spec["gen"]](rng, spec)


def json_type(spec: dict[str, Any]) -> str:
    return JSON_TYPES.get(spec["gen"], "string")
