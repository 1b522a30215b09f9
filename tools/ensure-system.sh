#!/bin/sh
# Install the Debian packages qtcompute needs that a fresh machine may lack:
#   - python3-venv            the virtual environment `make` creates
#   - libgl1 libegl1 ...      shared libraries the Qt wheels (PyQt5, PySide6, PyQt6) load, even
#                             offscreen; Qt 6 (PySide6, PyQt6) adds libxcb-cursor0 for xcb and
#                             libgssapi-krb5-2 for QtNetwork (checked with ldd on every kept file)
#   - libwayland-cursor0 ...  the wayland platform plugin that `qtcompute build` keeps (all three)
#   - binutils                objdump, which PyInstaller uses to find shared-library dependencies
#   - libxcb-*                the xcb platform plugin, for `make run` on a real display
#   - xvfb xauth              a virtual display for screenshots (`make screenshot`)
# Only missing packages are installed, and only when running as root with apt-get available;
# otherwise we print what is missing and carry on (the test run will say what broke).
set -eu

PKGS="python3-venv libgl1 libegl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3
libglib2.0-0 binutils libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0
libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libgssapi-krb5-2
libwayland-cursor0 libwayland-egl1 $*"

command -v dpkg-query >/dev/null 2>&1 || exit 0

missing=""
for p in $PKGS; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$status" in
        *"install ok installed"*) ;;
        *) missing="$missing $p" ;;
    esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "qtcompute setup: installing system packages:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
    echo "qtcompute setup: these system packages are missing:$missing"
    echo "  install them with: sudo apt-get install$missing"
fi
