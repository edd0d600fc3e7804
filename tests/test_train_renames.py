"""Renamed demonstrations (train/renames.py): consistent, reversible, and free of the held-out domains' words."""

from __future__ import annotations

import json
import random
import re

import pytest

from synthagent.sim.tool_protocol import ASK_USER
from synthagent.train.renames import identifiers, registered_prefixes, rename_map, rename_row, verbs_of
from synthagent.train.splits import procedural_tasks
from synthagent.train.tiny import conversations

DOMAINS = ("retail", "bank", "clinic", "telecom")


def _calls(row):
    for message in row["messages"]:
        for call in message.get("tool_calls") or []:
            yield call["function"]["name"], call["function"]["arguments"]


def test_a_renamed_episode_calls_only_tools_and_keys_of_its_own_renamed_tool_list():
    tasks = procedural_tasks(DOMAINS, (1, 2), 24, seed=3)
    plain = conversations(tasks, seed=0)
    renamed = conversations(tasks, seed=0, rename=1.0)
    changed = 0
    for before, after in zip(plain, renamed):
        schemas = {t["function"]["name"]: set(t["function"]["parameters"]["properties"]) for t in after["tools"]}
        for name, args in _calls(after):
            assert name in schemas, name
            assert set(args) <= schemas[name], (name, args)
        old_names = identifiers(before["tools"])
        text = json.dumps(after)
        # no renamed identifier survives anywhere (policy text, results, confirmation questions)
        kept = verbs_of([t["function"]["name"] for t in before["tools"]])
        for old in old_names:
            if any(part not in kept for part in old.split("_")):
                assert not re.search(rf"\b{re.escape(old)}\b", text), old
        assert ASK_USER in schemas
        changed += before != after
    assert changed == len(plain)


def test_a_rename_is_one_to_one_and_undoing_it_gives_the_episode_back():
    tasks = procedural_tasks(("insurance", "it_helpdesk"), (1,), 6, seed=1)
    for row in conversations(tasks, seed=0):
        names = identifiers(row["tools"])
        mapping = rename_map(names, verbs_of([t["function"]["name"] for t in row["tools"]]), random.Random(7))
        assert len(set(mapping.values())) == len(mapping)
        renamed = rename_row(row, random.Random(7))
        inverse = {new: old for old, new in mapping.items() if new != old}
        pattern = re.compile(r"\b(" + "|".join(map(re.escape, sorted(inverse, key=len, reverse=True))) + r")\b")
        undone = json.loads(pattern.sub(lambda m: inverse[m.group(1)], json.dumps(renamed)))
        assert undone == json.loads(json.dumps(row))


def test_verbs_id_and_the_ask_tool_stay_and_the_made_up_words_are_not_held_out_words():
    tasks = procedural_tasks(("retail",), (1,), 4, seed=2)
    row = conversations(tasks, seed=0, rename=1.0)[0]
    names = [t["function"]["name"] for t in row["tools"]]
    assert any(n.startswith("verify_") for n in names) and ASK_USER in names
    assert not {"verify_customer", "get_order", "customer_id", "order_id"} & set(names)
    held_out_words = {p for t in procedural_tasks(("hotel", "library"), (1,), 20, seed=0)
                      for i in identifiers(conversations([t])[0]["tools"]) for p in i.split("_")}
    rng = random.Random(0)
    words = set(rename_map({f"get_{w}" for w in "abcdefghij"}, frozenset({"get"}), rng).values())
    assert not {p for w in words for p in w.split("_")} & (held_out_words - {"get", "id", "new"})


def test_rename_zero_leaves_the_demonstrations_byte_identical():
    tasks = procedural_tasks(("bank",), (1,), 5, seed=4)
    assert json.dumps(conversations(tasks, seed=0)) == json.dumps(conversations(tasks, seed=0, rename=0.0))


