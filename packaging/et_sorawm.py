"""Entry point of the packed executor (PyInstaller): `et_sorawm --service-host URL --id N`."""

import multiprocessing
import sys

from executor.agent.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())
