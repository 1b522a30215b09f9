import multiprocessing


def square(x):
    return x * x


def analyse(values):
    with multiprocessing.Pool() as pool:
        return sum(pool.map(square, values))
