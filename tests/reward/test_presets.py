"""Reward presets: the paper's formula (default) and the authors' gates, on hand-made verdicts.

The expected values are worked out by hand from the authors' description, not from our code:
each section scores the fraction of its items met; a section with no items scores 0.3; the reward is 0
when the policy section scores under 0.5 or the sub-goal section under 0.3, else 0.7 · S + 0.3 · I; a
judge exception gives 0.0. The paper: 0 if any forbidden item fails, else the mean of S and I over the
sections that have items.
"""

from __future__ import annotations

import dataclasses

import pytest

from synthagent.reward.scorer import (
    AUTHORS,
    PAPER,
    REWARD_PRESETS,
    RewardConfig,
    aggregate,
    reward_config,
    training_reward,
)
from synthagent.spec.models import Fault, ItemVerdict, Message, Trajectory

T, F = True, False


def verdicts(forbidden: list[bool], subgoals: list[bool], interactions: list[bool]) -> list[ItemVerdict]:
    out = []
    for section, mets in (("forbidden", forbidden), ("subgoals", subgoals), ("interactions", interactions)):
        out += [ItemVerdict(id=f"{section}-{n}", section=section, criterion="c", met=met) for n, met in enumerate(mets)]
    return out


# (name, forbidden, subgoals, interactions, authors' reward, paper's reward)
TABLE = [
    ("everything met", [T], [T, T], [T], 1.0, 1.0),
    ("policy at 0.5 is not under 0.5", [T, F], [T, T], [T, F], 0.7 * 1 + 0.3 * 0.5, 0.0),
    ("policy 1/3 gates", [T, F, F], [T], [T], 0.0, 0.0),
    ("sub-goals 0.25 gate", [T], [T, F, F, F], [T], 0.0, 0.5 * 0.25 + 0.5 * 1),
    ("sub-goals at 0.3 pass", [T], [T, T, T, F, F, F, F, F, F, F], [F], 0.7 * 0.3 + 0.3 * 0, 0.5 * 0.3),
    ("policy 0.5, sub-goals 0.5, no interaction met", [T, F], [T, F], [F], 0.7 * 0.5, 0.0),
    ("no interaction items: 0.3", [T], [T, T], [], 0.7 * 1 + 0.3 * 0.3, 1.0),
    ("no sub-goal items: 0.3, not under 0.3", [T], [], [T], 0.7 * 0.3 + 0.3 * 1, 1.0),
    ("no policy items: 0.3 is under 0.5", [], [T], [T], 0.0, 1.0),
    ("no items at all", [], [], [], 0.0, 1.0),
    ("nothing met but policy", [T], [F, F], [F], 0.0, 0.0),
]


@pytest.mark.parametrize("name,forbidden,subgoals,interactions,authors,paper", TABLE, ids=[row[0] for row in TABLE])
def test_presets_on_hand_made_verdicts(name, forbidden, subgoals, interactions, authors, paper):
    items = verdicts(forbidden, subgoals, interactions)
    got_authors = aggregate("t", items, reward_config("authors"))
    got_paper = aggregate("t", items, reward_config("paper"))
    assert got_authors.reward == pytest.approx(authors, abs=1e-6)
    assert got_paper.reward == pytest.approx(paper, abs=1e-6)
    assert got_authors.success == (authors >= 1.0) and got_paper.success == (paper >= 1.0)
    assert got_authors.gate == (0.0 if authors == 0.0 else 1.0)  # in this table every authors' 0 is a gate


def test_judge_exception_is_zero_under_the_authors_and_no_sample_under_the_paper():
    traj = Trajectory(task_id="t", policy="p", messages=[Message(role="user", actor="user", content="hi")], termination="answer",
                      fault=Fault(role="judge", message="judge call failed"))
    assert traj.unscored and traj.result is None
    assert training_reward(traj, reward_config("authors")) == 0.0
    assert training_reward(traj, reward_config("paper")) is None
    policy_fault = traj.model_copy(update={"fault": Fault(role="policy", message="endpoint down")})
    assert training_reward(policy_fault, reward_config("authors")) is None  # not the judge: nothing to stand in
    scored = traj.model_copy(update={"fault": None, "result": aggregate("t", verdicts([T], [T], [F]), AUTHORS)})
    assert training_reward(scored, AUTHORS) == pytest.approx(0.7)


def test_preset_lookup_overrides_and_errors():
    assert reward_config() is PAPER and reward_config(None) == RewardConfig() and reward_config(" Authors ") is AUTHORS
    assert set(REWARD_PRESETS) == {"paper", "authors", "outcome"}
    looser = reward_config("authors", success_threshold=0.8)
    assert looser.success_threshold == 0.8 and dataclasses.replace(looser, success_threshold=1.0) == AUTHORS
    with pytest.raises(ValueError, match="presets are paper, authors, outcome"):
        reward_config("author")
    with pytest.raises(ValueError, match="unknown RewardConfig field"):
        reward_config("paper", subgoal_wieght=1.0)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        RewardConfig(missing_section=1.5)
