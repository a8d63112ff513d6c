# This file uses CRLF line endings on every line.
import sys


def greet(name: str) -> str:
    """Return a greeting."""
    return f"Hello, {name}!"


class Counter:
    def __init__(self):
        self.count = 0

    def bump(self, by=1):
        self.count += by
        return self.count


if __name__ == "__main__":
    c = Counter()
    for arg in sys.argv[1:]:
        print(greet(arg), c.bump())
