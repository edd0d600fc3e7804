"""Identity-field variants: a domain whose identity check asks for another field of the owner's record.

Why: each domain checks identity with one fixed field (retail's `verify_customer` a ZIP code, bank's a phone
number), so a model trained on a few domains learns "this tool name takes that kind of value" and brings it
to a domain it never saw. In the transfer runs, food_delivery's `verify_customer` asks for an email, and
models that read the `email` key (or had it forced by a schema constraint) still wrote a phone number into
it: the value followed the tool name, not the key (docs/training.md). A variant `A~F` is domain A with its
verify tool asking for the owner field F instead, so a tool name meets several kinds of identity value and
the value must come from what the key asks and the user says. Built only from A's own record fields, so a
variant of training domains carries nothing of a held-out one; whether the combination it makes happens to
be a held-out domain's is the experimenter's to report.

The field's label and keywords (what the user hears asked, and the words the scripted user listens for)
are the field's own where it has them, else its name with spaces. The verify tool's description has the
old field's label replaced by the new one. Named `A~F` wherever a domain name is taken
(`registry.get_domain`), and combinable with chimeras: `retail~email+hotel` is retail, verified by email,
with hotel's records.
"""

from __future__ import annotations

from synthagent.worlds.domain_spec import Domain, load_domain
from synthagent.worlds.spec_parts import DomainError

SEPARATOR = "~"


def is_variant(name: str) -> bool:
    return SEPARATOR in name


def verify_variant(domain: Domain, field: str) -> Domain:
    """`domain` with its identity check on the owner field `field` (see the module docstring)."""
    name = f"{domain.name}{SEPARATOR}{field}"
    owner = domain.owner_entity
    if field not in owner.fields:
        raise DomainError(f"{name}: {field!r} is not a field of {domain.owner} (fields: {', '.join(owner.fields)})")
    if field == domain.verify.field:
        raise DomainError(f"{name}: {domain.name} already verifies with {field!r}")
    spec = owner.fields[field]
    old_label = owner.fields[domain.verify.field].label_or(domain.verify.field)
    label = spec.label or field.replace("_", " ")
    data = domain.model_dump(exclude_none=True)
    data["name"] = name
    data["verify"] = {"tool": domain.verify.tool, "field": field}
    data["entities"][domain.owner]["fields"][field] |= {"label": label,
                                                        "keywords": list(spec.keywords) or [field.replace("_", " ")]}
    for tool in data["tools"]:
        if tool["name"] == domain.verify.tool:
            tool["description"] = tool.get("description", "").replace(old_label, label)
    return load_domain(data)
