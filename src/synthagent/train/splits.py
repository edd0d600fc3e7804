"""Task splits for `train tiny`: training tasks, held-out tasks of the training domains, and held-out tasks of
domains never seen in training; plus the two task transforms the claims need.

Why three sets: the paper's first claim is transfer, that skills learned in mock worlds carry to worlds never
seen. Held-out tasks of the training domains measure generalisation to new customers, ids and phrasings; tasks
of `heldout_domains` measure it to new tools, records and vocabulary. Nothing of an unseen domain reaches
training, the tokenizer included (it is trained on the training conversations only, so an unseen word is split
into the byte-level pieces it has, not special-cased).

- `fully_specified(task)`: the same task without the information gap (the paper's ablation): the instruction is
  the full one, nothing is private, and the interaction items (ask for a hidden detail) go, since there is
  nothing left to ask. The domain policy still asks the agent to confirm a change, so the scripted user stays
  in the episode for that.
- `unconfirmed(task)`: the task with the gold plan's confirmations dropped, to make noisy demonstrations (a
  change made without the user's go-ahead, which the rubric's forbidden items catch): a gap that imitation
  leaves and a rubric reward can close.
"""

from __future__ import annotations

from dataclasses import dataclass

from synthagent.spec.models import Task


@dataclass(frozen=True)
class Splits:
    train: list[Task]
    held_seen: list[Task]
    held_unseen: list[Task]


def procedural_tasks(domains: tuple[str, ...], difficulties: tuple[int, ...], n: int, seed: int) -> list[Task]:
    """The first n self-tested procedural tasks of a plan (domains and difficulties rotate, so each gets ~n/k)."""
    from synthagent.synth.procedural import ProceduralPlan, make_task

    if not domains or n <= 0:
        return []
    plan = ProceduralPlan(domains=tuple(domains), n=n * 2 + 16, seed=seed, difficulties=tuple(difficulties))
    out: list[Task] = []
    for index in range(plan.n):
        item = make_task(plan, index)
        if isinstance(item, Task):
            out.append(item)
        if len(out) == n:
            break
    return out


def make_splits(domains: tuple[str, ...], heldout_domains: tuple[str, ...], difficulties: tuple[int, ...],
                train_tasks: int, eval_tasks: int, eval_unseen_tasks: int, seed: int) -> Splits:
    """Disjoint generator seeds per set; no task id in two sets; no domain both trained and held out."""
    overlap = sorted(set(domains) & set(heldout_domains))
    if overlap:
        raise ValueError(f"heldout_domains: {overlap} are also training domains; a held-out domain must be unseen")
    train = procedural_tasks(domains, difficulties, train_tasks, seed * 2 + 1)
    seen_ids = {t.id for t in train}
    held = [t for t in procedural_tasks(domains, difficulties, eval_tasks + 8, seed * 2 + 2)
            if t.id not in seen_ids][:eval_tasks]
    unseen = procedural_tasks(heldout_domains, difficulties, eval_unseen_tasks, seed * 2 + 3)
    return Splits(train=train, held_seen=held, held_unseen=unseen)


def fully_specified(task: Task) -> Task:
    """The task with every detail in the instruction and no interaction items (see the module docstring)."""
    if not task.full_instruction:
        raise ValueError(f"task {task.id} has no full_instruction to specify it fully")
    rubric = task.rubric.model_copy(update={"interactions": []})
    gold = [a for a in task.gold if a.kind != "ask"]
    private = [s.model_copy(update={"required": False}) for s in task.private_info]
    return task.model_copy(update={"instruction": task.full_instruction, "rubric": rubric, "gold": gold,
                                   "private_info": private, "id": f"{task.id}-full"})


def unconfirmed(task: Task) -> Task:
    """The task whose gold plan skips every confirmation (the same id: it is a demonstration of this task)."""
    return task.model_copy(update={"gold": [a for a in task.gold if a.kind != "confirm"]})


def has_confirmation(task: Task) -> bool:
    return any(a.kind == "confirm" for a in task.gold)
