"""Faulty variants of the reference broker, to prove that each conformance case can fail.

`load_faults()` imports every module of this package (one per area of the spec, each
declaring its faults with `@fault`) and returns the registry.
"""

from __future__ import annotations

import importlib
import pkgutil

from conformance.faults.base import FAULTS, Fault, Patcher, fault


def load_faults() -> dict[str, Fault]:
    for info in pkgutil.iter_modules(__path__):
        if info.name != "base":
            importlib.import_module(f"{__name__}.{info.name}")
    return FAULTS


__all__ = ["FAULTS", "Fault", "Patcher", "fault", "load_faults"]
