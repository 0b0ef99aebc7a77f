"""``python -m harness.cli``: the ``sparsebench`` command."""

import sys

from .main import main

sys.exit(main())
