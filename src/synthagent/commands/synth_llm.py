"""``synthagent synth llm``: the SynthAgent pipeline against any OpenAI-compatible endpoint.

Mounted by the main command with ``register(synth_app)``; also runnable on its own as
``python -m synthagent.commands.synth_llm llm ...``. Importing this module is cheap: the pipeline (and the
``openai`` SDK under it) is imported only when the command runs.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from synthagent.command_errors import console, fail


EXIT_INCOMPLETE = 3
EXIT_INTERRUPTED = 130


def register(synth_app: typer.Typer) -> None:
    """Add the ``llm`` command to the ``synth`` sub-app."""
    synth_app.command("llm")(synth_llm)


def synth_llm(
    config: Path = typer.Option(..., help="LLM YAML config; roles teacher, user and tool are used "
                                          "(each may have its own model and endpoint)."),
    out: Path = typer.Option(..., help="Output folder: tasks.jsonl, rejected.jsonl, summary.json, state/. "
                                       "Rerun the same command to resume."),
    personas: Optional[Path] = typer.Option(None, help="Persona Hub-style JSONL ({\"persona\": \"...\"} per line); "
                                                       "default: the shipped set."),
    n: Optional[int] = typer.Option(None, min=1, help="Tasks to attempt (default: one per persona; more walks the "
                                                      "personas again with the next seed)."),
    concurrency: int = typer.Option(64, min=1, help="Tasks in flight, and model calls in flight (split across "
                                                    "--workers; per shard with --backend ray)."),
    workers: int = typer.Option(1, min=1, help="Local processes for the asyncio backend: one event loop tops out "
                                               "near 1,000 calls/s; use more for fast endpoints."),
    seed: int = typer.Option(0, help="Base seed: with the persona it determines each task's id."),
    runs: int = typer.Option(3, min=1, help="Teacher runs per task in stage D."),
    max_turns: int = typer.Option(16, min=1, help="Agent turns per teacher run."),
    dedup_threshold: float = typer.Option(0.8, min=0.01, max=1.0,
                                          help="Jaccard similarity at which a task is a near-duplicate."),
    cache: Optional[Path] = typer.Option(None, help="LLM response cache (default: the config's cache_path, "
                                                    "else OUT/cache.sqlite)."),
    backend: str = typer.Option("asyncio", help="asyncio (one process) or ray (shards over a Ray cluster)."),
    ray_address: Optional[str] = typer.Option(None, help="Ray cluster address (--backend ray; default: RAY_ADDRESS, "
                                                          "else a cluster on this machine, else a new local one)."),
    shards: Optional[int] = typer.Option(None, min=1, help="Ray shards (default: the cluster's CPU count)."),
    ray_retries: int = typer.Option(3, min=0, help="Times Ray reruns a shard whose process or node died (it resumes "
                                                   "from its state files) before the shard counts as lost."),
    quiet: bool = typer.Option(False, help="No progress bar and no summary table."),
    strict: bool = typer.Option(False, "--strict", help="A bad --personas line fails the command (default: skipped "
                                                        "and listed in OUT/personas.rejects.jsonl)."),
    exclude_near: Optional[str] = typer.Option(None, help="Benchmarks (tau2, bfcl, comma-separated) whose near-copies "
                                                          "are moved to rejected.jsonl with the reason."),
    exclude_threshold: float = typer.Option(0.5, min=0.01, max=1.0, help="Jaccard at which --exclude-near drops."),
    policy_trees: bool = typer.Option(False, "--policy-trees", help="Stage P: a branching policy tree per task, "
                                                                     "sampled on its legal or illegal request "
                                                                     "(adversarial user)."),
) -> None:
    """Synthesize tasks with a teacher model: persona → task and tools → underspecified instruction →
    tool check → teacher runs in simulation → rubric → quality gate. Resumable; see docs/synthesis.md."""
    from synthagent.llm.config import ConfigError, load_config
    from synthagent.spec.io import FormatError, RejectsLog
    from synthagent.synth.llm.personas import load_personas
    from synthagent.synth.llm.options import SynthOptions
    from synthagent.synth.llm.pipeline import run_pipeline
    from synthagent.synth.llm.processes import run_processes
    from synthagent.synth.llm.ray_backend import RayUnavailable, run_ray
    from synthagent.synth.llm.state import ManifestMismatch

    if backend not in ("asyncio", "ray"):
        fail(f"--backend must be asyncio or ray, got {backend!r}")
    try:
        cfg = load_config(config)
        rejects = RejectsLog()
        persona_list = load_personas(personas, on_reject=None if strict else rejects.add)
    except (ConfigError, FormatError, FileNotFoundError, ValueError) as exc:
        fail(str(exc))
    if len(rejects):
        listed = rejects.write(out / "personas.rejects.jsonl")
        typer.echo(f"personas: {rejects.summary()}; listed in {listed}", err=True)
    if cache is not None:
        cfg = cfg.model_copy(update={"cache_path": cache})
    options = SynthOptions(n=n, seed=seed, concurrency=concurrency, runs=runs, max_turns=max_turns,
                           dedup_threshold=dedup_threshold, policy_trees=policy_trees)
    total = n or len(persona_list)
    with _progress_bar(total, quiet) as on_progress:
        try:
            if backend == "ray":
                summary = run_ray(cfg, persona_list, out, options, address=ray_address, shards=shards,
                                  max_retries=ray_retries, on_progress=on_progress)
            elif workers > 1:
                summary = run_processes(cfg, persona_list, out, options, workers=workers, on_progress=on_progress)
            else:
                summary = asyncio.run(run_pipeline(cfg, persona_list, out, options, on_progress=on_progress))
        except KeyboardInterrupt:
            console.print(f"[yellow]interrupted[/]: progress is saved in {out}; rerun the same command to resume")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except (RayUnavailable, ManifestMismatch, ConfigError, FormatError, ValueError) as exc:
            fail(str(exc))
    if exclude_near:
        _exclude_near(out, exclude_near, exclude_threshold, summary)
    if not quiet:
        print_summary(summary)
    console.print(f"{summary['accepted']} tasks in {out / 'tasks.jsonl'}, {summary['discarded']} discarded with "
                  f"reasons in {out / 'rejected.jsonl'}; summary in {out / 'summary.json'}")
    if not summary["complete"]:
        why = {"budget": "the token budget is spent",
               "endpoint_errors": f"{summary['unit_errors']} task(s) failed on endpoint errors "
                                  f"(first: {summary['first_errors'][0]['error'] if summary['first_errors'] else '?'})",
               "shard_lost": "a Ray shard was lost (its process or node died more often than --ray-retries)",
               "worker_died": "a worker process died",
               }.get(summary["stopped"] or "", "the run stopped early")
        console.print(f"[yellow]incomplete[/]: {why}; {summary['units'] - summary['committed']} task(s) left. "
                      "Rerun the same command to resume.")
        raise typer.Exit(EXIT_INCOMPLETE)


def _exclude_near(out: Path, against: str, threshold: float, summary: dict[str, Any]) -> None:
    from synthagent.integrations.contamination import ContaminationError, exclude_near, parse_against

    try:
        excluded = exclude_near(out, parse_against(against), threshold)
    except ContaminationError as exc:
        fail(str(exc))
    summary["accepted"] -= len(excluded)
    summary["discarded"] += len(excluded)
    summary["excluded_near_benchmark"] = len(excluded)
    for row in excluded:
        console.print(f"excluded {row.task_id}: {'; '.join(row.reasons)}", markup=False, highlight=False)


class _progress_bar:
    """A rich progress bar fed by the pipeline's progress callback (a no-op when quiet)."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.total, self.quiet = total, quiet
        self.bar: Any = None

    def __enter__(self) -> Any:
        if self.quiet:
            return None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(TextColumn("[bold]synth llm"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            TextColumn("{task.fields[status]}"), console=console)
        self.bar.__enter__()
        job = self.bar.add_task("synth", total=self.total, status="")

        def update(p: Any) -> None:
            self.bar.update(job, completed=p.finished, total=p.total,
                            status=f"accepted {p.accepted} · discarded {p.discarded}"
                                   + (f" · errors {p.errors}" if p.errors else "")
                                   + f" · {p.tokens:,} tokens · {p.calls:,} calls")

        return update

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


def print_summary(summary: dict[str, Any]) -> None:
    table = Table("stage", "entered", "discarded", "rate", "reasons", "repaired replies",
                  "teacher tokens / accepted task",
                  title=f"{summary['accepted']} accepted of {summary['committed']} "
                        f"({summary['discard_rate']:.1%} discarded)")
    per_task = summary["teacher_tokens_per_accepted_task"]
    labels = {label.split(".")[0]: label for label in per_task if label != "total"}
    for stage, row in summary["funnel"].items():
        kinds = ", ".join(f"{k} {v}" for k, v in row["kinds"].items()) or "-"
        tokens = per_task.get(labels.get(stage, ""), None)
        table.add_row(f"{stage} {row['name']}", str(row["entered"]), str(row["discarded"]),
                      f"{row['discard_rate']:.1%}", kinds, str(row["repaired_replies"]),
                      f"{tokens:,.0f}" if tokens is not None else "-")
    total = per_task.get("total")
    table.add_row("total", "", str(summary["discarded"]), f"{summary['discard_rate']:.1%}", "", "",
                  f"{total:,.0f}" if total is not None else "-")
    console.print(table)
    session = summary["session"]
    console.print(f"this session: {session['endpoint_calls']:,} endpoint calls ({session['retries']:,} retries, "
                  f"{session['cache_hits']:,} cache hits), {session['tokens_spent']:,} tokens, "
                  f"{session['elapsed_s']:.1f} s")


def main() -> None:  # pragma: no cover - console entry
    app = typer.Typer(add_completion=False, no_args_is_help=True, help="SynthAgent LLM synthesis.")
    register(app)

    @app.callback()
    def _root() -> None:
        """Commands of synthagent.synth.llm."""

    app()


if __name__ == "__main__":  # pragma: no cover
    main()


if __name__ == "__main__":  # guarded: --workers starts processes that re-import the main module
    main()
