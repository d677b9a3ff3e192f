#!/usr/bin/env bash
# `make helm-check`: renders helm/faultline with every values profile in helm/faultline/ci/
# and checks it: Helm lint, values.schema.json (including values it must refuse),
# `faultline config` on the rendered configuration, kubernetes-validate --strict for the
# lowest and highest supported Kubernetes version, and checkov. See scripts/helm_check.py.
# No cluster and no helm binary needed: the Helm v4 engine comes from PyPI helm-python-sdk.
#
# Environment: PROFILE (debug): which target/ build of `faultline` checks the configuration.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV_BIN="$("$ROOT/scripts/install-deploy-tools.sh")"
exec "$VENV_BIN/python" "$ROOT/scripts/helm_check.py" "$@"
