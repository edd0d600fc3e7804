"""Recovery demonstrations (train/slips.py): a gold episode with one slipped detail the scripted user corrects."""

import random
import re
from dataclasses import replace

import pytest

from synthagent.exports.sft import gold_trajectories
from synthagent.reward.scorer import score
from synthagent.sim.runtime import run_episode_sync
from synthagent.sim.tools.executable import ExecutableBackend
from synthagent.sim.users.scripted import REFUSE, ScriptedUser
from synthagent.train.slips import slipped, with_slip
from synthagent.worlds import derive_seed

from testkit import make_task


class _Replay:
    """Plays the agent messages of a conversation in order."""

    name = "replay"

    def __init__(self, messages):
        self.replies = [m for m in messages if m.actor == "agent"]

    def session(self, task, seed):
        return self

    def act(self, messages, tools):
        return self.replies.pop(0)


def test_slipped_changes_exactly_one_digit_chunk():
    rng = random.Random(0)
    for value in ["OR-956728", "377 Elm Court, Fairview", "12"]:
        for _ in range(20):
            wrong = slipped(value, rng)
            assert wrong != value and len(wrong) == len(value)
            changed = [i for i, (a, b) in enumerate(zip(value, wrong)) if a != b]
            assert changed and value[changed[0]:changed[-1] + 1].isdigit() and changed[-1] - changed[0] < 3
    assert slipped("no longer needed", rng) is None


def test_a_recovery_demonstration_is_what_the_real_user_says_and_still_a_successful_episode():
    made = 0
    for seed in range(1, 40):
        task = make_task("retail", seed, 1)
        gold = gold_trajectories([task], seed=0)[0]
        result = with_slip(task, gold.messages, random.Random(seed))
        if result is None:
            continue
        messages, index = result
        made += 1
        proposal, correction, fixed = messages[index], messages[index + 1], messages[index + 2]
        assert proposal.content != fixed.content and correction.content.startswith(REFUSE + " ")
        wanted = [v for v in re.findall(r"=([^,]+?)(?:,|\. Shall)", fixed.content) if v not in proposal.content]
        assert len(wanted) == 1 and wanted[0] in correction.content  # the slipped value, restated
        # played against the environment with the gold episode's user seed, the user says exactly these words
        # and the episode still succeeds: the write follows the corrected proposal's confirmation
        replay = run_episode_sync(task, _Replay(messages), ScriptedUser(), ExecutableBackend(),
                                  seed=derive_seed(0, "gold", task.id))
        assert [m.content for m in replay.messages if m.actor == "user"] == \
            [m.content for m in messages if m.actor == "user"]
        assert score(task, replay).success
    assert made >= 5


def test_the_slipped_turn_is_left_out_of_the_loss():
    pytest.importorskip("transformers")
    pytest.importorskip("tokenizers")
    from synthagent.train.slips import SLIP_KEY
    from synthagent.train.tiny import TinyConfig, _without_turns, conversations, make_tasks, tokenized, train_tokenizer

    train, _ = make_tasks(replace(TinyConfig(), train_tasks=60, eval_tasks=1))
    convs = conversations(train, 0, recovery=1.0)
    with_slips = [c for c in convs if c.get(SLIP_KEY)]
    assert len(with_slips) >= 10 and len(with_slips) < len(convs)  # read-only episodes have nothing to propose
    tokenizer = train_tokenizer(convs, 1024)
    masked = tokenized(tokenizer, with_slips, 4096)
    plain = tokenized(tokenizer, [{k: v for k, v in c.items() if k != SLIP_KEY} for c in with_slips], 4096)
    for conv, ids, mask, full in zip(with_slips, masked["input_ids"], masked["assistant_masks"], plain["assistant_masks"]):
        turn = conv[SLIP_KEY][0]
        question = [m for m in conv["messages"] if m["role"] == "assistant"][turn]["tool_calls"][0]["function"]
        dropped = tokenizer.decode([t for t, a, b in zip(ids, mask, full) if a != b])
        assert question["arguments"]["question"] in dropped and "Yes" not in dropped
        assert all(a <= b for a, b in zip(mask, full)) and 0 < sum(mask) < sum(full)
    extra_turn = with_slips[0]["messages"] + [{"role": "assistant", "content": "extra"}]
    with pytest.raises(ValueError, match="assistant spans"):
        _without_turns(plain["assistant_masks"][0], plain["assistant_masks"][0], [0], extra_turn)
