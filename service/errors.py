"""One exception family for the service; one handler turns each into its HTTP answer."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


class ServiceError(Exception):
    """The service could not do that."""

    status_code = 500

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail or (self.__doc__ or "").strip()
        super().__init__(self.detail)


class TaskNotFound(ServiceError):
    """Task not found."""

    status_code = 404


class LeaseLost(ServiceError):
    """The lease on this task is no longer yours: it expired, was cancelled or moved on."""

    status_code = 409


class InvalidTransition(ServiceError):
    """The task is not in a state that allows this."""

    status_code = 409


class SubmitInProgress(ServiceError):
    """A submit with this Idempotency-Key is still uploading: retry once it has ended."""

    status_code = 409


class ResultNotReady(ServiceError):
    """The result is not ready yet."""

    status_code = 409


class FilesGone(ServiceError):
    """The task's files were removed by retention."""

    status_code = 410


class UploadStalled(ServiceError):
    """The upload stopped sending: it was cut off and nothing of it was kept."""

    status_code = 408


class UploadTooLarge(ServiceError):
    """The upload is larger than the service accepts."""

    status_code = 413


class NotAVideo(ServiceError):
    """Input is not a video."""

    status_code = 415


class BadUpload(ServiceError):
    """The upload is malformed."""

    status_code = 422


class TooManyStreams(ServiceError):
    """Too many live streams are open for this caller."""

    status_code = 429


class StreamsFull(ServiceError):
    """The service has as many live streams open as it serves."""

    status_code = 503


class StorageFull(ServiceError):
    """The service's disk is full: the upload was not kept."""

    status_code = 507


class HashMismatch(ServiceError):
    """The uploaded bytes do not match the declared sha256."""

    status_code = 422


def install_error_handler(app: FastAPI) -> None:
    async def handle(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ServiceError)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    app.add_exception_handler(ServiceError, handle)
