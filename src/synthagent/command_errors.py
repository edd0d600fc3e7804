"""How every command reports bad input: one red ``error:`` line on stderr and exit code 2, never a traceback.

Each package's command module (``reward/cli.py``, ``commands/synth_llm.py``, ``train/cli.py`` …) calls
:func:`fail`, so every command says errors the same way and exits with the same code. Messages carry user
text (paths, options, ids), so they are escaped: ``[/]`` in a file name prints as itself, never as markup.
"""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

console = Console(stderr=True, emoji=False)  # user text like "openai:x:" must not become an emoji


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one error line and exit with ``code`` (2: bad input)."""
    console.print(f"[bold red]error:[/] {escape(message)}", markup=True, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def note(message: str, style: str = "yellow") -> None:
    """One line to stderr in `style`; the text is escaped, so `[/]` in a path prints as itself."""
    console.print(f"[{style}]{escape(message)}[/]", highlight=False, soft_wrap=True)
