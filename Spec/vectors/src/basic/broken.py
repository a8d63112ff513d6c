def f(:
    return
