"""The fuzzer's case generators, built from the wire package's own tables.

Four families, each a set of named classes (`CLASSES`, for `--list`):
- valid: a well-behaved client's traffic after CONNECT (valid.py);
- malformed: one named malformation each, refused by mqttspec's Decoder, the statement IDs
  taken from its refusal (malformed.py, malformed_props.py, on the shapes of shapes.py);
- mutate: blind mutations of valid traffic, judged by the decoder (mutate.py);
- sequence: valid packets in the wrong order or state (sequences.py).
Every case's expectation comes from one judge (expect.py).  Cases are deterministic from a
seed (registry.py): `generate(seed)` is the endless stream of a run, `make_case(case.seed,
case.level, case.generator)` re-makes one case alone.
"""

from fuzz.generators.base import GeneratorError
from fuzz.generators.expect import Capabilities, Needs, Verdict, judge, refine
from fuzz.generators.registry import (
    CLASS_LEVELS,
    CLASSES,
    DEFAULT_MIX,
    FAMILIES,
    case_seed,
    generate,
    make_case,
)

__all__ = [
    "CLASSES", "CLASS_LEVELS", "DEFAULT_MIX", "FAMILIES", "Capabilities", "GeneratorError",
    "Needs", "Verdict", "case_seed", "generate", "judge", "make_case", "refine",
]
