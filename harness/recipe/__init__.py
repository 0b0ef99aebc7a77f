"""The recipe search.

Where the write-up's numbers could come from among the choices it leaves open.
"""