def test_scope_all_renames_single_word_keys_and_id_prefixes_consistently():
    tasks = procedural_tasks(("hotel", "bank"), (1,), 12, seed=5)
    plain = conversations(tasks, seed=0)
    renamed = conversations(tasks, seed=0, rename=1.0, rename_scope="all")
    known = registered_prefixes()
    for before, after in zip(plain, renamed):
        schemas = {t["function"]["name"]: set(t["function"]["parameters"]["properties"]) for t in after["tools"]}
        assert schemas[ASK_USER] == {"question"}
        old_keys = {k for t in before["tools"] if t["function"]["name"] != ASK_USER
                    for k in t["function"]["parameters"]["properties"]}
        new_keys = {k for name, keys in schemas.items() if name != ASK_USER for k in keys}
        assert not old_keys & new_keys, old_keys & new_keys  # `email`, `reason` … are gone as keys
        for name, args in _calls(after):
            assert name in schemas and set(args) <= schemas[name], (name, args)
        old_ids = re.findall(r"\b([A-Z]{2,3})-(N?\d{5,6})\b", json.dumps(before["messages"]))
        new_ids = re.findall(r"\b([A-Z]{2,3})-(N?\d{5,6})\b", json.dumps(after["messages"]))
        assert [d for _, d in old_ids] == [d for _, d in new_ids]  # the digits stay, in place
        pairs = set(zip((p for p, _ in old_ids), (p for p, _ in new_ids)))
        assert len({old for old, _ in pairs}) == len(pairs) == len({new for _, new in pairs})  # one to one
        assert not {new for _, new in pairs} & known  # no registered domain's prefix, held-out ones included
        assert old_ids


def test_scope_names_is_the_old_rename_and_an_unknown_scope_is_refused():
    tasks = procedural_tasks(("retail",), (1,), 6, seed=6)
    for row in conversations(tasks, seed=0):
        assert rename_row(row, random.Random(3), "names") == rename_row(row, random.Random(3))
        names, everything = identifiers(row["tools"]), identifiers(row["tools"], "all")
        assert {"reason", "campaign"} & everything and not {"reason", "campaign"} & names and names < everything
    with pytest.raises(ValueError, match="rename scope"):
        identifiers(conversations(tasks, seed=0)[0]["tools"], "everything")


def test_scope_each_renames_word_by_word_so_real_and_made_up_words_meet_in_one_episode():
    tasks = procedural_tasks(("hotel", "bank", "retail"), (1,), 30, seed=7)
    plain = conversations(tasks, seed=0)
    renamed = conversations(tasks, seed=0, rename=1.0, rename_scope="each")
    kept_parts = renamed_parts = mixed = 0
    prefixes_kept = prefixes_renamed = 0
    for before, after in zip(plain, renamed):
        old_names = [t["function"]["name"] for t in before["tools"]]
        new_names = [t["function"]["name"] for t in after["tools"]]
        kept = verbs_of(old_names)
        # part by part: the same real part becomes the same word in every identifier, or stays everywhere
        fate: dict[str, str] = {}
        for old, new in zip(old_names, new_names):
            assert len(old.split("_")) == len(new.split("_"))
            for a, b in zip(old.split("_"), new.split("_")):
                assert fate.setdefault(a, b) == b, (a, b, fate[a])
                assert a not in kept or a == b
        domain = {a: b for a, b in fate.items() if a not in kept}
        kept_parts += sum(a == b for a, b in domain.items())
        renamed_parts += sum(a != b for a, b in domain.items())
        # a tool whose name stays real while one of its keys is made up: what memory cannot answer
        for told, tnew in zip(before["tools"], after["tools"]):
            real_name = told["function"]["name"] == tnew["function"]["name"]
            keys_old = list(told["function"]["parameters"]["properties"])
            keys_new = list(tnew["function"]["parameters"]["properties"])
            if real_name and told["function"]["name"] != ASK_USER and keys_old != keys_new:
                mixed += 1
        schemas = {t["function"]["name"]: set(t["function"]["parameters"]["properties"]) for t in after["tools"]}
        for name, args in _calls(after):
            assert name in schemas and set(args) <= schemas[name], (name, args)
        old_ids = re.findall(r"\b([A-Z]{2,3})-(N?\d{5,6})\b", json.dumps(before["messages"]))
        new_ids = re.findall(r"\b([A-Z]{2,3})-(N?\d{5,6})\b", json.dumps(after["messages"]))
        assert [d for _, d in old_ids] == [d for _, d in new_ids]
        pairs = set(zip((p for p, _ in old_ids), (p for p, _ in new_ids)))
        assert len({old for old, _ in pairs}) == len(pairs)  # one prefix, one fate
        prefixes_kept += sum(a == b for a, b in pairs)
        prefixes_renamed += sum(a != b for a, b in pairs)
    assert 0.3 < renamed_parts / (renamed_parts + kept_parts) < 0.7, (renamed_parts, kept_parts)
    assert prefixes_kept and prefixes_renamed and mixed


