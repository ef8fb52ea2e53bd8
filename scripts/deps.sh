#!/usr/bin/env bash
# Installs the system packages Gatehouse needs to build and test, when missing.
#   cmake, pkg-config, libssl-dev, g++: Pingora's native dependencies
#   (zlib-ng, OpenSSL).
#   modsecurity-crs: Debian's packaged OWASP CRS 3.3.4 (rule files only),
#   which the WAF tests load.
#   redis-server: the WAF's shared collections are tested against a real
#   one (started by the tests themselves on a free loopback port).
# Debian/Ubuntu only; uses sudo when not root. Does nothing when all present.
set -euo pipefail

packages=(cmake pkg-config libssl-dev g++ make modsecurity-crs redis-server)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
    echo "deps.sh: missing ${missing[*]} and no apt-get; install them with your package manager" >&2
    exit 1
fi
sudo=()
[[ $(id -u) -eq 0 ]] || sudo=(sudo)
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
