"""CONNECT / CONNACK rules that need no connection state: pure functions of packet + config.

Strategy: `refusal()` answers "must this CONNECT be refused, and with which CONNACK code?",
checking the rules in the order the spec lists them, up to the choice of authentication
method (unsupported: 0x8C, MQTT-4.12.0-1); authentication and authorization come next, in
auth.py.  `connack_properties()` builds what an MQTT 5 server declares about itself (MQTT 5
section 3.2.2.3), plus the Authentication Method and Data ending an enhanced authentication.
"""

from __future__ import annotations

from typing import Any

from mqttspec import Connect, Properties
from mqttspec import reason_codes as rc
from reference_broker.config import UNLIMITED_SESSION, BrokerConfig
from reference_broker.trace import Trace

# MQTT 3.x CONNACK return codes (3.1.1 table 3.1; the same numbers in 3.1)
UNACCEPTABLE_PROTOCOL_VERSION = 0x01
IDENTIFIER_REJECTED = 0x02
SERVER_UNAVAILABLE = 0x03


def refusal(c: Connect, config: BrokerConfig, open_connections: int, trace: Trace,
            methods: frozenset[str] = frozenset()) -> int | None:
    """The CONNACK code refusing `c`, or None to go on to authentication (auth.py);
    `methods` are the enhanced authentication methods offered."""
    level = c.protocol_level
    hit = trace.hit
    if open_connections > config.max_connections:
        return SERVER_UNAVAILABLE if level < 5 else rc.SERVER_BUSY
    client_id = c.client_id
    if level == 3 and not 1 <= len(client_id) <= 23:
        # MQTT 3.1 section 3.1: the Client Identifier is 1 to 23 characters
        hit(level, "MQTT-3.1.3-9")
        return IDENTIFIER_REJECTED
    if not client_id:
        if level == 4 and not c.clean_start:
            hit(level, "MQTT-3.1.3-8")  # zero-length ClientId needs CleanSession 1
            return IDENTIFIER_REJECTED
        if not config.allow_zero_length_client_id:
            hit(level, "MQTT-3.1.3-9", "MQTT-3.1.3-8")
            return IDENTIFIER_REJECTED if level < 5 else rc.CLIENT_IDENTIFIER_NOT_VALID
    if 1 <= len(client_id) <= 23 and client_id.isascii() and client_id.isalnum():
        hit(level, "MQTT-3.1.3-5", "MQTT-3.1.3-5")  # such a ClientID is always allowed
    if level < 5:
        return None
    props = c.properties
    if props.authentication_method is not None and props.authentication_method not in methods:
        hit(level, "", "MQTT-4.12.0-1")  # a method the server does not offer
        return rc.BAD_AUTHENTICATION_METHOD
    will = c.will
    if will is not None and will.qos > config.maximum_qos:
        hit(level, "", "MQTT-3.2.2-12")
        return rc.QOS_NOT_SUPPORTED
    if will is not None and will.retain and not config.retain_available:
        hit(level, "", "MQTT-3.2.2-13")
        return rc.RETAIN_NOT_SUPPORTED
    return None


def session_expiry(c: Connect, config: BrokerConfig) -> int:
    """The Session Expiry Interval the server uses for this connection (seconds)."""
    if c.protocol_level == 5:
        requested = c.properties.session_expiry_interval or 0
    else:  # 3.x: CleanSession 1 lasts as long as the connection, 0 until the client resets it
        requested = 0 if c.clean_start else UNLIMITED_SESSION
    return min(requested, config.session_expiry_max)


def connack_properties(c: Connect, config: BrokerConfig, client_id: str, assigned: bool,
                       expiry: int, trace: Trace, auth: Properties | None = None
                       ) -> Properties:
    """What an MQTT 5 server tells the client about itself in a successful CONNACK;
    `auth` holds the Authentication Method and Data closing an enhanced authentication."""
    hit = trace.hit
    props = c.properties
    values: dict[str, Any] = {}
    if auth is not None:
        hit(5, "", "MQTT-4.12.0-5")  # the CONNECT's Authentication Method
        values["authentication_method"] = auth.authentication_method
        values["authentication_data"] = auth.authentication_data
    elif props.authentication_method is None:
        hit(5, "", "MQTT-4.12.0-6")  # no Authentication Method in the CONNACK
    if expiry != (props.session_expiry_interval or 0):
        values["session_expiry_interval"] = expiry
    if config.receive_maximum < 65535:
        values["receive_maximum"] = config.receive_maximum
    if config.maximum_qos < 2:
        hit(5, "", "MQTT-3.2.2-9")
        values["maximum_qos"] = config.maximum_qos
    if not config.retain_available:
        values["retain_available"] = 0
    if config.maximum_packet_size is not None:
        values["maximum_packet_size"] = config.maximum_packet_size
    if assigned:
        hit(5, "", "MQTT-3.2.2-16")
        hit(5, "", "MQTT-3.1.3-7")
        values["assigned_client_identifier"] = client_id
    if config.topic_alias_maximum:
        values["topic_alias_maximum"] = config.topic_alias_maximum
    if not config.wildcard_subscription_available:
        values["wildcard_subscription_available"] = 0
    if not config.subscription_identifier_available:
        values["subscription_identifier_available"] = 0
    if not config.shared_subscription_available:
        values["shared_subscription_available"] = 0
    if config.server_keep_alive is not None:
        values["server_keep_alive"] = config.server_keep_alive
    else:
        hit(5, "", "MQTT-3.2.2-22")  # the client's Keep Alive applies
    if props.request_response_information == 1 and config.response_information is not None:
        values["response_information"] = config.response_information + client_id
    elif not props.request_response_information:
        hit(5, "", "MQTT-3.1.2-28")  # not requested: none returned
    return Properties(**values)
