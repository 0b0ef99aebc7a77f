"""From verdicts to pages.

The report model, caveats, Markdown and HTML, plots, the index page.
"""
