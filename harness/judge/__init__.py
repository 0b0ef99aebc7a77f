"""From records to verdicts.

Seeds aggregated, tables and claims judged, the scale check, sensitivity, the summary.
"""
