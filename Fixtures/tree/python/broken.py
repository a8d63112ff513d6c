# Deliberately malformed Python: the parser must recover and emit ERROR nodes.
import os


def ok(a, b):
    return a + b


def unclosed(values):
    total = sum(values
    return total


def no_body():


class Thing:
    def method(self):
        x = 1
          y = 2
      return x + y


def after_errors():
    # Valid code after the errors should still parse.
    return [os.sep for _ in range(2)]

print(ok(1, 2]
