"""deploy/k8s: every manifest validates (strictly) against the Kubernetes JSON schemas, offline."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_validate.utils import ValidationError, validate

K8S = Path(__file__).resolve().parents[3] / "deploy" / "k8s"
KUBERNETES_VERSIONS = ["1.29.0", "1.33.0"]
"""An older supported release and a recent one; both ship with kubernetes-validate."""


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def _kustomization() -> dict[str, Any]:
    return _docs(K8S / "kustomization.yaml")[0]


def _manifests() -> list[Path]:
    return sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def _by_kind(kind: str, name: str | None = None) -> dict[str, Any]:
    docs = [
        d
        for r in _kustomization()["resources"]
        for d in _docs(K8S / r)
        if d["kind"] == kind and name in (None, d["metadata"]["name"])
    ]
    assert len(docs) == 1, (kind, name)
    return docs[0]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("path", _manifests(), ids=lambda p: p.name)
def test_manifest_validates_strictly(path: Path, version: str) -> None:
    for doc in _docs(path):
        validate(doc, version, strict=True)


def test_the_validator_rejects_an_unknown_field() -> None:
    doc = _docs(K8S / "worker-statefulset.yaml")[0]
    doc["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["portt"] = 6066
    with pytest.raises(ValidationError):
        validate(doc, KUBERNETES_VERSIONS[-1], strict=True)


def test_kustomization_lists_every_manifest_but_the_secret_example() -> None:
    resources = _kustomization()["resources"]
    assert sorted(resources) == sorted(p.name for p in _manifests() if p.name != "secret.example.yaml")


def test_secret_example_holds_only_placeholders() -> None:
    secret = _docs(K8S / "secret.example.yaml")[0]
    assert secret["kind"] == "Secret"
    assert all(v.startswith("REPLACE_WITH_") for v in secret["stringData"].values())
    config = _docs(K8S / "configmap.yaml")[0]["data"]
    assert not any(re.search(r"PASSWORD|TOKEN", k) for k in config), "secrets belong in the Secret"


def test_workers_do_not_outnumber_partitions() -> None:
    partitions = int(_by_kind("ConfigMap")["data"]["VIGIL_TOPICS__PARTITIONS"])
    workers = _by_kind("StatefulSet")
    assert workers["spec"]["replicas"] <= partitions
    claim = workers["spec"]["volumeClaimTemplates"][0]["metadata"]["name"]
    mounts = workers["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    data_dir = _by_kind("ConfigMap")["data"]["VIGIL_WORKER__DATA_DIR"]
    assert {"name": claim, "mountPath": data_dir} in mounts


def _bytes(quantity: str) -> int:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    return int(quantity[:-2]) * units[quantity[-2:]]


def test_the_worker_memory_limit_holds_its_state_cache_and_table() -> None:
    """A worker is ~0.3 GiB, plus ~35 KiB a cached patient after a few weeks (``vigil bench pipeline``),
    plus its RocksDB databases (one per partition, ~21 MiB each with the default buffers: ``vigil bench
    table``), docs/streams.md "Memory"; the limit leaves room for all of them, with a margin, when one
    worker holds every partition."""
    config = _by_kind("ConfigMap")["data"]
    cached = int(config["VIGIL_WORKER__STATE_CACHE_PATIENTS"])
    partitions = int(config["VIGIL_TOPICS__PARTITIONS"])
    resources = _by_kind("StatefulSet")["spec"]["template"]["spec"]["containers"][0]["resources"]
    need = 2**29 + cached * 40 * 2**10 + partitions * 24 * 2**20
    assert _bytes(resources["requests"]["memory"]) >= need / 2
    assert _bytes(resources["limits"]["memory"]) >= 1.5 * need


def test_probes_and_autoscaling(worker_health_paths: set[str]) -> None:
    gateway = _by_kind("Deployment", "vigil-gateway")["spec"]["template"]["spec"]["containers"][0]
    assert gateway["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert gateway["livenessProbe"]["httpGet"]["path"] == "/healthz"
    worker = _by_kind("StatefulSet")["spec"]["template"]["spec"]["containers"][0]
    assert any(p["containerPort"] == 6066 and p["name"] == "web" for p in worker["ports"])
    served = worker_health_paths
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert worker[probe]["httpGet"]["port"] == "web"
        assert worker[probe]["httpGet"]["path"] in served, probe
    assert worker["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert worker["livenessProbe"]["httpGet"]["path"] == "/health/live"
    hpa = _by_kind("HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "vigil-gateway"


def test_pods_run_unprivileged() -> None:
    for path in _manifests():
        for doc in _docs(path):
            pod = doc.get("spec", {}).get("template", {}).get("spec")
            if pod is None:
                continue
            assert pod["securityContext"]["runAsNonRoot"] is True, path.name
            for container in pod["containers"]:
                ctx = container["securityContext"]
                assert ctx["allowPrivilegeEscalation"] is False and ctx["readOnlyRootFilesystem"] is True


def test_the_configmap_and_the_secret_make_valid_settings(settings_from: Any) -> None:
    """Every variable the pods get is a setting (a misspelt one under a section fails ``Settings``), and
    together they pass the production checks."""
    config = _by_kind("ConfigMap")["data"]
    secret = _docs(K8S / "secret.example.yaml")[0]["stringData"]
    settings = settings_from({**config, **secret})
    assert settings.environment == "production"
    assert settings.worker.web_port == 6066 and settings.worker.stall_after_s == 120
    assert settings.topics.partitions == int(config["VIGIL_TOPICS__PARTITIONS"])
