"""What this executor offers, sent with every claim: device, GPU, VRAM, engine version and the
inpainters it can run (the service hands a task asking for one only to an executor that has it)."""

from __future__ import annotations

from pathlib import Path

from loguru import logger

from executor import __version__
from executor.agent.offers import build_offers
from shared.contract import BASE_INPAINTERS, Capabilities


def detect_capabilities(
    device: str, lama_model: Path | None = None, detector_weights: Path | None = None
) -> Capabilities:
    """`device` is already resolved (cpu, cuda:0, …). `lama` is offered only when the LaMa
    model is configured and loads here: a task asking for it must not fail on this box."""
    offers = build_offers(detector_weights)
    caps = Capabilities(
        device=device,
        engine_version=__version__,
        inpainters=[*BASE_INPAINTERS, *(["lama"] if _lama_loads(lama_model, device) else [])],
        detector=offers.detector,
        devices=offers.devices,
    )
    if device.startswith("cuda"):
        from executor.engine.device import cuda_device_info  # only a GPU box asks

        info = cuda_device_info(int(device.partition(":")[2] or 0))
        if info is not None:
            caps.gpu_name, caps.vram_mb = info
    return caps


def _lama_loads(lama_model: Path | None, device: str) -> bool:
    if lama_model is None:
        return False
    from executor.engine.inpaint import InpainterError, make_inpainter

    try:
        make_inpainter("lama", device=device, lama_model=lama_model).close()
    except InpainterError as exc:
        logger.warning("lama not offered: {}", exc)
        return False
    return True
