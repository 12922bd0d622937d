"""Hand-written byte vectors for well-formed packets: MQTT 3.1, 3.1.1 and 5.0.

Every vector below was written by hand from the OASIS specifications (MQTT 3.1.1 chapters 2-3,
MQTT 5.0 chapters 2-3; MQTT 3.1 from the IBM/Eurotech 3.1 document), one field per line with
its decoding next to it.  None of them was produced by `mqttspec.encode` or the raw builder.

Each vector is checked twice:
* the decoder turns the bytes into exactly the packet written by hand next to them, and
* the strict encoder turns that packet back into exactly these bytes (CANONICAL vectors).
Where the spec allows several encodings of one packet (MQTT 5 acks and DISCONNECT short forms,
properties in another order, the unused CONNACK byte of 3.1) the extra forms are in
ALTERNATIVE: they must decode to the same packet, while the encoder writes the shortest form.
"""

from __future__ import annotations

import random

import pytest

from mqttspec import (
    PROPERTIES,
    Auth,
    Connack,
    Connect,
    Decoder,
    Disconnect,
    PacketType,
    Pingreq,
    Pingresp,
    Properties,
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
    decode_packet,
    encode,
)

V31, V311, V5 = 3, 4, 5
CLIENT, SERVER, EITHER = "client", "server", None  # who may send the packet
P = Properties
KV = (("k", "v"),)  # the User Property most vectors carry: 26 00 01 6b 00 01 76


def hexb(*fields: str) -> bytes:
    """Literal hex bytes, one field per argument (whitespace ignored)."""
    return bytes.fromhex("".join(fields))


def vec(name: str, level: int, sender: str | None, expected: object, *fields: str):
    return pytest.param(hexb(*fields), level, sender, expected, id=name)


# ---------------------------------------------------------------------------------------------
# MQTT 3.1 (protocol name "MQIsdp", level 3)
# ---------------------------------------------------------------------------------------------

V31_VECTORS = [
    vec("31-connect", V31, CLIENT,
        Connect(client_id="c", keep_alive=60, protocol_level=3),
        "10 0f",                     # CONNECT, Remaining Length 15
        "00 06 4d 51 49 73 64 70",   # Protocol Name "MQIsdp"
        "03",                        # Protocol Version 3
        "02",                        # Connect Flags: Clean Session
        "00 3c",                     # Keep Alive 60 s
        "00 01 63"),                 # Client Identifier "c"
    vec("31-connect-user-password", V31, CLIENT,
        Connect(client_id="c", keep_alive=60, username="u", password=b"p", protocol_level=3),
        "10 15",                     # CONNECT, Remaining Length 21
        "00 06 4d 51 49 73 64 70",   # Protocol Name "MQIsdp"
        "03",                        # Protocol Version 3
        "c2",                        # Connect Flags: User Name, Password, Clean Session
        "00 3c",                     # Keep Alive 60
        "00 01 63",                  # Client Identifier "c"
        "00 01 75",                  # User Name "u"
        "00 01 70"),                 # Password "p"
    vec("31-connect-will", V31, CLIENT,
        Connect(client_id="c", keep_alive=60, protocol_level=3,
                will=Will(topic="w", payload=b"x", qos=1, retain=True)),
        "10 15",                     # CONNECT, Remaining Length 21
        "00 06 4d 51 49 73 64 70",   # Protocol Name "MQIsdp"
        "03",                        # Protocol Version 3
        "2e",                        # Flags: Will Retain, Will QoS 1, Will Flag, Clean Session
        "00 3c",                     # Keep Alive 60
        "00 01 63",                  # Client Identifier "c"
        "00 01 77",                  # Will Topic "w"
        "00 01 78"),                 # Will Message "x"
    vec("31-connack", V31, SERVER,
        Connack(protocol_level=3),
        "20 02",                     # CONNACK, Remaining Length 2
        "00",                        # (unused in 3.1)
        "00"),                       # Return Code 0: accepted
    vec("31-connack-refused", V31, SERVER,
        Connack(reason_code=2, protocol_level=3),
        "20 02",                     # CONNACK, Remaining Length 2
        "00",                        # (unused)
        "02"),                       # Return Code 2: identifier rejected
    vec("31-publish-qos1", V31, EITHER,
        Publish(topic="a/b", payload=b"hi", qos=1, packet_id=10, protocol_level=3),
        "32 09",                     # PUBLISH, QoS 1, Remaining Length 9
        "00 03 61 2f 62",            # Topic Name "a/b"
        "00 0a",                     # Message ID 10
        "68 69"),                    # payload "hi"
    vec("31-puback", V31, EITHER,
        Puback(packet_id=10, protocol_level=3),
        "40 02",                     # PUBACK, Remaining Length 2
        "00 0a"),                    # Message ID 10
    vec("31-pubrec", V31, EITHER,
        Pubrec(packet_id=10, protocol_level=3),
        "50 02",                     # PUBREC, Remaining Length 2
        "00 0a"),                    # Message ID 10
    vec("31-pubrel", V31, EITHER,
        Pubrel(packet_id=10, protocol_level=3),
        "62 02",                     # PUBREL, QoS 1 (flags 0010), Remaining Length 2
        "00 0a"),                    # Message ID 10
    vec("31-pubrel-dup", V31, EITHER,
        Pubrel(packet_id=10, protocol_level=3, dup=True),
        "6a 02",                     # PUBREL, DUP + QoS 1 (flags 1010): a re-sent PUBREL
        "00 0a"),                    # Message ID 10
    vec("31-pubcomp", V31, EITHER,
        Pubcomp(packet_id=10, protocol_level=3),
        "70 02",                     # PUBCOMP, Remaining Length 2
        "00 0a"),                    # Message ID 10
    vec("31-subscribe", V31, CLIENT,
        Subscribe(packet_id=11, subscriptions=(Subscription(topic_filter="#"),),
                  protocol_level=3),
        "82 06",                     # SUBSCRIBE, QoS 1 (flags 0010), Remaining Length 6
        "00 0b",                     # Message ID 11
        "00 01 23",                  # Topic Filter "#"
        "00"),                       # Requested QoS 0
    vec("31-subscribe-dup", V31, CLIENT,
        Subscribe(packet_id=11, subscriptions=(Subscription(topic_filter="#"),),
                  protocol_level=3, dup=True),
        "8a 06",                     # SUBSCRIBE, DUP + QoS 1 (flags 1010), Remaining Length 6
        "00 0b",                     # Message ID 11
        "00 01 23",                  # Topic Filter "#"
        "00"),                       # Requested QoS 0
    vec("31-suback", V31, SERVER,
        Suback(packet_id=11, reason_codes=(0,), protocol_level=3),
        "90 03",                     # SUBACK, Remaining Length 3
        "00 0b",                     # Message ID 11
        "00"),                       # Granted QoS 0
    vec("31-unsubscribe", V31, CLIENT,
        Unsubscribe(packet_id=12, topic_filters=("#",), protocol_level=3),
        "a2 05",                     # UNSUBSCRIBE, QoS 1 (flags 0010), Remaining Length 5
        "00 0c",                     # Message ID 12
        "00 01 23"),                 # Topic Filter "#"
    vec("31-unsubscribe-dup", V31, CLIENT,
        Unsubscribe(packet_id=12, topic_filters=("#",), protocol_level=3, dup=True),
        "aa 05",                     # UNSUBSCRIBE, DUP + QoS 1 (flags 1010), Remaining Length 5
        "00 0c",                     # Message ID 12
        "00 01 23"),                 # Topic Filter "#"
    vec("31-unsuback", V31, SERVER,
        Unsuback(packet_id=12, protocol_level=3),
        "b0 02",                     # UNSUBACK, Remaining Length 2
        "00 0c"),                    # Message ID 12
    vec("31-pingreq", V31, CLIENT, Pingreq(protocol_level=3),
        "c0 00"),                    # PINGREQ, Remaining Length 0
    vec("31-pingresp", V31, SERVER, Pingresp(protocol_level=3),
        "d0 00"),                    # PINGRESP, Remaining Length 0
    vec("31-disconnect", V31, CLIENT, Disconnect(protocol_level=3),
        "e0 00"),                    # DISCONNECT, Remaining Length 0
]

