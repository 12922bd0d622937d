"""mqttspec: the MQTT wire layer (3.1, 3.1.1, 5.0) and the spec as data.

Sans-IO: `Decoder.feed(bytes)` then iterate packets; `encode(packet) -> bytes`.  Every way the
peer can break the spec raises `ProtocolViolation` (statement IDs + MQTT 5 reason code).
`raw` builds any bytes, valid or not; `catalogue` holds the 392 normative statements.
Imports nothing outside the standard library.
"""

from mqttspec.decoder import Decoder, decode_packet
from mqttspec.encoder import encode
from mqttspec.errors import EncodeError, ProtocolViolation
from mqttspec.packets import (
    PACKET_CLASSES,
    Auth,
    Connack,
    Connect,
    Disconnect,
    Packet,
    Pingreq,
    Pingresp,
    Puback,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
    Suback,
    Subscribe,
    Subscription,
    Unsuback,
    Unsubscribe,
    Will,
)
from mqttspec.properties import NO_PROPERTIES, PROPERTIES, Properties
from mqttspec.raw import RawPacket, RawProperties, raw_string, raw_vbi
from mqttspec.types import MQTT_3_1, MQTT_3_1_1, MQTT_5, PacketType

__all__ = [
    "MQTT_3_1", "MQTT_3_1_1", "MQTT_5", "NO_PROPERTIES", "PACKET_CLASSES", "PROPERTIES", "Auth",
    "Connack", "Connect", "Decoder", "Disconnect", "EncodeError", "Packet", "PacketType",
    "Pingreq", "Pingresp", "Properties", "ProtocolViolation", "Puback", "Pubcomp", "Publish",
    "Pubrec", "Pubrel", "RawPacket", "RawProperties", "Suback", "Subscribe", "Subscription",
    "Unsuback", "Unsubscribe", "Will", "decode_packet", "encode", "raw_string", "raw_vbi",
]
