"""The issue's joblib script, started through qtcompute.run: frozen with plain PyInstaller
(not `qtcompute build`), loky's children become loky workers and the tree stays bounded."""

import sys

from joblib import Parallel, delayed

import qtcompute


def square(i):
    return i * i


def main():
    if len(sys.argv) > 1:  # a child that ran the app again: refuse, never loop
        print("APP RAN AGAIN:", sys.argv[1:], file=sys.stderr, flush=True)
        return 99
    print("total", sum(Parallel(n_jobs=2)(delayed(square)(i) for i in range(100))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(qtcompute.run(main))
