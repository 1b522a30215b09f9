from concurrent.futures import ProcessPoolExecutor


def add(a, b):
    return a + b


class Engine:
    def __init__(self):
        self.pool = None

    def start(self):
        self.pool = ProcessPoolExecutor(max_workers=2)
        self.pool.submit(add, 1, 2)
