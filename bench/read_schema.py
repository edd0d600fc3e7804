"""Can a `train tiny` checkpoint read a tool call off the tool list? (issue 20, transfer)

Every unseen-domain episode of the transfer pilots failed at its first real tool call: a training domain's
argument keys or ID prefix, or a name misspelt (docs/training.md). This isolates that one step. For each
gold episode it feeds the gold conversation up to the first call of a domain tool (`ask_user` turns
included), lets the model write that turn greedily, and compares it with the gold call: the tool name, the
set of argument keys, and the whole call (name, keys and values). It does so on the real episode and on
the same episode renamed with scope "all" (`train/renames.py`: made-up tool and key words, made-up ID
prefixes), where nothing can come from memory and everything must be read or copied from the context.

`--scope swap` renames the second form with scope "swap" instead: each word on its own, with another real
word of the training domains (`--pool-domains`), so a familiar tool name can come with another domain's keys,
which is an unseen near domain's case (food_delivery's `verify_customer` takes `email`, retail's
`zip_code`). The renamed columns count only the episodes whose gold call the rename changed ("changed").

`--system-from DOMAIN` puts that domain's system message (its policy) in place of each episode's own, tools
and conversation unchanged: does an unfamiliar policy text alone break the reading of a familiar domain's
call, or a familiar one mend an unseen domain's? `--tools-from DOMAIN` adds that domain's tools (those not
named like one of the episode's own) to each episode's tool list, shuffled: do unseen tools beside familiar
ones break the reading?

`--after-error` probes the call after a failed one instead: each episode's first call first goes out with
another training tool's key or ID prefix (`train/slips.py: with_call_slip`, the training demonstrations'
slip) and the tool's error follows; the model writes the next turn, compared with the gold call. The error
names the missing key or says the record was not found, so the retry can be copied from it.

Run: `python bench/read_schema.py RUN/model --domains hotel,food_delivery [--tasks 30] [--scope swap]`
Needs the `train` extra. Not a timed test.
"""

from __future__ import annotations

import json
import random
import re

from checkpoint_probe import load_probe_model, probe_parser  # bench/, beside this script


def first_domain_call(row: dict) -> int | None:
    """Index of the first assistant message that calls a tool other than `ask_user`, or None."""
    from synthagent.sim.tool_protocol import ASK_USER

    for i, message in enumerate(row["messages"]):
        calls = message.get("tool_calls") or []
        if message["role"] == "assistant" and calls and calls[0]["function"]["name"] != ASK_USER:
            return i
    return None


def probed_turn(row: dict, after_error: bool) -> int | None:
    """The assistant message to probe: the first domain call, or with `after_error` the turn right after the
    first error observation (the retry), or None when the row has none."""
    if not after_error:
        return first_domain_call(row)
    error = next((i for i, m in enumerate(row["messages"]) if m["role"] == "tool"
                  and (m.get("content") or "").startswith("Error:")), None)
    return error + 1 if error is not None and error + 1 < len(row["messages"]) else None


def parse_call(text: str) -> tuple[str, dict] | None:
    """(name, arguments) of the first `<tool_call>` JSON in a generated turn, or None if there is none."""
    found = re.search(r"<tool_call>\s*(\{.*?\})\s*</tool_call>", text, re.S)
    try:
        call = json.loads(found.group(1)) if found else None
    except json.JSONDecodeError:
        return None
    if not isinstance(call, dict) or not isinstance(call.get("arguments"), dict):
        return None
    return str(call.get("name")), call["arguments"]


def main() -> None:
    parser = probe_parser(__doc__.splitlines()[0], tasks=30)
    parser.add_argument("--scope", choices=("all", "swap"), default="all", help="the rename of the second form")
    parser.add_argument("--pool-domains", default="retail,hotel,bank,insurance",
                        help="training domains whose words scope swap draws from")
    parser.add_argument("--system-from", default="", help="a domain whose system message replaces the episodes' own")
    parser.add_argument("--tools-from", default="", help="a domain whose tools join each episode's tool list")
    parser.add_argument("--after-error", action="store_true", help="probe the retry after a failed first call")
    args = parser.parse_args()
    import torch

    from synthagent.train.renames import rename_row, word_pool
    from synthagent.train.splits import procedural_tasks
    from synthagent.train.tiny import conversations

    pool = None
    if args.scope == "swap":
        pool = word_pool(conversations(procedural_tasks(tuple(args.pool_domains.split(",")), (1,), 200, 1)))
    model, tokenizer = load_probe_model(args.checkpoint)
    print(f"{'domain':<16} {'episodes':>8}  {'real: name':>10} {'keys':>5} {'call':>5}  {'changed':>7} "
          f"{args.scope + ': name':>11} {'keys':>5} {'call':>5}")
    for domain in args.domains.split(","):
        rows = conversations(procedural_tasks((domain,), (1,), args.tasks, args.seed),
                             call_slips=1.0 if args.after_error else 0.0)
        if args.system_from:
            system = conversations(procedural_tasks((args.system_from,), (1,), 1, args.seed))[0]["messages"][0]
            assert system["role"] == "system" and all(row["messages"][0]["role"] == "system" for row in rows)
            rows = [{**row, "messages": [system, *row["messages"][1:]]} for row in rows]
        if args.tools_from:
            extra = conversations(procedural_tasks((args.tools_from,), (1,), 1, args.seed))[0]["tools"]
            for n, row in enumerate(rows):
                own = {tool["function"]["name"] for tool in row["tools"]}
                tools = [*row["tools"], *(tool for tool in extra if tool["function"]["name"] not in own)]
                random.Random(n).shuffle(tools)
                row["tools"] = tools
        counts = {"real": [0, 0, 0], "renamed": [0, 0, 0]}
        used = changed = 0
        for n, row in enumerate(rows):
            if probed_turn(row, args.after_error) is None:
                continue
            used += 1
            renamed = rename_row(row, random.Random(n), args.scope, pool)
            forms = [("real", row)]
            if renamed["messages"][probed_turn(renamed, args.after_error)] != row["messages"][probed_turn(row, args.after_error)]:
                changed += 1
                forms.append(("renamed", renamed))
            for form, case in forms:
                at = probed_turn(case, args.after_error)
                ids = tokenizer.apply_chat_template(case["messages"][:at], tools=case["tools"],
                                                    add_generation_prompt=True, return_tensors="pt",
                                                    return_dict=True)["input_ids"]
                with torch.no_grad():
                    out = model.generate(ids, max_new_tokens=96, do_sample=False)
                got = parse_call(tokenizer.decode(out[0, ids.shape[1]:]))
                gold = case["messages"][at]["tool_calls"][0]["function"]
                if got is None:
                    continue
                name, arguments = got
                counts[form][0] += name == gold["name"]
                counts[form][1] += set(arguments) == set(gold["arguments"])
                counts[form][2] += name == gold["name"] and arguments == gold["arguments"]
        share = {"real": [c / max(used, 1) for c in counts["real"]],
                 "renamed": [c / max(changed, 1) for c in counts["renamed"]]}
        print(f"{domain:<16} {used:>8}  {share['real'][0]:>10.2f} {share['real'][1]:>5.2f} {share['real'][2]:>5.2f}  "
              f"{changed:>7} {share['renamed'][0]:>11.2f} {share['renamed'][1]:>5.2f} {share['renamed'][2]:>5.2f}")


if __name__ == "__main__":
    main()
