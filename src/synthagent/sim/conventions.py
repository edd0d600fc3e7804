"""Deprecated import path, kept only for ``reward/checks.py`` (being rewritten on another branch): the
confirmation conventions live in :mod:`synthagent.sim.confirmation`, :func:`mentions` in
:mod:`synthagent.spec.mentions`. Delete this module once nothing imports it."""

from synthagent.sim.confirmation import AFFIRMATIVE, CONFIRM_CUES, asks_confirmation
from synthagent.spec.mentions import mentions

__all__ = ["AFFIRMATIVE", "CONFIRM_CUES", "asks_confirmation", "mentions"]