def test_scope_swap_renames_with_other_training_words_and_prefixes_so_a_rename_looks_real():
    from synthagent.train.renames import word_pool

    tasks = procedural_tasks(("hotel", "bank", "retail"), (1,), 30, seed=8)
    plain = conversations(tasks, seed=0)
    words, prefixes = word_pool(plain)
    assert {"customer", "reservation", "email"} <= words and not {"get", "id", "verify"} & words
    assert {"CU", "OR"} <= prefixes
    assert word_pool(plain[::-1]) == (words, prefixes)  # the rows' order does not matter
    renamed = conversations(tasks, seed=0, rename=1.0, rename_scope="swap")
    swapped = 0
    for before, after in zip(plain, renamed):
        old_names = [t["function"]["name"] for t in before["tools"]]
        new_names = [t["function"]["name"] for t in after["tools"]]
        fate: dict[str, str] = {}
        for old, new in zip(old_names, new_names):
            for a, b in zip(old.split("_"), new.split("_")):
                assert fate.setdefault(a, b) == b
        new_words = {b for a, b in fate.items() if a != b}
        assert new_words <= words  # a training word: nothing made up, nothing of another domain
        assert len(set(fate.values())) == len(fate)  # one to one: a swap never merges two words
        present = set(re.findall(r"[a-z]+", json.dumps(before).lower()))
        assert not new_words & present  # never a word the episode already says
        swapped += len(new_words)
        schemas = {t["function"]["name"]: set(t["function"]["parameters"]["properties"]) for t in after["tools"]}
        for name, args in _calls(after):
            assert name in schemas and set(args) <= schemas[name], (name, args)
        old_ids = re.findall(r"\b([A-Z]{2,3})-(N?\d{5,6})\b", json.dumps(before["messages"]))
        new_ids = re.findall(r"\b([A-Z]{2,3})-(N?\d{5,6})\b", json.dumps(after["messages"]))
        assert {p for p, _ in new_ids} <= prefixes  # a training prefix, its own or another
        pairs = set(zip((p for p, _ in old_ids), (p for p, _ in new_ids)))
        assert len(pairs) == len({new for _, new in pairs})
    assert swapped > 30
    with pytest.raises(ValueError, match="word pool"):
        rename_row(plain[0], random.Random(0), "swap")


def test_foreign_tools_join_each_list_shuffled_and_the_episode_still_calls_its_own():
    tasks = procedural_tasks(("hotel", "bank", "retail"), (1,), 12, seed=9)
    plain = conversations(tasks, seed=0)
    mixed = conversations(tasks, seed=0, foreign_tools=3)
    assert conversations(tasks, seed=0, foreign_tools=3) == mixed  # seeded
    orders = set()
    for task, before, after in zip(tasks, plain, mixed):
        own = [t["function"]["name"] for t in before["tools"]]
        names = [t["function"]["name"] for t in after["tools"]]
        foreign = set(names) - set(own)
        assert set(own) <= set(names) and len(foreign) == 3 == len(names) - len(own)
        assert after["messages"] == before["messages"]
        orders.add(names == sorted(names))
        for name, _ in _calls(after):
            assert name in own
    assert False in orders  # shuffled, not appended in name order
    renamed = conversations(tasks, seed=0, rename=1.0, rename_scope="swap", foreign_tools=2)
    for row in renamed:
        schemas = {t["function"]["name"]: set(t["function"]["parameters"]["properties"]) for t in row["tools"]}
        for name, args in _calls(row):
            assert name in schemas and set(args) <= schemas[name]


def test_dropped_descriptions_leave_names_keys_and_messages_and_never_touch_ask_user():
    tasks = procedural_tasks(("hotel", "bank"), (1,), 12, seed=10)
    plain = conversations(tasks, seed=0)
    bare = conversations(tasks, seed=0, drop_descriptions=0.5)
    dropped = kept = 0
    for before, after in zip(plain, bare):
        assert after["messages"] == before["messages"]
        for old, new in zip(before["tools"], after["tools"]):
            f_old, f_new = old["function"], new["function"]
            assert f_new["name"] == f_old["name"]
            assert list(f_new["parameters"]["properties"]) == list(f_old["parameters"]["properties"])
            assert f_new["parameters"].get("required") == f_old["parameters"].get("required")
            if "description" in f_new:
                assert f_new == f_old
                kept += f_old["name"] != ASK_USER
            else:
                assert f_old["name"] != ASK_USER and "description" in f_old
                assert not any("description" in spec for spec in f_new["parameters"]["properties"].values())
                dropped += 1
    assert dropped and kept


