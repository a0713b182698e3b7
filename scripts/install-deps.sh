#!/usr/bin/env bash
# Installs every package mcbridge needs to build and test (default), or only the shared
# libraries the daemon needs at run time (--runtime-only, for the Dockerfile's final stage).
# Idempotent: when everything is installed it does nothing, not even `apt-get update`.
# Never starts services: Debian's redis-server and memcached postinst scripts would start system
# instances on 6379/11211; a temporary policy-rc.d stops that (the tests start their own servers
# on ephemeral ports).
set -euo pipefail

BUILD_PACKAGES=(
  # toolchain and build
  build-essential cmake pkg-config clang-14 libclang-rt-14-dev
  # libraries
  libuv1-dev libhiredis-dev libspdlog-dev libssl-dev libcli11-dev libcpp-httplib-dev
  catch2 libbenchmark-dev
  # servers and clients the tests and benchmarks run
  redis-server memcached libmemcached-tools nutcracker
  python3-pytest python3-pymemcache python3-memcache python3-pylibmc python3-yaml
  python3-flask python3-pip python3-setuptools   # clients/python: example app, pip install
  # SASL: saslpasswd2 builds the sasldb of the reference memcached -S in the auth tests
  sasl2-bin
  # tools the scripts use
  openssl curl netcat-openbsd procps ca-certificates
)
RUNTIME_PACKAGES=(libuv1 libhiredis0.14 libspdlog1.10 libfmt9 libssl3 libstdc++6 libcpp-httplib0.11 ca-certificates curl)

usage() {
  echo "usage: $0 [--runtime-only]"
}

packages=("${BUILD_PACKAGES[@]}")
for arg in "$@"; do
  case "$arg" in
    --runtime-only) packages=("${RUNTIME_PACKAGES[@]}") ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" != "install ok installed" ]]; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"

SUDO=()
if [[ "$(id -u)" != 0 ]]; then
  if command -v sudo >/dev/null; then
    SUDO=(sudo)
  else
    echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive

policy=/usr/sbin/policy-rc.d
created_policy=0
cleanup() {
  if ((created_policy)); then "${SUDO[@]}" rm -f "$policy"; fi
}
trap cleanup EXIT
if [[ ! -e "$policy" ]]; then
  printf '#!/bin/sh\n# mcbridge install-deps: do not start services while installing\nexit 101\n' |
    "${SUDO[@]}" tee "$policy" >/dev/null
  "${SUDO[@]}" chmod 755 "$policy"
  created_policy=1
fi

apt_install() {
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
}
apt_update() {
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
}

# Update only when needed: no package lists yet, or the install fails on stale lists.
if ! compgen -G "/var/lib/apt/lists/*_Packages*" >/dev/null; then
  apt_update
  apt_install
elif ! apt_install; then
  apt_update
  apt_install
fi
echo "install-deps: done"
