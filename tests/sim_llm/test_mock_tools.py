"""The LLM mock tool backend and its mapping M: canonical keys, hits, reuse, persistence, schema checks."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import llmsim_kit as kit  # noqa: E402
from fakeserver import Fault, FakeOpenAIServer, route_by_model, scripted  # noqa: E402
from testkit import make_task  # noqa: E402

from synthagent.llm import LLMClient  # noqa: E402
from synthagent.sim.tools.llm_mock import INVALID_OUTPUT, UNAVAILABLE, LLMToolBackend  # noqa: E402
from synthagent.sim.tools.mapping import ToolMapping, canonical_args  # noqa: E402

TOOL = kit.MODELS["tool"]


def tool_server(responder=kit.tool_responder, **kwargs):
    return FakeOpenAIServer(route_by_model({TOOL: responder}), **kwargs)


def calls(server, task, sequence, store_dir=None, **backend_kwargs):
    """Run (tool, arguments) calls in one session; returns (results, session metrics, backend)."""

    async def go():
        async with LLMClient(kit.role_config(server, max_retries=0)) as client:
            be = LLMToolBackend(client, store_dir, **backend_kwargs)
            session = be.session(task)
            results = [await session.call(name, args) for name, args in sequence]
            return results, session.metrics(), be

    return asyncio.run(go())


def order_task():
    task = make_task("retail", 1, 3)
    return task, task.tool("get_order")


# ------------------------------------------------------------------------------------------- canonical


def test_canonical_args_rules():
    assert canonical_args({"b": 1, "a": "x"}) == canonical_args({"a": "x", "b": 1}) == '{"a":"x","b":1}'
    assert canonical_args({"a": "  two   words \n"}) == '{"a":"two words"}'
    assert canonical_args({"a": 2.0, "b": 2.5, "c": True}) == '{"a":2,"b":2.5,"c":true}'
    assert canonical_args({"a": 1, "opt": None}) == canonical_args({"a": 1})
    assert canonical_args({"a": "Cafe\u0301"}) == canonical_args({"a": "Caf\u00e9"})
    assert canonical_args({"a": "OR-1"}) != canonical_args({"a": "or-1"})  # case is the simulator's call
    assert canonical_args({"a": [2, 1]}) != canonical_args({"a": [1, 2]})
    assert canonical_args({"q": "naïve"}) == '{"q":"naïve"}'


# ------------------------------------------------------------------------------------------- argument errors


def test_argument_errors_make_no_model_call():
    task, tool = order_task()
    with tool_server() as server:
        results, metrics, _ = calls(server, task, [
            ("launch_rockets", "{}"),
            (tool.name, "{order_id: "),
            (tool.name, json.dumps({"order_id": 5})),
            (tool.name, "{}"),
            (tool.name, "[1, 2]"),
            (tool.name, json.dumps({"order_id": "A" * 30_000})),
        ])
        assert server.request_count == 0
    assert all(r.error and r.content.startswith("Error: ") for r in results)
    assert "unknown tool" in results[0].content and "not valid JSON" in results[1].content
    assert "expected string" in results[2].content and "missing required" in results[3].content
    assert metrics["tool_argument_errors"] == 6 and metrics["tool_model_calls"] == 0


# ------------------------------------------------------------------------------------------- mapping M


def test_equal_canonical_call_is_a_hit_without_a_model_call(tmp_path):
    task, tool = order_task()
    with tool_server() as server:
        results, metrics, _ = calls(server, task, [
            (tool.name, '{"order_id": "OR-1"}'),
            (tool.name, '{ "order_id" :   "  OR-1 " }'),
            (tool.name, {"order_id": "OR-1"}),
        ], tmp_path)
        assert server.request_count == 1
    first, *rest = results
    assert first.cache_hit is False and not first.error
    assert all(r.cache_hit is True and r.content == first.content for r in rest)
    assert set(json.loads(first.content)) >= set(tool.returns["required"])
    assert metrics["tool_cache_hits"] == 2 and metrics["tool_new_entries"] == 1


def test_equivalent_call_reuses_an_entry_and_is_stored_as_an_alias(tmp_path):
    task, tool = order_task()
    with tool_server() as server:
        results, metrics, backend = calls(server, task, [
            (tool.name, '{"order_id": "OR-1"}'),
            (tool.name, '{"order_id": "or-1"}'),
            (tool.name, '{"order_id": "or-1"}'),
        ], tmp_path)
        assert server.request_count == 2
        prompt = server.requests[1]["messages"][1]["content"]
    assert results[1].content == results[0].content == results[2].content
    assert [r.cache_hit for r in results] == [False, False, True]
    assert metrics["tool_reused_entries"] == 1 and metrics["tool_new_entries"] == 1
    m = backend.mapping(task.id)
    assert [e.alias_of for e in m.entries] == [None, 0]
    assert '"index": 0, "tool": "get_order"' in prompt and '<call>\n{"tool": "get_order"' in prompt


def test_mapping_persists_across_backend_instances(tmp_path):
    task, tool = order_task()
    with tool_server() as server:
        first, _, _ = calls(server, task, [(tool.name, '{"order_id": "OR-7"}')], tmp_path)
        server.reset_counts()
        again, metrics, backend = calls(server, task, [(tool.name, '{"order_id":"OR-7"}')], tmp_path)
        assert server.request_count == 0
    assert again[0].content == first[0].content and again[0].cache_hit
    assert (tmp_path / f"{task.id}.jsonl").exists() and len(backend.mapping(task.id)) == 1


def test_mapping_shared_across_two_processes(tmp_path):
    ids = [f"R-{i}" for i in range(30)]
    ctx = multiprocessing.get_context("spawn")
    with tool_server(kit.serial_responder(), latency_s=0.005) as server:
        queue = ctx.Queue()
        workers = [ctx.Process(target=kit.process_worker, args=(server.base_url, str(tmp_path), ids, queue))
                   for _ in range(2)]
        for w in workers:
            w.start()
        seen = [queue.get(timeout=60) for _ in workers]
        for w in workers:
            w.join(30)
    assert all(w.exitcode == 0 for w in workers)
    assert seen[0] == seen[1]  # whoever generated a key first, both processes answer with that entry
    task = kit.serial_tool_task()
    lines = (tmp_path / f"{task.id}.jsonl").read_text().splitlines()
    keys = [(json.loads(x)["tool"], json.loads(x)["args"]) for x in lines]
    assert len(keys) == len(set(keys)) == len(ids)
    fresh = ToolMapping(task.id, tmp_path)
    assert {json.loads(e.args)["id"]: e.content for e in fresh.entries} == seen[0]


def test_concurrent_identical_calls_share_one_generation(tmp_path):
    task, tool = order_task()
    with tool_server(latency_s=0.05) as server:
        async def go():
            async with LLMClient(kit.role_config(server)) as client:
                backend = LLMToolBackend(client, tmp_path)
                sessions = [backend.session(task) for _ in range(4)]
                return await asyncio.gather(*(s.call(tool.name, '{"order_id": "OR-9"}') for s in sessions))

        results = asyncio.run(go())
        assert server.request_count == 1
    assert len({r.content for r in results}) == 1 and sum(r.cache_hit is False for r in results) == 1


def test_torn_line_is_skipped_and_appends_continue(tmp_path):
    m = ToolMapping("t1", tmp_path)
    m.add("get", '{"id":"1"}', {"v": 1})
    with open(tmp_path / "t1.jsonl", "ab") as fh:
        fh.write(b'{"v": 1, "i": 1, "tool": "get", "ar')  # a crash mid-write
    m2 = ToolMapping("t1", tmp_path)
    assert len(m2) == 1
    entry, added = m2.add("get", '{"id":"2"}', {"v": 2})
    assert added and entry.index == 1
    m3 = ToolMapping("t1", tmp_path)
    assert [e.response for e in m3.entries] == [{"v": 1}, {"v": 2}] and m3.corrupt_lines == 1


def test_relevant_entries_same_tool_first_and_capped():
    m = ToolMapping("t")
    for i in range(5):
        m.add("other", json.dumps({"id": str(i)}), {"i": i})
    for i in range(5):
        m.add("get", json.dumps({"id": f"X{i}"}), {"i": i})
    shown = m.relevant("get", json.dumps({"id": "X3"}), cap=3)
    assert [e.tool for e in shown] == ["get"] * 3 and 8 in [e.index for e in shown]
    assert len(m.relevant("get", "{}", cap=100)) == 10 and m.relevant("get", "{}", cap=0) == []


def test_unsafe_task_ids_get_safe_file_names(tmp_path):
    ToolMapping("../../etc/passwd", tmp_path).add("t", "{}", 1)
    assert [p.parent for p in tmp_path.iterdir()] == [tmp_path, tmp_path]


# ------------------------------------------------------------------------------------------- invalid output


def test_schema_violation_is_repaired_once(tmp_path):
    task, tool = order_task()
    bad = json.dumps({"is_new": True, "response": {"order_id": "OR-1"}})
    good = json.dumps({"is_new": True, "response": {"order_id": "OR-1", "item": "mug", "status": "pending",
                                                    "total": 9.5, "shipping_address": "1 Main St",
                                                    "customer_id": "CU-1"}})
    with tool_server(scripted(bad, good)) as server:
        results, metrics, _ = calls(server, task, [(tool.name, '{"order_id": "OR-1"}')], tmp_path)
        repair = server.requests[1]["messages"][-1]["content"]
    assert not results[0].error and json.loads(results[0].content)["item"] == "mug"
    assert "returns schema" in repair and "required property" in repair
    assert metrics["tool_model_calls"] == 2 and metrics["tool_schema_violations"] == 0


def test_schema_violation_twice_is_an_error_observation_and_not_stored(tmp_path):
    task, tool = order_task()
    bad = json.dumps({"is_new": True, "response": {"order_id": 1}})
    with tool_server(lambda body: bad) as server:
        results, metrics, backend = calls(server, task, [(tool.name, '{"order_id": "OR-1"}')] * 2, tmp_path)
        assert server.request_count == 4  # nothing stored: the repeat asks again
    assert all(r.error and r.content == INVALID_OUTPUT for r in results)
    assert metrics["tool_schema_violations"] == 2 and metrics["tool_faults"] == 0
    assert len(backend.mapping(task.id)) == 0


def test_unparseable_output_and_bad_reuse_index_are_faults(tmp_path):
    task, tool = order_task()
    with tool_server(scripted("not json at all", '{"reuse": 99}')) as server:
        results, metrics, _ = calls(server, task, [(tool.name, '{"order_id": "OR-1"}')], tmp_path)
        repair = server.requests[1]["messages"][-1]["content"]
    assert results[0].content == INVALID_OUTPUT and metrics["tool_faults"] == 1
    assert "no JSON object" in repair


def test_unreachable_simulator_is_an_error_observation(tmp_path):
    task, tool = order_task()
    with tool_server(lambda body: Fault.server_error()) as server:
        results, metrics, _ = calls(server, task, [(tool.name, '{"order_id": "OR-1"}')], tmp_path)
    assert results[0].content == UNAVAILABLE and metrics["tool_faults"] == 1


# ------------------------------------------------------------------------------------------- 100 × 4


def test_100_tasks_x_4_rollouts_repeated_calls_are_identical(tmp_path):
    tasks = kit.tasks_for_consistency(100)
    with FakeOpenAIServer(kit.responder()) as server:
        trajectories, _, stats = asyncio.run(kit.run_consistency(tasks, 4, kit.role_config(server), tmp_path))
        assert not server.errors
    print(f"\n100x4 consistency: {stats}")
    assert stats["episodes"] == 400 and all(t.termination == "answer" for t in trajectories)
    assert stats["repeated_keys"] > 300
    assert stats["consistency"] == 1.0  # every repeated (tool, canonical args) got one identical response
    assert stats["case_variant_groups"] > 50 and stats["case_variant_consistency"] == 1.0
    assert stats["schema_violations"] == 0 and stats["tool_faults"] == 0
    assert stats["session_metrics_sum"] == stats["hits"] and stats["hit_rate"] > 0.3
    assert all(t.metrics["user_faults"] == 0 and t.metrics["user_leaks"] == 0 for t in trajectories)