# ---------------------------------------------------------------------------------------------
# MQTT 3.1.1 (protocol name "MQTT", level 4)
# ---------------------------------------------------------------------------------------------

V311_VECTORS = [
    vec("311-connect", V311, CLIENT,
        Connect(client_id="c", keep_alive=60),
        "10 0d",                     # CONNECT, Remaining Length 13
        "00 04 4d 51 54 54",         # Protocol Name "MQTT"
        "04",                        # Protocol Level 4
        "02",                        # Connect Flags: CleanSession
        "00 3c",                     # Keep Alive 60
        "00 01 63"),                 # Client Identifier "c"
    vec("311-connect-empty-client-id", V311, CLIENT,
        Connect(client_id="", keep_alive=0),
        "10 0c",                     # CONNECT, Remaining Length 12
        "00 04 4d 51 54 54",         # Protocol Name "MQTT"
        "04",                        # Protocol Level 4
        "02",                        # Connect Flags: CleanSession (required with empty id)
        "00 00",                     # Keep Alive 0 (off)
        "00 00"),                    # Client Identifier "" (zero-length)
    vec("311-connect-persistent-session", V311, CLIENT,
        Connect(client_id="c", clean_start=False, keep_alive=60),
        "10 0d",                     # CONNECT, Remaining Length 13
        "00 04 4d 51 54 54",         # Protocol Name "MQTT"
        "04",                        # Protocol Level 4
        "00",                        # Connect Flags: none (CleanSession 0)
        "00 3c",                     # Keep Alive 60
        "00 01 63"),                 # Client Identifier "c"
    vec("311-connect-will-user-password", V311, CLIENT,
        Connect(client_id="cid", keep_alive=10, username="user", password=b"pwd",
                will=Will(topic="w/t", payload=b"bye!", qos=1, retain=True)),
        "10 25",                     # CONNECT, Remaining Length 37
        "00 04 4d 51 54 54",         # Protocol Name "MQTT"
        "04",                        # Protocol Level 4
        "ee",                        # Flags: User Name, Password, Will Retain, Will QoS 1,
                                     #        Will Flag, CleanSession (1110 1110)
        "00 0a",                     # Keep Alive 10
        "00 03 63 69 64",            # Client Identifier "cid"
        "00 03 77 2f 74",            # Will Topic "w/t"
        "00 04 62 79 65 21",         # Will Message "bye!"
        "00 04 75 73 65 72",         # User Name "user"
        "00 03 70 77 64"),           # Password "pwd"
    vec("311-connack", V311, SERVER,
        Connack(),
        "20 02",                     # CONNACK, Remaining Length 2
        "00",                        # Connect Acknowledge Flags: Session Present 0
        "00"),                       # Return Code 0: accepted
    vec("311-connack-session-present", V311, SERVER,
        Connack(session_present=True),
        "20 02",                     # CONNACK, Remaining Length 2
        "01",                        # Session Present 1
        "00"),                       # Return Code 0
    vec("311-connack-not-authorized", V311, SERVER,
        Connack(reason_code=5),
        "20 02",                     # CONNACK, Remaining Length 2
        "00",                        # Session Present 0
        "05"),                       # Return Code 5: not authorized
    vec("311-publish-qos0", V311, EITHER,
        Publish(topic="a/b", payload=b"hi"),
        "30 07",                     # PUBLISH, QoS 0, Remaining Length 7
        "00 03 61 2f 62",            # Topic Name "a/b"
        "68 69"),                    # payload "hi"
    vec("311-publish-qos1", V311, EITHER,
        Publish(topic="a/b", payload=b"hi", qos=1, packet_id=10),
        "32 09",                     # PUBLISH, QoS 1, Remaining Length 9
        "00 03 61 2f 62",            # Topic Name "a/b"
        "00 0a",                     # Packet Identifier 10
        "68 69"),                    # payload "hi"
    vec("311-publish-qos2-dup-retain", V311, EITHER,
        Publish(topic="t", qos=2, retain=True, dup=True, packet_id=0x1234),
        "3d 05",                     # PUBLISH, DUP 1, QoS 2, RETAIN 1 (1101), Remaining Length 5
        "00 01 74",                  # Topic Name "t"
        "12 34"),                    # Packet Identifier 0x1234; zero-length payload
    vec("311-publish-retain-empty", V311, EITHER,
        Publish(topic="t", retain=True),
        "31 03",                     # PUBLISH, QoS 0, RETAIN 1, Remaining Length 3
        "00 01 74"),                 # Topic Name "t"; zero-length payload (clears retained)
    vec("311-publish-bom-kept", V311, EITHER,
        Publish(topic="a\ufeffb"),
        "30 07",                     # PUBLISH, QoS 0, Remaining Length 7
        "00 05 61 ef bb bf 62"),     # Topic Name "a" U+FEFF "b" (MQTT-1.5.3-3: kept)
    vec("311-publish-dollar-topic", V311, EITHER,
        Publish(topic="$SYS/x", payload=b"\x00\xff"),
        "30 0a",                     # PUBLISH, QoS 0, Remaining Length 10
        "00 06 24 53 59 53 2f 78",   # Topic Name "$SYS/x"
        "00 ff"),                    # payload 00 ff (binary, not checked)
    vec("311-puback", V311, EITHER,
        Puback(packet_id=10),
        "40 02",                     # PUBACK, Remaining Length 2
        "00 0a"),                    # Packet Identifier 10
    vec("311-pubrec", V311, EITHER,
        Pubrec(packet_id=10),
        "50 02",                     # PUBREC, Remaining Length 2
        "00 0a"),                    # Packet Identifier 10
    vec("311-pubrel", V311, EITHER,
        Pubrel(packet_id=10),
        "62 02",                     # PUBREL, flags 0010, Remaining Length 2
        "00 0a"),                    # Packet Identifier 10
    vec("311-pubcomp", V311, EITHER,
        Pubcomp(packet_id=0xffff),
        "70 02",                     # PUBCOMP, Remaining Length 2
        "ff ff"),                    # Packet Identifier 65535
    vec("311-subscribe", V311, CLIENT,
        Subscribe(packet_id=11, subscriptions=(Subscription(topic_filter="a/+", qos=1),
                                               Subscription(topic_filter="#", qos=2))),
        "82 0c",                     # SUBSCRIBE, flags 0010, Remaining Length 12
        "00 0b",                     # Packet Identifier 11
        "00 03 61 2f 2b",            # Topic Filter "a/+"
        "01",                        # Requested QoS 1
        "00 01 23",                  # Topic Filter "#"
        "02"),                       # Requested QoS 2
    vec("311-subscribe-share-is-plain-filter", V311, CLIENT,
        Subscribe(packet_id=1, subscriptions=(Subscription(topic_filter="$share//a"),)),
        "82 0e",                     # SUBSCRIBE, flags 0010, Remaining Length 14
        "00 01",                     # Packet Identifier 1
        "00 09 24 73 68 61 72 65 2f 2f 61",  # Topic Filter "$share//a" (no shares in 3.1.1)
        "00"),                       # Requested QoS 0
    vec("311-suback", V311, SERVER,
        Suback(packet_id=11, reason_codes=(1, 2, 0x80)),
        "90 05",                     # SUBACK, Remaining Length 5
        "00 0b",                     # Packet Identifier 11
        "01 02 80"),                 # Return Codes: QoS 1, QoS 2, Failure
    vec("311-unsubscribe", V311, CLIENT,
        Unsubscribe(packet_id=12, topic_filters=("a/+", "#")),
        "a2 0a",                     # UNSUBSCRIBE, flags 0010, Remaining Length 10
        "00 0c",                     # Packet Identifier 12
        "00 03 61 2f 2b",            # Topic Filter "a/+"
        "00 01 23"),                 # Topic Filter "#"
    vec("311-unsuback", V311, SERVER,
        Unsuback(packet_id=12),
        "b0 02",                     # UNSUBACK, Remaining Length 2
        "00 0c"),                    # Packet Identifier 12
    vec("311-pingreq", V311, CLIENT, Pingreq(),
        "c0 00"),                    # PINGREQ, Remaining Length 0
    vec("311-pingresp", V311, SERVER, Pingresp(),
        "d0 00"),                    # PINGRESP, Remaining Length 0
    vec("311-disconnect", V311, CLIENT, Disconnect(),
        "e0 00"),                    # DISCONNECT, Remaining Length 0
]

