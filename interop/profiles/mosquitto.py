"""Eclipse Mosquitto from the Debian package (`apt-get install -y mosquitto`): a config file
written for a TCP and a WebSocket listener on free 127.0.0.1 ports, anonymous access, no
persistence, and an ACL that refuses one topic so the authorisation cases run."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from interop.brokers import BrokerUnavailable, RunningBroker, free_ports, launch

DENIED_TOPIC = "denied/topic"
INSTALL = "install it with: apt-get install -y mosquitto"


def binary() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).exists()),
        None)


class Mosquitto:
    name = "mosquitto"
    description = "Eclipse Mosquitto (Debian package mosquitto)"

    def available(self) -> str | None:
        return None if binary() else f"mosquitto is not installed: {INSTALL}"

    def version(self) -> str:
        path = binary()
        if path is None:
            return "mosquitto (not installed)"
        try:
            out = subprocess.run([path, "-h"], capture_output=True, text=True, timeout=10,
                                 check=False).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        found = re.search(r"mosquitto version (\S+)", out)
        return "mosquitto " + (found.group(1) if found else "(version unknown)")

    def start(self, workdir: Path) -> RunningBroker:
        path = binary()
        if path is None:
            raise BrokerUnavailable(f"mosquitto is not installed: {INSTALL}")
        port, ws_port = free_ports(2)
        workdir.chmod(0o755)  # started as root, mosquitto reads its ACL as user mosquitto
        acl = workdir / "mosquitto.acl"
        acl.write_text("topic readwrite #\ntopic readwrite $mqttlab/#\n"
                       f"topic deny {DENIED_TOPIC}\n", encoding="utf-8")
        conf = workdir / "mosquitto.conf"
        conf.write_text(
            "per_listener_settings false\nallow_anonymous true\npersistence false\n"
            f"log_dest stderr\nacl_file {acl}\n"
            # the WebSocket listener first: once the TCP port answers, both are up
            f"listener {ws_port} 127.0.0.1\nprotocol websockets\n"
            f"listener {port} 127.0.0.1\n", encoding="utf-8")
        process = launch(self.name, [path, "-c", str(conf)], workdir, port)
        return RunningBroker(self.name, self.version(), port, websocket_port=ws_port,
                             denied_topic=DENIED_TOPIC, process=process)


PROFILE = Mosquitto()
