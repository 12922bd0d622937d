"""Codec throughput on one seeded, realistic packet mix: build it once, check every codec reads it
right, warm up, then keep the best of several perf_counter passes per measurement."""

from __future__ import annotations

import argparse
import logging
import platform
import random
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

try:
    import mqttspec as ms
except ImportError:  # a checkout that is not installed: run from its root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import mqttspec as ms

from mqttspec import Properties as P

WORDS = ["site", "plant", "line", "sensor", "temp", "hum", "status", "cmd", "meter", "dev"]
# Scapy cannot split a stream after SUBSCRIBE, SUBACK, UNSUBSCRIBE, PINGREQ or PINGRESP, and
# recurses once per packet, so its stream figure uses the PUBLISH/PUBACK runs in chunks of 64.
SCAPY_CHUNK = 64


def topic(rng: random.Random) -> str:
    return "/".join(rng.choice(WORDS) + str(rng.randrange(20)) for _ in range(rng.randint(2, 5)))


def build_mix(n: int, rng: random.Random, v5: bool) -> list[ms.Packet]:
    """About 50% PUBLISH QoS 0, 30% PUBLISH QoS 1 + PUBACK, 8% PINGREQ + PINGRESP,
    7% SUBSCRIBE + SUBACK, 5% CONNECT + CONNACK; payloads 16-512 bytes, 2-5 level topics."""
    level = ms.MQTT_5 if v5 else ms.MQTT_3_1_1
    out: list[ms.Packet] = []
    pid = 0
    while len(out) < n:
        kind = rng.random()
        pid = pid % 65535 + 1
        if kind < 0.80:
            qos = 0 if kind < 0.50 else 1
            props = P(message_expiry_interval=3600, content_type="application/json",
                      user_properties=(("trace", str(pid)),)) if v5 and kind < 0.2 else P()
            out.append(ms.Publish(topic=topic(rng), payload=rng.randbytes(rng.randint(16, 512)),
                                  qos=qos, packet_id=pid if qos else None, retain=kind < 0.05,
                                  properties=props, protocol_level=level))
            if qos:
                out.append(ms.Puback(packet_id=pid, protocol_level=level))
        elif kind < 0.88:
            out += [ms.Pingreq(protocol_level=level), ms.Pingresp(protocol_level=level)]
        elif kind < 0.95:
            subs = tuple(ms.Subscription(topic_filter=topic(rng).rsplit("/", 1)[0] + "/+",
                                         qos=rng.randint(0, 2)) for _ in range(rng.randint(1, 3)))
            props = P(subscription_identifiers=(pid,)) if v5 else P()
            out += [ms.Subscribe(packet_id=pid, subscriptions=subs, properties=props,
                                 protocol_level=level),
                    ms.Suback(packet_id=pid, reason_codes=tuple(s.qos for s in subs),
                              protocol_level=level)]
        else:
            props = P(session_expiry_interval=300, receive_maximum=100) if v5 else P()
            ack = P(topic_alias_maximum=10, maximum_qos=1) if v5 else P()
            out += [ms.Connect(client_id=f"dev-{pid}", keep_alive=60, username="user",
                               password=b"secret", properties=props, protocol_level=level),
                    ms.Connack(properties=ack, protocol_level=level)]
    return out[:n]


def best_rate(label: str, n: int, run: Callable[[], object], budget: float) -> tuple[str, float]:
    """Packets per second for `n` packets per pass: one warm-up pass, then the fastest of at
    least 3 passes (more while the time budget lasts, at most 50)."""
    run()
    best, spent, passes = float("inf"), 0.0, 0
    while passes < 3 or (spent < budget and passes < 50):
        start = time.perf_counter()
        run()
        took = time.perf_counter() - start
        best, spent, passes = min(best, took), spent + took, passes + 1
    return label, n / best


def stream_decode(level: int, data: bytes) -> Callable[[], int]:
    def run() -> int:
        decoder = ms.Decoder(level)
        decoder.feed(data)
        return sum(1 for _ in decoder)
    return run


def load_scapy() -> type | None:
    logging.getLogger("scapy").setLevel(logging.ERROR)  # no "No IPv4 address found" noise
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from scapy.contrib.mqtt import MQTT
    except ImportError:
        return None
    return MQTT


def scapy_count(mqtt: type, chunk: bytes) -> int:
    """Packets scapy found in `chunk` (one MQTT layer each, nested as payloads)."""
    layer, count = mqtt(chunk), 0
    while layer.name != "NoPayload":
        count += type(layer) is mqtt
        layer = layer.payload
    return count


def check(ok: bool, what: str) -> None:
    if not ok:
        raise SystemExit(f"codec_bench: {what}")