# ---------------------------------------------------------------------------------------------
# MQTT 5.0 (protocol name "MQTT", level 5)
# ---------------------------------------------------------------------------------------------

CONNECT_V5_FULL = Connect(
    client_id="cid", keep_alive=60, username="user", password=b"pwd", protocol_level=5,
    properties=P(session_expiry_interval=3600, authentication_method="m1",
                 authentication_data=b"\x01\x02", request_problem_information=0,
                 request_response_information=1, receive_maximum=20, topic_alias_maximum=10,
                 user_properties=KV, maximum_packet_size=1024),
    will=Will(topic="w/t", payload=b"bye", qos=2, retain=False,
              properties=P(payload_format_indicator=1, message_expiry_interval=60,
                           content_type="text/plain", response_topic="resp",
                           correlation_data=b"\xab\xcd", will_delay_interval=5,
                           user_properties=(("a", "b"),))),
)

CONNACK_V5_FULL = Connack(
    protocol_level=5,
    properties=P(session_expiry_interval=120, assigned_client_identifier="abc",
                 server_keep_alive=30, authentication_method="m1", authentication_data=b"\xff",
                 response_information="ri", server_reference="sr", reason_string="ok",
                 receive_maximum=10, topic_alias_maximum=5, maximum_qos=1, retain_available=0,
                 user_properties=KV, maximum_packet_size=65536,
                 wildcard_subscription_available=0, subscription_identifier_available=1,
                 shared_subscription_available=1),
)

PUBLISH_V5_FULL = Publish(
    topic="a/b", payload=b"{}", qos=1, packet_id=7, protocol_level=5,
    properties=P(payload_format_indicator=1, message_expiry_interval=300, content_type="json",
                 response_topic="reply", correlation_data=b"\x01\x02\x03", topic_alias=3,
                 user_properties=(("x", "1"), ("x", "2"), ("a", ""))),
)

