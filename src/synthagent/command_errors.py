"""How every command reports bad input: one red ``error:`` line on stderr and exit code 2, never a traceback.

Each package's command module (``reward/cli.py``, ``synth/llm/cli.py``, ``train/cli.py`` …) calls
:func:`fail`, so every command says errors the same way and exits with the same code.
"""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console

console = Console(stderr=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``message`` as an error and exit with ``code`` (2: bad input)."""
    console.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
    raise typer.Exit(code)
