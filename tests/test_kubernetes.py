"""deploy/kubernetes as an operator applies it (`kubectl apply -k`), checked offline: every resource
against the Kubernetes API's own schemas (kubernetes-validate, strict: an unknown field is an error),
KEDA's ScaledObject against its published schema (vendored), and the manifests against the code:
settings that exist, the queue RQ fills, the sentinels the processes ask, probes, replicas, budgets."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml
from redis import Redis
from rq import Queue

from core.settings import Settings

DEPLOY = Path(__file__).resolve().parents[1] / "deploy" / "kubernetes"
KUBERNETES = "1.37.0"


def manifests() -> list[dict]:
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    return [doc for name in kustomization["resources"] for doc in yaml.safe_load_all((DEPLOY / name).read_text())]


def by_kind(kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for doc in manifests() if doc["kind"] == kind}


def strict(schema: dict) -> dict:
    """A CRD's schema as the API server prunes it, turned into an error: no field it does not know."""
    schema = copy.deepcopy(schema)

    def close(node):
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                node.setdefault("additionalProperties", False)
            for value in node.values():
                close(value)
        elif isinstance(node, list):
            for value in node:
                close(value)

    close(schema)
    return schema


def test_the_kustomization_lists_every_manifest():
    listed = set(yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())["resources"])
    assert listed == {p.name for p in DEPLOY.glob("*.yaml")} - {"kustomization.yaml"}


@pytest.mark.parametrize("doc", manifests(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_each_resource_is_valid_against_its_published_schema(doc):
    if doc["apiVersion"] == "keda.sh/v1alpha1":
        schema = json.loads((DEPLOY / "schemas" / "keda-scaledobject-v1alpha1.json").read_text())
        jsonschema.validate(doc, strict(schema))
    else:
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)


def test_a_wrong_field_is_caught_by_both_checks():
    deployment = copy.deepcopy(by_kind("Deployment")["tnaas-web"])
    deployment["spec"]["replica"] = 2
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES, strict=True)
    scaled = copy.deepcopy(by_kind("ScaledObject")["tnaas-worker"])
    scaled["spec"]["triggers"][0]["metadata"]["listLength"] = 8  # KEDA's metadata values are strings
    schema = json.loads((DEPLOY / "schemas" / "keda-scaledobject-v1alpha1.json").read_text())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(scaled, strict(schema))


def test_every_setting_the_manifests_give_is_one_the_processes_read():
    fields = {f"TNAAS_{name.upper()}" for name in Settings.model_fields} | {"REDIS_URL"}
    given = set(by_kind("ConfigMap")["tnaas"]["data"])
    for deployment in by_kind("Deployment").values():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            given |= {env["name"] for env in container.get("env", [])}
    assert given and given <= fields, given - fields
    settings = Settings(_env_file=None, **{k.removeprefix("TNAAS_").lower(): v for k, v in given_config().items()})
    assert len(settings.sentinel_addresses) == 3 and settings.redis_service == "tnaas"


def given_config() -> dict[str, str]:
    return by_kind("ConfigMap")["tnaas"]["data"]


def test_workers_scale_on_the_queue_rq_fills_through_the_same_sentinels():
    trigger = by_kind("ScaledObject")["tnaas-worker"]["spec"]["triggers"][0]
    assert trigger["type"] == "redis-sentinel"
    settings = Settings(_env_file=None)
    assert trigger["metadata"]["listName"] == Queue(settings.queue, connection=Redis()).key
    assert trigger["metadata"]["sentinelAddresses"] == given_config()["TNAAS_REDIS_SENTINELS"]
    assert trigger["metadata"]["sentinelMaster"] == given_config()["TNAAS_REDIS_SERVICE"]
    assert by_kind("ScaledObject")["tnaas-worker"]["spec"]["scaleTargetRef"]["name"] in by_kind("Deployment")
    config = by_kind("ConfigMap")["redis"]["data"]
    assert f"sentinel monitor {given_config()['TNAAS_REDIS_SERVICE']} " in config["sentinel.sh"]


def test_processes_replicas_probes_resources_and_disruption_budgets():
    deployments = by_kind("Deployment")
    commands = {name: d["spec"]["template"]["spec"]["containers"][0]["command"] for name, d in deployments.items()}
    assert commands == {
        "tnaas-web": ["tnaas", "web"],
        "tnaas-worker": ["tnaas", "worker"],
        "tnaas-scheduler": ["tnaas", "scheduler"],
    }
    assert deployments["tnaas-web"]["spec"]["replicas"] >= 2 and deployments["tnaas-scheduler"]["spec"]["replicas"] == 1
    web = deployments["tnaas-web"]["spec"]["template"]["spec"]["containers"][0]
    assert web["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert web["readinessProbe"]["httpGet"]["path"] == "/healthz"
    for workload in [*deployments.values(), *by_kind("StatefulSet").values()]:
        for container in workload["spec"]["template"]["spec"]["containers"]:
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), container["name"]
            assert "memory" in container["resources"]["limits"], container["name"]
    budgets = {
        tuple(sorted(b["spec"]["selector"]["matchLabels"].items())) for b in by_kind("PodDisruptionBudget").values()
    }
    for name in ("tnaas-web", "tnaas-worker"):
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert tuple(sorted(labels.items())) in budgets
    assert (("app.kubernetes.io/name", "redis"),) in budgets


def test_the_redis_pods_scripts_are_valid_shell():
    for name, script in by_kind("ConfigMap")["redis"]["data"].items():
        checked = subprocess.run(["sh", "-n"], input=script, text=True, capture_output=True)
        assert checked.returncode == 0, (name, checked.stderr)
