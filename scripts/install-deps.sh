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
  libuv1-dev libhiredis-dev libspdlog-dev libssl-dev libcli11-dev
  catch2 libbenchmark-dev
  # servers and clients the tests and benchmarks run
  redis-server redis-tools memcached libmemcached-tools nutcracker
  python3-pytest python3-pymemcache python3-memcache python3-pylibmc python3-yaml
  python3-flask python3-pip python3-setuptools   # clients/python: example app, pip install
  # SASL: saslpasswd2 builds the sasldb of the reference memcached -S in the auth tests
  sasl2-bin
  # binary protocol / SASL clients of tests/clients (memjs comes from npm, see below)
  php-cli php-memcached ruby ruby-dalli
  # more real clients of tests/clients: Java spymemcached (text, binary, SASL), Perl
  # Cache::Memcached(::Fast), PHP's older memcache extension, Go gomemcache (GOPATH build),
  # Python's bmemcached (binary protocol, SASL)
  default-jdk-headless libspymemcached-java libcache-memcached-fast-perl libcache-memcached-perl
  libanyevent-memcached-perl
  php-memcache golang-go golang-github-bradfitz-gomemcache-dev python3-binary-memcached
  # tools the scripts use
  openssl curl netcat-openbsd procps ca-certificates
)
RUNTIME_PACKAGES=(libuv1 libhiredis0.14 libspdlog1.10 libfmt9 libssl3 libstdc++6 ca-certificates curl)

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

# npm modules the client tests use, into the gitignored .npm-deps/ of the repository (only
# for the build set, and only where npm exists: nodejs comes with npm from NodeSource).
NPM_MODULES=(memjs@1.3.2)
install_npm_modules() {
  local root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  [[ "$packages_kind" == build ]] || return 0
  if ! command -v npm >/dev/null; then
    echo "install-deps: npm not found, skipping ${NPM_MODULES[*]}" >&2
    return 0
  fi
  if [[ -d "$root/.npm-deps/node_modules/memjs" ]]; then return 0; fi
  echo "install-deps: npm install ${NPM_MODULES[*]} into .npm-deps/"
  npm install --no-audit --no-fund --loglevel=error --prefix "$root/.npm-deps" "${NPM_MODULES[@]}"
}
packages_kind=build
for arg in "$@"; do
  [[ "$arg" == --runtime-only ]] && packages_kind=runtime
done

missing=()
for p in "${packages[@]}"; do
  if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" != "install ok installed" ]]; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages already installed"
  install_npm_modules
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
install_npm_modules
echo "install-deps: done"
