"""Serves a stored file with `ETag` (its sha256) and single-range `Range` requests (206)."""

from __future__ import annotations

import re
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.responses import StreamingResponse

from service.files.store import FileStore

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """[start, end) of a single `bytes=` range; None when the header should be ignored.

    Raises ValueError when the range cannot be satisfied.
    """
    match = _RANGE.match(header.strip())
    if match is None:
        return None  # multi-range or another unit: answer with the whole file, as RFC 9110 allows
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix: the last N bytes
        length = int(last)
        if length == 0:
            raise ValueError("empty suffix range")
        return max(0, size - length), size
    start = int(first)
    end = min(int(last) + 1, size) if last else size
    if start >= size or start >= end:
        raise ValueError("range starts past the end")
    return start, end


def file_response(
    request: Request,
    store: FileStore,
    *,
    key: str,
    sha256: str,
    media_type: str = "video/mp4",
    download_name: str | None = None,
) -> Response:
    size = store.size(key)
    etag = f'"{sha256}"'
    headers = {"ETag": etag, "Accept-Ranges": "bytes"}
    if download_name:
        headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(download_name)}"
    if etag in _etags(request.headers.get("if-none-match")):
        return Response(status_code=304, headers=headers)
    byte_range = None
    range_header = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if range_header and (if_range is None or if_range.strip() == etag):
        try:
            byte_range = _parse_range(range_header, size)
        except ValueError:
            return Response(
                status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"}
            )
    if byte_range is None:
        headers["Content-Length"] = str(size)
        return StreamingResponse(store.read(key), media_type=media_type, headers=headers)
    start, end = byte_range
    headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    headers["Content-Length"] = str(end - start)
    return StreamingResponse(
        store.read(key, start, end), status_code=206, media_type=media_type, headers=headers
    )


def _etags(header: str | None) -> set[str]:
    if not header:
        return set()
    return {tag.strip().removeprefix("W/") for tag in header.split(",")}
