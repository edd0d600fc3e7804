"""Does a `train tiny` checkpoint start an episode the way it was taught, in each domain? (issue 20, transfer)

For a few tasks of each domain, renders the system prompt, tool list and the user's request as the policy
sees them, and prints the prompt's length in tokens, the probability the model gives to `<tool_call>` as
its first token (every gold episode starts with a tool call), the token it ranks first, and, decoding
greedily, the share of first turns that call a tool of that domain's list (`ask_user` included) and the
share that call the gold episode's first tool. A model that acts as an agent only in its training domains
shows it here before any episode is played: in the run that made us look (four training domains,
food_delivery unseen), the first token was `<tool_call>` with probability 1.000 in the training domains
and at most 0.004 in the unseen ones, whose prompts were five to seven times as long in tokens
(docs/training.md, "Why nothing transferred").

Run: `python bench/first_action.py RUN/model-sft --domains retail,hotel,food_delivery [--tasks 10]`
Needs the `train` extra. Not a timed test.
"""

from __future__ import annotations

import re
import statistics

from checkpoint_probe import load_probe_model, probe_parser  # bench/, beside this script


def main() -> None:
    parser = probe_parser(__doc__.splitlines()[0], tasks=10)
    args = parser.parse_args()
    import torch

    from synthagent.train.splits import procedural_tasks
    from synthagent.train.tiny import conversations

    model, tokenizer = load_probe_model(args.checkpoint)
    tool_call = tokenizer.convert_tokens_to_ids("<tool_call>")
    print(f"{'domain':<16} {'prompt tokens':>13} {'P(<tool_call>) median':>22} {'min':>6} {'listed tool':>12} "
          f"{'gold tool':>10}  most likely first tokens")
    for domain in args.domains.split(","):
        rows = conversations(procedural_tasks((domain,), (1,), args.tasks, args.seed))
        lengths, probabilities, firsts, listed, gold = [], [], [], [], []
        for row in rows:
            ids = tokenizer.apply_chat_template(row["messages"][:2], tools=row["tools"], add_generation_prompt=True,
                                                return_tensors="pt", return_dict=True)["input_ids"]
            with torch.no_grad():
                p = model(ids).logits[0, -1].softmax(-1)
                turn = tokenizer.decode(model.generate(ids, max_new_tokens=48, do_sample=False)[0, ids.shape[1]:])
            called = re.search(r'"name":\s*"([^"]+)"', turn)
            names = {tool["function"]["name"] for tool in row["tools"]}
            listed.append(bool(called) and called.group(1) in names)
            gold.append(bool(called) and called.group(1) == row["messages"][2]["tool_calls"][0]["function"]["name"])
            lengths.append(ids.shape[1])
            probabilities.append(p[tool_call].item())
            firsts.append(tokenizer.decode([int(p.argmax())]))
        common = sorted(set(firsts), key=firsts.count, reverse=True)[:3]
        print(f"{domain:<16} {statistics.median(lengths):>13.0f} {statistics.median(probabilities):>22.3f} "
              f"{min(probabilities):>6.3f} {sum(listed) / len(listed):>12.2f} {sum(gold) / len(gold):>10.2f}  "
              f"{', '.join(repr(t) for t in common)}")


if __name__ == "__main__":
    main()
