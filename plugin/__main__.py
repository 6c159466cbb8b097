"""`python -m plugin`: the `fixpilot` command line."""

import sys

from plugin.cli import main

if __name__ == "__main__":
    sys.exit(main())