def test_made_up_prefixes_replace_a_share_of_swapped_prefixes_with_capitals_no_domain_has():
    tasks = procedural_tasks(("hotel", "bank", "retail"), (1,), 30, seed=8)
    plain = conversations(tasks, seed=0)
    ids = re.compile(r"\b([A-Z]{2,3})-(N?\d{5,6})\b")
    assert json.dumps(conversations(tasks, seed=0, rename=1.0, rename_scope="swap", made_up_prefixes=0.0)) == \
        json.dumps(conversations(tasks, seed=0, rename=1.0, rename_scope="swap"))  # 0: the swap as it was
    made_up = conversations(tasks, seed=0, rename=1.0, rename_scope="swap", made_up_prefixes=1.0)
    new = set()
    for before, after in zip(plain, made_up):
        old_ids, new_ids = ids.findall(json.dumps(before["messages"])), ids.findall(json.dumps(after["messages"]))
        assert [n for _, n in old_ids] == [n for _, n in new_ids]  # only prefixes change, digits stay
        new |= {p for p, _ in new_ids} - {p for p, _ in old_ids}
    assert new and not new & registered_prefixes()  # every renamed prefix is made up: no domain's, held-out ones included


def test_a_call_slip_fails_with_the_backend_s_own_error_and_the_gold_call_follows_outside_the_loss():
    from synthagent.sim.tools.executable import ExecutableSession
    from synthagent.train.slips import SLIP_KEY, with_call_slip
    from synthagent.train.tiny import tokenized
    from synthagent.worlds.registry import all_domains

    tasks = procedural_tasks(("hotel", "bank", "retail"), (1,), 40, seed=8)
    keys = frozenset(k for t in tasks for tool in t.tools for k in tool.function.parameters["properties"])
    prefixes = frozenset(e.id_prefix for d in ("hotel", "bank", "retail") for e in all_domains()[d].entities.values())
    plain = conversations(tasks, seed=0)
    slipped = conversations(tasks, seed=0, call_slips=1.0)
    assert json.dumps(conversations(tasks, seed=0, call_slips=0.0)) == json.dumps(plain)
    kinds = set()
    for task, before, after in zip(tasks, plain, slipped):
        assert len(after["messages"]) == len(before["messages"]) + 2
        k = next(i for i, (a, b) in enumerate(zip(before["messages"], after["messages"])) if a != b)
        failed, error, gold = after["messages"][k:k + 3]
        assert gold == before["messages"][k] and after["messages"][k + 3:] == before["messages"][k + 1:]
        call, right = failed["tool_calls"][0]["function"], gold["tool_calls"][0]["function"]
        assert call["name"] == right["name"] != ASK_USER and call["arguments"] != right["arguments"]
        assert error["role"] == "tool" and error["content"].startswith("Error: ")
        assert error["content"] == ExecutableSession(task).call(call["name"], call["arguments"]).content
        wrong_keys = set(call["arguments"]) - set(right["arguments"])
        if wrong_keys:  # one key swapped for another training tool's, the value kept
            assert len(wrong_keys) == 1 and wrong_keys <= keys and sorted(call["arguments"].values()) == sorted(
                right["arguments"].values())
            kinds.add("key")
        else:  # one ID's prefix swapped for another training prefix, the digits kept
            changed = [(v, right["arguments"][key]) for key, v in call["arguments"].items() if v != right["arguments"][key]]
            assert len(changed) == 1 and changed[0][0][:2] != changed[0][1][:2] and changed[0][0][-6:] == changed[0][1][-6:]
            assert changed[0][0].split("-")[0] in prefixes
            kinds.add("prefix")
        ordinal = sum(m["role"] == "assistant" for m in after["messages"][:k])
        assert ordinal in after[SLIP_KEY]
    assert kinds == {"key", "prefix"}
    assert with_call_slip(tasks[0], [], random.Random(0), keys, prefixes) is None  # no call: nothing to slip

    class Words:  # a tokenizer stand-in: one token per message, the assistant's marked
        def apply_chat_template(self, messages, **_):
            return {"input_ids": list(range(len(messages))),
                    "assistant_masks": [int(m["role"] == "assistant") for m in messages]}

    row = slipped[0]
    mask = tokenized(Words(), [row], 10_000)["assistant_masks"][0]
    k = next(i for i, (a, b) in enumerate(zip(plain[0]["messages"], row["messages"])) if a != b)
    assert mask[k] == 0 and mask[k + 2] == 1  # the failed call is out of the loss, the gold retry in it
