"""Client classification: the head-office grid plus approved branch adjustments, in SQL.

- ``compile``: the classification policy validated and compiled to SQL expressions.
- ``adjustments``: branch plugins' declarative adjustments, folded into the same SQL.
- ``engine``: the run (full or incremental), current classifications and history.
"""
