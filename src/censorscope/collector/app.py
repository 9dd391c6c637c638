"""The collector as an ASGI application: ``create_app(settings)``.

The collector starts its background threads when the app is created and
stops them (storing what is queued, draining the sink) at ASGI shutdown or
on ``app.state.collector.close()``.  Besides the submission protocol it
answers the single-measurement reads of :mod:`.read_routes`; other routers
(API, explorer) can be included in the same app later.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from censorscope import __version__
from censorscope.collector.errors import install_error_handlers
from censorscope.collector.read_routes import router as read_router
from censorscope.collector.routes import router
from censorscope.collector.service import Collector
from censorscope.collector.settings import CollectorSettings


def create_app(settings: CollectorSettings) -> FastAPI:
    """A FastAPI app serving the collector protocol over ``settings.archive_dir``."""
    collector = Collector(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        collector.start()
        yield
        collector.close()

    app = FastAPI(title="censorscope collector", version=__version__, lifespan=lifespan)
    app.state.collector = collector
    install_error_handlers(app)
    app.include_router(router)
    app.include_router(read_router)
    collector.start()
    return app
