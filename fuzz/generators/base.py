"""What one generator class returns, before the registry makes it a FuzzCase.

Strategy: a class is a function of (rng, level, seed) returning `Built`: the frames and the
verdict on them.  The registry (registry.py) derives the rng and level from the case seed and
fills in the rest of the FuzzCase, so any class can be re-run alone from a case's fields.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import NamedTuple

from fuzz.case import Expect


class Built(NamedTuple):
    frames: tuple[bytes, ...]
    expect: Expect
    statements: tuple[str, ...] = ()
    connect: bool = True
    malformation: str = ""


Make = Callable[[random.Random, int, int], Built]  # (rng, level, case seed) -> Built


class GeneratorError(RuntimeError):
    """A generator produced something other than what its class promises (a bug here)."""
