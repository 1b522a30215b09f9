"""A plain command-line script: no Qt, no .spec, not reported by default."""

import multiprocessing


def work(x):
    return x


def main():
    with multiprocessing.Pool(2) as pool:
        print(pool.map(work, range(4)))


if __name__ == "__main__":
    main()