def run(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    mqtt = load_scapy()
    rows: list[tuple[str, float]] = []
    budget, n = args.seconds, args.count
    packets = build_mix(n, rng, v5=False)
    raws = [ms.encode(p) for p in packets]
    stream = b"".join(raws)
    # The same bytes, read back by both codecs, before anything is timed.
    check(stream_decode(4, stream)() == n and [ms.decode_packet(r, 4) for r in raws] == packets,
          "our decoder does not read back the 3.1.1 mix")
    pubs = [r for p, r in zip(packets, raws, strict=True) if isinstance(p, ms.Publish | ms.Puback)]
    chunks = [b"".join(pubs[i:i + SCAPY_CHUNK]) for i in range(0, len(pubs), SCAPY_CHUNK)]
    rows += [
        best_rate("3.1.1 decode: Decoder fed one stream", n, stream_decode(4, stream), budget),
        best_rate("3.1.1 decode: decode_packet per packet", n,
                  lambda: [ms.decode_packet(r, 4) for r in raws], budget),
        best_rate("3.1.1 encode: verify=True", n, lambda: [ms.encode(p) for p in packets], budget),
        best_rate("3.1.1 encode: verify=False", n,
                  lambda: [ms.encode(p, verify=False) for p in packets], budget),
        best_rate("3.1.1 PUBLISH/PUBACK runs: Decoder", len(pubs),
                  stream_decode(4, b"".join(chunks)), budget),
    ]
    if mqtt is not None:
        check(sum(scapy_count(mqtt, c) for c in chunks) == len(pubs),
              "scapy does not split the PUBLISH/PUBACK runs")
        rows += [
            best_rate("scapy: MQTT(raw) per packet", n, lambda: [mqtt(r) for r in raws], budget),
            best_rate(f"scapy: PUBLISH/PUBACK runs, {SCAPY_CHUNK} a chunk", len(pubs),
                      lambda: [mqtt(c) for c in chunks], budget),
        ]
    v5 = build_mix(n, rng, v5=True)
    v5_raws = [ms.encode(p) for p in v5]
    v5_stream = b"".join(v5_raws)
    check(stream_decode(5, v5_stream)() == n, "our decoder does not read back the 5.0 mix")
    rows += [
        best_rate("5.0 decode: Decoder fed one stream", n, stream_decode(5, v5_stream), budget),
        best_rate("5.0 decode: decode_packet per packet", n,
                  lambda: [ms.decode_packet(r, 5) for r in v5_raws], budget),
        best_rate("5.0 encode: verify=True", n, lambda: [ms.encode(p) for p in v5], budget),
        best_rate("5.0 encode: verify=False", n,
                  lambda: [ms.encode(p, verify=False) for p in v5], budget),
    ]
    report(args, rows, packets, len(stream), len(v5_stream), mqtt is not None)
    return 0


def report(args: argparse.Namespace, rows: list[tuple[str, float]], packets: list[ms.Packet],
           size: int, v5_size: int, have_scapy: bool) -> None:
    rates = dict(rows)
    kinds: dict[str, int] = {}
    for packet in packets:
        kinds[packet.TYPE.name] = kinds.get(packet.TYPE.name, 0) + 1
    print(f"MQTT codec benchmark: python {platform.python_version()}, seed {args.seed}, "
          f"{args.count} packets a mix (3.1.1: {size / args.count:.0f} B/packet, "
          f"5.0: {v5_size / args.count:.0f} B/packet), best of >=3 passes")
    print("mix: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])))
    print(f"{'measurement':<44} {'packets/s':>12}")
    for label, rate in rows:
        print(f"{label:<44} {rate:>12,.0f}")
    if not have_scapy:
        print("scapy is not installed: no comparison (pip install scapy)")
        return
    per_packet = rates["scapy: MQTT(raw) per packet"]
    chunked = rates[f"scapy: PUBLISH/PUBACK runs, {SCAPY_CHUNK} a chunk"]
    print("decode, ours / scapy (target >= 5x):")
    for label, ours, theirs in [
        ("Decoder stream vs MQTT(raw) per packet",
         rates["3.1.1 decode: Decoder fed one stream"], per_packet),
        ("decode_packet vs MQTT(raw), per packet",
         rates["3.1.1 decode: decode_packet per packet"], per_packet),
        ("PUBLISH/PUBACK runs, stream vs stream", rates["3.1.1 PUBLISH/PUBACK runs: Decoder"],
         chunked),
    ]:
        ratio = ours / theirs
        print(f"  {label:<42} {ratio:>6.1f}x  {'met' if ratio >= 5 else 'MISSED'}")


def positive(kind: Callable[[str], float]) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
        return value
    return parse


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=positive(int), default=10_000,
                        help="packets in each mix (default 10000)")
    parser.add_argument("--seconds", type=positive(float), default=0.5,
                        help="time budget per measurement beyond 3 passes (default 0.5)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