V5_VECTORS = [
    vec("5-connect", V5, CLIENT,
        Connect(client_id="c", keep_alive=60, protocol_level=5),
        "10 0e",                     # CONNECT, Remaining Length 14
        "00 04 4d 51 54 54",         # Protocol Name "MQTT"
        "05",                        # Protocol Version 5
        "02",                        # Connect Flags: Clean Start
        "00 3c",                     # Keep Alive 60
        "00",                        # Property Length 0
        "00 01 63"),                 # Client Identifier "c"
    vec("5-connect-all-properties", V5, CLIENT, CONNECT_V5_FULL,
        "10 77",                     # CONNECT, Remaining Length 119
        "00 04 4d 51 54 54",         # Protocol Name "MQTT"
        "05",                        # Protocol Version 5
        "d6",                        # Flags: User Name, Password, Will QoS 2, Will Flag,
                                     #        Clean Start (1101 0110)
        "00 3c",                     # Keep Alive 60
        "25",                        # Property Length 37
        "11 00 00 0e 10",            #   Session Expiry Interval 3600
        "15 00 02 6d 31",            #   Authentication Method "m1"
        "16 00 02 01 02",            #   Authentication Data 01 02
        "17 00",                     #   Request Problem Information 0
        "19 01",                     #   Request Response Information 1
        "21 00 14",                  #   Receive Maximum 20
        "22 00 0a",                  #   Topic Alias Maximum 10
        "26 00 01 6b 00 01 76",      #   User Property ("k", "v")
        "27 00 00 04 00",            #   Maximum Packet Size 1024
        "00 03 63 69 64",            # Client Identifier "cid"
        "2c",                        # Will Property Length 44
        "01 01",                     #   Payload Format Indicator 1 (UTF-8)
        "02 00 00 00 3c",            #   Message Expiry Interval 60
        "03 00 0a 74 65 78 74 2f 70 6c 61 69 6e",  # Content Type "text/plain"
        "08 00 04 72 65 73 70",      #   Response Topic "resp"
        "09 00 02 ab cd",            #   Correlation Data ab cd
        "18 00 00 00 05",            #   Will Delay Interval 5
        "26 00 01 61 00 01 62",      #   User Property ("a", "b")
        "00 03 77 2f 74",            # Will Topic "w/t"
        "00 03 62 79 65",            # Will Payload "bye"
        "00 04 75 73 65 72",         # User Name "user"
        "00 03 70 77 64"),           # Password "pwd"
    vec("5-connect-will-no-properties", V5, CLIENT,
        Connect(client_id="c", protocol_level=5, will=Will(topic="w", qos=1)),
        "10 14",                     # CONNECT, Remaining Length 20
        "00 04 4d 51 54 54",         # Protocol Name "MQTT"
        "05",                        # Protocol Version 5
        "0e",                        # Flags: Will QoS 1, Will Flag, Clean Start
        "00 00",                     # Keep Alive 0
        "00",                        # Property Length 0
        "00 01 63",                  # Client Identifier "c"
        "00",                        # Will Property Length 0
        "00 01 77",                  # Will Topic "w"
        "00 00"),                    # Will Payload: zero length
    vec("5-connect-password-without-username", V5, CLIENT,
        Connect(client_id="", password=b"pw", protocol_level=5),
        "10 11",                     # CONNECT, Remaining Length 17
        "00 04 4d 51 54 54",         # Protocol Name "MQTT"
        "05",                        # Protocol Version 5
        "42",                        # Flags: Password, Clean Start (no User Name: allowed in 5.0)
        "00 00",                     # Keep Alive 0
        "00",                        # Property Length 0
        "00 00",                     # Client Identifier ""
        "00 02 70 77"),              # Password "pw"
    vec("5-connack", V5, SERVER,
        Connack(session_present=True, protocol_level=5),
        "20 03",                     # CONNACK, Remaining Length 3
        "01",                        # Session Present 1
        "00",                        # Reason Code 0x00 Success
        "00"),                       # Property Length 0
    vec("5-connack-all-properties", V5, SERVER, CONNACK_V5_FULL,
        "20 45",                     # CONNACK, Remaining Length 69
        "00",                        # Session Present 0
        "00",                        # Reason Code 0x00 Success
        "42",                        # Property Length 66
        "11 00 00 00 78",            #   Session Expiry Interval 120
        "12 00 03 61 62 63",         #   Assigned Client Identifier "abc"
        "13 00 1e",                  #   Server Keep Alive 30
        "15 00 02 6d 31",            #   Authentication Method "m1"
        "16 00 01 ff",               #   Authentication Data ff
        "1a 00 02 72 69",            #   Response Information "ri"
        "1c 00 02 73 72",            #   Server Reference "sr"
        "1f 00 02 6f 6b",            #   Reason String "ok"
        "21 00 0a",                  #   Receive Maximum 10
        "22 00 05",                  #   Topic Alias Maximum 5
        "24 01",                     #   Maximum QoS 1
        "25 00",                     #   Retain Available 0
        "26 00 01 6b 00 01 76",      #   User Property ("k", "v")
        "27 00 01 00 00",            #   Maximum Packet Size 65536
        "28 00",                     #   Wildcard Subscription Available 0
        "29 01",                     #   Subscription Identifier Available 1
        "2a 01"),                    #   Shared Subscription Available 1
    vec("5-connack-refused-with-reason-string", V5, SERVER,
        Connack(reason_code=0x87, properties=P(reason_string="no"), protocol_level=5),
        "20 08",                     # CONNACK, Remaining Length 8
        "00",                        # Session Present 0
        "87",                        # Reason Code 0x87 Not authorized
        "05",                        # Property Length 5
        "1f 00 02 6e 6f"),           #   Reason String "no"
    vec("5-publish-all-publish-properties", V5, CLIENT, PUBLISH_V5_FULL,
        "32 3d",                     # PUBLISH, QoS 1, Remaining Length 61
        "00 03 61 2f 62",            # Topic Name "a/b"
        "00 07",                     # Packet Identifier 7
        "33",                        # Property Length 51
        "01 01",                     #   Payload Format Indicator 1
        "02 00 00 01 2c",            #   Message Expiry Interval 300
        "03 00 04 6a 73 6f 6e",      #   Content Type "json"
        "08 00 05 72 65 70 6c 79",   #   Response Topic "reply"
        "09 00 03 01 02 03",         #   Correlation Data 01 02 03
        "23 00 03",                  #   Topic Alias 3
        "26 00 01 78 00 01 31",      #   User Property ("x", "1")
        "26 00 01 78 00 01 32",      #   User Property ("x", "2")  (same name: order kept)
        "26 00 01 61 00 00",         #   User Property ("a", "")
        "7b 7d"),                    # payload "{}"
    vec("5-publish-subscription-identifiers", V5, SERVER,
        Publish(topic="s", payload=b"p", protocol_level=5,
                properties=P(subscription_identifiers=(1, 128, 268_435_455))),
        "30 0f",                     # PUBLISH, QoS 0, Remaining Length 15
        "00 01 73",                  # Topic Name "s"
        "0a",                        # Property Length 10
        "0b 01",                     #   Subscription Identifier 1
        "0b 80 01",                  #   Subscription Identifier 128 (2-byte VBI)
        "0b ff ff ff 7f",            #   Subscription Identifier 268,435,455 (4-byte VBI, max)
        "70"),                       # payload "p"
    vec("5-publish-empty-topic-with-alias", V5, EITHER,
        Publish(topic="", payload=b"hi", protocol_level=5, properties=P(topic_alias=3)),
        "30 08",                     # PUBLISH, QoS 0, Remaining Length 8
        "00 00",                     # Topic Name "" (zero length: the alias names the topic)
        "03",                        # Property Length 3
        "23 00 03",                  #   Topic Alias 3
        "68 69"),                    # payload "hi"
    vec("5-publish-bom-kept", V5, EITHER,
        Publish(topic="\ufeffa", protocol_level=5,
                properties=P(user_properties=(("\ufeff", "v"),))),
        "30 10",                     # PUBLISH, QoS 0, Remaining Length 16
        "00 04 ef bb bf 61",         # Topic Name U+FEFF "a" (MQTT-1.5.4-3: not stripped)
        "09",                        # Property Length 9
        "26 00 03 ef bb bf 00 01 76"),  # User Property (U+FEFF, "v")
    vec("5-publish-qos2", V5, EITHER,
        Publish(topic="t", qos=2, packet_id=1, protocol_level=5),
        "34 06",                     # PUBLISH, QoS 2, Remaining Length 6
        "00 01 74",                  # Topic Name "t"
        "00 01",                     # Packet Identifier 1
        "00"),                       # Property Length 0; zero-length payload
    vec("5-puback-short", V5, EITHER,
        Puback(packet_id=1, protocol_level=5),
        "40 02",                     # PUBACK, Remaining Length 2: Reason 0x00, no properties
        "00 01"),                    # Packet Identifier 1
    vec("5-puback-reason-only", V5, EITHER,
        Puback(packet_id=1, reason_code=0x10, protocol_level=5),
        "40 03",                     # PUBACK, Remaining Length 3: no Property Length
        "00 01",                     # Packet Identifier 1
        "10"),                       # Reason Code 0x10 No matching subscribers
    vec("5-puback-properties", V5, EITHER,
        Puback(packet_id=1, reason_code=0x80, protocol_level=5,
               properties=P(reason_string="nope", user_properties=KV)),
        "40 12",                     # PUBACK, Remaining Length 18
        "00 01",                     # Packet Identifier 1
        "80",                        # Reason Code 0x80 Unspecified error
        "0e",                        # Property Length 14
        "1f 00 04 6e 6f 70 65",      #   Reason String "nope"
        "26 00 01 6b 00 01 76"),     #   User Property ("k", "v")
    vec("5-pubrec-short", V5, EITHER,
        Pubrec(packet_id=2, protocol_level=5),
        "50 02",                     # PUBREC, Remaining Length 2
        "00 02"),                    # Packet Identifier 2
    vec("5-pubrec-reason-only", V5, EITHER,
        Pubrec(packet_id=2, reason_code=0x10, protocol_level=5),
        "50 03",                     # PUBREC, Remaining Length 3
        "00 02",                     # Packet Identifier 2
        "10"),                       # Reason Code 0x10 No matching subscribers
    vec("5-pubrec-properties", V5, EITHER,
        Pubrec(packet_id=2, reason_code=0x91, protocol_level=5,
               properties=P(reason_string="busy")),
        "50 0b",                     # PUBREC, Remaining Length 11
        "00 02",                     # Packet Identifier 2
        "91",                        # Reason Code 0x91 Packet Identifier in use
        "07",                        # Property Length 7
        "1f 00 04 62 75 73 79"),     #   Reason String "busy"
    vec("5-pubrel-short", V5, EITHER,
        Pubrel(packet_id=3, protocol_level=5),
        "62 02",                     # PUBREL, flags 0010, Remaining Length 2
        "00 03"),                    # Packet Identifier 3
    vec("5-pubrel-reason-only", V5, EITHER,
        Pubrel(packet_id=3, reason_code=0x92, protocol_level=5),
        "62 03",                     # PUBREL, Remaining Length 3
        "00 03",                     # Packet Identifier 3
        "92"),                       # Reason Code 0x92 Packet Identifier not found
    vec("5-pubrel-properties", V5, EITHER,
        Pubrel(packet_id=3, reason_code=0x92, protocol_level=5,
               properties=P(reason_string="gone")),
        "62 0b",                     # PUBREL, Remaining Length 11
        "00 03",                     # Packet Identifier 3
        "92",                        # Reason Code 0x92
        "07",                        # Property Length 7
        "1f 00 04 67 6f 6e 65"),     #   Reason String "gone"
    vec("5-pubcomp-short", V5, EITHER,
        Pubcomp(packet_id=4, protocol_level=5),
        "70 02",                     # PUBCOMP, Remaining Length 2
        "00 04"),                    # Packet Identifier 4
    vec("5-pubcomp-reason-only", V5, EITHER,
        Pubcomp(packet_id=4, reason_code=0x92, protocol_level=5),
        "70 03",                     # PUBCOMP, Remaining Length 3
        "00 04",                     # Packet Identifier 4
        "92"),                       # Reason Code 0x92
    vec("5-pubcomp-properties", V5, EITHER,
        Pubcomp(packet_id=4, protocol_level=5, properties=P(user_properties=KV)),
        "70 0b",                     # PUBCOMP, Remaining Length 11
        "00 04",                     # Packet Identifier 4
        "00",                        # Reason Code 0x00 Success (needed: properties follow)
        "07",                        # Property Length 7
        "26 00 01 6b 00 01 76"),     #   User Property ("k", "v")
    vec("5-subscribe-options", V5, CLIENT,
        Subscribe(packet_id=5, protocol_level=5,
                  properties=P(subscription_identifiers=(42,), user_properties=KV),
                  subscriptions=(
                      Subscription(topic_filter="a/b", qos=1),
                      Subscription(topic_filter="c/#", qos=2, no_local=True,
                                   retain_as_published=True, retain_handling=1),
                      Subscription(topic_filter="$share/g/d", retain_handling=2),
                      Subscription(topic_filter="+", qos=1, retain_as_published=True,
                                   retain_handling=2))),
        "82 29",                     # SUBSCRIBE, flags 0010, Remaining Length 41
        "00 05",                     # Packet Identifier 5
        "09",                        # Property Length 9
        "0b 2a",                     #   Subscription Identifier 42
        "26 00 01 6b 00 01 76",      #   User Property ("k", "v")
        "00 03 61 2f 62",            # Topic Filter "a/b"
        "01",                        #   Options: QoS 1
        "00 03 63 2f 23",            # Topic Filter "c/#"
        "1e",                        #   Options 0001 1110: Retain Handling 1, Retain As
                                     #   Published, No Local, QoS 2
        "00 0a 24 73 68 61 72 65 2f 67 2f 64",  # Topic Filter "$share/g/d"
        "20",                        #   Options 0010 0000: Retain Handling 2, QoS 0
        "00 01 2b",                  # Topic Filter "+"
        "29"),                       #   Options 0010 1001: Retain Handling 2, RAP, QoS 1
    vec("5-suback", V5, SERVER,
        Suback(packet_id=5, reason_codes=(0,), protocol_level=5),
        "90 04",                     # SUBACK, Remaining Length 4
        "00 05",                     # Packet Identifier 5
        "00",                        # Property Length 0
        "00"),                       # Reason Code 0x00 Granted QoS 0
    vec("5-suback-properties", V5, SERVER,
        Suback(packet_id=5, reason_codes=(1, 2, 0x9E, 0xA2), protocol_level=5,
               properties=P(reason_string="ok")),
        "90 0c",                     # SUBACK, Remaining Length 12
        "00 05",                     # Packet Identifier 5
        "05",                        # Property Length 5
        "1f 00 02 6f 6b",            #   Reason String "ok"
        "01 02 9e a2"),              # QoS 1, QoS 2, Shared Subs not supported, Wildcards not
    vec("5-unsubscribe", V5, CLIENT,
        Unsubscribe(packet_id=6, topic_filters=("a/b", "$share/g/d"), protocol_level=5,
                    properties=P(user_properties=KV)),
        "a2 1b",                     # UNSUBSCRIBE, flags 0010, Remaining Length 27
        "00 06",                     # Packet Identifier 6
        "07",                        # Property Length 7
        "26 00 01 6b 00 01 76",      #   User Property ("k", "v")
        "00 03 61 2f 62",            # Topic Filter "a/b"
        "00 0a 24 73 68 61 72 65 2f 67 2f 64"),  # Topic Filter "$share/g/d"
    vec("5-unsuback", V5, SERVER,
        Unsuback(packet_id=6, reason_codes=(0, 0x11), protocol_level=5,
                 properties=P(reason_string="x")),
        "b0 09",                     # UNSUBACK, Remaining Length 9
        "00 06",                     # Packet Identifier 6
        "04",                        # Property Length 4
        "1f 00 01 78",               #   Reason String "x"
        "00 11"),                    # Success, No subscription existed
    vec("5-unsuback-minimal", V5, SERVER,
        Unsuback(packet_id=6, reason_codes=(0,), protocol_level=5),
        "b0 04",                     # UNSUBACK, Remaining Length 4
        "00 06",                     # Packet Identifier 6
        "00",                        # Property Length 0
        "00"),                       # Success
    vec("5-pingreq", V5, CLIENT, Pingreq(protocol_level=5),
        "c0 00"),                    # PINGREQ, Remaining Length 0
    vec("5-pingresp", V5, SERVER, Pingresp(protocol_level=5),
        "d0 00"),                    # PINGRESP, Remaining Length 0
    vec("5-disconnect-short", V5, EITHER, Disconnect(protocol_level=5),
        "e0 00"),                    # DISCONNECT, Remaining Length 0: 0x00 Normal, no props
    vec("5-disconnect-reason-only", V5, CLIENT,
        Disconnect(reason_code=0x04, protocol_level=5),
        "e0 01",                     # DISCONNECT, Remaining Length 1 (no Property Length)
        "04"),                       # Reason 0x04 Disconnect with Will Message (client only)
    vec("5-disconnect-client-properties", V5, CLIENT,
        Disconnect(protocol_level=5,
                   properties=P(session_expiry_interval=10, reason_string="bye",
                                user_properties=KV)),
        "e0 14",                     # DISCONNECT, Remaining Length 20
        "00",                        # Reason Code 0x00 Normal disconnection
        "12",                        # Property Length 18
        "11 00 00 00 0a",            #   Session Expiry Interval 10 (a client may send it)
        "1f 00 03 62 79 65",         #   Reason String "bye"
        "26 00 01 6b 00 01 76"),     #   User Property ("k", "v")
    vec("5-disconnect-server-reference", V5, SERVER,
        Disconnect(reason_code=0x9C, protocol_level=5,
                   properties=P(server_reference="host2")),
        "e0 0a",                     # DISCONNECT, Remaining Length 10
        "9c",                        # Reason Code 0x9C Use another server (server only)
        "08",                        # Property Length 8
        "1c 00 05 68 6f 73 74 32"),  #   Server Reference "host2"
    vec("5-auth-short", V5, SERVER, Auth(),
        "f0 00"),                    # AUTH, Remaining Length 0: 0x00 Success, no properties
    vec("5-auth-continue", V5, EITHER,
        Auth(reason_code=0x18,
             properties=P(authentication_method="SCRAM", authentication_data=b"\x01\x02\x03",
                          reason_string="go", user_properties=KV)),
        "f0 1c",                     # AUTH, Remaining Length 28
        "18",                        # Reason Code 0x18 Continue authentication
        "1a",                        # Property Length 26
        "15 00 05 53 43 52 41 4d",   #   Authentication Method "SCRAM"
        "16 00 03 01 02 03",         #   Authentication Data 01 02 03
        "1f 00 02 67 6f",            #   Reason String "go"
        "26 00 01 6b 00 01 76"),     #   User Property ("k", "v")
    vec("5-auth-reauthenticate", V5, CLIENT,
        Auth(reason_code=0x19, properties=P(authentication_method="m1")),
        "f0 07",                     # AUTH, Remaining Length 7
        "19",                        # Reason Code 0x19 Re-authenticate (client only)
        "05",                        # Property Length 5
        "15 00 02 6d 31"),           #   Authentication Method "m1"
    vec("5-auth-success-with-method", V5, SERVER,
        Auth(properties=P(authentication_method="m1")),
        "f0 07",                     # AUTH, Remaining Length 7
        "00",                        # Reason Code 0x00 Success (server only)
        "05",                        # Property Length 5
        "15 00 02 6d 31"),           #   Authentication Method "m1"
]

