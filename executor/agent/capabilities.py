"""What this executor offers, sent with every claim: device, GPU, VRAM, engine version."""

from __future__ import annotations

from executor import __version__
from shared.contract import Capabilities


def detect_capabilities(device: str) -> Capabilities:
    """`device` is already resolved (cpu, cuda:0, …)."""
    caps = Capabilities(device=device, engine_version=__version__)
    if device.startswith("cuda"):
        import torch  # only a GPU box pays for the import here

        index = int(device.partition(":")[2] or 0)
        props = torch.cuda.get_device_properties(index)
        caps.gpu_name = props.name
        caps.vram_mb = int(props.total_memory // (1024 * 1024))
    return caps
