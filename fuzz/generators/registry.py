"""The class table, case seeds and the endless, deterministic stream of cases.

Strategy: case i of a run gets its own 64-bit seed, a SplitMix64 hash of (run seed, i).  From
that seed alone - by further hashing, never by drawing from the case's rng - come the family
(weighted by the mix), the protocol level and the class; the case's content is then drawn
from `random.Random(case seed)`.  So `make_case(case.seed, case.level, case.generator)`
re-makes any case byte for byte, and choosing a class by name draws the same content as
reaching it through its family.  Class names: "valid", "malformed:<class>", "mutate:<op>",
"sequence:<class>"; a mix may weight families or single classes.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from itertools import count

from fuzz.case import FuzzCase
from fuzz.generators import malformed, malformed_props, mutate, sequences, valid
from fuzz.generators.base import Make

M64 = (1 << 64) - 1
LEVELS = (3, 4, 5)
FAMILIES = ("valid", "malformed", "mutate", "sequence")
DEFAULT_MIX: dict[str, float] = {"valid": 0.25, "malformed": 0.35, "mutate": 0.30,
                                 "sequence": 0.10}
_FAMILY, _LEVEL, _CLASS = 0x5EED_FA11, 0x1E7E1, 0xC1A55


@dataclass(frozen=True, slots=True)
class GenClass:
    name: str
    description: str
    make: Make
    levels: tuple[int, ...]


def _table() -> dict[str, GenClass]:
    table = {"valid": GenClass("valid", "valid traffic after CONNECT", valid.make_valid,
                               LEVELS)}
    for name, (desc, breaker, levels) in {**malformed.CLASSES,
                                          **malformed_props.CLASSES}.items():
        table[f"malformed:{name}"] = GenClass(f"malformed:{name}", desc,
                                              malformed.wrap(name, breaker), levels)
    for op, (desc, _) in mutate.OPS.items():
        table[f"mutate:{op}"] = GenClass(f"mutate:{op}", desc, mutate.mutant(op), LEVELS)
    for name, (desc, steps, levels) in sequences.CLASSES.items():
        table[f"sequence:{name}"] = GenClass(f"sequence:{name}", desc, sequences.wrap(steps),
                                             levels)
    return table


TABLE = _table()
CLASS_LEVELS: dict[str, tuple[int, ...]] = {n: c.levels for n, c in TABLE.items()}
_MEMBERS: dict[tuple[str, int], list[str]] = {
    (family, level): [n for n, c in TABLE.items()
                      if n.split(":", 1)[0] == family and level in c.levels]
    for family in FAMILIES for level in LEVELS}


def _maker(name: str) -> Callable[[int, int], FuzzCase]:
    def make(seed: int, level: int) -> FuzzCase:
        return make_case(seed, level, name)
    return make


# name -> (description, function (seed, level) -> FuzzCase), for --list and for direct use
CLASSES: dict[str, tuple[str, Callable[[int, int], FuzzCase]]] = {
    n: (c.description, _maker(n)) for n, c in TABLE.items()}


def _mix64(x: int) -> int:
    """SplitMix64's finaliser: a well-spread 64-bit hash."""
    x = (x + 0x9E37_79B9_7F4A_7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58_476D_1CE4_E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D0_49BB_1331_11EB) & M64
    return x ^ (x >> 31)


def case_seed(seed: int, index: int) -> int:
    """The own seed of case `index` in the run seeded `seed`."""
    return _mix64((seed & M64) ^ _mix64(index & M64))


def _weights(mix: Mapping[str, float] | None, levels: tuple[int, ...]
             ) -> list[tuple[str, float]]:
    chosen = dict(DEFAULT_MIX if mix is None else mix)
    for name, weight in chosen.items():
        if name not in FAMILIES and name not in TABLE:
            raise ValueError(f"unknown generator {name!r} (see fuzz.generators.CLASSES)")
        if weight < 0:
            raise ValueError(f"negative weight for {name!r}")
        if name in TABLE and not set(TABLE[name].levels) & set(levels):
            raise ValueError(f"{name} has no case at levels {levels}")
    total = sum(chosen.values())
    if total <= 0:
        raise ValueError("the mix gives no generator a weight")
    out, acc = [], 0.0
    for name, weight in chosen.items():
        if weight > 0:
            acc += weight / total
            out.append((name, acc))
    return out


def _choose(seed: int, level: int | None, generator: str | None, levels: tuple[int, ...],
            weights: list[tuple[str, float]]) -> tuple[str, int]:
    """(class name, level) for a case seed: hashes of the seed, never its rng."""
    name = generator
    if name is None:
        u = _mix64(seed ^ _FAMILY) / 2.0**64
        name = next((n for n, edge in weights if u < edge), weights[-1][0])
    if name in TABLE:
        allowed = [lv for lv in levels if lv in TABLE[name].levels]
        if level is not None:
            if level not in TABLE[name].levels:
                raise ValueError(f"{name} has no case at level {level}")
            return name, level
        if not allowed:
            raise ValueError(f"{name} has no case at levels {levels}")
        return name, allowed[_mix64(seed ^ _LEVEL) % len(allowed)]
    if name not in FAMILIES:
        raise ValueError(f"unknown generator {name!r} (see fuzz.generators.CLASSES)")
    chosen = level if level is not None else levels[_mix64(seed ^ _LEVEL) % len(levels)]
    members = _MEMBERS.get((name, chosen), [])
    if not members:
        raise ValueError(f"no {name} class at level {chosen}")
    return members[_mix64(seed ^ _CLASS) % len(members)], chosen


def _build(seed: int, level: int, name: str) -> FuzzCase:
    built = TABLE[name].make(random.Random(seed), level, seed)
    return FuzzCase(seed=seed, level=level, frames=built.frames, connect=built.connect,
                    generator=name, malformation=built.malformation,
                    statements=built.statements, expect=built.expect)


_DEFAULT_WEIGHTS = _weights(None, LEVELS)


def make_case(seed: int, level: int | None = None, generator: str | None = None) -> FuzzCase:
    """One case from its own seed: `generator` is a class name, a family name or None (then
    the default mix chooses), `level` 3, 4, 5 or None (then the seed chooses)."""
    seed &= M64
    if level is not None and level not in LEVELS:
        raise ValueError(f"protocol level must be 3, 4 or 5, not {level!r}")
    name, chosen = _choose(seed, level, generator, LEVELS, _DEFAULT_WEIGHTS)
    return _build(seed, chosen, name)


def generate(seed: int, *, levels: tuple[int, ...] = LEVELS,
             mix: Mapping[str, float] | None = None) -> Iterator[FuzzCase]:
    """The endless stream of cases of a run (take what you need with itertools.islice)."""
    levels = tuple(levels)
    if not levels or any(lv not in LEVELS for lv in levels):
        raise ValueError(f"levels must be among 3, 4, 5, not {levels!r}")
    weights = _weights(mix, levels)
    for index in count():
        s = case_seed(seed, index)
        name, level = _choose(s, None, None, levels, weights)
        yield _build(s, level, name)
