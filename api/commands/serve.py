"""``atlas2d serve``: the OPTIMADE API over the store, as a uvicorn HTTP server."""

from __future__ import annotations

from typing import Annotated

import typer

from atlas2d.api.console import console, fail


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on (0.0.0.0 for every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port to listen on.")] = 5000,
    base_url: Annotated[
        str | None,
        typer.Option(help="Public base URL for the 'next' links, when served behind a proxy. Default: from each request."),
    ] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level: critical, error, warning, info, debug.")] = "warning",
) -> None:
    """Serve the store as an OPTIMADE v1 API (/versions, /v1/info, /v1/structures, /v1/references, /v1/links) and a web explorer at /.

    The explorer (/, /overview, /materials/ID, /entries/ID) searches materials and shows each with its 3D structure and its values.

    The server reads through the read-only role atlas2d_reader, so no request can change the store.
    Filters follow the OPTIMADE grammar; harmonized values are the _atlas2d_* fields described at /v1/info/structures.

    Check it with: optimade-validator http://HOST:PORT
    """
    import uvicorn
    from sqlalchemy.exc import DBAPIError

    from atlas2d.api.optimade.app import create_app, reader_engine
    from atlas2d.api.web.app import create_explorer, with_explorer
    from atlas2d.schema.database import DatabaseError, database_url

    try:
        url = database_url()
        with reader_engine(url).connect() as connection:
            connection.exec_driver_sql("SELECT count(*) FROM structure").scalar_one()
    except DatabaseError as exc:
        fail(str(exc))
    except DBAPIError as exc:
        fail(f"cannot read the store as atlas2d_reader (run 'atlas2d init' first?): {str(exc.orig).splitlines()[0]}")
    app = with_explorer(create_app(url, base_url=base_url), create_explorer(url))
    console.print(f"atlas2d explorer on http://{host}:{port}/ and its OPTIMADE API on http://{host}:{port}/v1/info (Ctrl-C stops)")
    uvicorn.run(app, host=host, port=port, log_level=log_level)
