"""MQTT 5 shared subscriptions (section 4.8.2): '$share/{ShareName}/{filter}'.

Strategy: a group of two members (one granted QoS 0, one QoS 1), a second group of one
member and a publisher.  Each message must reach exactly one member of each group, at the
QoS granted to that member; which member gets it is the broker's choice and is recorded.
Then the situations section 4.8.2 settles: a member that refuses a message (PUBACK / PUBREC
0x80) or whose session ends keeps it from every other member; a member whose connection
breaks in the middle of a QoS 2 delivery gets it again when it resumes its session, and no
one else does.  The members are told apart by the copies they received, so no case depends
on the broker's choice.
"""

from __future__ import annotations

from conformance.case import CaseContext, case, fail, not_applicable
from conformance.cases.subscribe_common import (
    end_session,
    expect_refusal,
    require_granted,
    settle,
)
from conformance.client import TestClient, WaitTimeout
from conformance.reactions import expect_violation_close
from mqttspec import Properties, Puback, Publish, Pubrec, RawPacket, Subscribe, Subscription

NEEDS = ("shared_subscriptions",)


def _group(ctx: CaseContext, members: list[TestClient], share: str, topic_filter: str,
           qos: list[int]) -> list[int]:
    codes = []
    for m, q in zip(members, qos, strict=True):
        suback = m.subscribe(f"$share/{share}/{topic_filter}", qos=q)
        require_granted(suback, f"$share/{share}/{topic_filter}")
        codes.append(suback.reason_codes[0])
    return codes


def _collect(members: list[TestClient], want: set[bytes], ack: bool = True
             ) -> list[list[Publish]]:
    """What each member got, once every payload of `want` has come to one of them (bounded
    by one wait per member)."""
    got = [settle(m) if ack else [p for p in m.no_publish() if isinstance(p, Publish)]
           for m in members]
    for m, g in zip(members, got, strict=True):
        while not want <= {p.payload for gg in got for p in gg}:
            try:
                g.append(m.expect_publish(ack=ack))
            except WaitTimeout:
                break
    return got


@case("shared.one-member-per-message",
      "Each message goes to one member of each share group, at that member's granted QoS",
      v5=("MQTT-4.8.2-3",), levels=(5,), needs=NEEDS)
def one_member(ctx: CaseContext) -> None:
    a, b, solo, pub = (ctx.connected(n) for n in ("a", "b", "solo", "pub"))
    f = ctx.topic("s", "+") if ctx.target.capabilities.wildcard_subscriptions else ctx.topic(
        "s", "x")
    codes = _group(ctx, [a, b], "g1", f, [0, 1])
    _group(ctx, [solo], "g2", f, [1])
    sent = [f"m{n}".encode() for n in range(6)]
    for payload in sent:
        pub.publish(ctx.topic("s", "x"), payload, qos=1)
    got = _collect([a, b], set(sent))
    solo_got = _collect([solo], set(sent))[0]
    for payload in sent:
        owners = [(m, p.qos) for m, g in zip("ab", got, strict=True) for p in g
                  if p.payload == payload]
        if len(owners) != 1:  # one member of the group, not none, not both
            fail(f"{payload.decode()} delivered to one member of group g1",
                 f"delivered to {[o for o, _ in owners] or 'none'}")
        member, qos = owners[0]
        want = min(1, codes["ab".index(member)])
        if qos != want:  # MQTT-4.8.2-3: that member's granted QoS
            fail(f"{payload.decode()} at QoS {want}, granted to member {member}",
                 f"QoS {qos}")
    ctx.note(f"group g1: member a got {len(got[0])}, member b got {len(got[1])}")
    if sorted(p.payload for p in solo_got) != sorted(sent):
        fail("every message once to the single member of group g2",
             f"it got {[p.payload.decode() for p in solo_got]}")


@case("shared.no-local-is-a-protocol-error",
      "SUBSCRIBE to a shared subscription with No Local 1 closes the connection",
      v5=("MQTT-3.8.3-4", "MQTT-4.13.1-1"), levels=(5,), needs=NEEDS)
def no_local_shared(ctx: CaseContext) -> None:
    c = ctx.connected()
    topic_filter = f"$share/g/{ctx.topic('nl')}"
    c.send(RawPacket(8, 0b0010).u16(1).properties().string(topic_filter).u8(0x05).build(),
           f"SUBSCRIBE {topic_filter} with No Local 1")
    expect_violation_close(ctx, c, "No Local on a shared subscription")


def _pair(ctx: CaseContext, qos: int, session: bool = False) -> tuple[list[TestClient],
                                                                      TestClient]:
    props = Properties(session_expiry_interval=60) if session else Properties()
    members = [ctx.connected(n, properties=props) for n in ("a", "b")]
    _group(ctx, members, "g", ctx.topic("s"), [qos, qos])
    return members, ctx.connected("pub")


