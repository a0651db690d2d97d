"""What the app holds for its lifetime (made in the lifespan, reached through `StateDep`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from service.db import Database
from service.metrics import Metrics
from service.settings import ServiceSettings
from service.store import FileStore
from service.wakeup import QueueSignal


@dataclass
class AppState:
    settings: ServiceSettings
    db: Database
    store: FileStore
    signal: QueueSignal
    metrics: Metrics


async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.sorawm
    return state


StateDep = Annotated[AppState, Depends(get_state)]
