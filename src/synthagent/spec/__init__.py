"""The data model: tasks, rubrics, trajectories, results, and their on-disk formats."""

from synthagent.spec.branches import Branch, PolicyRule, PolicyTree
from synthagent.spec.io import FormatError, JsonlAppender, iter_jsonl, read_jsonl, write_jsonl
from synthagent.spec.models import (
    Check,
    Counters,
    FunctionCall,
    FunctionDef,
    GoldAction,
    InteractionParts,
    ItemVerdict,
    Message,
    PrivateSlot,
    Rejection,
    Rubric,
    RubricItem,
    RubricResult,
    Source,
    Task,
    ToolCall,
    ToolSpec,
    Trajectory,
)

__all__ = [
    "Branch", "Check", "Counters", "FormatError", "FunctionCall", "FunctionDef", "GoldAction", "InteractionParts",
    "ItemVerdict", "JsonlAppender", "Message", "PolicyRule", "PolicyTree", "PrivateSlot", "Rejection", "Rubric", "RubricItem",
    "RubricResult", "Source", "Task", "ToolCall", "ToolSpec", "Trajectory", "iter_jsonl", "read_jsonl", "write_jsonl",
]
