"""verl's real `SynthAgentLoop.run` on a CPU: one task of each world kind, with a fake token-level server
manager standing in for vLLM and the LLM user, mock tools and judge served by the local fake server.

What it proves: the loop builds its simulators and judge from the world-kind registry and one LLM config;
masks are well formed; the judge decides the rubric items that have no check; non-thinking kwargs reach
the chat template; long tool responses are cut; and with 20% of simulator and judge calls failing for
good, the run completes and every such failure is exactly one unscored sample, counted, under both
fault policies.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import sys
from pathlib import Path

import pytest

pytest.importorskip("verl", reason="verl is part of the test install (make test); pip install 'synthagent[verl]'")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sim_llm"))

from fakeserver import Fault, FakeOpenAIServer  # noqa: E402
from llmsim_kit import MODELS, responder, schema_instance  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402
from testkit import make_task  # noqa: E402
from verl.experimental.agent_loop.agent_loop import DictConfigWrap  # noqa: E402

from synthagent.integrations.release_verl import tasks_to_verl_rows  # noqa: E402
from synthagent.integrations.synthagent_release import import_release  # noqa: E402
from synthagent.integrations.verl.agent_loop import SynthAgentLoop  # noqa: E402
from synthagent.integrations.verl.episode import needs_judge  # noqa: E402
from synthagent.integrations.verl.settings import LoopSettings, loop_resources  # noqa: E402
from synthagent.sim.kinds import world_kind  # noqa: E402
from synthagent.spec.models import Trajectory  # noqa: E402
from synthagent.spec.worlds import SimulatedWorld  # noqa: E402

RELEASE = Path(__file__).resolve().parents[1] / "integrations" / "data" / "synthagent_release_sample.json"
THINK_OFF = "<think>\n\n</think>\n\n"


# ------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def tasks():
    release = import_release(RELEASE)
    teacher = release[1].model_copy(update={"id": "teacher-made-1", "world": SimulatedWorld(state={"orders": 3})})
    out = {"procedural": make_task("retail", 11, 3), "release": release[0], "simulated": teacher}
    try:
        from synthagent.integrations.reasoning_gym import reasoning_tasks

        out["reasoning"] = reasoning_tasks(["basic_arithmetic"], 1, seed=1)[0]
    except ImportError:
        pass
    try:
        from synthagent.integrations.tau2 import import_tasks

        out["tau2"] = import_tasks("retail")[0]
    except ImportError:
        pass
    return out


@pytest.fixture(scope="module")
def tokenizer(tasks):
    from synthagent.train.tiny import _bpe, _wrap

    texts = [json.dumps(row) for row in tasks_to_verl_rows(tasks.values())]
    tok = _wrap(_bpe(texts, 800))
    # Qwen3's behaviour: the generation prompt carries an empty think block when thinking is off
    end = "{{- '<|im_start|>assistant\\n' }}"
    assert end in tok.chat_template
    tok.chat_template = tok.chat_template.replace(
        end, end + "{%- if enable_thinking is defined and enable_thinking is false %}{{- '" + THINK_OFF.replace("\n", "\\n")
        + "' }}{%- endif %}")
    return tok


def _body_key(body, role):
    """Failures are drawn per logical call: the user's retry note (in the system prompt) does not change
    the draw, so a failing user turn fails all its attempts, as an endpoint that is down would."""
    messages = body["messages"][1:] if role == "user" else body["messages"]
    return hashlib.sha256(json.dumps([role, messages], sort_keys=True).encode()).digest()


class FailingResponder:
    """The scripted roles, with a seeded share of user, tool and judge calls failing with HTTP 500 every time."""

    def __init__(self, rate: float = 0.0, judge=None):
        self.rate = rate
        self.inner = responder(**({"judge": judge} if judge else {}))
        self.failed = {"user": 0, "tool": 0, "judge": 0}
        self.roles = {model: role for role, model in MODELS.items()}

    def __call__(self, body):
        role = self.roles.get(body["model"], "")
        if role in self.failed and self.rate:
            if int.from_bytes(_body_key(body, role)[:8], "big") / 2**64 < self.rate:
                self.failed[role] += 1
                return Fault.server_error()
        return self.inner(body)


def _llm_yaml(tmp_path, server, retries=0):
    roles = {role: {"model": model, "base_url": server.base_url, "timeout_s": 10} for role, model in MODELS.items()}
    path = tmp_path / "llm.yaml"
    path.write_text(json.dumps({"roles": roles, "max_retries": retries, "backoff_base_s": 0.0, "backoff_max_s": 0.0,
                                "concurrency": 16}))
    return path


def _config(tmp_path, llm_yaml, policy="drop", tool_chars=4096, response_length=6000):
    return OmegaConf.create({
        "actor_rollout_ref": {"rollout": {"response_length": response_length, "prompt_length": 6000,
                                          "multi_turn": {"max_assistant_turns": 16,
                                                         "max_tool_response_length": tool_chars}}},
        "data": {"apply_chat_template_kwargs": {"enable_thinking": False}},
        "synthagent": {"llm_config": str(llm_yaml), "mock_store": str(tmp_path / "M"), "fault_policy": policy,
                       "judge_concurrency": 2, "judge_timeout_s": 30},
    })


class FakeServerManager:
    """Stands in for verl's vLLM server manager: generates the scripted turns as token ids with logprobs."""

    def __init__(self, tokenizer, turns):
        self.tokenizer, self.turns, self.prompts = tokenizer, list(turns), []

    async def generate(self, *, request_id, prompt_ids, sampling_params, **_):
        self.prompts.append(list(prompt_ids))
        text = self.turns.pop(0) if self.turns else "<answer>done</answer>"
        ids = self.tokenizer.encode(text, add_special_tokens=False) + [self.tokenizer.eos_token_id]

        class Out:
            token_ids, log_probs = ids, [-0.5] * len(ids)

        return Out()


