"""What the app holds for its lifetime (made in the lifespan, reached through `StateDep`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from service.files.store import FileStore
from service.runtime.db import Database
from service.runtime.metrics import Metrics
from service.runtime.settings import ServiceSettings
from service.runtime.streams import ChangeFeed, StreamGate
from service.runtime.wakeup import QueueSignal
from service.tasks.machine import TaskMachine


@dataclass
class AppState:
    settings: ServiceSettings
    db: Database
    tasks: TaskMachine
    store: FileStore
    signal: QueueSignal
    metrics: Metrics
    streams: StreamGate
    changes: ChangeFeed


async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.sorawm
    return state


StateDep = Annotated[AppState, Depends(get_state)]
