"""The versioned prompt template of each stage, and the label its teacher calls are counted under.

Templates are files in ``prompts/`` beside this module. A changed prompt gets a new file and version in
:data:`PROMPT_VERSIONS`, never an in-place edit, so every task records exactly which prompts made it
(``Task.source.params["prompts"]``) and a resumed run refuses a folder made with other prompts.
"""

from __future__ import annotations

import string
from functools import lru_cache
from importlib import resources
from typing import Any

PROMPT_VERSIONS: dict[str, str] = {
    "A": "a_task.v1",
    "B": "b_underspecify.v1",
    "C": "c_toolcheck.v1",
    "E": "e_rubric.v3",
}
"""The template each stage uses (stage D plays episodes and F is a programmatic gate: no template)."""

STAGE_LABELS: dict[str, str] = {"A": "A.task", "B": "B.underspecify", "C": "C.toolcheck", "P": "P.policy_tree", "D": "D.solve",
                                "E": "E.rubric"}
"""The ``stage=`` label of each stage's teacher calls in :attr:`LLMClient.usage_by_stage`."""


@lru_cache(maxsize=None)
def load_prompt(version: str) -> string.Template:
    """The template ``prompts/<version>.txt`` (``$name`` placeholders; ``$$`` is a literal dollar)."""
    text = resources.files("synthagent.synth.llm").joinpath("prompts", f"{version}.txt").read_text(encoding="utf-8")
    return string.Template(text)


def render(stage: str, **fields: Any) -> str:
    """Stage ``stage``'s prompt with every placeholder filled; a missing field is a KeyError (a bug)."""
    return load_prompt(PROMPT_VERSIONS[stage]).substitute({k: str(v) for k, v in fields.items()})
