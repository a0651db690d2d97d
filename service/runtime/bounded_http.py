"""uvicorn's httptools protocol with a bound on a request's head (request line and headers).

httptools keeps every header byte until the head ends, with no limit of its own: a 200 MB
header made the service grow by 350 MB, no token needed. Past `MAX_HEAD_BYTES` the request
gets 431 and the connection is closed.
"""

from __future__ import annotations

import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 64 * 1024


class BoundedHeadProtocol(HttpToolsProtocol):
    _head_bytes = 0
    _in_head = True  # the next bytes belong to a request's head

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        # judged after parsing: one read may hold a small head and the body after it (a read
        # is at most 256 KiB, so that much past the bound is all a head can cost)
        if self._in_head and self._head_bytes > MAX_HEAD_BYTES:
            self._refuse_head()

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_head, self._head_bytes = True, 0  # a pipelined request may follow
        super().on_message_complete()

    def _refuse_head(self) -> None:
        if self.transport.is_closing():
            return
        body = json.dumps(
            {"detail": f"the request line and headers pass {MAX_HEAD_BYTES} bytes"}
        ).encode()
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: application/json\r\n"
            + f"content-length: {len(body)}\r\n".encode()
            + b"connection: close\r\n\r\n"
            + body
        )
        self.transport.close()
