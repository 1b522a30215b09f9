"""Linux binaries: the system libraries left to the OS, and stripping on cached copies.

System libraries: PyInstaller already leaves glibc, libGL, libxcb and libwayland to the OS.
``qtcompute build`` also leaves the libraries of the manylinux2014 policy (PEP 599: the ones a
wheel may assume on every desktop Linux since CentOS 7): libstdc++, libgcc_s, glib/gobject/
gthread, libX11, libXext, libXrender, libICE, libSM. libstdc++ and libgcc_s only when no bundled
binary needs newer symbol versions than that baseline (GLIBCXX_3.4.19, CXXABI_1.3.7, GCC_4.8.0):
a library compiled on a newer system keeps them bundled.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

Entry = tuple[str, str, str]  # (destination name, source path, typecode), PyInstaller 6 TOC

# PEP 599 (manylinux2014) "system libraries": on every desktop Linux, left to the OS.
SYSTEM_LIBRARIES = (
    "libgcc_s.so.1",
    "libstdc++.so.6",
    "libglib-2.0.so.0",
    "libgobject-2.0.so.0",
    "libgthread-2.0.so.0",
    "libX11.so.6",
    "libXext.so.6",
    "libXrender.so.1",
    "libICE.so.6",
    "libSM.so.6",
)
# The newest symbol versions the manylinux2014 baseline provides (GCC 4.8.5, CentOS 7).
_BASELINE_VERSIONS = {"GLIBCXX": (3, 4, 19), "CXXABI": (1, 3, 7), "GCC": (4, 8, 0)}
_VERSION_RE = re.compile(rb"(GLIBCXX|CXXABI|GCC)_(\d+(?:\.\d+)*)\x00")
# Version needs checked before leaving a library to the OS.
_VERSIONED = {"libstdc++.so.6": ("GLIBCXX", "CXXABI"), "libgcc_s.so.1": ("GCC",)}


def newest_versions(src: str) -> dict[str, tuple[int, ...]]:
    """The newest GLIBCXX/CXXABI/GCC symbol version named in ``src`` (its version needs)."""
    try:
        data = Path(src).read_bytes()
    except OSError:
        return {}
    newest: dict[str, tuple[int, ...]] = {}
    for prefix, version in _VERSION_RE.findall(data):
        key, parsed = prefix.decode(), tuple(int(p) for p in version.split(b"."))
        newest[key] = max(newest.get(key, parsed), parsed)
    return newest


def system_libraries(binaries: list[Entry]) -> set[str]:
    """Destinations of the PEP 599 system libraries that can be left to the OS."""
    if not sys.platform.startswith("linux"):
        return set()
    candidates = {e[0] for e in binaries if e[2] != "SYMLINK" and e[0] in SYSTEM_LIBRARIES}
    needs: dict[str, tuple[int, ...]] = {}
    for dest, src, typecode in binaries:
        if typecode == "SYMLINK" or dest in candidates or not _is_elf(src):
            continue
        for key, version in newest_versions(src).items():
            needs[key] = max(needs.get(key, version), version)
    return {
        lib
        for lib in candidates
        if all(needs.get(key, ()) <= _BASELINE_VERSIONS[key] for key in _VERSIONED.get(lib, ()))
    }


def strip_binaries(
    entries: list[Entry], cache_dir: Path, *, symbols: bool
) -> tuple[list[Entry], int, int]:
    """Point ELF binaries at stripped copies; return entries, debug-info and symbol bytes saved.

    ``strip --strip-debug`` first (its bytes are "debug info"), then, with ``symbols``, ``strip``
    on that copy (the rest of ``.symtab``: "symbols"). Copies are cached (PyInstaller's cache
    folder, like its own stripped binaries), keyed by the source's path, size and time.
    """
    strip = shutil.which("strip")
    if not sys.platform.startswith("linux") or strip is None:
        return entries, 0, 0
    saved_debug = saved_symbols = 0
    result: list[Entry] = []
    for dest, src, typecode in entries:
        if typecode not in ("BINARY", "EXTENSION") or not _is_elf(src):
            result.append((dest, src, typecode))
            continue
        stat = os.stat(src)
        size = stat.st_size
        # Keyed by the source's path, size and time: shared by every build on the machine.
        key = hashlib.sha1(f"{src}|{size}|{stat.st_mtime_ns}".encode()).hexdigest()[:20]
        name = os.path.basename(dest.replace("\\", "/"))
        debugless = _stripped(strip, ["--strip-debug"], src, cache_dir / key / "debug" / name)
        if debugless is None:
            result.append((dest, src, typecode))
            continue
        saved_debug += size - debugless.stat().st_size
        final = debugless
        if symbols:
            full = _stripped(strip, [], str(debugless), cache_dir / key / "all" / name)
            if full is not None:
                saved_symbols += debugless.stat().st_size - full.stat().st_size
                final = full
        result.append((dest, str(final) if final.stat().st_size < size else src, typecode))
    return result, max(saved_debug, 0), max(saved_symbols, 0)


def _stripped(strip: str, args: list[str], src: str, target: Path) -> Path | None:
    """``strip ARGS src`` into ``target`` unless the cached copy is current; None on failure.

    Written under a temporary name and renamed: builds running at once share the cache.
    """
    if (
        target.exists()
        and target.stat().st_mtime >= os.stat(src).st_mtime
        and loadable(target)  # a copy cached by a version without the check below
    ):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    done = subprocess.run([strip, *args, "-o", str(partial), src], capture_output=True, check=False)
    if done.returncode != 0 or not partial.exists():
        partial.unlink(missing_ok=True)
        return None
    if partial.stat().st_size > os.stat(src).st_size or not loadable(partial):
        # Never grow a file, nor ship one the loader refuses: binutils' strip can misplace the
        # segments of a library patchelf has edited (auditwheel's vendored *.libs, such as
        # numpy's libscipy_openblas), and ld.so then fails with "ELF load command
        # address/offset not page-aligned". The original goes in instead.
        shutil.copy2(src, partial)
    os.replace(partial, target)
    return target


_PT_LOAD = 1


def loadable(path: Path | str, page: int = 4096) -> bool:
    """True unless a PT_LOAD segment breaks ld.so's rule ``p_vaddr = p_offset (mod page)``.

    ``page`` is the largest page size the library may meet (4 KiB on x86-64; the check with 4
    KiB is what glibc's ``_dl_map_segments`` does there). Not an ELF file: True.
    """
    try:
        with open(path, "rb") as fh:
            header = fh.read(64)
            if header[:4] != b"\x7fELF" or len(header) < 52:
                return True
            wide, order = header[4] == 2, "<" if header[5] == 1 else ">"
            if wide:
                (phoff,) = struct.unpack_from(order + "Q", header, 32)
                phentsize, phnum = struct.unpack_from(order + "HH", header, 54)
            else:
                (phoff,) = struct.unpack_from(order + "I", header, 28)
                phentsize, phnum = struct.unpack_from(order + "HH", header, 42)
            fh.seek(phoff)
            table = fh.read(phentsize * phnum)
    except (OSError, struct.error):
        return True
    for index in range(phnum):
        entry = table[index * phentsize : (index + 1) * phentsize]
        if len(entry) < phentsize:
            return False
        if wide:
            p_type, _flags, offset, vaddr = struct.unpack_from(order + "IIQQ", entry)
        else:
            p_type, offset, vaddr = struct.unpack_from(order + "III", entry)
        if p_type == _PT_LOAD and (vaddr - offset) % page:
            return False
    return True


def _is_elf(src: str) -> bool:
    try:
        with open(src, "rb") as fh:
            return fh.read(4) == b"\x7fELF"
    except OSError:
        return False
