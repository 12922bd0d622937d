"""The fuzzer's stateful mode: several clients at once against one broker, driven by a seeded
random walk, with the invariants a conforming broker keeps checked all along.

Strategy: `actions.Planner` draws actions (connect with a clean or persistent session and
maybe a Will, disconnect, drop, takeover, subscribe / unsubscribe with wildcards and shared
subscriptions, publish at QoS 0/1/2 with and without RETAIN, publish and drop mid-flow,
probe the retained messages, wait) from the seed alone; `runner` carries them out over
`clients.Net`, one action at a time; `model` (with `wills`, `retained` and `judge`) keeps the
state a conforming broker must have and judges every receipt; `steps.drain` gives owed
messages their chance before the verdict and `steps.cleanup` leaves the broker clean.  Each
violation is a `Finding` (oracle "invariant:<name>") with the seed, the action trace and the
packets seen.  Topics live under "fuzz/<run id>/", so runs never meet.
"""

from fuzz.stateful.actions import Action, Caps, Planner, WillPlan
from fuzz.stateful.report import StatefulReport
from fuzz.stateful.run import BrokerUnreachable, probe_caps, replay_actions, run_stateful
from fuzz.stateful.runner import Settings

__all__ = ["Action", "BrokerUnreachable", "Caps", "Planner", "Settings", "StatefulReport",
           "WillPlan", "probe_caps", "replay_actions", "run_stateful"]
