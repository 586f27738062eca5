"""``atlas2d serve``: the OPTIMADE API over the store, as a uvicorn HTTP server."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from starlette.types import ASGIApp

from atlas2d.api.console import console
from atlas2d.api.store_access import open_store, settings_of


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to listen on (0.0.0.0 for every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port to listen on.")] = 5000,
    base_url: Annotated[
        str | None,
        typer.Option(help="Public base URL for the 'next' links, when served behind a proxy. Default: from each request."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=64,
            help="Server processes answering requests on the one port (each runs Python on one core). Default: one per CPU, at most 4.",
        ),
    ] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level: critical, error, warning, info, debug.")] = "warning",
    log_dir: Annotated[
        Path | None,
        typer.Option(
            envvar="OPTIMADE_LOG_DIR",
            help="Folder for the OPTIMADE server's log files. Default: atlas2d-optimade-logs in the temporary folder.",
            show_envvar=True,
        ),
    ] = None,
) -> None:
    """Serve the store as an OPTIMADE v1 API (/versions, /v1/info, /v1/structures, /v1/references, /v1/links) and a web explorer at /.

    The explorer (/, /overview, /materials/ID, /entries/ID) searches materials and shows each with its 3D structure and its values.

    The server reads through the read-only role atlas2d_reader, so no request can change the store.
    Filters follow the OPTIMADE grammar; harmonized values are the _atlas2d_* fields described at /v1/info/structures.

    Check it with: optimade-validator http://HOST:PORT
    """
    from atlas2d.api.optimade.app import DEFAULT_LOG_DIR, HANDLER_THREADS, create_app
    from atlas2d.api.web.app import create_explorer, with_explorer
    from atlas2d.api.workers import default_workers
    from atlas2d.api.workers import serve as serve_app
    from atlas2d.schema.database import database_url
    from atlas2d.schema.status import check_readable

    settings = settings_of(ctx)
    with open_store(settings, readonly=True) as session:
        check_readable(session.connection())
        url = database_url(settings)

    def build() -> ASGIApp:
        api = create_app(url, base_url, readonly_url=settings.readonly_url, log_dir=log_dir or DEFAULT_LOG_DIR)
        return with_explorer(api, create_explorer(url, readonly_url=settings.readonly_url))

    workers = workers or default_workers()
    console.print(
        f"atlas2d explorer on http://{host}:{port}/ and its OPTIMADE API on http://{host}:{port}/v1/info, "
        f"{workers} worker{'s' if workers > 1 else ''} (Ctrl-C stops)"
    )
    serve_app(build, host=host, port=port, workers=workers, threads=HANDLER_THREADS, log_level=log_level)
