"""Platform rules decided before anything is built (tested on Linux through ``platform=``)."""

from __future__ import annotations

import sys


def onefile_windowed_refusal(
    *, onefile: bool, windowed: bool, platform: str = sys.platform
) -> str | None:
    """The reason to refuse ``-F -w``, or None to go ahead.

    On macOS, ``-w`` makes an ``.app`` bundle; with ``-F`` its executable is a onefile
    executable that unpacks itself into a temporary folder on every start. PyInstaller 6
    deprecates that combination (a warning now, an error in v7) and Apple's notarization rejects
    it: the code that actually runs is unpacked, unsigned, outside the signed bundle, and the
    app starts slower. A onedir ``.app`` (``-D -w``) is what macOS expects.
    """
    if not (platform == "darwin" and onefile and windowed):
        return None
    return (
        "refusing -F -w on macOS: a onefile .app unpacks its code into a temporary folder on "
        "every start, outside the signed bundle; PyInstaller 6 deprecates it (an error in "
        "PyInstaller 7) and Apple's notarization rejects it. Use -D -w instead: a onedir .app "
        "bundle, signed and notarized as a whole (and faster to start)"
    )
