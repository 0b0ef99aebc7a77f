"""What is stored and checked.

Committed references, regress, verify, export, and compare.
"""
