"""Other applications' frontends survive a run that renders only its own."""

from __future__ import annotations

import pytest

from fleet.errors import HAProxyConfigError
from fleet.lb.merge import listen_blocks, merge

LIVE = """\
global
    master-worker

listen shop.cart.9000
    # Service cart of shop
    bind :9000
    server cart-0.aa 10.0.0.11:32768 check

listen demo.web.8080
    bind :8080
    server web-0.old 10.0.0.12:32770 check
"""

OURS = """\
global
    master-worker

listen demo.web.8080
    bind :8080
    server web-0.new 10.0.0.13:32771 check
"""


def test_blocks_are_found_with_their_app_and_port():
    assert [(b.app, b.name, b.port) for b in listen_blocks(LIVE)] == [
        ("shop", "cart", 9000),
        ("demo", "web", 8080),
    ]


def test_other_apps_are_kept_and_ours_replaced():
    merged = merge(OURS, LIVE, frozenset({"demo"}), "node1")
    assert "web-0.new" in merged and "web-0.old" not in merged
    assert "listen shop.cart.9000\n    # Service cart of shop\n    bind :9000" in merged
    assert merge(OURS, None, frozenset({"demo"}), "node1") == OURS


def test_two_apps_on_one_port_are_refused():
    other = LIVE.replace("listen shop.cart.9000", "listen shop.cart.8080").replace(
        "bind :9000", "bind :8080"
    )
    with pytest.raises(
        HAProxyConfigError, match="port 8080 is used by service cart of application shop"
    ):
        merge(OURS, other, frozenset({"demo"}), "node1")
