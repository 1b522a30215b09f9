"""A windowed app whose worker prints and logs: frozen with -w there may be no stdout/stderr."""

import logging
import os
import sys

from qtpy.QtWidgets import QApplication

import qtcompute


def chatty(x: int) -> int:
    print(f"worker {os.getpid()} computing {x}")
    print("to stderr too", file=sys.stderr)
    logging.getLogger("windowed_printer").warning("worker %d logs", os.getpid())
    return x + 1


def main() -> int:
    app = QApplication(sys.argv)
    print("gui starting")
    with qtcompute.Pool(2) as pool:
        results = list(pool.map(chatty, range(4)))
    out = os.environ.get("APP_RESULT_FILE")
    if out:
        with open(out, "w") as fh:
            fh.write(",".join(map(str, results)))
    app.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(qtcompute.run(main))
