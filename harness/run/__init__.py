"""From cells to stored records.

The runner, where cells execute, the SQLite store, the machine a number belongs to.
"""
