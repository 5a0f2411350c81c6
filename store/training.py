"""What a stack's trainer has still to train, and when each piece should be ready.

`tnaas up` serves once the first requests' models are trained and trains the rest in the background; the
trainer keeps its plan here (one JSON value), so /healthz and the terminal say what is ready and what is
still training, and a request for a model not trained yet says when it will be.
"""

from __future__ import annotations

import json
import time

from redis import Redis


class TrainingProgress:
    KEY = "tnaas:training"

    def __init__(self, connection: Redis):
        self.redis = connection

    def plan(self, steps: list[tuple[str, float]]) -> None:
        """The steps to come, in order, each ``(what, estimated seconds)``."""
        state = {"started_at": time.time(), "step_started_at": time.time(), "speed": 1.0, "done": [], "steps": []}
        state["steps"] = [{"what": what, "estimate": round(estimate, 1)} for what, estimate in steps]
        self.redis.set(self.KEY, json.dumps(state))

    def step_done(self, what: str, seconds: float) -> None:
        """``what`` is trained (or was up to date); the estimates of the rest scale with how fast it went."""
        state = self.state()
        if state is None:
            return
        steps = state["steps"]
        done = [s for s in steps if s["what"] == what]
        state["steps"] = [s for s in steps if s["what"] != what]
        state["done"].append(what)
        if done and done[0]["estimate"] > 0 and seconds > 1:  # up to date in no time: says nothing of speed
            state["speed"] = round(0.5 * state["speed"] + 0.5 * seconds / done[0]["estimate"], 3)
        state["step_started_at"] = time.time()
        self.redis.set(self.KEY, json.dumps(state))

    def finished(self) -> None:
        self.redis.delete(self.KEY)

    def state(self) -> dict | None:
        raw = self.redis.get(self.KEY)
        return json.loads(raw) if raw else None

    def ready_at(self) -> dict[str, float]:
        """{what: epoch seconds when it should be ready} of every step still to come."""
        return ready_at(self.state())


def ready_at(state: dict | None) -> dict[str, float]:
    """When each step of ``state`` should be done: the steps before it and its own, at the speed seen."""
    if not state:
        return {}
    at, out = state["step_started_at"], {}
    for step in state["steps"]:
        at += step["estimate"] * state["speed"]
        out[step["what"]] = max(at, time.time() + 1)
    return out