CANONICAL = V31_VECTORS + V311_VECTORS + V5_VECTORS

# Other encodings of the same packets, which the spec allows: decode only.
ALTERNATIVE = [
    vec("31-connack-first-byte-unused", V31, SERVER,
        Connack(protocol_level=3),
        "20 02",                     # CONNACK, Remaining Length 2
        "01",                        # first byte: unused in 3.1, so no Session Present
        "00"),                       # Return Code 0
    vec("5-puback-rl3-success", V5, EITHER,
        Puback(packet_id=1, protocol_level=5),
        "40 03",                     # PUBACK, Remaining Length 3
        "00 01",                     # Packet Identifier 1
        "00"),                       # Reason Code 0x00 (Property Length absent: 0)
    vec("5-puback-rl4-success", V5, EITHER,
        Puback(packet_id=1, protocol_level=5),
        "40 04",                     # PUBACK, Remaining Length 4
        "00 01",                     # Packet Identifier 1
        "00",                        # Reason Code 0x00
        "00"),                       # Property Length 0
    vec("5-puback-rl4-reason", V5, EITHER,
        Puback(packet_id=1, reason_code=0x10, protocol_level=5),
        "40 04",                     # PUBACK, Remaining Length 4
        "00 01",                     # Packet Identifier 1
        "10",                        # Reason Code 0x10
        "00"),                       # Property Length 0
    vec("5-pubrec-rl4-success", V5, EITHER,
        Pubrec(packet_id=2, protocol_level=5),
        "50 04",                     # PUBREC, Remaining Length 4
        "00 02",                     # Packet Identifier 2
        "00",                        # Reason Code 0x00
        "00"),                       # Property Length 0
    vec("5-pubrel-rl3-success", V5, EITHER,
        Pubrel(packet_id=3, protocol_level=5),
        "62 03",                     # PUBREL, Remaining Length 3
        "00 03",                     # Packet Identifier 3
        "00"),                       # Reason Code 0x00
    vec("5-pubrel-rl4-reason", V5, EITHER,
        Pubrel(packet_id=3, reason_code=0x92, protocol_level=5),
        "62 04",                     # PUBREL, Remaining Length 4
        "00 03",                     # Packet Identifier 3
        "92",                        # Reason Code 0x92
        "00"),                       # Property Length 0
    vec("5-pubcomp-rl4-success", V5, EITHER,
        Pubcomp(packet_id=4, protocol_level=5),
        "70 04",                     # PUBCOMP, Remaining Length 4
        "00 04",                     # Packet Identifier 4
        "00",                        # Reason Code 0x00
        "00"),                       # Property Length 0
    vec("5-disconnect-rl1-normal", V5, EITHER,
        Disconnect(protocol_level=5),
        "e0 01",                     # DISCONNECT, Remaining Length 1
        "00"),                       # Reason Code 0x00 (Property Length absent: 0)
    vec("5-disconnect-rl2-normal", V5, EITHER,
        Disconnect(protocol_level=5),
        "e0 02",                     # DISCONNECT, Remaining Length 2
        "00",                        # Reason Code 0x00
        "00"),                       # Property Length 0
    vec("5-disconnect-rl2-reason", V5, CLIENT,
        Disconnect(reason_code=0x04, protocol_level=5),
        "e0 02",                     # DISCONNECT, Remaining Length 2
        "04",                        # Reason Code 0x04
        "00"),                       # Property Length 0
    vec("5-publish-properties-other-order", V5, EITHER,
        Publish(topic="t", protocol_level=5,
                properties=P(payload_format_indicator=1, topic_alias=1)),
        "30 09",                     # PUBLISH, QoS 0, Remaining Length 9
        "00 01 74",                  # Topic Name "t"
        "05",                        # Property Length 5
        "23 00 01",                  #   Topic Alias 1 (before the PFI: any order is fine)
        "01 01"),                    #   Payload Format Indicator 1
    vec("5-connect-properties-other-order", V5, CLIENT,
        Connect(client_id="c", protocol_level=5,
                properties=P(receive_maximum=5, session_expiry_interval=1)),
        "10 16",                     # CONNECT, Remaining Length 22
        "00 04 4d 51 54 54",         # Protocol Name "MQTT"
        "05",                        # Protocol Version 5
        "02",                        # Clean Start
        "00 00",                     # Keep Alive 0
        "08",                        # Property Length 8
        "21 00 05",                  #   Receive Maximum 5
        "11 00 00 00 01",            #   Session Expiry Interval 1
        "00 01 63"),                 # Client Identifier "c"
]


