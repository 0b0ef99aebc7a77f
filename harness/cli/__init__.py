"""The ``sparsebench`` command, one module per command group: main.py (the parser and the
dispatch), common.py (what every command shares), run.py (list, run, report,
reproduce), regress.py, verify.py, manage.py (forget, export, coverage), settle.py,
recipe.py, compare.py, merge.py, validate.py."""

from .common import CELLS_FAILED, DEFAULT_OUT, DEFAULT_STORE, PIPE_CLOSED
from .main import main, parser

__all__ = ["CELLS_FAILED", "DEFAULT_OUT", "DEFAULT_STORE", "PIPE_CLOSED", "main", "parser"]
