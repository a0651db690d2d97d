"""`python -m executor`: the executor agent (et_sorawm)."""

import sys

from executor.agent.cli import main

sys.exit(main())
