#!/usr/bin/env bash
# `make compose-test`: checks docker/Dockerfile and docker-compose.yml offline, then runs the
# stack for real and checks it (scripts/compose_test.py: start order, health, events through
# the pipeline, a dependency stopped and restarted, a clean `down`).
#
# 1. hadolint docker/Dockerfile; `docker-compose config -q`
# 2. local stand-ins for the public images the files name (docker/build-standins.sh;
#    skipped for images that exist, e.g. pulled from a registry)
# 3. the faultline image from the binaries the host already built (target/$PROFILE,
#    stripped into docker/prebuilt/), with `docker build --target prebuilt`: no second
#    compile inside a container
# 4. throwaway secrets in .run/compose-test/secrets (docker/make-secrets.sh)
# 5. the scenario, on free 127.0.0.1 ports, as compose project faultline-compose-test
#
# Environment: PROFILE (debug), COMPOSE (docker compose if available, else docker-compose),
#              COMPOSE_TEST_DEADLINE (120 s to all-healthy).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PROFILE="${PROFILE:-debug}"
BINARIES=(faultline faultline-health-checker faultline-error-ingest faultline-injection-filter
          faultline-task-dispatcher faultline-result-publisher)
IMAGE="faultline:compose-test"
T_START=$SECONDS

log() { printf 'compose-test: %s\n' "$*"; }
die() { printf 'compose-test: %s\n' "$*" >&2; exit 1; }

command -v docker >/dev/null || die "docker not found"
docker info >/dev/null 2>&1 || die "the docker daemon is not reachable"
if [[ -z "${COMPOSE:-}" ]]; then
    if docker compose version >/dev/null 2>&1; then COMPOSE="docker compose"
    elif command -v docker-compose >/dev/null; then COMPOSE="docker-compose"
    else die "neither \`docker compose\` nor docker-compose found"; fi
fi
log "using $($COMPOSE version 2>/dev/null | head -n1), $(docker version -f 'engine {{.Server.Version}}' 2>/dev/null)"

# 1. Offline checks.
VENV_BIN="$(scripts/install-deploy-tools.sh)"
"$VENV_BIN/hadolint" docker/Dockerfile
log "hadolint docker/Dockerfile: ok ($("$VENV_BIN/hadolint" --version))"
$COMPOSE -f docker-compose.yml config -q
log "$COMPOSE config -q: ok"

# 2. Stand-ins for the public images.
docker/build-standins.sh

# 3. The faultline image from host binaries.
for b in "${BINARIES[@]}"; do
    [[ -x "target/$PROFILE/$b" ]] || die "target/$PROFILE/$b is missing: run \`make build\`"
done
find docker/prebuilt -mindepth 1 -not -name README.md -delete
for b in "${BINARIES[@]}"; do
    strip -o "docker/prebuilt/$b" "target/$PROFILE/$b"
done
t=$SECONDS
docker build -q -f docker/Dockerfile --target prebuilt --build-arg REQUIRE_PREBUILT=1 \
    -t "$IMAGE" . >/dev/null 2> >(grep -v -e 'legacy builder is deprecated' -e 'Install the buildx' \
                                        -e 'docs.docker.com/go/buildx' -e '^ *$' >&2)
# Do not leave 100 MB of binaries in the build context of later builds.
find docker/prebuilt -mindepth 1 -not -name README.md -delete
log "built $IMAGE from target/$PROFILE in $((SECONDS - t)) s ($(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"
for b in "${BINARIES[@]}"; do
    docker run --rm --network none "$IMAGE" "$b" --version >/dev/null || die "$b --version failed in $IMAGE"
done
[[ "$(docker run --rm --network none "$IMAGE" id -u)" == 10001 ]] || die "$IMAGE does not run as uid 10001"
log "smoke: every binary answers --version in $IMAGE, as uid 10001"

# 4. Throwaway secrets.
export FAULTLINE_SECRETS_DIR="$ROOT/.run/compose-test/secrets"
rm -rf "$FAULTLINE_SECRETS_DIR"
mkdir -p "$(dirname "$FAULTLINE_SECRETS_DIR")"
FAULTLINE_BIN="target/$PROFILE/faultline" docker/make-secrets.sh >/dev/null

# 5. The scenario, on free ports.
eval "$(python3 - <<'PY'
import socket
names = ["NATS_PORT", "NATS_MONITOR_PORT", "HEALTH_GRPC_PORT", "HEALTH_ADMIN_PORT",
         "INGEST_HTTP_PORT", "INGEST_GRPC_PORT", "INGEST_ADMIN_PORT", "FILTER_GRPC_PORT",
         "FILTER_ADMIN_PORT", "DISPATCHER_GRPC_PORT", "DISPATCHER_ADMIN_PORT",
         "PUBLISHER_GRPC_PORT", "PUBLISHER_ADMIN_PORT"]
socks = []
for n in names:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
    print(f"export {n}={s.getsockname()[1]}")
PY
)"
export COMPOSE FAULTLINE_IMAGE="$IMAGE" FAULTLINE_BIND=127.0.0.1 COMPOSE_PROJECT_NAME=faultline-compose-test
export FAULTLINE_LOG_FILTER=info
python3 scripts/compose_test.py
log "total $((SECONDS - T_START)) s"
