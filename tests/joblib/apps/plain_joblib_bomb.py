"""The issue's script: freeze_support() first, as the seed's blog post says, then joblib.

Frozen with plain PyInstaller, loky's workers and resource tracker run this executable again
with arguments freeze_support() does not know, so each runs the script again: a fork bomb.
Only ever run it under a watchdog (tests_support.run_bounded).
"""

import multiprocessing

from joblib import Parallel, delayed


def square(i):
    return i * i


if __name__ == "__main__":
    multiprocessing.freeze_support()
    print(sum(Parallel(n_jobs=2)(delayed(square)(i) for i in range(100))))
