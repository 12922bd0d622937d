"""Faults in the answer to an unauthorised PUBLISH (MQTT 3.1.1 section 3.3.5)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conformance.faults.base import Patcher, fault
from reference_broker import flows

# publishing outside mqttlab/ is refused; the cases publish to DENIED_TOPIC
DENIED_ACL = str(Path(__file__).with_name("denied.acl"))
DENIED_TOPIC = "denied/topic"


@fault("authz.unauthorised-publish-unanswered",
       "An unauthorised QoS 1/2 PUBLISH is neither acknowledged nor closed on",
       v3="MQTT-3.3.5-2", levels=(3, 4), config={"acl_file": DENIED_ACL},
       target={"denied_topic": DENIED_TOPIC})
def unanswered(p: Patcher) -> None:
    def refused(original: Any, *args: Any) -> None:
        return None  # silence: the client waits for an acknowledgement forever

    p.wrap(flows, "_publish_refused", refused)