def _call(name, arguments):
    return "<tool_call>\n" + json.dumps({"name": name, "arguments": arguments}) + "\n</tool_call>"


def _turns(task, variant=0):
    """Gold turns for kinds with a gold plan; for simulated ones: ask the user, call a tool, answer."""
    if world_kind(task).offline_gold:
        out = []
        for action in task.gold:
            if action.kind == "call":
                out.append(_call(action.tool, action.arguments))
            elif action.kind == "answer":
                out.append(f"<answer>{action.text}</answer>")
            else:
                out.append(action.text or "")
        return out
    tool = task.tools[variant % len(task.tools)]
    args = schema_instance(tool.function.parameters, random.Random(variant))
    return [f"Could you tell me more about what you need (attempt {variant})?", _call(tool.name, args),
            f"<answer>Handled, attempt {variant}.</answer>"]


def _run(config, tokenizer, task, variant=0):
    manager = FakeServerManager(tokenizer, _turns(task, variant))
    loop = SynthAgentLoop(trainer_config=DictConfigWrap(config), server_manager=manager, tokenizer=tokenizer,
                          processor=None, dataset_cls=None, data_config=DictConfigWrap(config.data))
    row = tasks_to_verl_rows([task])[0]
    out = asyncio.run(loop.run({"temperature": 1.0}, raw_prompt=row["prompt"], extra_info=row["extra_info"]))
    return out, manager


def _well_formed(out, dropped=False):
    assert len(out.response_ids) == len(out.response_mask) == len(out.response_logprobs) > 0
    assert set(out.response_mask) <= {0, 1}
    assert out.response_mask[0] == (0 if dropped else 1)  # the response opens with the model's own turn


# ------------------------------------------------------------------------------------------- tests


