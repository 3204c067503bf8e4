"""`python -m pricer ...`: see pricer.cli."""

import sys

from pricer.cli import main

sys.exit(main())
