"""A broker already running at HOST:PORT on this machine (or NAME=HOST:PORT, to give it a
stable name for its results and baseline files): aimed at as it is, never started or stopped
by us.  Its version is unknown to us; what it accepts is probed by the suite."""

from __future__ import annotations

from pathlib import Path

from conformance.target import TargetError, check_loopback, parse_address
from interop.brokers import BrokerUnavailable, RunningBroker


class ExternalBroker:
    description = "a broker already running on this machine"

    def __init__(self, spec: str) -> None:
        name, _, address = spec.rpartition("=")
        self.name = name or address
        self.address = address
        self.host, self.port = parse_address(address)
        check_loopback(self.host)
        if not 0 < self.port < 65536:
            raise TargetError(f"port {self.port} is not a TCP port")

    def available(self) -> str | None:
        return None

    def version(self) -> str:
        return f"broker at {self.address} (version not known)"

    def start(self, workdir: Path) -> RunningBroker:
        import socket

        try:
            socket.create_connection((self.host, self.port), timeout=3).close()
        except OSError as exc:
            raise BrokerUnavailable(f"nothing answers at {self.address}: "
                                    f"{exc.strerror or exc}") from None
        return RunningBroker(self.name, self.version(), self.port, host=self.host)
