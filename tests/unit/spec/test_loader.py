"""Loading files: several documents and files, apps, warnings, all errors at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet.errors import SpecErrors
from fleet.spec.documents import BlueprintErrors
from fleet.spec.loader import load_blueprints
from tests.unit.spec.helpers import ROOT, WEB, WEB_SERVICE, load_text, write


def test_objects_apps_and_sources(tmp_path: Path) -> None:
    bp = load_text(tmp_path, WEB + "---\n" + WEB_SERVICE, name="shop.yaml")
    web, svc = bp.deployments["web"], bp.services["web"]
    assert web.app == svc.app == "shop" and bp.apps == {"shop"}
    assert str(bp.source(web)) == f"{tmp_path / 'shop.yaml'}:1"
    assert str(bp.source(svc)) == f"{tmp_path / 'shop.yaml'}:19"
    assert str(bp.locate(web, "spec", "replicas")) == f"{tmp_path / 'shop.yaml'}:6 spec.replicas"
    assert bp.services_for(web) == [svc] and bp.deployment_for(svc) is web
    assert bp.deployment_of(web.main_container) is web
    assert [o.kind for o in bp.objects()] == ["Deployment", "Service"]


def test_namespace_is_the_app(tmp_path: Path) -> None:
    text = WEB.replace("  name: web\n", "  name: web\n  namespace: store\n", 1)
    assert load_text(tmp_path, text).deployments["web"].app == "store"


def test_services_select_within_their_app(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", WEB)
    write(tmp_path, "b.yaml", WEB_SERVICE)
    with pytest.raises(SpecErrors, match="matches no Deployment of application 'b'"):
        load_blueprints([tmp_path / "a.yaml", tmp_path / "b.yaml"])


def test_a_directory_loads_its_yaml_files(tmp_path: Path) -> None:
    write(tmp_path, "web.yaml", WEB + "---\n" + WEB_SERVICE)
    write(tmp_path, "notes.txt", "not yaml: [")
    bp = load_blueprints([tmp_path])
    assert set(bp.deployments) == {"web"}


def test_all_errors_of_all_files_at_once(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", WEB.replace("replicas: 3", "replicas: x"))
    write(
        tmp_path,
        "b.yaml",
        WEB_SERVICE.replace("port: 8080", "port: y").replace("name: web", "name: api"),
    )
    write(tmp_path, "c.yaml", "kind: [\n")
    with pytest.raises(BlueprintErrors) as caught:
        load_blueprints([tmp_path / n for n in ("a.yaml", "b.yaml", "c.yaml")])
    text = str(caught.value)
    assert "a.yaml:6 spec.replicas" in text
    assert "b.yaml:9 spec.ports[0].port" in text
    assert "c.yaml:2: not valid YAML" in text
    assert len(caught.value.errors) == 3


def test_unsupported_kubernetes_fields_warn(tmp_path: Path) -> None:
    text = WEB.replace("      containers:\n", "      serviceAccountName: web\n      containers:\n")
    text = text.replace(
        "          image: lab/web:1\n",
        "          image: lab/web:1\n          imagePullPolicy: IfNotPresent\n",
    )
    text += "status: {replicas: 3}\n"
    bp = load_text(tmp_path, text)
    assert [w.split(" ", 2)[1] for w in bp.warnings] == [
        "spec.template.spec.serviceAccountName:",
        "spec.template.spec.containers[0].imagePullPolicy:",
        "status:",
    ]
    assert all("fleet does not support; ignored" in w for w in bp.warnings)


def test_apps_v1_without_selector_warns(tmp_path: Path) -> None:
    text = WEB.replace("  selector:\n    matchLabels: {app: web}\n", "")
    bp = load_text(tmp_path, text)
    assert bp.deployments["web"].spec.match_labels == {"app": "web"}
    assert "need spec.selector in Kubernetes" in bp.warnings[0]


def test_namespace_documents_are_skipped(tmp_path: Path) -> None:
    bp = load_text(tmp_path, "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n---\n" + WEB)
    assert set(bp.deployments) == {"web"} and "kind Namespace" in bp.warnings[0]


def test_file_stem_must_make_an_app_name(tmp_path: Path) -> None:
    with pytest.raises(SpecErrors, match="application name 'My_App'"):
        load_text(tmp_path, WEB, name="My_App.yaml")
    text = WEB.replace("  name: web\n", "  name: web\n  namespace: ok\n", 1)
    assert load_text(tmp_path, text, name="My_App.yaml").deployments["web"].app == "ok"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SpecErrors, match="cannot read blueprint"):
        load_blueprints([tmp_path / "nope.yaml"])


def test_select_apps(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", WEB)
    write(tmp_path, "b.yaml", WEB.replace("name: web", "name: api"))
    bp = load_blueprints([tmp_path / "a.yaml", tmp_path / "b.yaml"])
    only = bp.select_apps({"b"})
    assert set(only.deployments) == {"api"}
    assert only.locate(only.deployments["api"], "spec").line == 5


@pytest.mark.parametrize("name", ["demo.yaml", "zwitscher.yaml", "shop-compose.yaml"])
def test_examples_are_clean(name: str) -> None:
    from fleet.spec.loader import load_inventory

    for inventory in ("lab.yaml", "example.yaml"):
        inv = load_inventory(ROOT / "inventories" / inventory)
        bp = load_blueprints([ROOT / "blueprints" / name], inventory=inv)
        assert bp.warnings == []


def test_demo_and_zwitscher_both_want_port_8080() -> None:
    with pytest.raises(SpecErrors, match="port 8080 on the load-balancer hosts is already claimed"):
        load_blueprints([ROOT / "blueprints" / "demo.yaml", ROOT / "blueprints" / "zwitscher.yaml"])


def test_demo_shape() -> None:
    bp = load_blueprints([ROOT / "blueprints" / "demo.yaml"])
    assert bp.apps == {"demo"}
    web, kv, api = bp.deployments["web"], bp.deployments["kv"], bp.deployments["api"]
    assert (web.spec.replicas, web.main_container.image) == (3, "lab/web:1")
    assert web.spec.strategy.resolve_surge_unavailable(3) == (1, 0)
    assert bp.services["web"].listen_ports()[0][1] == 8080
    assert bp.deployments["worker"].spec.replicas == 2
    assert kv.spec.template.spec.volumes[0].kind == "persistent"
    assert bp.services["kv"].spec.ports[0].target_port == 8080
    assert [c.name for c in api.containers] == ["api", "ticker"]
    assert web.spec.depends_on == ["kv"]
