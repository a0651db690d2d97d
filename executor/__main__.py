"""`python -m executor`: the executor agent (et_sorawm)."""

import sys

from executor.agent.cli import main

# guarded: the engine's child process (spawned) imports this module again
if __name__ == "__main__":
    sys.exit(main())
