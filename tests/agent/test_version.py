"""`et_sorawm --version` tells what the build runs, at once, without loading the engine."""

from __future__ import annotations

import subprocess
import sys

from executor.engine.weights_card import SHIPPED_WEIGHTS, read_card

SCRIPT = """
import sys
from executor.agent.cli import main
try:
    main(["--version"])
finally:
    loaded = sorted(n for n in ("torch", "onnxruntime", "cv2", "av", "numpy") if n in sys.modules)
    print("loaded:", loaded)
"""


def test_version_names_the_weights_inpainters_and_devices_without_loading_the_engine() -> None:
    card = read_card(SHIPPED_WEIGHTS)
    assert card is not None
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60
    )
    lines = done.stdout.splitlines()
    assert lines[0].startswith("et_sorawm "), done.stdout
    assert lines[1] == f"detector: {card.summary()}"
    assert lines[2].startswith("inpainters: temporal, telea")
    assert lines[3].startswith("devices: cpu")
    assert lines[4] == "loaded: []", done.stdout