def _peers(sender: str | None) -> list[str | None]:
    return [None, sender] if sender else [None, "client", "server"]


@pytest.mark.parametrize(("data", "level", "sender", "expected"), CANONICAL + ALTERNATIVE)
def test_decode(data: bytes, level: int, sender: str | None, expected: object) -> None:
    for peer in _peers(sender):
        assert decode_packet(data, level, peer) == expected


@pytest.mark.parametrize(("data", "level", "sender", "expected"), CANONICAL)
def test_encoder_writes_the_same_bytes(
    data: bytes, level: int, sender: str | None, expected: object
) -> None:
    assert encode(expected).hex(" ") == data.hex(" ")  # type: ignore[arg-type]


@pytest.mark.parametrize(("data", "level", "sender", "expected"), CANONICAL + ALTERNATIVE)
def test_byte_at_a_time(data: bytes, level: int, sender: str | None, expected: object) -> None:
    decoder = Decoder(level, sender)
    got = []
    for i in range(len(data)):
        decoder.feed(data[i : i + 1])
        got += list(decoder)
    assert got == [expected]
    assert decoder.buffered == 0


CONNECT_VECTORS = [p for p in CANONICAL + ALTERNATIVE if isinstance(p.values[3], Connect)]


@pytest.mark.parametrize(("data", "level", "sender", "expected"), CONNECT_VECTORS)
def test_connect_teaches_a_server_the_level(
    data: bytes, level: int, sender: str | None, expected: object
) -> None:
    decoder = Decoder(None, "client")
    decoder.feed(data)
    assert decoder.next_packet() == expected
    assert decoder.protocol_level == level


