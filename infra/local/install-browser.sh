#!/usr/bin/env bash
# Installs Debian's Chromium and ChromeDriver, pinned, for the browser tests, and prints the
# path of chromedriver. They are system packages (Chromium needs its shared libraries where the
# system keeps them), so this needs root, once; later runs find them installed and do nothing.
set -euo pipefail
version="148.0.7778.167-1~deb12u1"
installed() { [[ "$(dpkg-query -W -f='${Version}' "$1" 2>/dev/null)" == "$version" ]]; }
if ! installed chromium || ! installed chromium-driver; then
    echo "installing chromium and chromium-driver $version (first run only)" >&2
    if [[ "$(id -u)" != 0 ]]; then
        echo "installing the browser needs root: run this script once as root" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends "chromium=$version" "chromium-common=$version" \
        "chromium-driver=$version" >&2 || {
        apt-get update -q >&2
        apt-get install -y -q --no-install-recommends "chromium=$version" "chromium-common=$version" \
            "chromium-driver=$version" >&2
    }
fi
echo /usr/bin/chromedriver
