#!/usr/bin/env bash
# Installs wrk (Debian's package, pinned, with the LuaJIT library it links) into a folder cached
# outside the clone and prints the path of a launcher for it. The packages are downloaded and
# unpacked, not installed: no root is needed and the system is not touched. Later runs find the
# cached launcher.
set -euo pipefail
wrk_version="4.1.0-3+b2"
luajit_version="2.1.0~beta3+git20220320+dfsg-4.1+deb12u1"
cache="${SLUICE_CACHE:-$HOME/.cache/sluice}"
root="$cache/wrk-$wrk_version"
launcher="$root/wrk"
if [[ ! -x "$launcher" ]]; then
    echo "fetching wrk $wrk_version into $root (first run only)" >&2
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    (cd "$work" && apt-get download "wrk=$wrk_version" "libluajit-5.1-2=$luajit_version" >&2)
    rm -rf "$root.partial"
    mkdir -p "$root.partial"
    for package in "$work"/*.deb; do
        dpkg-deb -x "$package" "$root.partial/files"
    done
    library="$(find "$root.partial/files" -name 'libluajit-5.1.so.2' -print -quit)"
    [[ -n "$library" ]] || { echo "no LuaJIT library in the packages" >&2; exit 1; }
    libdir="$root/files/${library#"$root.partial/files/"}"
    libdir="${libdir%/*}"
    {
        echo '#!/usr/bin/env bash'
        printf 'LD_LIBRARY_PATH=%q${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} exec %q "$@"\n' \
            "$libdir" "$root/files/usr/bin/wrk"
    } > "$root.partial/wrk"
    chmod +x "$root.partial/wrk"
    rm -rf "$root"
    mv "$root.partial" "$root"
fi
echo "$launcher"