def test_every_packet_type_in_every_level() -> None:
    seen: dict[int, set[PacketType]] = {V31: set(), V311: set(), V5: set()}
    for param in CANONICAL:
        _, level, _, expected = param.values
        seen[level].add(expected.TYPE)  # type: ignore[attr-defined]
    no_auth = set(PacketType) - {PacketType.AUTH}
    assert seen[V31] == no_auth
    assert seen[V311] == no_auth
    assert seen[V5] == set(PacketType)


def test_every_property_appears() -> None:
    ids: set[int] = set()
    will_ids: set[int] = set()
    for param in CANONICAL + ALTERNATIVE:
        data, level, _, _ = param.values
        packet = decode_packet(data, level)
        properties = getattr(packet, "properties", None)
        if properties is not None:
            ids |= {d.id for d, _ in properties.items()}
        if isinstance(packet, Connect) and packet.will is not None:
            will_ids |= {d.id for d, _ in packet.will.properties.items()}
    assert ids | will_ids == set(PROPERTIES)
    assert len(PROPERTIES) == 27
    # every Will Property (Table 2-4: PFI, MEI, Content Type, Response Topic, Correlation Data,
    # Will Delay Interval, User Property) in the Will Properties of a CONNECT
    assert will_ids == {0x01, 0x02, 0x03, 0x08, 0x09, 0x18, 0x26}


