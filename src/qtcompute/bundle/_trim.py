"""Trimming the Analysis before PyInstaller collects it (called from the generated spec).

PyInstaller's Qt hooks collect, for every Qt module the app imports, *all* plugins of the types
that module may use, plus translations. Most of that is dead weight for a widgets app; worse,
one unused platform plugin (``webgl``) links QtQuick, QtQml and QtWebSockets, which then come
along as dependencies. Filtering ``a.binaries`` / ``a.datas`` in the spec is PyInstaller's
documented way to drop files, and works the same for onedir and onefile. In order:

1. translations (``<Qt>/translations/*.qm``);
2. plugins: keep the types a desktop widgets app loads, and within ``platforms`` the plugins of
   real desktops plus ``offscreen`` and ``minimal`` (headless tests, CI). The layouts differ per
   binding (``PyQt5/Qt5/plugins``, ``PyQt6/Qt6/plugins``, ``PySide6/Qt/plugins``); the rules
   are the same. Qt 6 wheels (PySide6, PyQt6) also ship the ``gtk3`` platform theme, which
   PyQt5's never did: it links GTK's whole stack (cairo, pango, harfbuzz, atk, gdk-pixbuf: ~7 MB
   bundled) but not libgtk-3 itself, which must come from the user's system and would then run
   against our copies of its dependencies. Dropped, as PyQt5 apps have always lived without it;
   ``xdgdesktopportal`` stays (native dialogs through the desktop portal). The ``tls`` and
   ``networkinformation`` plugins come with QtNetwork, which ``_qt.py`` leaves out unless the
   app names it (PyInstaller follows an import of it in PySide6/__init__.py for every PySide6
   app; with it go libQt6Network and, through it, Kerberos, found as orphans in step 3);
3. orphans: libraries that only the dropped files linked (found with PyInstaller's own
   ``bindepend.get_imports``), for example QtQuick after ``libqwebgl.so``;
4. on Linux, the system libraries every desktop Linux has (``_elf.py``);
5. on Linux, DWARF debug info (``strip --strip-debug`` on a copy; pyenv and distribution builds
   of libpython carry ~18 MB of it), then, unless ``--no-strip``, the symbol tables
   (``strip`` on the copy: the dynamic symbols the loader uses stay; the self-test proves it).

Then PyInstaller's ``pyi_rth_inspect`` runtime hook is made lazy (``_rthooks.py``).

Every dropped byte is accounted for by category in a JSON file the build step reads back.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any

from qtcompute.bundle._elf import strip_binaries, system_libraries
from qtcompute.bundle._rthooks import lazy_inspect_hook

# Plugin types a widgets app loads; every other type is dropped.
KEEP_PLUGIN_TYPES = frozenset(
    {
        "platforms",
        "platformthemes",
        "platforminputcontexts",
        "styles",
        "iconengines",
        "imageformats",
        "xcbglintegrations",
        "wayland-decoration-client",
        "wayland-graphics-integration-client",
        "wayland-shell-integration",
        "tls",
        "networkinformation",
    }
)
# Within "platforms": the desktop ones, plus headless ones for tests and CI.
KEEP_PLATFORMS = frozenset(
    {"xcb", "wayland", "wayland-egl", "wayland-generic", "windows", "cocoa", "offscreen", "minimal"}
)
# Image formats worth their bytes for icons and common pictures (png is built into QtGui).
KEEP_IMAGEFORMATS = frozenset({"gif", "ico", "jpeg", "svg"})
# Platform themes: the desktop portal; not gtk3 (Qt 6 wheels only; see the module docstring).
KEEP_PLATFORMTHEMES = frozenset({"xdgdesktopportal"})
# Input contexts: compose (dead keys) and ibus (input methods); not the virtual keyboard (Quick).
KEEP_INPUTCONTEXTS = frozenset(
    {"composeplatforminputcontextplugin", "ibusplatforminputcontextplugin"}
)

Entry = tuple[str, str, str]  # (destination name, source path, typecode), PyInstaller 6 TOC


def plugin_name(path: PurePosixPath) -> str:
    """``libqxcb.so`` / ``qxcb.dll`` / ``libqxcb.dylib`` -> ``xcb``."""
    stem = path.name.split(".")[0]
    stem = stem.removeprefix("lib")
    return stem[1:] if stem.startswith("q") and not stem.endswith("plugin") else stem


def _parts(dest: str) -> PurePosixPath:
    return PurePosixPath(dest.replace("\\", "/"))


def classify(dest: str, binding: str) -> str | None:
    """The reason to drop ``dest`` ("translations", "plugins"), or None to keep it."""
    path = _parts(dest)
    parts = path.parts
    if not parts or parts[0] != binding:
        return None
    if "translations" in parts[:-1] and path.suffix == ".qm":
        return "translations"
    if "plugins" in parts[:-1]:
        index = parts.index("plugins")
        if len(parts) < index + 3:  # plugins/<type>/<file>
            return None
        plugin_type = parts[index + 1]
        if plugin_type not in KEEP_PLUGIN_TYPES:
            return "plugins"
        name = plugin_name(path)
        if plugin_type == "platforms" and name not in KEEP_PLATFORMS:
            return "plugins"
        if plugin_type == "imageformats" and name not in KEEP_IMAGEFORMATS:
            return "plugins"
        if plugin_type == "platforminputcontexts" and name not in KEEP_INPUTCONTEXTS:
            return "plugins"
        if plugin_type == "platformthemes" and name not in KEEP_PLATFORMTHEMES:
            return "plugins"
    return None


def _size(src: str) -> int:
    try:
        return os.path.getsize(src)
    except OSError:
        return 0


def _imports(src: str) -> list[str]:
    """Basenames of the shared libraries ``src`` links against (PyInstaller's own reader)."""
    from PyInstaller.depend import bindepend

    try:
        imports = bindepend.get_imports(src)
    except Exception:
        return []
    return [os.path.basename(name) for name, _path in imports]


def find_orphans(binaries: Iterable[Entry], dropped: Iterable[Entry]) -> set[str]:
    """Destinations of libraries that only ``dropped`` entries needed.

    A library is an orphan when it is reachable from a dropped entry, and from no kept entry
    that nothing links to (the roots: extension modules, kept plugins, dlopen'ed libraries).
    """
    # SYMLINK entries (dest, target dest, "SYMLINK") are links, not files: left out of the graph.
    kept = [entry for entry in binaries if entry[2] != "SYMLINK"]
    gone = [entry for entry in dropped if entry[2] != "SYMLINK"]
    by_name: dict[str, str] = {}
    for dest, _src, _type in kept:
        by_name.setdefault(os.path.basename(dest.replace("\\", "/")), dest)
    edges = {dest: [by_name[n] for n in _imports(src) if n in by_name] for dest, src, _ in kept}
    dropped_edges = [by_name[n] for _d, src, _t in gone for n in _imports(src) if n in by_name]
    # Roots are what nothing links to in the *original* graph (dropped files included):
    # extension modules, plugins, dlopen'ed libraries. A library only a dropped plugin linked
    # is not a root, so it is not needed unless a root reaches it.
    linked = {target for targets in edges.values() for target in targets} | set(dropped_edges)
    roots = [dest for dest, _src, _type in kept if dest not in linked]

    def closure(start: Iterable[str], graph: dict[str, list[str]]) -> set[str]:
        seen: set[str] = set()
        stack = list(start)
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            stack.extend(graph.get(node, []))
        return seen

    needed = closure(roots, edges)
    from_dropped = closure(dropped_edges, edges)
    return {dest for dest in from_dropped if dest not in needed}


def _strip_cache(config: dict[str, Any]) -> Path:
    """PyInstaller's cache folder when running inside it, else the build's work folder."""
    try:
        from PyInstaller.config import CONF

        return Path(CONF["cachedir"]) / "qtcompute-stripped"
    except (ImportError, KeyError):
        return Path(config["cache_dir"])


def trim_analysis(analysis: Any, config_file: str) -> None:
    """Filter ``analysis.binaries`` / ``analysis.datas`` in place (called from the spec).

    ``config_file`` (JSON, written by the build step) holds ``binding``, ``debug_strip``,
    ``strip_symbols``, ``system_libraries``, ``lazy_inspect_hook`` and ``cache_dir``; the bytes
    dropped per category are written back under ``"saved"``.
    """
    config = json.loads(Path(config_file).read_text(encoding="utf-8"))
    binding = config.get("binding")
    saved = {
        "translations": 0,
        "plugins": 0,
        "orphan libraries": 0,
        "system libraries": 0,
        "debug info": 0,
        "symbols": 0,
    }
    dropped_files: dict[str, list[str]] = {key: [] for key in saved}

    def split(entries: list[Entry]) -> tuple[list[Entry], list[Entry]]:
        keep, drop = [], []
        for entry in entries:
            reason = classify(entry[0], binding) if binding else None
            if reason is None:
                keep.append(entry)
            else:
                drop.append(entry)
                saved[reason] += _size(entry[1])
                dropped_files[reason].append(entry[0])
        return keep, drop

    def drop(entries: list[Entry], gone: set[str], reason: str) -> list[Entry]:
        for dest, src, _type in entries:
            if dest in gone:
                saved[reason] += _size(src)
                dropped_files[reason].append(dest)
        return [entry for entry in entries if entry[0] not in gone]

    binaries, dropped_binaries = split(list(analysis.binaries))
    datas, _dropped_datas = split(list(analysis.datas))
    gone_targets = {entry[0] for entry in dropped_binaries}
    if config.get("system_libraries"):
        # Left to the OS, with what only they linked (ldd lists transitive needs: usually none).
        system = system_libraries(binaries)
        if system:
            kept = [e for e in binaries if e[0] not in system]
            system |= find_orphans(kept, [e for e in binaries if e[0] in system])
            binaries = drop(binaries, system, "system libraries")
            gone_targets |= system
    if binding and dropped_binaries:
        orphans = find_orphans(binaries, dropped_binaries)
        binaries = drop(binaries, orphans, "orphan libraries")
        gone_targets |= orphans
    # Links whose target went away (PyInstaller 6 links top-level names into the Qt lib dir;
    # the links can sit in either list).
    binaries = [e for e in binaries if not (e[2] == "SYMLINK" and e[1] in gone_targets)]
    datas = [e for e in datas if not (e[2] == "SYMLINK" and e[1] in gone_targets)]
    if config.get("debug_strip") or config.get("strip_symbols"):
        binaries, saved["debug info"], saved["symbols"] = strip_binaries(
            binaries, _strip_cache(config), symbols=bool(config.get("strip_symbols"))
        )
    if config.get("lazy_inspect_hook"):
        analysis.scripts = lazy_inspect_hook(list(analysis.scripts), Path(config_file).parent)
    analysis.binaries = binaries
    analysis.datas = datas
    config["saved"] = saved
    config["dropped"] = dropped_files
    Path(config_file).write_text(json.dumps(config, indent=1), encoding="utf-8")
