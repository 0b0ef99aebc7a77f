"""Statistics as pure functions.

Summaries, tests and intervals, the questions a verdict asks, propagation, forensics,
drift.
"""
