"""From a suite folder to cells.

The schemas, loading and checking a folder, the plan of a tier, the code a cell's id
hashes.
"""