def _receiver(members: list[TestClient], got: list[list[Publish]], payload: bytes
              ) -> tuple[int, Publish]:
    for i, g in enumerate(got):
        for p in g:
            if p.payload == payload:
                return i, p
    fail(f"{payload.decode()} delivered to a member", "delivered to none")


@case("shared.refused-message-not-sent-to-others",
      "A message a member refuses (PUBACK / PUBREC 0x80) is not sent to another member",
      v5=("MQTT-4.8.2-6",), levels=(5,), needs=NEEDS)
def refused_message(ctx: CaseContext) -> None:
    top = min(2, ctx.target.capabilities.maximum_qos)
    members, pub = _pair(ctx, top)
    for qos in range(1, top + 1):
        payload = f"refused-at-{qos}".encode()
        pub.publish(ctx.topic("s"), payload, qos=qos)
        got = _collect(members, {payload}, ack=False)
        i, p = _receiver(members, got, payload)
        ack = Puback if qos == 1 else Pubrec
        members[i].send(ack(packet_id=p.packet_id or 0, reason_code=0x80, protocol_level=5))
        again = [settle(m) for m in members]
        seen = [j for j, g in enumerate(again) for q in g if q.payload == payload]
        if seen:  # MQTT-4.8.2-6
            fail(f"the QoS {qos} message refused with 0x80 by member {'ab'[i]} discarded",
                 f"sent again to member(s) {['ab'[j] for j in seen]}")


@case("shared.session-end-keeps-message-from-others",
      "A message sent to a member whose session ends is not sent to another member",
      v5=("MQTT-4.8.2-5",), levels=(5,), needs=NEEDS)
def session_end(ctx: CaseContext) -> None:
    members, pub = _pair(ctx, 1)
    pub.publish(ctx.topic("s"), b"orphan", qos=1)
    got = _collect(members, {b"orphan"}, ack=False)
    i, _ = _receiver(members, got, b"orphan")
    members[i].close()  # no PUBACK; Session Expiry 0: the session ends with the connection
    # the same Client Identifier, Clean Start: once accepted, the old session is gone
    ctx.connected("again", client_id=ctx.client_id(members[i].name)).disconnect()
    other = members[1 - i]
    leaked = [p for p in settle(other) if p.payload == b"orphan"]
    if leaked:  # MQTT-4.8.2-5
        fail("the message of the ended session sent to no other member",
             f"member {'ab'[1 - i]} received it")


@case("shared.qos2-completed-on-reconnect",
      "A QoS 2 delivery to a member that disconnects is completed when it comes back",
      v5=("MQTT-4.8.2-4",), levels=(5,), needs=NEEDS)
def qos2_on_reconnect(ctx: CaseContext) -> None:
    if ctx.target.capabilities.maximum_qos < 2:
        not_applicable("the broker grants no QoS 2 subscription")
    members, pub = _pair(ctx, 2, session=True)
    try:
        pub.publish(ctx.topic("s"), b"exactly-once", qos=2)
        got = _collect(members, {b"exactly-once"}, ack=False)
        i, first = _receiver(members, got, b"exactly-once")
        members[i].close()  # before the PUBREC: the delivery is not complete
        other = members[1 - i]
        if [p for p in settle(other) if p.payload == b"exactly-once"]:
            fail("the message kept for the member that disconnected", "sent to the other")
        back = ctx.connected("back", client_id=ctx.client_id(members[i].name),
                             clean_start=False,
                             properties=Properties(session_expiry_interval=60))
        try:
            p = back.expect_publish()
        except WaitTimeout:
            fail("the QoS 2 message sent again when the member resumes its session",
                 "nothing sent")
        if p.payload != b"exactly-once" or p.packet_id != first.packet_id:
            fail(f"the same message, Packet Identifier {first.packet_id}", f"{p!r}")
        settle(back)
        if [q for q in settle(other) if q.payload == b"exactly-once"]:
            fail("the message delivered to one member only", "the other member got it too")
        back.disconnect()
    finally:
        for m in members:
            end_session(ctx, ctx.client_id(m.name))


@case("shared.refused-when-unavailable",
      "A broker declaring no shared subscriptions refuses a '$share/...' filter",
      v5=("MQTT-3.8.4-7",), levels=(5,))
def shared_unavailable(ctx: CaseContext) -> None:
    if ctx.target.capabilities.shared_subscriptions:
        not_applicable("the broker supports shared subscriptions")
    c = ctx.connected()
    c.send(Subscribe(packet_id=1, subscriptions=(Subscription(
        topic_filter=f"$share/g/{ctx.topic('s')}", qos=1),), protocol_level=5))
    expect_refusal(ctx, c, "a shared subscription")
