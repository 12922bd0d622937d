"""The broker profiles, one module per broker: each defines `PROFILE`.

Strategy: the registry imports every module of this package and keys its `PROFILE` by name,
so adding a broker is adding one file.  A name of the form HOST:PORT (or NAME=HOST:PORT) is
not a module but an already running broker (the `external` profile), aimed at as it is.
"""

from __future__ import annotations

import importlib
import pkgutil

from interop.brokers import Profile


class UnknownBroker(ValueError):
    """A broker name that no profile answers to; the message lists the known ones."""


def all_profiles() -> dict[str, Profile]:
    found: dict[str, Profile] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_") or info.name == "external":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        profile: Profile = module.PROFILE
        found[profile.name] = profile
    return found


def profile_for(name: str) -> Profile:
    """The profile called `name`, or an external broker for "[NAME=]HOST:PORT"."""
    if ":" in name:
        from interop.profiles.external import ExternalBroker

        return ExternalBroker(name)
    profiles = all_profiles()
    if name not in profiles:
        raise UnknownBroker(f"unknown broker {name!r}: choose from {', '.join(sorted(profiles))}"
                            " or give HOST:PORT of a running broker")
    return profiles[name]
