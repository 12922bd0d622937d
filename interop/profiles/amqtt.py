"""amqtt from PyPI (`pip install amqtt==0.12.1`), run as a child process of this Python.

Strategy: a YAML config written into the work directory with a WebSocket and a TCP listener
on free 127.0.0.1 ports (the WebSocket one first: amqtt binds its listeners in the config's
order, so once `launch()` sees the TCP port answer, both are up), anonymous access, and
amqtt's own topic "taboo" plugin, which refuses a fixed list of topics to every user except
"admin"; one of them is the topic the authorisation cases aim at.  amqtt's WebSocket server
accepts any request path, so the suite's "/mqtt" works as it is.  amqtt speaks MQTT 3.1.1 only.
"""

from __future__ import annotations

import importlib.util
import sys
from importlib import metadata
from pathlib import Path

from interop.brokers import HOST, BrokerUnavailable, RunningBroker, free_ports, launch

DENIED_TOPIC = "data/classified"  # in amqtt's TopicTabooPlugin list, refused to non-admins
INSTALL = "pip install amqtt==0.12.1"
MAIN = "from amqtt.scripts.broker_script import main; main()"


def config(port: int, ws_port: int) -> str:
    """amqtt's broker YAML: listeners (WebSocket first) and the plugins it runs."""
    return (
        "listeners:\n"
        "  ws:\n    type: ws\n"
        f"    bind: {HOST}:{ws_port}\n    max_connections: 0\n"
        "  default:\n    type: tcp\n"
        f"    bind: {HOST}:{port}\n    max_connections: 0\n"
        "plugins:\n"
        "  amqtt.plugins.authentication.AnonymousAuthPlugin:\n    allow_anonymous: true\n"
        "  amqtt.plugins.topic_checking.TopicTabooPlugin: {}\n")


class Amqtt:
    name = "amqtt"
    description = "amqtt, an asyncio MQTT broker in Python (PyPI package amqtt)"

    def available(self) -> str | None:
        if importlib.util.find_spec("amqtt") is None:
            return f"amqtt is not installed: {INSTALL}"
        return None

    def version(self) -> str:
        try:
            return "amqtt " + metadata.version("amqtt")
        except metadata.PackageNotFoundError:
            return "amqtt (not installed)"

    def start(self, workdir: Path) -> RunningBroker:
        if (missing := self.available()) is not None:
            raise BrokerUnavailable(missing)
        port, ws_port = free_ports(2)
        conf = workdir / "amqtt.yaml"
        conf.write_text(config(port, ws_port), encoding="utf-8")
        process = launch(self.name, [sys.executable, "-c", MAIN, "-c", str(conf)], workdir, port)
        return RunningBroker(self.name, self.version(), port, websocket_port=ws_port,
                             denied_topic=DENIED_TOPIC, process=process)


PROFILE = Amqtt()
