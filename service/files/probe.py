"""Checks an upload is a video before it is queued: a container with a decodable video frame."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import av

from service.errors import NotAVideo


def probe_video(path: Path) -> dict[str, Any]:
    """Facts about the video, or NotAVideo with the reason in words."""
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.video:
                raise NotAVideo("input is not a video: no video stream found")
            stream = container.streams.video[0]
            frame = next(container.decode(stream), None)
            if frame is None:
                raise NotAVideo("input is not a video: the video stream has no frames")
            rate = stream.average_rate or stream.guessed_rate
            duration = (
                float(container.duration) / av.time_base if container.duration is not None else None
            )
            return {
                "width": frame.width,
                "height": frame.height,
                "fps": float(rate) if rate else None,
                "duration_s": duration,
                "has_audio": bool(container.streams.audio),
                "format": container.format.name,
                "codec": stream.codec_context.name,
            }
    except NotAVideo:
        raise
    except (av.error.FFmpegError, StopIteration, ValueError) as exc:
        raise NotAVideo(f"input is not a video: {_reason(exc)}") from exc


def _reason(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.strip() or type(exc).__name__


async def probe_video_async(path: Path) -> dict[str, Any]:
    return await asyncio.to_thread(probe_video, path)
