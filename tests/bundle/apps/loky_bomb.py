"""What the seed's blog post tells you to do (freeze_support() first), then loky's executor.

Frozen, loky starts each worker as ``app -m loky.backend.popen_loky_posix --pipe N``, which
freeze_support() does not recognise: every worker runs this script again (loky #236). The build
must stop it and name loky, not blame the freeze_support() this script does call.
"""

import multiprocessing


def square(x: int) -> int:
    return x * x


if __name__ == "__main__":
    multiprocessing.freeze_support()
    from loky import get_reusable_executor

    print(sum(get_reusable_executor(max_workers=2).map(square, range(100))))
