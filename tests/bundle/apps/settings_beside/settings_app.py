"""An app that reads its settings from beside its script, as people write it.

Frozen by plain PyInstaller it dies on its first line (``FileNotFoundError:
.../_internal/settings.json``): nothing tells PyInstaller about the file.
"""

import json
import os
import sys
from pathlib import Path

from qtpy.QtWidgets import QApplication, QLabel

import qtcompute

SETTINGS = json.loads(Path(__file__).with_name("settings.json").read_text(encoding="utf-8"))


def scale(x: int) -> int:
    return x * SETTINGS["factor"]


def main() -> int:
    app = QApplication(sys.argv)
    label = QLabel(SETTINGS["title"])
    label.setWindowTitle(SETTINGS["title"])
    label.show()
    out = os.environ.get("APP_RESULT_FILE")
    if out:  # the test's own run of the frozen app: compute once, write, quit
        with qtcompute.Pool(1) as pool:
            Path(out).write_text(f"{SETTINGS['title']}:{pool.submit(scale, 7).result()}")
        return 0
    return app.exec()


if __name__ == "__main__":
    sys.exit(qtcompute.run(main))
