"""The reference broker, in-process on 127.0.0.1 (TCP and WebSocket listeners on ports the OS
picks), with an ACL that refuses one topic so the authorisation cases run."""

from __future__ import annotations

from pathlib import Path

import reference_broker
from interop.brokers import RunningBroker

# Rules only grant, so the refused topic is a '$' name that '#' does not match (MQTT-4.7.2-1);
# the cases' own '$' topics live under $mqttlab/.
DENIED_TOPIC = "$denied/topic"
ACL = "topic readwrite #\ntopic readwrite $mqttlab/#\n"


class ReferenceBroker:
    name = "reference"
    description = "the project's reference broker (embedded, always available)"

    def available(self) -> str | None:
        return None

    def version(self) -> str:
        return reference_broker.version()

    def start(self, workdir: Path) -> RunningBroker:
        from conformance.embedded import start_reference

        acl = workdir / "reference.acl"
        acl.write_text(ACL, encoding="utf-8")
        broker = start_reference(acl_file=str(acl))
        return RunningBroker(self.name, self.version(), broker.port,
                             websocket_port=broker.ports.get("ws"), denied_topic=DENIED_TOPIC,
                             stop_hook=broker.stop)


PROFILE = ReferenceBroker()
