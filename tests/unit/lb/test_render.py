"""haproxy.cfg rendering (fleet.lb.render): golden file, determinism, readiness, drain."""

from __future__ import annotations

import random
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from fleet.errors import UnsafeNameError
from fleet.lb.model import HealthCheck, LbBackend, LbService, RenderOptions
from fleet.lb.render import fmt_time, render, render_hosts, stats_socket_path
from fleet.model import ClusterState, ContainerState, PodHealth
from fleet.probe.machine import health_key
from fleet.spec.inventory import HAProxySettings, Host
from tests.unit.lb.cases import GOLDEN, demo_cluster, demo_services, web

OPTIONS = RenderOptions(stats_socket="/run/haproxy/admin.sock")


def server_lines(text: str, section: str) -> list[str]:
    lines = text.split(f"listen {section}\n", 1)[1].split("\n\n", 1)[0].splitlines()
    return [line.split()[1] for line in lines if line.strip().startswith("server ")]


def test_demo_matches_the_golden_file() -> None:
    state, health = demo_cluster()
    rendered = render(demo_services(), state, health, host="node1", options=OPTIONS)
    assert rendered.text == (GOLDEN / "demo.cfg").read_text()
    assert rendered.warnings == ()


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy is not installed")
def test_haproxy_accepts_the_golden_file(tmp_path: Path) -> None:
    done = subprocess.run(["haproxy", "-c", "-f", str(GOLDEN / "demo.cfg")],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr


def test_rendering_is_deterministic_whatever_the_input_order() -> None:
    state, health = demo_cluster()
    expected = render(demo_services(), state, health, options=OPTIONS).text
    rng = random.Random(7)
    for _ in range(20):
        hosts = list(state.hosts.values())
        rng.shuffle(hosts)
        shuffled = ClusterState(
            {h.name: replace(h, pods=tuple(rng.sample(h.pods, len(h.pods)))) for h in hosts}
        )
        services = rng.sample(demo_services(), 3)
        keys = list(health)
        rng.shuffle(keys)
        assert render(services, shuffled, {k: health[k] for k in keys}, options=OPTIONS).text == (
            expected
        )


def test_only_ready_running_replicas_are_servers() -> None:
    state, health = demo_cluster()
    text = render(demo_services(), state, health).text
    assert server_lines(text, "demo.web.8080") == ["web-0.3f9a1c2b7e", "web-1.3f9a1c2b7e"]
    # a pod without health (never probed) is not a server; an exited one neither
    web0 = state.hosts["node1"].pods[0]
    missing = {k: v for k, v in health.items() if k != health_key(web0)}
    assert server_lines(render(demo_services(), state, missing).text, "demo.web.8080") == [
        "web-1.3f9a1c2b7e"
    ]
    exited = replace(web0, containers=(replace(web0.containers[0], state=ContainerState.exited),))
    node1 = replace(state.hosts["node1"], pods=(exited,))
    gone = ClusterState({**state.hosts, "node1": node1})
    assert server_lines(render(demo_services(), gone, health).text, "demo.web.8080") == [
        "web-1.3f9a1c2b7e"
    ]


def test_a_service_without_ready_replicas_keeps_its_listener() -> None:
    state, health = demo_cluster()
    none_ready = {k: PodHealth(ready=False) for k in health}
    text = render(demo_services(), state, none_ready).text
    for port in (7070, 8080, 8081):
        assert f"    bind :{port}\n" in text
    assert "\n    server " not in text
    assert "0 ready replicas" in text


def test_drain_renders_without_the_drained_pods() -> None:
    state, health = demo_cluster()
    web0 = state.hosts["node1"].pods[0]
    drained = render(demo_services(), state, health, exclude={health_key(web0)}).text
    assert server_lines(drained, "demo.web.8080") == ["web-1.3f9a1c2b7e"]
    assert server_lines(drained, "demo.kv.7070") == ["kv-0.aaaaaaaaaa"]


def test_surge_pods_of_two_revisions_are_distinct_servers() -> None:
    state, health = demo_cluster()
    new = web("node3", 0, revision="b7e00000aa", port=32790)
    node3 = replace(state.hosts["node3"], pods=(*state.hosts["node3"].pods, new))
    surged = ClusterState({**state.hosts, "node3": node3})
    text = render(demo_services(), surged, {**health, health_key(new): PodHealth(True)}).text
    assert server_lines(text, "demo.web.8080") == [
        "web-0.3f9a1c2b7e", "web-0.b7e00000aa", "web-1.3f9a1c2b7e",
    ]  # fmt: skip
    assert "    server web-0.b7e00000aa 10.0.0.13:32790 check inter 2s fall 2 rise 1" in text


def test_unpublished_target_port_is_left_out_with_a_warning() -> None:
    state, health = demo_cluster()
    web0 = replace(state.hosts["node1"].pods[0], ports=())
    node1 = replace(state.hosts["node1"], pods=(web0,))
    rendered = render(demo_services(), ClusterState({**state.hosts, "node1": node1}), health)
    assert server_lines(rendered.text, "demo.web.8080") == ["web-1.3f9a1c2b7e"]
    assert rendered.warnings == (
        "demo.web.8080: web-0.3f9a1c2b7e on node1 left out: port 8080 is not published",
    )


def test_check_mirrors_the_readiness_probe() -> None:
    check = HealthCheck("http", "/admin/info?x=1", (("X-Probe", "100% fleet"),), None,
                        interval=7, timeout=5, rise=2, fall=4)
    service = LbService("demo", "cart", 9000, (LbBackend("demo", "web", 8080, check),), "http")
    state, health = demo_cluster()
    text = render([service], state, health).text
    assert (
        "    http-check send meth GET uri /admin/info?x=1 ver HTTP/1.1 hdr Host \"localhost\" "
        "hdr X-Probe \"100%% fleet\"\n" in text
    )
    assert "    timeout check 5s\n" in text
    assert "10.0.0.11:32770 check inter 7s fall 4 rise 2\n" in text


def test_tcp_check_and_check_port() -> None:
    check = HealthCheck("tcp", port=9090, interval=3, fall=2)
    service = LbService("demo", "db", 5432, (LbBackend("demo", "web", 8080, check),))
    state, health = demo_cluster()
    pod = replace(state.hosts["node1"].pods[0], ports=((8080, 32770), (9090, 40000)))
    node1 = replace(state.hosts["node1"], pods=(pod,))
    rendered = render([service], ClusterState({**state.hosts, "node1": node1}), health)
    assert "option httpchk" not in rendered.text and "    mode tcp\n" in rendered.text
    # idle connections of a tcp service (a database) are not cut after 30 s
    assert "    mode tcp\n    balance roundrobin\n    timeout client 3600s\n" \
           "    timeout server 3600s\n" in rendered.text
    assert "web-0.3f9a1c2b7e 10.0.0.11:32770 check inter 3s fall 2 rise 1 port 40000" in (
        rendered.text
    )
    # node2's replica does not publish 9090: served, but not checked by HAProxy
    assert "    server web-1.3f9a1c2b7e 10.0.0.12:32768\n" in rendered.text
    assert any("readiness port 9090 is not published" in w for w in rendered.warnings)


def test_globals() -> None:
    state, health = demo_cluster()
    text = render(demo_services(), state, health,
                  options=RenderOptions(hard_stop_after=90, timeout_client=45.5)).text
    assert "    master-worker\n    maxconn 4096\n    hard-stop-after 90s\n" in text
    assert "    timeout client 45500ms\n" in text
    assert "option redispatch 1" in text and "retries 3" in text
    assert "stats socket" not in text  # none given
    # by default old workers live as long as the longest grace period (10 s at least)
    long = [replace(s, grace_seconds=45) for s in demo_services()]
    assert "hard-stop-after 45s" in render(long, state, health).text


def test_client_connections_close_after_each_response_unless_asked() -> None:
    state, health = demo_cluster()
    closing = render(demo_services(), state, health).text
    assert closing.count("    option httpclose\n") == 3  # every http service
    keeping = render(demo_services(), state, health,
                     options=RenderOptions(client_keepalive=True)).text
    assert "httpclose" not in keeping


def test_render_hosts_puts_the_stats_socket_per_host() -> None:
    state, health = demo_cluster()
    lab = Host(name="node1", address="10.0.0.11", roles=("lb",), haproxy=HAProxySettings(
        config="/lab/node1/haproxy/haproxy.cfg", reload="master-socket",
        master_socket="/lab/node1/haproxy/master.sock"))
    real = Host(name="lb2", address="10.0.0.20", roles=("lb",))
    out = render_hosts([real, lab], demo_services(), state, health)
    assert list(out) == ["lb2", "node1"]
    assert "stats socket /lab/node1/haproxy/stats.sock mode 600" in out["node1"].text
    assert "stats socket /run/haproxy/admin.sock mode 600" in out["lb2"].text
    assert stats_socket_path(real) == "/run/haproxy/admin.sock"
    assert out["node1"].text.replace("node1", "X").replace("/lab/X/haproxy/stats.sock",
                                                           "S") == out["lb2"].text.replace(
        "lb2", "X").replace("/run/haproxy/admin.sock", "S")


def test_unsafe_values_never_reach_the_config() -> None:
    state, health = demo_cluster()
    bad_header = HealthCheck("http", "/", (("X-A", 'a" b'),))
    with pytest.raises(UnsafeNameError):
        render([LbService("shop", "x", 1, (LbBackend("shop", "web", 8080, bad_header),),
                          "http")], state, health)
    with pytest.raises(UnsafeNameError):
        render([LbService("shop", "x", 1, (LbBackend("shop", "web", 8080,
                                                      HealthCheck("http", "/a b")),), "http")],
               state, health)
    with pytest.raises(UnsafeNameError):
        render([LbService("Shop\n", "x", 1, ())], state, health)
    with pytest.raises(UnsafeNameError):
        render([], state, health, options=RenderOptions(stats_socket="/run/x.sock level admin"))


def test_fmt_time() -> None:
    assert [fmt_time(x) for x in (1, 10.0, 0.5, 2.25)] == ["1s", "10s", "500ms", "2250ms"]
