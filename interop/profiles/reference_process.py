"""The reference broker as a child process (`python -m reference_broker`), same listeners and
ACL as the embedded `reference` profile.

Strategy: what the embedded profile cannot give: the broker's own process, so the fuzzer's
crash and memory oracles (exit status, resident memory over time) apply to it, and a run
measures the broker apart from the tool driving it.  Ports are picked beforehand (TCP and
WebSocket, on 127.0.0.1) and `launch()` waits until the TCP one answers (the broker binds
both in the same start-up step).
"""

from __future__ import annotations

import sys
from pathlib import Path

import reference_broker
from interop.brokers import HOST, RunningBroker, free_ports, launch
from interop.profiles.reference import ACL, DENIED_TOPIC


class ReferenceProcess:
    name = "reference-process"
    description = "the project's reference broker, run as its own process"

    def available(self) -> str | None:
        return None

    def version(self) -> str:
        return reference_broker.version()

    def start(self, workdir: Path) -> RunningBroker:
        acl = workdir / "reference.acl"
        acl.write_text(ACL, encoding="utf-8")
        port, ws_port = free_ports(2)
        root = Path(reference_broker.__file__).resolve().parents[1]
        command = [sys.executable, "-m", "reference_broker", "--host", HOST,
                   "--port", str(port), "--websocket-port", str(ws_port),
                   "--acl-file", str(acl), "--max-connections", "20000"]
        process = launch(self.name, command, workdir, port, cwd=root)
        return RunningBroker(self.name, self.version(), port, websocket_port=ws_port,
                             denied_topic=DENIED_TOPIC, process=process)


PROFILE = ReferenceProcess()
