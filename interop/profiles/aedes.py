"""aedes from npm (pinned in interop/node/package.json), run by Node.js through our small
start script interop/node/aedes_broker.mjs.

Strategy: the script takes a free 127.0.0.1 port picked here, listens on 127.0.0.1 only,
refuses publishing to one topic (its authorizePublish hook; DENIED_TOPIC below must match
the script's) and stops on SIGTERM.  No WebSocket listener: aedes has no WebSocket server of
its own, so its WebSocket cases are NOT APPLICABLE.  Which MQTT versions it accepts is probed
(aedes 1.x: 3.1 and 3.1.1); its version is read from its package.json in node_modules.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from interop.brokers import BrokerUnavailable, RunningBroker, free_port, launch

NODE_DIR = Path(__file__).resolve().parent.parent / "node"
SCRIPT = NODE_DIR / "aedes_broker.mjs"
MODULES = NODE_DIR / "node_modules"
PACKAGE = MODULES / "aedes" / "package.json"
NEEDED = ("aedes",)  # what the start script imports
NODE_MAJOR = 20
DENIED_TOPIC = "denied/topic"  # refused by the script's authorizePublish hook
INSTALL = f"aedes is not installed: npm ci --prefix interop/node (needs Node.js >= {NODE_MAJOR})"


def node_major(node: str) -> int | None:
    """The major version of `node`, None when it cannot be read."""
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=10,
                             check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.match(r"v(\d+)\.", out.strip())
    return int(found.group(1)) if found else None


class AedesBroker:
    name = "aedes"
    description = "aedes, a stream-based MQTT broker for Node.js (npm package aedes)"

    def available(self) -> str | None:
        node = shutil.which("node")
        if node is None or not all((MODULES / name).is_dir() for name in NEEDED):
            return INSTALL
        major = node_major(node)
        if major is not None and major < NODE_MAJOR:
            return f"aedes needs Node.js >= {NODE_MAJOR}; {node} is version {major}"
        return None

    def version(self) -> str:
        try:
            found = json.loads(PACKAGE.read_text(encoding="utf-8")).get("version")
        except (OSError, ValueError):
            found = None
        return f"aedes {found}" if isinstance(found, str) else "aedes (version unknown)"

    def start(self, workdir: Path) -> RunningBroker:
        if (missing := self.available()) is not None:
            raise BrokerUnavailable(missing)
        node = shutil.which("node") or "node"
        port = free_port()
        process = launch(self.name, [node, str(SCRIPT), str(port)], workdir, port)
        return RunningBroker(self.name, self.version(), port, denied_topic=DENIED_TOPIC,
                             process=process)


PROFILE = AedesBroker()
