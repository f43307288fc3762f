"""``python -m bertviz_core``: the command line (``bertviz_core.cli``)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
