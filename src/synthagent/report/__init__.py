"""The HTML report and trajectory viewer: a static site that opens from the file system.

    from synthagent.report import write_report
    index = write_report(tasks, runs, "out/report")   # -> out/report/index.html
"""

from synthagent.report.build import write_report

__all__ = ["write_report"]
