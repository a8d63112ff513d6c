"""Duplicate fixture: this file is byte-identical to other/dup_b.py."""


def chunk(seq, size):
    """Split seq into lists of at most size elements."""
    if size <= 0:
        raise ValueError("size must be positive")
    return [seq[i:i + size] for i in range(0, len(seq), size)]


def flatten(nested):
    out = []
    for part in nested:
        out.extend(part)
    return out


if __name__ == "__main__":
    parts = chunk(list(range(10)), 3)
    assert flatten(parts) == list(range(10))
    print(parts)
