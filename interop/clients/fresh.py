"""The client scenarios on a broker of their own: started through its profile for them alone.

Strategy: the matrix runs the conformance suite first; a broker with a defect (e.g. one that
sends retained messages to clients that never subscribed to them) would carry the suite's
leftovers into the client scenarios.  So the scenarios get a fresh instance: started in a
temporary work directory, probed for the MQTT versions it accepts, run, and always stopped.
Whatever keeps the broker from running is a status, as in the results of the suite.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.discover import discover
from conformance.target import Target, TargetError
from interop.brokers import BrokerFailed, BrokerUnavailable, Profile
from interop.clients.runner import run_clients


@dataclass
class BrokerClients:
    """The client scenarios' results on one broker, or why there are none."""

    version: str
    status: str  # "ran", "not available", "failed to start"
    reason: str = ""
    refused: dict[str, str] = field(default_factory=dict)  # MQTT version -> why not run
    results: list[dict[str, Any]] = field(default_factory=list)

    def entry(self) -> tuple[str, str, str, list[dict[str, Any]]]:
        """The per-broker tuple `clients_document` takes."""
        return self.version, self.status, self.reason, self.results


def clients_on_fresh_broker(profile: Profile, levels: Sequence[int] | None = None,
                            base: Target | None = None, **options: Any) -> BrokerClients:
    """Start `profile`'s broker, run the client scenarios (`options` go to run_clients),
    stop it."""
    if why := profile.available():
        return BrokerClients("", "not available", why)
    with tempfile.TemporaryDirectory(prefix="mqttlab-clients-") as workdir:
        try:
            broker = profile.start(Path(workdir))
        except BrokerUnavailable as exc:
            return BrokerClients("", "not available", str(exc))
        except BrokerFailed as exc:
            return BrokerClients(profile.version(), "failed to start", str(exc))
        try:
            found = discover(broker.target(base, levels))
            results = run_clients(broker, found.target.levels,
                                  capabilities=found.target.capabilities, **options)
        except TargetError as exc:
            return BrokerClients(broker.version, "failed to start", str(exc))
        finally:
            broker.stop()
    return BrokerClients(broker.version, "ran", "", dict(found.refused), results)
