"""The reference broker, in-process on 127.0.0.1 (TCP and WebSocket listeners on ports the OS
picks), with an ACL that refuses one topic so the authorisation cases run."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from interop.brokers import RunningBroker

DENIED_TOPIC = "denied/topic"
ACL = "# every case's topics live under mqttlab/; the rest is refused\ntopic readwrite mqttlab/#\n"


class ReferenceBroker:
    name = "reference"
    description = "the project's reference broker (embedded, always available)"

    def available(self) -> str | None:
        return None

    def version(self) -> str:
        try:
            return "mqtt-conformance-lab " + metadata.version("mqtt-conformance-lab")
        except metadata.PackageNotFoundError:
            return "mqtt-conformance-lab (not installed)"

    def start(self, workdir: Path) -> RunningBroker:
        from conformance.embedded import start_reference

        acl = workdir / "reference.acl"
        acl.write_text(ACL, encoding="utf-8")
        broker = start_reference(acl_file=str(acl))
        return RunningBroker(self.name, self.version(), broker.port,
                             websocket_port=broker.ports.get("ws"), denied_topic=DENIED_TOPIC,
                             stop_hook=broker.stop)


PROFILE = ReferenceBroker()
