#!/usr/bin/env python3
"""Chart checks for helm/faultline (`make helm-check`, via scripts/helm-check.sh).

Runs with the Python of .tools/deploy-venv (helm-python-sdk, kubernetes-validate, checkov,
PyYAML). For each values profile in helm/faultline/ci/ (default, minimal, production):

1. render it with the Helm v4 engine (helm-python-sdk), which also applies
   values.schema.json;
2. lint it (strict) for the lowest and the highest supported Kubernetes version: no
   errors, no warnings;
3. check what the chart promises: every Deployment has native gRPC readiness and startup
   probes, a liveness probe, requests and limits, a non-root read-only container; no
   Secret object is rendered and no secret value appears; the rendered faultline.toml is
   accepted by the real `faultline config` (the binary built by `make build`);
4. `kubernetes-validate --strict` for the lowest and the highest supported version;
5. checkov, with the skip list below (every entry says why).

Then: values that must be refused are refused by the schema, and the example values in
helm/examples/ parse.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import helm_python as helm
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHART = os.path.join(ROOT, "helm", "faultline")
PROFILES = ["default", "minimal", "production"]
# Lowest and highest Kubernetes version supported (Chart.yaml kubeVersion: >=1.27, where
# native gRPC probes are GA; 1.37 is the newest schema kubernetes-validate ships).
KUBE_VERSIONS = ["1.27.0", "1.37.0"]
VENV_BIN = os.path.dirname(sys.executable)
FAULTLINE = os.environ.get("FAULTLINE_BIN", os.path.join(ROOT, "target", os.environ.get("PROFILE", "debug"), "faultline"))
# Not under a hidden directory: checkov ignores paths with a component starting with ".".
OUT = os.path.join(ROOT, "target", "helm-check")

# checkov: check id -> (profiles it applies to, why it is skipped).
CHECKOV_SKIPS = {
    "CKV_K8S_43": (["default", "minimal"],
                   "image by digest: a digest exists only once an image is pushed; the chart takes one "
                   "(image.digest) and the production profile sets it"),
    "CKV2_K8S_6": (["minimal"],
                   "pods without a NetworkPolicy: the minimal profile turns NetworkPolicies off on purpose "
                   "(dev clusters often run no policy engine); default and production keep them on"),
}

# Values the schema must refuse: name -> values.
INVALID = {
    "stream replicas 2 (must be 1, 3 or 5)": {"config": {"provision": {"replicas": 2}}},
    "a Redis password as a value": {"redis": {"password": "not-a-real-password"}},
    "credentials inside the NATS URL": {"nats": {"url": "nats://faultline:pw@nats:4222"}},
    "a password inside the Redis URL": {"redis": {"url": "redis://:pw@redis:6379"}},
    "an unknown service": {"services": {"agentGateway": {"replicas": 1}}},
    "an unknown top-level key": {"replicaCount": 3},
    "auth on without an API key Secret": {"ingest": {"apiKeysSecret": {"name": ""}}},
    "a root container": {"securityContext": {"runAsNonRoot": False}},
    "a writable root filesystem": {"securityContext": {"readOnlyRootFilesystem": False}},
    "a bad duration": {"config": {"readiness": {"ttl": "soon"}}},
    "a bad project namespace": {"config": {"namespace": "Acme-Prod"}},
    "a bad environment name": {"config": {"provision": {"environments": {"Pre.Prod": {}}}}},
    "no memory limit": {"services": {"errorIngest": {"resources": {"limits": {"cpu": "1", "memory": None}}}}},
    "a digest that is not sha256": {"image": {"digest": "latest"}},
    "an unknown log format": {"config": {"logFormat": "xml"}},
    "a webhook port out of range": {"results": {"webhookPorts": [70000]}},
    "a webhook secret inline": {"results": {"webhooksSecret": {"name": "h", "key": "k", "value": "s3cr3t"}}},
}

failures: list[str] = []


def log(msg: str) -> None:
    print(f"helm-check: {msg}", flush=True)


def fail(msg: str) -> None:
    failures.append(msg)
    log(f"  FAIL: {msg}")


def load_profile(name: str) -> dict:
    with open(os.path.join(CHART, "ci", f"{name}-values.yaml")) as f:
        return helm.values_from_yaml(f.read()) or {}


def render(chart: helm.Chart, values: dict) -> dict[str, str]:
    return chart.render(values=values, name="faultline", namespace="faultline", is_install=True)


def docs_of(rendered: dict[str, str]) -> list[dict]:
    docs = []
    for path, text in rendered.items():
        if not path.endswith(".yaml"):
            continue
        for d in yaml.safe_load_all(text):
            if d:
                d["__file"] = path
                docs.append(d)
    return docs


def check_lint(profile: str, values: dict) -> None:
    for kv in KUBE_VERSIONS:
        report = helm.lint(CHART, values, strict=True, kube_version=f"v{kv}", namespace="faultline")
        bad = [m for m in report.get("messages", []) if m.get("severity", 0) >= 2]
        if report.get("errors") or bad:
            fail(f"{profile}: lint for {kv}: {report.get('errors')} {bad}")
    log(f"  lint (strict) for Kubernetes {' and '.join(KUBE_VERSIONS)}: no errors, no warnings")


def check_promises(profile: str, docs: list[dict], values: dict) -> None:
    kinds: dict[str, int] = {}
    for d in docs:
        kinds[d["kind"]] = kinds.get(d["kind"], 0) + 1
        if d["kind"] == "Secret":
            fail(f"{profile}: the chart rendered a Secret ({d['metadata']['name']}); secrets are references only")
    deployments = [d for d in docs if d["kind"] == "Deployment"]
    if len(deployments) != 5:
        fail(f"{profile}: expected 5 Deployments, got {len(deployments)}")
    for d in deployments:
        name = d["metadata"]["name"]
        pod = d["spec"]["template"]["spec"]
        if pod.get("automountServiceAccountToken") is not False:
            fail(f"{profile}: {name} mounts a service account token")
        if not pod.get("securityContext", {}).get("runAsNonRoot"):
            fail(f"{profile}: {name} pod may run as root")
        for c in pod["containers"]:
            for probe in ("readinessProbe", "startupProbe"):
                if "grpc" not in c.get(probe, {}):
                    fail(f"{profile}: {name} has no native gRPC {probe}")
            if "livenessProbe" not in c:
                fail(f"{profile}: {name} has no livenessProbe")
            res = c.get("resources", {})
            for side in ("requests", "limits"):
                for r in ("cpu", "memory"):
                    if r not in res.get(side, {}):
                        fail(f"{profile}: {name} has no {side}.{r}")
            sc = c.get("securityContext", {})
            if not (sc.get("readOnlyRootFilesystem") and sc.get("allowPrivilegeEscalation") is False
                    and "ALL" in sc.get("capabilities", {}).get("drop", [])):
                fail(f"{profile}: {name} container is not hardened: {sc}")
    # Webhooks: the Secret is mounted into the result-publisher only, its file named by env,
    # and the result-publisher alone may reach the receivers' ports.
    hooks_secret = values.get("results", {}).get("webhooksSecret", {}).get("name")
    for d in deployments:
        pod = d["spec"]["template"]["spec"]
        component = d["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/component")
        mounted = any(v.get("secret", {}).get("secretName") == hooks_secret for v in pod.get("volumes", []))
        named = any(e["name"] == "FAULTLINE_RESULTS__WEBHOOKS_FILE" for e in pod["containers"][0].get("env", []))
        want = bool(hooks_secret) and component == "result-publisher"
        if (bool(hooks_secret) and mounted) != want or named != want:
            fail(f"{profile}: {d['metadata']['name']}: webhooks Secret mounted={mounted}, file named={named}, expected {want}")
    if hooks_secret and values.get("networkPolicy", {}).get("enabled", True):
        for d in docs:
            if d["kind"] != "NetworkPolicy":
                continue
            ports = {p.get("port") for rule in d["spec"].get("egress", []) for p in rule.get("ports", [])}
            is_rp = d["metadata"]["name"].endswith("-result-publisher")
            if (443 in ports) != is_rp:
                fail(f"{profile}: NetworkPolicy {d['metadata']['name']} egress to 443: {443 in ports}, expected {is_rp}")
    hooks = [d for d in docs if d["kind"] == "Job" and "pre-install" in
             d["metadata"].get("annotations", {}).get("helm.sh/hook", "")]
    if not hooks:
        fail(f"{profile}: no provisioning Job hook")
    for d in hooks:
        cmd = d["spec"]["template"]["spec"]["containers"][0]["command"]
        if cmd != ["faultline", "init"]:
            fail(f"{profile}: provisioning Job runs {cmd}")
    np_on = values.get("networkPolicy", {}).get("enabled", True)
    if np_on and kinds.get("NetworkPolicy", 0) < 5:
        fail(f"{profile}: NetworkPolicies are on but only {kinds.get('NetworkPolicy', 0)} rendered")
    log(f"  rendered: {', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))}; probes, resources,"
        " security contexts and secret references as promised")


def check_config(profile: str, docs: list[dict], workdir: str) -> None:
    """The rendered faultline.toml files must be accepted by the real binary."""
    if not os.access(FAULTLINE, os.X_OK):
        fail(f"{FAULTLINE} not built: run `make build`")
        return
    secret_dir = os.path.join(workdir, "secrets")
    for d in docs:
        if d["kind"] != "ConfigMap" or "faultline.toml" not in d.get("data", {}):
            continue
        text = d["data"]["faultline.toml"]
        # Every secret file the config names must exist for `faultline config`: stand-ins.
        for path in set(re.findall(r'"(/var/run/secrets/faultline/[^"]+)"', text)):
            local = os.path.join(secret_dir, os.path.relpath(path, "/var/run/secrets/faultline"))
            os.makedirs(os.path.dirname(local), exist_ok=True)
            with open(local, "w") as f:
                f.write("faultline ci sha256:" + "0" * 64 + "\n" if path.endswith("api-keys") else "placeholder\n")
        text = text.replace("/var/run/secrets/faultline", secret_dir)
        cfg = os.path.join(workdir, f"{d['metadata']['name']}.toml")
        with open(cfg, "w") as f:
            f.write(text)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("FAULTLINE_") and k not in ("NATS_URL", "NATS_NAMESPACE", "REDIS_URL")}
        res = subprocess.run([FAULTLINE, "config", "--config", cfg], env=env, capture_output=True, text=True)
        if res.returncode != 0:
            fail(f"{profile}: faultline rejects ConfigMap {d['metadata']['name']}: {res.stdout}{res.stderr}")
        else:
            log(f"  faultline config accepts ConfigMap {d['metadata']['name']}")
        if profile == "production" and "provision" not in d["metadata"]["name"]:
            for needle in ("replicas = 3", "tls_ca_file", "password_file", 'url = "tls://'):
                if needle not in res.stdout and needle not in text:
                    fail(f"{profile}: expected `{needle}` in the effective configuration")


def check_kubernetes_validate(profile: str, files: list[str]) -> None:
    for kv in KUBE_VERSIONS:
        res = subprocess.run([os.path.join(VENV_BIN, "kubernetes-validate"), "--strict", "--quiet",
                              "-k", kv, *files], capture_output=True, text=True)
        if res.returncode != 0:
            fail(f"{profile}: kubernetes-validate --strict -k {kv}:\n{res.stdout}{res.stderr}")
    log(f"  kubernetes-validate --strict: {len(files)} files valid for Kubernetes {' and '.join(KUBE_VERSIONS)}")


def check_checkov(profile: str, outdir: str) -> None:
    skips = [c for c, (profiles, _) in CHECKOV_SKIPS.items() if profile in profiles]
    cmd = [os.path.join(VENV_BIN, "checkov"), "-d", outdir, "--framework", "kubernetes", "--skip-download",
           "--compact", "--quiet", "--output", "cli"]
    if skips:
        cmd += ["--skip-check", ",".join(skips)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    summary = re.search(r"Passed checks: (\d+), Failed checks: (\d+), Skipped checks: (\d+)", res.stdout)
    if res.returncode != 0 or not summary:
        fail(f"{profile}: checkov failed:\n{res.stdout[-4000:]}{res.stderr[-2000:]}")
        return
    if int(summary.group(1)) < 100:
        fail(f"{profile}: checkov ran only {summary.group(1)} checks: did it scan the manifests?")
        return
    log(f"  checkov: {summary.group(0)}{' (skipped: ' + ', '.join(skips) + ')' if skips else ''}")


def check_validators_bite(workdir: str) -> None:
    """A broken manifest must fail kubernetes-validate --strict, so a pass means something."""
    bad = os.path.join(workdir, "broken.yaml")
    with open(bad, "w") as f:
        f.write("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n"
                "spec: {selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}},"
                " spec: {containers: [{name: x, image: x, readinessProbe: {grpcc: {port: 1}}}]}}}\n")
    res = subprocess.run([os.path.join(VENV_BIN, "kubernetes-validate"), "--strict", "--quiet",
                          "-k", KUBE_VERSIONS[0], bad], capture_output=True, text=True)
    if res.returncode == 0:
        fail("kubernetes-validate --strict accepted a manifest with an unknown field")


def check_invalid(chart: helm.Chart) -> None:
    log("invalid values must be refused by values.schema.json")
    for name, values in INVALID.items():
        try:
            render(chart, values)
        except helm.HelmError as e:
            first = str(e).strip().splitlines()
            log(f"  refused: {name}: {first[-1].strip() if first else e}")
            continue
        fail(f"the schema accepted {name}: {values}")


def check_examples() -> None:
    ex = os.path.join(ROOT, "helm", "examples")
    for f in sorted(os.listdir(ex)):
        if f.endswith(".yaml"):
            with open(os.path.join(ex, f)) as fh:
                helm.values_from_yaml(fh.read())
            log(f"  helm/examples/{f} parses")


def main() -> int:
    t0 = time.monotonic()
    log(f"Helm engine {helm.helm_sdk_version()} (helm-python-sdk {helm.__version__}); "
        f"Kubernetes versions {', '.join(KUBE_VERSIONS)}")
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    with helm.Chart.load(CHART) as chart:
        for profile in PROFILES:
            log(f"profile {profile} (helm/faultline/ci/{profile}-values.yaml)")
            values = load_profile(profile)
            try:
                rendered = render(chart, values)
            except helm.HelmError as e:
                fail(f"{profile}: render failed: {e}")
                continue
            outdir = os.path.join(OUT, profile)
            os.makedirs(outdir)
            files = []
            for path, text in sorted(rendered.items()):
                if path.endswith(".yaml") and text.strip():
                    dest = os.path.join(outdir, path.replace("faultline/templates/", "").replace("/", "_"))
                    with open(dest, "w") as f:
                        f.write(text)
                    files.append(dest)
            docs = docs_of(rendered)
            check_lint(profile, values)
            check_promises(profile, docs, values)
            with tempfile.TemporaryDirectory() as work:
                check_config(profile, docs, work)
            check_kubernetes_validate(profile, files)
            check_checkov(profile, outdir)
        with tempfile.TemporaryDirectory() as work:
            check_validators_bite(work)
        check_invalid(chart)
    check_examples()
    log("checkov skip list:")
    for check, (profiles, why) in CHECKOV_SKIPS.items():
        log(f"  {check} ({', '.join(profiles)}): {why}")
    took = time.monotonic() - t0
    if failures:
        log(f"FAILED ({len(failures)} problems) in {took:.1f} s")
        return 1
    log(f"passed in {took:.1f} s (rendered manifests in target/helm-check/)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
