"""A small load generator for lab tests and benches: requests through the load balancer at a
fixed rate, each on a fresh connection, recording what every response said.

    with LoadGen(lb.address, 18100, rate=80) as load:
        ...                                   # roll out, restart, scale
    assert not load.failures() and load.achieved_rate() >= 50

Workers (threads) take turns from one schedule (request i is due at start + i / rate); a
worker that falls behind sends at once, so a slow answer does not lower the rate as long as
another worker is free. Every request is a new TCP connection (no keep-alive, `Connection:
close`), which is what exercises HAProxy's reloads and a replica's stop. The lab web image
answers `web v1 replica=web-0 host=node1`: version and replica are parsed from it.
"""

from __future__ import annotations

import re
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import httpx

ANSWER = re.compile(r"^(\S+) (v\S+) replica=(\S+)")


@dataclass(frozen=True)
class Sample:
    """One request: when it was sent (monotonic), how long it took, what came back."""

    sent: float
    latency: float
    status: int | None  # None: no HTTP answer at all (refused, reset, timeout)
    replica: str | None = None
    version: str | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.replica is not None

    def describe(self) -> str:
        what = self.error or f"HTTP {self.status}"
        return f"{what} after {self.latency * 1000:.0f} ms"


@dataclass
class LoadGen:
    """`rate` requests per second to http://address:port/path by `workers` threads."""

    address: str
    port: int
    rate: float = 80.0
    workers: int = 8
    path: str = "/"
    timeout: float = 5.0
    samples: list[Sample] = field(default_factory=list)
    started: float = 0.0
    stopped: float = 0.0
    _next: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    # -- running ---------------------------------------------------------------------------
    def __enter__(self) -> LoadGen:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> None:
        self.started = time.monotonic()
        self._threads = [
            threading.Thread(target=self._work, name=f"loadgen-{i}", daemon=True)
            for i in range(self.workers)
        ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.timeout + 5)
        self.stopped = time.monotonic()

    def _turn(self) -> float:
        """When this worker's next request is due."""
        with self._lock:
            index = self._next
            self._next += 1
        return self.started + index / self.rate

    def _work(self) -> None:
        url = f"http://{self.address}:{self.port}{self.path}"
        limits = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(trust_env=False, timeout=self.timeout, limits=limits) as client:
            while not self._stop.is_set():
                due = self._turn()
                if self._stop.wait(max(0.0, due - time.monotonic())):
                    return
                sample = self._one(client, url)
                with self._lock:
                    self.samples.append(sample)

    def _one(self, client: httpx.Client, url: str) -> Sample:
        sent = time.monotonic()
        begun = time.perf_counter()
        try:
            response = client.get(url, headers={"Connection": "close"})
        except Exception as exc:  # a lost request is what the tests count
            return Sample(sent, time.perf_counter() - begun, None, error=_short(exc))
        latency = time.perf_counter() - begun
        m = ANSWER.match(response.text)
        if m is None:
            return Sample(sent, latency, response.status_code, error=f"HTTP {response.status_code}"
                          f": {response.text[:60]!r}")
        return Sample(sent, latency, response.status_code, replica=m[3], version=m[2])

    # -- reading ---------------------------------------------------------------------------
    def snapshot(self, since: float = 0.0, until: float = float("inf")) -> list[Sample]:
        """The samples sent in [since, until) (monotonic times), in the order sent."""
        with self._lock:
            taken = list(self.samples)
        return sorted((s for s in taken if since <= s.sent < until), key=lambda s: s.sent)

    def failures(self, since: float = 0.0, until: float = float("inf")) -> list[Sample]:
        return [s for s in self.snapshot(since, until) if not s.ok]

    def rate_between(self, since: float, until: float) -> float:
        """Requests sent per second in [since, until)."""
        return len(self.snapshot(since, until)) / max(until - since, 1e-9)

    def achieved_rate(self) -> float:
        """Requests per second over the whole run (so far)."""
        end = self.stopped or time.monotonic()
        return self.rate_between(self.started, end)

    def replicas(self, since: float = 0.0, until: float = float("inf")) -> Counter[str]:
        return Counter(s.replica for s in self.snapshot(since, until) if s.ok and s.replica)

    def versions(self, since: float = 0.0, until: float = float("inf")) -> Counter[str]:
        return Counter(s.version for s in self.snapshot(since, until) if s.ok and s.version)

    def last_answer(self, replica: str) -> float | None:
        """When the last request `replica` answered was sent (None: never)."""
        answered = [s.sent for s in self.snapshot() if s.replica == replica]
        return max(answered) if answered else None

    def wait_for(self, predicate: Callable[[LoadGen], object], timeout: float,
                 what: str) -> None:
        """Poll `predicate(self)` until truthy; AssertionError naming `what` at the deadline."""
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
            time.sleep(0.05)

    def summary(self, since: float = 0.0, until: float = float("inf")) -> str:
        """A line for assertion messages: count, rate, failures (first few), latencies."""
        taken = self.snapshot(since, until)
        if not taken:
            return "no requests"
        span = (min(until, self.stopped or time.monotonic()) - max(since, self.started))
        failed = [s for s in taken if not s.ok]
        lat = latencies(taken)
        return (
            f"{len(taken)} requests at {len(taken) / max(span, 1e-9):.0f}/s, {len(failed)} failed"
            + (f" ({'; '.join(s.describe() for s in failed[:5])})" if failed else "")
            + f", p50 {lat['p50'] * 1000:.1f} ms, p99 {lat['p99'] * 1000:.1f} ms"
        )


def latencies(samples: Iterable[Sample]) -> dict[str, float]:
    """p50, p90, p99 and max latency (seconds) of the answered requests."""
    values = sorted(s.latency for s in samples if s.ok)
    if not values:
        return {"p50": 0.0, "p90": 0.0, "p99": 0.0, "max": 0.0}
    if len(values) == 1:
        return {"p50": values[0], "p90": values[0], "p99": values[0], "max": values[0]}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": cuts[49], "p90": cuts[89], "p99": cuts[98], "max": values[-1]}


def _short(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text[:80]}"
