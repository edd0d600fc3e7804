"""The server under bad requests and failures: every case a clear 4xx or a clean resume, never a 500."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the serve extra (fastapi, uvicorn) is part of `make test`")

from synthagent.integrations.server.client import ServeClient, ServeError  # noqa: E402
from synthagent.integrations.server.drive import policy_act  # noqa: E402
from synthagent.integrations.server.launch import BindRefused, background, build_app, check_bind  # noqa: E402
from synthagent.integrations.server.store import ServeLimits  # noqa: E402
from synthagent.sim.reference import reference_policy  # noqa: E402
from synthagent.spec.io import write_jsonl  # noqa: E402
from testkit import make_task  # noqa: E402

TASKS = [make_task("retail", 21, 3), make_task("bank", 22, 2)]
CLI = "from synthagent.cli import app; app()"
ASK = {"role": "assistant", "content": "Could you tell me more?"}


@pytest.fixture(scope="module")
def server():
    with background(build_app(TASKS, limits=ServeLimits(max_body_bytes=64 * 1024))) as url:
        yield ServeClient(url)


def raw(client: ServeClient, data: bytes, read: bool = True) -> tuple[int, dict]:
    """Send bytes as they are (for requests the client would never build); returns (status, JSON body)."""
    with socket.create_connection((client.host, client.port), timeout=10) as sock:
        sock.sendall(data)
        if not read:
            return 0, {}
        chunks = b""
        while b"\r\n\r\n" not in chunks or len(chunks.split(b"\r\n\r\n", 1)[1]) < _length(chunks):
            more = sock.recv(65536)
            if not more:
                break
            chunks += more
    head, _, body = chunks.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body) if body else {}


def _length(chunks: bytes) -> int:
    for line in chunks.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 0


def post(path: str, body: bytes, headers: str = "") -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"Connection: close\r\n{headers}\r\n").encode() + body


def refused(status: int, call, *args, **kwargs) -> ServeError:
    with pytest.raises(ServeError) as err:
        call(*args, **kwargs)
    assert err.value.status == status, err.value
    assert err.value.error
    return err.value


def test_unknown_ids(server):
    assert "unknown session" in refused(404, server.step, "nope", ASK).error
    refused(404, server.score, "nope")
    refused(404, server.close, "nope")
    assert "unknown task" in refused(404, server.start, "no-such-task").error


def test_malformed_json_and_messages(server):
    opened = server.start(TASKS[0].id)
    path = f"/sessions/{opened.session_id}/step"
    status, body = raw(server, post(path, b'{"message": {"role": "assistant", "content": '))
    assert status == 422 and "malformed request" in body["error"]
    status, body = raw(server, post(path, b'{"message": {"role": "user", "content": "hi"}}'))
    assert status == 422 and "message.role" in body["error"]
    status, body = raw(server, post(path, b'{"message": {"role": "assistant", "tool_calls": [{"id": 1}]}}'))
    assert status == 422
    assert "neither content nor tool_calls" in refused(422, server.step, opened.session_id, {"role": "assistant"}).error
    assert server.state(opened.session_id).turn == 0  # nothing above touched the episode
    assert server.step(opened.session_id, ASK, turn=0).turn == 0
    server.close(opened.session_id)


def test_unknown_tool_is_refused_then_the_session_goes_on(server):
    opened = server.start(TASKS[0].id)
    bogus = {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function",
                                                  "function": {"name": "launch_rockets", "arguments": "{}"}}]}
    err = refused(422, server.step, opened.session_id, bogus)
    assert "unknown tool 'launch_rockets'" in err.error
    assert server.step(opened.session_id, ASK).turn == 0
    server.close(opened.session_id)
    # in 'observe' mode the episode answers as an in-process rollout does: an error observation
    lenient = server.start(TASKS[0].id, unknown_tools="observe")
    out = server.step(lenient.session_id, bogus)
    assert out.observations[0]["role"] == "tool" and not out.done
    server.close(lenient.session_id)


def test_one_megabyte_of_arguments_is_413(server):
    opened = server.start(TASKS[0].id)
    huge = {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {
        "name": TASKS[0].agent_tools()[0]["function"]["name"], "arguments": json.dumps({"x": "y" * (1 << 20)})}}]}
    assert "over the limit" in refused(413, server.step, opened.session_id, huge).error
    chunked = (f"POST /sessions/{opened.session_id}/step HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
               "Content-Type: application/json\r\nConnection: close\r\n\r\n").encode()
    body = json.dumps({"message": huge}).encode()
    for i in range(0, len(body), 60000):
        part = body[i:i + 60000]
        chunked += f"{len(part):x}\r\n".encode() + part + b"\r\n"
    status, reply = raw(server, chunked + b"0\r\n\r\n")
    assert status == 413 and "over the limit" in reply["error"]
    assert server.state(opened.session_id).turn == 0
    server.close(opened.session_id)


def test_turn_order_retries_and_finished_episodes(server):
    task = TASKS[1]
    opened = server.start(task.id, seed=4)
    act = policy_act(reference_policy("oracle"), task, 4)
    messages, turn, first = list(opened.messages), 0, None
    refused(409, server.score, opened.session_id)  # not finished yet
    refused(409, server.step, opened.session_id, ASK, turn=5)  # ahead of the episode
    while True:
        reply = act(messages, opened.tools)
        out = server.step(opened.session_id, reply, turn)
        first = first or out
        messages += [reply, *out.observations]
        turn += 1
        if out.done:
            break
    assert server.step(opened.session_id, ASK, turn=0) == first  # a retry gets the recorded answer
    assert "episode is over" in refused(409, server.step, opened.session_id, ASK).error
    scored = server.score(opened.session_id)
    assert scored.reward == 1.0 and server.score(opened.session_id) == scored
    server.close(opened.session_id)


def test_client_disconnect_mid_step_leaves_a_consistent_session(server):
    opened = server.start(TASKS[0].id, seed=9)
    path = f"/sessions/{opened.session_id}/step"
    body = json.dumps({"message": ASK, "turn": 0}).encode()
    raw(server, post(path, body)[:-10], read=False)  # hangs up half-way through the body
    time.sleep(0.2)
    assert server.state(opened.session_id).turn == 0
    raw(server, post(path, body), read=False)  # sends it whole, hangs up before the answer
    deadline = time.time() + 10
    while server.state(opened.session_id).turn == 0 and time.time() < deadline:
        time.sleep(0.05)
    state = server.state(opened.session_id)
    assert state.turn == 1
    again = server.step(opened.session_id, ASK, turn=0)  # the retry is answered from the record
    assert again.observations == state.messages[3:]
    assert server.step(opened.session_id, ASK, turn=1).turn == 1
    server.close(opened.session_id)


def test_idle_sessions_expire_and_sessions_are_bounded():
    with background(build_app(TASKS, limits=ServeLimits(max_sessions=2, idle_s=0.3))) as url:
        client = ServeClient(url)
        a = client.start(TASKS[0].id)
        time.sleep(1.0)
        assert "expired" in refused(404, client.step, a.session_id, ASK).error
        b, c = client.start(TASKS[0].id), client.start(TASKS[1].id)
        assert "in play" in refused(429, client.start, TASKS[0].id).error
        client.step(b.session_id, {"role": "assistant", "content": "<answer>done</answer>"})
        d = client.start(TASKS[0].id)  # b is finished: evicted to make room
        refused(404, client.state, b.session_id)
        assert client.state(c.session_id).turn == 0 and client.state(d.session_id).turn == 0


def test_token_and_bind_rules():
    check_bind("127.0.0.1", None)
    check_bind("localhost", None)
    with pytest.raises(BindRefused, match="without a token"):
        check_bind("0.0.0.0", None)
    check_bind("0.0.0.0", "secret")
    with background(build_app(TASKS, token="secret")) as url:
        refused(401, ServeClient(url).tasks)
        refused(401, ServeClient(url, token="wrong").tasks)
        assert ServeClient(url, token="secret").tasks().total == 2
        status, body = raw(ServeClient(url), b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert status == 200 and body["status"] == "ok"


def test_cli_refuses_a_public_bind_without_token(tmp_path):
    tasks = tmp_path / "tasks.jsonl"
    write_jsonl(tasks, TASKS)
    command = [sys.executable, "-c", CLI, "serve", "--tasks", str(tasks), "--host", "0.0.0.0"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, env=_env())
    assert done.returncode != 0 and "without a token" in done.stderr + done.stdout


def _env() -> dict:
    src = str(Path(__file__).resolve().parents[2] / "src")
    return {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spawn(tasks: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", CLI, "serve", "--tasks", str(tasks),
                             "--port", str(port)], env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    client, deadline = ServeClient(f"http://127.0.0.1:{port}", timeout=5), time.time() + 60
    while time.time() < deadline:
        try:
            client.tasks()
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"server did not come up: {proc.stderr.read().decode()[-2000:]}")


def test_killed_server_restarts_and_the_client_replays_to_the_same_state(tmp_path):
    tasks, port, task = tmp_path / "tasks.jsonl", _free_port(), TASKS[0]
    write_jsonl(tasks, TASKS)
    proc = _spawn(tasks, port)
    try:
        client = ServeClient(f"http://127.0.0.1:{port}")
        opened = client.start(task.id, seed=7)
        act = policy_act(reference_policy("oracle"), task, 7)
        messages, sent = list(opened.messages), []
        for turn in range(2):
            reply = act(messages, opened.tools)
            messages += [reply, *client.step(opened.session_id, reply, turn).observations]
            sent.append(reply)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        proc = _spawn(tasks, port)
        client.close_connection()
        assert "server restarted" in refused(404, client.step, opened.session_id, ASK).error
        # resume: episodes are deterministic in (task, seed), so replaying the sent messages rebuilds the state
        fresh = client.start(task.id, seed=7)
        replayed = list(fresh.messages)
        for turn, reply in enumerate(sent):
            replayed += [reply, *client.step(fresh.session_id, reply, turn).observations]
        assert replayed == messages
        turn = len(sent)
        while True:
            reply = act(replayed, fresh.tools)
            out = client.step(fresh.session_id, reply, turn)
            replayed += [reply, *out.observations]
            turn += 1
            if out.done:
                break
        assert client.score(fresh.session_id).reward == 1.0
    finally:
        proc.kill()
        proc.wait(10)
