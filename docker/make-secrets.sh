#!/usr/bin/env bash
# Makes the secrets docker-compose.yml mounts, once, in docker/secrets/ (git ignores it):
#
#   redis_password  a random Redis password (compose secret; Redis and every service read it)
#   api_keys        error-ingest's API keys, stored form only: `<namespace> <name> sha256:<hex>`
#   api-key         the key itself for the first name (`local`), for your requests; it is
#                   not mounted into any container
#   seal_key        a random key the injection-filter seals its tasks with and the
#                   task-dispatcher checks them with (filter.seal_key_file)
#
# Existing files are kept, so running it again changes nothing.
#   docker/make-secrets.sh                 make what is missing
#   docker/make-secrets.sh --add-key NAME  add one more API key, print it once; then
#                                          restart error-ingest (keys are read at start)
#
# The keys are made by `faultline apikey`: from FAULTLINE_BIN, target/debug or target/release,
# the PATH, or else the image ${FAULTLINE_IMAGE:-faultline:local} (build it first with
# `docker compose build`).
#
# File modes: the directory is 0700, so other users of this machine cannot read inside it.
# redis_password, api_keys and seal_key are 0644 because compose mounts secret files as they are
# (it cannot change their owner), and the containers read them as a non-root user.
#
# Environment: FAULTLINE_SECRETS_DIR (docker/secrets), NATS_NAMESPACE (faultline).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${FAULTLINE_SECRETS_DIR:-$ROOT/docker/secrets}"
NAMESPACE="${NATS_NAMESPACE:-faultline}"
IMAGE="${FAULTLINE_IMAGE:-faultline:local}"

die() { echo "make-secrets: $*" >&2; exit 1; }

ADD_KEY=""
case "${1:-}" in
    "") ;;
    --add-key) ADD_KEY="${2:-}"; [[ -n "$ADD_KEY" ]] || die "--add-key needs a NAME" ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
esac

# Runs `faultline apikey --name NAME`; prints "<key>\t<stored line>".
apikey() {
    local name=$1 bin="" out err
    for c in "${FAULTLINE_BIN:-}" "$ROOT/target/debug/faultline" "$ROOT/target/release/faultline" \
             "$(command -v faultline 2>/dev/null || true)"; do
        if [[ -n "$c" && -x "$c" ]]; then bin=$c; break; fi
    done
    err="$(mktemp)"
    if [[ -n "$bin" ]]; then
        out="$(env -u FAULTLINE_CONFIG_FILE "$bin" apikey --name "$name" --namespace "$NAMESPACE" 2>"$err")" \
            || { cat "$err" >&2; rm -f "$err"; die "faultline apikey failed"; }
    else
        docker image inspect "$IMAGE" >/dev/null 2>&1 \
            || die "no faultline binary and no image $IMAGE: run \`docker compose build\` (or \`make build\`) first"
        out="$(docker run --rm --network none "$IMAGE" faultline apikey --name "$name" --namespace "$NAMESPACE" 2>"$err")" \
            || { cat "$err" >&2; rm -f "$err"; die "faultline apikey failed"; }
    fi
    local stored
    stored="$(sed -n 's/.*: \([^ ]* [^ ]* sha256:[0-9a-f]*\)$/\1/p' "$err" | tail -n1)"
    rm -f "$err"
    [[ "$out" == flk_* && -n "$stored" ]] || die "unexpected output from faultline apikey"
    printf '%s\t%s\n' "$out" "$stored"
}

umask 077
mkdir -p "$DIR"
chmod 0700 "$DIR"

if [[ -n "$ADD_KEY" ]]; then
    [[ -f "$DIR/api_keys" ]] || die "$DIR/api_keys does not exist: run docker/make-secrets.sh first"
    if awk -v n="$ADD_KEY" '$2 == n {found=1} END {exit !found}' "$DIR/api_keys"; then
        die "a key named $ADD_KEY exists already in $DIR/api_keys"
    fi
    pair="$(apikey "$ADD_KEY")"
    key="${pair%%$'\t'*}" stored="${pair#*$'\t'}"
    printf '%s\n' "$stored" >> "$DIR/api_keys"
    echo "make-secrets: added key \"$ADD_KEY\" to $DIR/api_keys; restart error-ingest to load it:" >&2
    echo "  docker compose restart error-ingest" >&2
    echo "make-secrets: the key (shown once):" >&2
    echo "$key"
    exit 0
fi

if [[ ! -s "$DIR/redis_password" ]]; then
    od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$DIR/redis_password"
    echo "make-secrets: made $DIR/redis_password"
fi
chmod 0644 "$DIR/redis_password"

if [[ ! -s "$DIR/seal_key" ]]; then
    od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$DIR/seal_key"
    echo "make-secrets: made $DIR/seal_key"
fi
chmod 0644 "$DIR/seal_key"

if [[ ! -s "$DIR/api_keys" ]]; then
    pair="$(apikey local)"
    key="${pair%%$'\t'*}" stored="${pair#*$'\t'}"
    printf '# error-ingest API keys: <namespace> <name> sha256:<hex>. Made by docker/make-secrets.sh.\n%s\n' \
        "$stored" > "$DIR/api_keys"
    printf '%s\n' "$key" > "$DIR/api-key"
    chmod 0600 "$DIR/api-key"
    echo "make-secrets: made $DIR/api_keys and the key \"local\" in $DIR/api-key"
fi
chmod 0644 "$DIR/api_keys"
echo "make-secrets: secrets are in $DIR"
