"""Kubernetes manifests: schema-valid (kubernetes-validate, offline) and production-shaped."""

from __future__ import annotations

import pytest

from conftest import DEPLOY, load_yaml, load_yaml_all

K8S = DEPLOY / "k8s"
MANIFESTS = sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def resources() -> dict[str, dict]:
    found = {}
    for path in MANIFESTS:
        for doc in load_yaml_all(path):
            found[doc["kind"]] = doc
    return found


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_validates(path):
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    version = kubernetes_validate.latest_version()
    for doc in load_yaml_all(path):
        kubernetes_validate.validate(doc, version, strict=True)


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifests_are_namespace_agnostic(path):
    for doc in load_yaml_all(path):
        assert "namespace" not in doc["metadata"], f"{path.name}: choose the namespace at apply time"


def test_kustomization_lists_existing_files_but_not_the_secret_example():
    kust = load_yaml(K8S / "kustomization.yaml")
    for name in kust["resources"]:
        assert (K8S / name).is_file(), name
    assert "secret.example.yaml" not in kust["resources"]


def pod_spec(kind: str) -> dict:
    doc = resources()[kind]
    if kind == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return doc["spec"]["template"]["spec"]


def test_deployment_runs_several_replicas_with_probes():
    dep = resources()["Deployment"]
    assert dep["spec"]["replicas"] >= 2
    assert dep["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    c = pod_spec("Deployment")["containers"][0]
    assert c["command"] == ["preflight", "serve"]
    assert c["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert c["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert c["ports"][0]["containerPort"] == 8000


@pytest.mark.parametrize("kind", ["Deployment", "Job", "CronJob"])
def test_pods_have_resources_and_are_locked_down(kind):
    spec = pod_spec(kind)
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == 10001
    assert spec["automountServiceAccountToken"] is False
    for c in spec["containers"]:
        res = c["resources"]
        assert res["requests"]["cpu"] and res["requests"]["memory"], c["name"]
        assert res["limits"]["cpu"] and res["limits"]["memory"], c["name"]
        sc = c["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True, c["name"]
        assert sc["allowPrivilegeEscalation"] is False, c["name"]
        assert sc["capabilities"]["drop"] == ["ALL"], c["name"]
        # Configuration by reference: the ConfigMap and the Secret, never inline secret values.
        refs = {next(iter(e)) : next(iter(e.values()))["name"] for e in c["envFrom"]}
        assert refs == {"configMapRef": "preflight-config", "secretRef": "preflight-secrets"}, c["name"]
        assert "env" not in c, f"{c['name']}: use the ConfigMap/Secret"


def test_pdb_and_service_select_the_deployment_pods():
    res = resources()
    pod_labels = res["Deployment"]["spec"]["template"]["metadata"]["labels"]
    for kind in ("PodDisruptionBudget",):
        selector = res[kind]["spec"]["selector"]["matchLabels"]
        assert selector.items() <= pod_labels.items(), kind
    assert res["PodDisruptionBudget"]["spec"]["minAvailable"] == 1
    assert res["Service"]["spec"]["selector"].items() <= pod_labels.items()


def test_migrations_job_and_backup_cronjob():
    res = resources()
    job = pod_spec("Job")["containers"][0]
    assert job["command"] == ["preflight", "migrate", "up"]
    cron = res["CronJob"]
    assert cron["spec"]["concurrencyPolicy"] == "Forbid", "one backup at a time"
    c = pod_spec("CronJob")["containers"][0]
    assert c["command"][:2] == ["preflight", "backup"]
    assert any(v.get("persistentVolumeClaim") for v in pod_spec("CronJob")["volumes"])
    assert res["ConfigMap"]["data"]["MIGRATE_ON_START"] == "false"


def test_configmap_holds_no_secrets_and_secret_example_only_placeholders():
    res = resources()
    for key in res["ConfigMap"]["data"]:
        assert not any(s in key for s in ("PASSWORD", "SECRET", "TOKEN", "ENCRYPTION_KEY")), key
    assert res["ConfigMap"]["data"]["HOST"] == "0.0.0.0"
    assert "*" not in res["ConfigMap"]["data"]["ALLOWED_ORIGINS"]
    for key, value in res["Secret"]["stringData"].items():
        assert "<" in value and ">" in value, f"{key}: secret.example.yaml holds placeholders only"
