"""create_app(): the HTTP application with its routers, middleware, templates and worker."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine, text
from starlette.middleware.sessions import SessionMiddleware

from phygital import __version__
from phygital.config import Settings
from phygital.core import app_settings
from phygital.core.clock import Clock, SystemClock
from phygital.core.jobs import Worker, WorkerThread
from phygital.core.schemas import API_ERRORS
from phygital.db import make_engine, make_session_factory, read_only, transaction
from phygital.deps import NoNul
from phygital.web import errors
from phygital.web.middleware import LocaleMiddleware
from phygital.web.templating import make_environment

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
SESSION_COOKIE = "phygital_session"

# Domain modules that register job handlers, timeline providers and privacy holders.
HOOK_MODULES: tuple[str, ...] = (
    "phygital.tracking.hooks",
    "phygital.commerce.hooks",
    "phygital.journeys.hooks",
    "phygital.privacy.hooks",
    "phygital.identity.hooks",
)


def load_hooks() -> None:
    import importlib

    for module in HOOK_MODULES:
        importlib.import_module(module)


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    engine: Engine | None = None,
    run_worker: bool = False,
) -> FastAPI:
    """Build the application. The database must already be migrated (`phygital serve` does it)."""
    clock = clock or SystemClock()
    engine = engine or make_engine(settings.database_url)
    session_factory = make_session_factory(engine, clock)
    load_hooks()

    with transaction(session_factory) as session:
        secret_key = settings.secret_key or app_settings.get_or_create_secret_key(session)
        company_name = (
            settings.company_name
            or app_settings.get_value(session, app_settings.COMPANY_NAME)
            or "Phygital"
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        thread = None
        if run_worker:
            worker = Worker(
                session_factory,
                clock=clock,
                lease=timedelta(seconds=settings.job_lease_seconds),
                settings=settings,
            )
            thread = WorkerThread(worker, settings.worker_poll_seconds)
            thread.start()
        try:
            yield
        finally:
            if thread is not None:
                thread.stop()

    app = FastAPI(
        title="Phygital",
        version=__version__,
        description=(
            "Omnichannel customer-experience platform: REST API (`/api/v1`, bearer tokens), "
            "Segment-compatible tracking (`/v1`) and web-shop/WhatsApp webhooks (`/webhooks`)."
        ),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.clock = clock
    app.state.engine = engine
    app.state.session_factory = session_factory
    app.state.read_engine = read_only(engine)
    app.state.company_name = company_name
    app.state.jinja = make_environment()

    app.add_middleware(
        SessionMiddleware,
        secret_key=secret_key,
        session_cookie=SESSION_COOKIE,
        max_age=settings.session_max_age_days * 24 * 3600,
        same_site="lax",
        https_only=settings.session_cookie_secure,
    )
    app.add_middleware(LocaleMiddleware)
    errors.install(app)

    @app.get("/health", tags=["operations"])
    def health(request: Request) -> JSONResponse:
        """`200 {"status": "ok"}` when the database answers, `503` otherwise."""
        try:
            with request.app.state.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:
            log.warning("health check: database does not answer: %s", exc)
            return JSONResponse({"status": "unavailable", "detail": "database"}, 503)
        return JSONResponse({"status": "ok"})

    from phygital.commerce import api as commerce_api
    from phygital.commerce import outbox_views as commerce_outbox
    from phygital.commerce import views as commerce_views
    from phygital.commerce.webhooks import api as webhooks_api
    from phygital.identity import api as identity_api
    from phygital.identity import views as identity_views
    from phygital.journeys import api as journeys_api
    from phygital.journeys import views as journeys_views
    from phygital.tracking import api as tracking_api
    from phygital.tracking import snippet as tracking_snippet
    from phygital.tracking import sources_api
    from phygital.tracking import views as tracking_views
    from phygital.web import views as web_views

    app.add_middleware(tracking_snippet.TrackingCorsMiddleware)

    # Every /api route can answer the contract's error codes; the schema says so.
    for api_router in (
        commerce_api.router,
        identity_api.router,
        journeys_api.router,
        sources_api.router,
    ):
        app.include_router(api_router, responses=API_ERRORS, dependencies=[NoNul])
    app.include_router(tracking_api.router)  # cleans NUL itself (tracking.messages.storable)
    app.include_router(tracking_snippet.router)
    app.include_router(webhooks_api.router)  # verifies signatures on the raw bytes first
    for page_router in (
        identity_views.router,
        tracking_views.router,
        commerce_views.router,
        commerce_outbox.router,
        journeys_views.router,
        web_views.router,
    ):
        app.include_router(page_router, dependencies=[NoNul])
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
