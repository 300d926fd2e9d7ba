"""``python -m skillos_runner``: the same as the ``skillos-runner`` command."""

import sys

from .cli import main

sys.exit(main())
