"""HTTP load at a steady rate through a load balancer, every request and its outcome kept.

    with Load("http://192.168.122.11:8080/", rate=25) as load:
        ...                                   # a rolling update, say
    assert load.failures == [], load.summary()

Each request is a new connection (`Connection: close`), the way the lb serves clients
that do not reuse connections, so a reload's handover between HAProxy workers is
exercised on every request. Requests are scheduled at fixed times (i / rate) and taken
by a pool of threads, so one slow answer does not lower the rate; the achieved rate is
measured, not assumed.
"""

from __future__ import annotations

import http.client
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Outcome:
    at: float  # seconds since the load started
    seconds: float
    status: int | None  # None: no HTTP answer at all
    body: str
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status == 200


def get(url: str, timeout: float = 30.0) -> tuple[int, str]:
    """One GET on a new connection, no proxies: (status, body)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port or 80, timeout=timeout)
    try:
        conn.request("GET", parts.path or "/", headers={"Connection": "close"})
        response = conn.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        conn.close()


class Load:
    """`rate` requests per second against `url` from `threads` threads until stopped."""

    def __init__(self, url: str, rate: float = 25.0, threads: int = 12,
                 timeout: float = 30.0) -> None:  # fmt: skip
        self.url, self.rate, self.timeout = url, rate, timeout
        self.outcomes: list[Outcome] = []
        self._lock = threading.Lock()
        self._next = 0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]
        self.started = self.stopped = 0.0

    def _slot(self) -> float | None:
        with self._lock:
            due = self.started + self._next / self.rate
            self._next += 1
        return None if self._stop.is_set() else due

    def _run(self) -> None:
        while True:
            due = self._slot()
            if due is None:
                return
            wait = due - time.monotonic()
            if wait > 0 and self._stop.wait(wait):
                return
            began = time.monotonic()
            try:
                status, body = get(self.url, self.timeout)
                outcome = Outcome(began - self.started, time.monotonic() - began, status, body)
            except (OSError, http.client.HTTPException) as exc:
                outcome = Outcome(began - self.started, time.monotonic() - began, None, "",
                                  f"{type(exc).__name__}: {exc}")  # fmt: skip
            with self._lock:
                self.outcomes.append(outcome)

    def __enter__(self) -> Load:
        self.started = time.monotonic()
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.timeout + 5)
        self.stopped = time.monotonic()

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]

    @property
    def achieved_rate(self) -> float:
        took = (self.stopped or time.monotonic()) - self.started
        return len(self.outcomes) / took if took > 0 else 0.0

    def bodies(self) -> list[str]:
        return [o.body for o in sorted(self.outcomes, key=lambda o: o.at) if o.ok]

    def summary(self) -> str:
        slowest = max((o.seconds for o in self.outcomes), default=0.0)
        took = (self.stopped or time.monotonic()) - self.started
        text = (
            f"{len(self.outcomes)} requests in {took:.0f} s ({self.achieved_rate:.1f} req/s), "
            f"{len(self.failures)} failed, slowest {slowest:.2f} s"
        )
        for failure in self.failures[:5]:
            text += f"\n  at {failure.at:.1f} s: {failure.status} {failure.error or failure.body!r}"
        return text