def test_every_world_kind_through_the_real_agent_loop(tmp_path, tasks, tokenizer):
    assert {"procedural", "release", "simulated", "reasoning", "tau2"} <= set(tasks), "a world kind's extra is missing"
    with FakeOpenAIServer(FailingResponder()) as server:
        config = _config(tmp_path, _llm_yaml(tmp_path, server), tool_chars=60)
        for name, task in tasks.items():
            judged_before = server.requests_by_model[MODELS["judge"]]
            out, manager = _run(config, tokenizer, task)
            _well_formed(out)
            trajectory = Trajectory.model_validate_json(out.extra_fields["synthagent_trajectory"])
            assert trajectory.fault is None and out.extra_fields["reward_extra_info"]["unscored"] == 0.0, name
            assert out.reward_score == trajectory.result.reward, name
            assert tokenizer.decode(manager.prompts[0]).endswith(THINK_OFF), name  # non-thinking mode reached the template
            judged = [v for v in trajectory.result.items if v.method == "judge"]
            if needs_judge(task):  # the judge (all "Completed") decided the items without a check
                assert judged and server.requests_by_model[MODELS["judge"]] == judged_before + 1, name
                assert all(v.met for v in judged)
            else:
                assert not judged and server.requests_by_model[MODELS["judge"]] == judged_before, name
            if world_kind(task).offline_gold:
                assert out.reward_score == 1.0, name  # the gold plan played through verl's loop scores 1
            tools = [m for m in trajectory.messages if m.role == "tool"]
            assert all(len(m.content) <= 60 + 40 for m in tools), name  # cut at max_tool_response_length
        # simulated kinds went to the LLM user and tools, and their mapping M is on disk for other workers
        assert server.requests_by_model[MODELS["user"]] >= 2 and server.requests_by_model[MODELS["tool"]] >= 2
        assert len(list((tmp_path / "M").glob("*.jsonl"))) == 2


@pytest.mark.parametrize("policy", ["drop", "zero"])
def test_failing_simulators_and_judge_make_counted_unscored_samples(tmp_path, tasks, tokenizer, policy):
    loop_resources.cache_clear()
    failing = FailingResponder(rate=0.2)
    simulated = [tasks["release"], tasks["simulated"]]
    with FakeOpenAIServer(failing) as server:
        config = _config(tmp_path, _llm_yaml(tmp_path, server), policy=policy)
        outs = [_run(config, tokenizer, task, variant)[0] for variant in range(20) for task in simulated]
    resources = loop_resources(LoopSettings.resolve(OmegaConf.to_container(config.synthagent)))
    user_attempts = 3  # LLMUser's default max_attempts: a user turn is lost only when all of them fail
    exhausted = failing.failed["user"] // user_attempts + failing.failed["tool"] + failing.failed["judge"]
    unscored = [o for o in outs if o.extra_fields["reward_extra_info"]["unscored"]]
    assert exhausted >= 3 and len(outs) - len(unscored) >= 10  # the 20% rate really bit, and most samples trained
    assert len(unscored) == exhausted == resources.stats.unscored
    assert failing.failed["user"] % user_attempts == 0
    by_role = {role: sum(o.extra_fields["reward_extra_info"][f"fault_{role}"] for o in outs)
               for role in ("user", "tools", "judge")}
    assert by_role == {"user": failing.failed["user"] // user_attempts, "tools": failing.failed["tool"],
                       "judge": failing.failed["judge"]}
    assert by_role == {r: resources.stats.faults.get(r, 0) for r in by_role}
    for out in outs:
        trajectory = Trajectory.model_validate_json(out.extra_fields["synthagent_trajectory"])
        _well_formed(out, dropped=trajectory.unscored and policy == "drop")
        if trajectory.unscored:
            assert out.reward_score == 0.0 and trajectory.result is None
            assert (sum(out.response_mask) == 0) == (policy == "drop")  # drop masks the sample; zero trains on 0
        else:
            assert out.reward_score == trajectory.result.reward and sum(out.response_mask) > 0
