"""Request / response (MQTT 5 sections 3.1.2.11.6, 3.2.2.3.15, 3.3.2.3.5, 3.3.2.3.6, 4.10).

Strategy: a real exchange with three clients.  The requester subscribes to its Response Topic
(non-ASCII, so a forwarded string must stay well-formed UTF-8, MQTT-3.3.2-13) and publishes a
request carrying that Response Topic and binary Correlation Data (zero bytes, 0xFF); two
responders at different QoS must receive both unaltered (MQTT-3.3.2-15, -16); one of them
answers on the Response Topic with the Correlation Data, which must come back to the
requester unaltered too.  A Response Topic with wildcards is not allowed (MQTT-3.3.2-14): the
server may refuse the PUBLISH (close the connection, or a failure Reason Code) or drop the
property, but must never send a Response Topic with wildcards on to a subscriber.  Response
Information comes in CONNACK only when the client asked with Request Response Information 1
(MQTT-3.1.2-28); what a server returns when asked is its choice, recorded in a note.
"""

from __future__ import annotations

from conformance.case import CaseContext, case, fail
from conformance.cases.properties_common import (
    answer_or_close,
    publish,
    publishes,
    raw_publish,
    receive,
    subscribe,
)
from conformance.client import BrokerViolation, ClientError
from mqttspec import Properties, Puback, RawProperties

CORRELATION = b"\x00\x01req-42\xfe\xff"


@case("reqresp.request-response-round-trip",
      "Response Topic and Correlation Data reach every subscriber unaltered, and the response "
      "finds its way back",
      v5=("MQTT-3.3.2-15", "MQTT-3.3.2-16", "MQTT-3.3.2-13"), levels=(5,))
def round_trip(ctx: CaseContext) -> None:
    request_topic, response_topic = ctx.topic("service"), ctx.topic("réponse", "client-1 ✓")
    requester = ctx.connected("requester")
    subscribe(requester, response_topic, qos=1)
    responders = []
    for name, qos in (("resp1", 1), ("resp0", 0)):
        c = ctx.connected(name)
        subscribe(c, request_topic, qos=qos)
        responders.append(c)
    publish(requester, request_topic, b"what time is it?", qos=1,
            properties=Properties(response_topic=response_topic, correlation_data=CORRELATION))
    for c in responders:
        request = receive(c, f"{c.name} receives the request")
        if request.properties.response_topic != response_topic:  # MQTT-3.3.2-15
            fail(f"{c.name} receives Response Topic {response_topic!r} unaltered "
                 "(MQTT-3.3.2-15)", f"{request.properties.response_topic!r}")
        if request.properties.correlation_data != CORRELATION:  # MQTT-3.3.2-16
            fail(f"{c.name} receives Correlation Data {CORRELATION!r} unaltered "
                 "(MQTT-3.3.2-16)", f"{request.properties.correlation_data!r}")
    publish(responders[0], response_topic, b"noon", qos=1,
            properties=Properties(correlation_data=CORRELATION))
    response = receive(requester, "the requester receives the response on its Response Topic")
    if response.properties.correlation_data != CORRELATION:  # MQTT-3.3.2-16
        fail(f"the response carries Correlation Data {CORRELATION!r} unaltered "
             "(MQTT-3.3.2-16)", f"{response!r}")
    if response.properties.response_topic is not None:
        fail("no Response Topic on the response (none was published)", f"{response!r}")


@case("reqresp.wildcard-response-topic-never-forwarded",
      "A Response Topic with wildcards is refused or dropped, never sent on to a subscriber",
      v5=("MQTT-3.3.2-14",), levels=(5,))
def wildcard_response_topic(ctx: CaseContext) -> None:
    topic = ctx.topic("req")
    sub = ctx.connected("sub")
    subscribe(sub, topic, qos=1)
    pub = ctx.connected("pub")
    pub.send(raw_publish(topic, RawProperties().add(0x08, ctx.topic("+", "#")), qos=1,
                         payload=b"wildcards"),
             note="PUBLISH QoS 1 with Response Topic '.../+/#' (raw)")
    reply, _ = answer_or_close(ctx, pub, "a Response Topic with wildcards")
    if isinstance(reply, Puback):
        ctx.note(f"PUBACK {reply.reason_code:#04x}")
    try:
        got = publishes(sub.no_publish())
    except BrokerViolation as exc:  # the test client refuses a wildcard Response Topic
            fail("no Response Topic with wildcards sent to a subscriber (MQTT-3.3.2-14)", str(exc))
    except ClientError as exc:
        fail("the subscriber's PINGRESP", str(exc))
    for p in got:
        rt = p.properties.response_topic or ""
        if "+" in rt or "#" in rt:  # MQTT-3.3.2-14
            fail("no Response Topic with wildcards sent to a subscriber (MQTT-3.3.2-14)",
                 f"{p!r}")
        ctx.note(f"the message was delivered with Response Topic {rt!r}")


@case("reqresp.response-information-only-when-requested",
      "CONNACK carries no Response Information unless the client asked for it",
      v5=("MQTT-3.1.2-28",), levels=(5,))
def response_information(ctx: CaseContext) -> None:
    for name, props in (("absent", Properties()),
                        ("zero", Properties(request_response_information=0))):
        c = ctx.connected(name, properties=props)
        assert c.connack is not None
        if c.connack.properties.response_information is not None:  # MQTT-3.1.2-28
            fail(f"no Response Information in the CONNACK to a client whose Request Response "
                 f"Information is {name} (MQTT-3.1.2-28)", f"{c.connack!r}")
        c.disconnect()
    asked = ctx.connected("asked", properties=Properties(request_response_information=1))
    assert asked.connack is not None
    given = asked.connack.properties.response_information
    ctx.note("when asked, the server returned " + (
        f"Response Information {given!r}" if given is not None else "no Response Information"))
