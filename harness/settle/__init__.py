"""Settle.

More seeds for undecided verdicts, group-sequential.
"""