def test_user_properties_keep_their_order() -> None:
    swapped = hexb(
        "30 12",                     # PUBLISH, QoS 0, Remaining Length 18
        "00 01 74",                  # Topic Name "t"
        "0e",                        # Property Length 14
        "26 00 01 78 00 01 32",      #   User Property ("x", "2")
        "26 00 01 78 00 01 31",      #   User Property ("x", "1")
    )
    packet = decode_packet(swapped, V5)
    assert packet.properties.user_properties == (("x", "2"), ("x", "1"))  # type: ignore[union-attr]
    assert encode(packet) == swapped


def test_bom_is_a_character_not_stripped() -> None:
    packet = decode_packet(hexb("30 07", "00 05 61 ef bb bf 62"), V311)  # topic "a" FEFF "b"
    assert isinstance(packet, Publish)
    assert len(packet.topic) == 3 and packet.topic[1] == "\ufeff"


def test_equal_packets_encode_the_same() -> None:
    # Properties() equals NO_PROPERTIES: the shortest form must not depend on which one is used.
    assert encode(Disconnect(properties=Properties(), protocol_level=5)) == hexb("e0 00")
    assert encode(Auth(properties=Properties())) == hexb("f0 00")
    assert encode(Puback(packet_id=1, properties=Properties(), protocol_level=5)) == hexb(
        "40 02 00 01")


# ---------------------------------------------------------------------------------------------
# Remaining Length of 1 to 4 bytes (3.1.1 section 2.2.3, 5.0 section 1.5.5): header by hand
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("length_field", "remaining"),
    [
        ("7f", 127),                 # largest 1-byte value
        ("80 01", 128),              # smallest 2-byte value
        ("cb 01", 203),              # 0x4b + 1*128: topic "a" + 200-byte payload
        ("ff 7f", 16_383),           # largest 2-byte value
        ("80 80 01", 16_384),        # smallest 3-byte value
        ("a3 9c 01", 20_003),        # 0x23 + 0x1c*128 + 1*16384: 20,000-byte payload
        ("ff ff 7f", 2_097_151),     # largest 3-byte value
        ("80 80 80 01", 2_097_152),  # smallest 4-byte value
    ],
    ids=lambda v: str(v).replace(" ", ""),
)
def test_remaining_length_sizes(length_field: str, remaining: int) -> None:
    payload = b"x" * (remaining - 3)
    data = hexb("30", length_field, "00 01 61") + payload  # PUBLISH QoS 0, Topic Name "a"
    expected = Publish(topic="a", payload=payload)
    assert decode_packet(data, V311) == expected
    assert encode(expected) == data


def test_remaining_length_v5_two_bytes() -> None:
    payload = b"x" * 200
    data = hexb(
        "32 ce 01",                  # PUBLISH QoS 1, Remaining Length 206 (0x4e + 1*128)
        "00 01 61",                  # Topic Name "a"
        "00 01",                     # Packet Identifier 1
        "00",                        # Property Length 0
    ) + payload
    expected = Publish(topic="a", payload=payload, qos=1, packet_id=1, protocol_level=5)
    assert decode_packet(data, V5) == expected
    assert encode(expected) == data


def test_largest_remaining_length_waits_for_the_body() -> None:
    decoder = Decoder(V5)
    decoder.feed(hexb("30 ff ff ff 7f"))  # PUBLISH, Remaining Length 268,435,455 (the maximum)
    assert decoder.next_packet() is None
    assert decoder.buffered == 5


# ---------------------------------------------------------------------------------------------
# Incremental decoding: a stream fed whole, byte by byte, and in random chunks
# ---------------------------------------------------------------------------------------------

def _by_id(name: str) -> tuple[bytes, object]:
    for param in CANONICAL + ALTERNATIVE:
        if param.id == name:
            return param.values[0], param.values[3]
    raise KeyError(name)


BIG = b"y" * 20_000
BIG_PUBLISH_V5 = (
    hexb("30 a4 9c 01",              # PUBLISH, QoS 0, Remaining Length 20004 (0x24+0x1c*128+16384)
         "00 01 62",                 # Topic Name "b"
         "00") + BIG,                # Property Length 0; 20,000-byte payload
    Publish(topic="b", payload=BIG, protocol_level=5),
)

STREAMS = {
    # a v5 server reading a client: level learnt from CONNECT
    "v5-from-client": (None, "client", [
        *map(_by_id, ["5-connect-all-properties", "5-publish-all-publish-properties",
                      "5-subscribe-options", "5-puback-rl3-success", "5-pingreq",
                      "5-unsubscribe", "5-auth-reauthenticate"]),
        BIG_PUBLISH_V5,
        _by_id("5-disconnect-client-properties"),
    ]),
    "v5-from-server": (V5, "server", [
        *map(_by_id, ["5-connack-all-properties", "5-publish-subscription-identifiers",
                      "5-suback-properties", "5-unsuback", "5-pubrel-short", "5-pingresp",
                      "5-disconnect-server-reference"]),
    ]),
    "311-from-server": (V311, "server", [
        *map(_by_id, ["311-connack-session-present", "311-publish-qos2-dup-retain",
                      "311-suback", "311-unsuback", "311-pubrel", "311-pingresp"]),
    ]),
    "31-from-client": (None, "client", [
        *map(_by_id, ["31-connect-will", "31-publish-qos1", "31-pubrel-dup",
                      "31-subscribe-dup", "31-unsubscribe-dup", "31-pingreq",
                      "31-disconnect"]),
    ]),
}

@pytest.mark.parametrize("name", list(STREAMS))
def test_stream(name: str) -> None:
    level, peer, items = STREAMS[name]
    stream = b"".join(data for data, _ in items)
    expected = [packet for _, packet in items]

    whole = Decoder(level, peer)
    whole.feed(stream)
    assert list(whole) == expected
    assert whole.buffered == 0

    bytewise = Decoder(level, peer)
    got = []
    for i in range(len(stream)):
        bytewise.feed(stream[i : i + 1])
        got += list(bytewise)
    assert got == expected
    assert bytewise.buffered == 0

    rng = random.Random(name)
    chunked = Decoder(level, peer)
    got, i = [], 0
    while i < len(stream):
        n = rng.randint(1, 64)
        chunked.feed(stream[i : i + n])
        i += n
        got += list(chunked)
    assert got == expected
