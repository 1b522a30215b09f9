"""A qtcompute app that forgot the entry point: no qtcompute.run(), no freeze_support().

Frozen, every worker starts at the top of this script; automatic diversion must turn it into
a worker when it reaches ``Pool()`` instead of letting it open a second window.
"""

import os
import sys

from qtpy.QtWidgets import QApplication, QLabel

import qtcompute


def square(x: int) -> int:
    return x * x


def main() -> int:
    app = QApplication(sys.argv)
    label = QLabel("forgot the entry point")
    label.show()
    with qtcompute.Pool(2) as pool:
        total = sum(pool.map(square, range(10)))
    out = os.environ.get("APP_RESULT_FILE")
    if out:
        with open(out, "w") as fh:
            fh.write(str(total))
    app.processEvents()
    return 0 if total == 285 else 1


if __name__ == "__main__":
    sys.exit(main())
