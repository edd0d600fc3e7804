"""`synthagent serve`: the environment server over a task file (docs/serve.md)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from synthagent.command_errors import console, fail
from synthagent.command_inputs import load_tasks


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve_cmd(
        tasks: Path = typer.Option(..., help="Tasks JSONL (any world kind)."),
        config: Optional[Path] = typer.Option(None, help="LLM YAML config (user, tool, judge roles) for simulated "
                                                         "worlds and judged rubric items."),
        host: str = typer.Option("127.0.0.1", help="Bind address; a non-loopback one needs --token."),
        port: int = typer.Option(8000, min=0, max=65535),
        token: Optional[str] = typer.Option(None, envvar="SYNTHAGENT_SERVE_TOKEN",
                                            help="Require 'Authorization: Bearer TOKEN' on every call but /health."),
        max_sessions: int = typer.Option(4096, min=1, help="Open sessions at most; finished ones are evicted first."),
        idle: float = typer.Option(600.0, min=0.1, help="Seconds after which an idle session is closed."),
        max_turns: int = typer.Option(16, min=1, help="Default agent turns per episode."),
        max_body: int = typer.Option(256 * 1024, min=1024, help="Largest request body, in bytes."),
        store_dir: Optional[Path] = typer.Option(None, help="Where the LLM mock tools keep their mapping M."),
    ) -> None:
        """Serve episodes over HTTP to any trainer: start, step with assistant messages, score, close."""
        try:
            import uvicorn

            from synthagent.integrations.server.launch import BindRefused, build_app, check_bind
            from synthagent.integrations.server.store import ServeLimits
        except ImportError as err:
            fail(f"serve needs the 'serve' extra (pip install 'synthagent[serve]'): {err}")
        try:
            check_bind(host, token)
        except BindRefused as err:
            fail(str(err))
        task_list = load_tasks(tasks)
        limits = ServeLimits(max_sessions=max_sessions, idle_s=idle, max_turns=max_turns, max_body_bytes=max_body)
        try:
            application = build_app(task_list, config, store_dir or tasks.parent / "mock-tools", limits=limits,
                                    token=token)
        except ValueError as err:
            fail(str(err))
        console.print(f"serving {len(task_list)} tasks on http://{host}:{port} (OpenAPI: /docs, /openapi.json)"
                      + ("; token required" if token else ""))
        os.environ.setdefault("PYTHONUNBUFFERED", "1")
        uvicorn.run(application, host=host, port=port, log_level="warning", timeout_keep_alive=30)
