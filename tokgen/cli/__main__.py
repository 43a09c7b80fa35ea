"""``python -m tokgen.cli``."""

import sys

from tokgen.cli import main

sys.exit(main())
