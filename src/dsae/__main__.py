"""``python -m dsae``: the command line."""

import sys

from dsae.cli.main import main

sys.exit(main())
