"""Linux: the shared libraries the Qt xcb platform plugin needs from the user's system.

An offscreen run proves nothing about them: the ``offscreen`` plugin links none of X11. On a
user's desktop Qt loads ``libqxcb.so``, and a library it links that is neither in the bundle nor
on the machine makes the app die with "could not load the Qt platform plugin xcb". The best
known case: Qt 6.5 and newer link ``libxcb-cursor.so.0``, which no Qt wheel bundles and many
distributions do not install by default.

The plugin's dependencies (all of them: PyInstaller's ``bindepend.get_imports`` reads ``ldd``,
which resolves the whole tree) minus what the bundle holds, minus the manylinux2014 baseline
(PEP 599: glibc, libstdc++, libgcc_s, libX11, libXext, libXrender, libICE, libSM, libGL, glib),
with the package that provides each on Debian/Ubuntu and on Fedora. A warning, not a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass

# PEP 599, manylinux2014 policy: libraries every desktop Linux has.
BASELINE = frozenset(
    {
        "libgcc_s.so.1",
        "libstdc++.so.6",
        "libm.so.6",
        "libdl.so.2",
        "librt.so.1",
        "libc.so.6",
        "libnsl.so.1",
        "libutil.so.1",
        "libpthread.so.0",
        "libresolv.so.2",
        "libX11.so.6",
        "libXext.so.6",
        "libXrender.so.1",
        "libICE.so.6",
        "libSM.so.6",
        "libGL.so.1",
        "libgobject-2.0.so.0",
        "libgthread-2.0.so.0",
        "libglib-2.0.so.0",
    }
)
_LOADER = re.compile(r"^ld-linux.*\.so\.\d|^ld64\.so")

# soname -> (Debian/Ubuntu package, Fedora package). Checked against Debian 12 (dpkg -S) and
# Fedora 40's package contents (xcb-util* split the helpers; libxcb holds the protocol libs).
PACKAGES: dict[str, tuple[str, str]] = {
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util"),
    "libxcb-ewmh.so.2": ("libxcb-ewmh2", "xcb-util-wm"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libOpenGL.so.0": ("libopengl0", "libglvnd-opengl"),
    "libGLX.so.0": ("libglx0", "libglvnd-glx"),
    "libGLdispatch.so.0": ("libglvnd0", "libglvnd"),
    "libdrm.so.2": ("libdrm2", "libdrm"),
    "libXau.so.6": ("libxau6", "libXau"),
    "libXdmcp.so.6": ("libxdmcp6", "libXdmcp"),
    "libbsd.so.0": ("libbsd0", "libbsd"),
    "libmd.so.0": ("libmd0", "libmd"),
    "libpng16.so.16": ("libpng16-16", "libpng"),
    "libz.so.1": ("zlib1g", "zlib"),
    "libexpat.so.1": ("libexpat1", "expat"),
    "libbrotlidec.so.1": ("libbrotli1", "brotli"),
    "libbrotlicommon.so.1": ("libbrotli1", "brotli"),
    "libuuid.so.1": ("libuuid1", "libuuid"),
    "libsystemd.so.0": ("libsystemd0", "systemd-libs"),
    "libwayland-client.so.0": ("libwayland-client0", "libwayland-client"),
}
# The protocol extensions all live in Fedora's libxcb; Debian has one package each.
_XCB_PROTOCOL = re.compile(r"^libxcb-([a-z0-9]+)\.so\.(\d+)$")
_IN_FEDORA_LIBXCB = {
    "composite", "damage", "dpms", "dri2", "dri3", "glx", "present", "randr", "record",
    "render", "res", "screensaver", "shape", "shm", "sync", "xf86dri", "xfixes", "xinerama",
    "xinput", "xkb", "xtest", "xv", "xvmc",
}  # fmt: skip


@dataclass(frozen=True)
class SystemLibrary:
    """A library the app will load from the user's system."""

    soname: str
    debian: str
    fedora: str
    found_here: bool
    """Resolved on the build machine (if not, the app cannot load xcb here either)."""

    def line(self) -> str:
        missing = "" if self.found_here else " (not installed on this machine either)"
        return f"{self.soname}: Debian/Ubuntu {self.debian}, Fedora {self.fedora}{missing}"


def package_names(soname: str, path: str | None = None) -> tuple[str, str]:
    """(Debian/Ubuntu, Fedora) package names providing ``soname``."""
    if soname in PACKAGES:
        return PACKAGES[soname]
    match = _XCB_PROTOCOL.match(soname)
    if match and match.group(1) in _IN_FEDORA_LIBXCB:
        return f"libxcb-{match.group(1)}{match.group(2)}", "libxcb"
    debian = _dpkg_owner(path) if path else None
    return debian or f"(apt-file search {soname})", f"(dnf provides '*/{soname}')"


def _dpkg_owner(path: str) -> str | None:
    if shutil.which("dpkg") is None:
        return None
    try:
        done = subprocess.run(
            ["dpkg", "-S", os.path.realpath(path)], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0 or ":" not in done.stdout:
        return None
    return done.stdout.split(":", 1)[0].strip()


def _original(dest: str, src: str) -> str:
    """The plugin as installed (the bundle's copy may be a stripped one in a cache folder, where
    its RPATH, ``$ORIGIN/../../lib``, finds none of Qt's libraries and ldd stops short)."""
    import importlib.util

    top = dest.replace("\\", "/").split("/")[0]
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        spec = None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = os.path.join(os.path.dirname(folder), dest)
        if os.path.isfile(candidate):
            return candidate
    return src


def xcb_system_libraries(binaries: list[tuple[str, str]]) -> list[SystemLibrary] | None:
    """What ``libqxcb`` needs from the system, given the bundle's (dest, src) binaries.

    None when there is nothing to say: not Linux, or no xcb plugin in the bundle.
    """
    if not sys.platform.startswith("linux"):
        return None
    entry = next(
        ((d, s) for d, s in binaries if d.replace("\\", "/").endswith("platforms/libqxcb.so")),
        None,
    )
    if entry is None:
        return None
    plugin = _original(*entry)
    from PyInstaller.depend import bindepend

    bundled = {os.path.basename(dest) for dest, _src in binaries}
    found: list[SystemLibrary] = []
    for name, path in sorted(bindepend.get_imports(plugin)):
        soname = os.path.basename(name)
        if soname in bundled or soname in BASELINE or _LOADER.match(soname):
            continue
        debian, fedora = package_names(soname, path)
        found.append(SystemLibrary(soname, debian, fedora, path is not None))
    return found
