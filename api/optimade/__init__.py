"""atlas2d's OPTIMADE API, served straight from the PostgreSQL store.

``fields`` maps OPTIMADE properties to SQL expressions, ``filter`` turns an OPTIMADE filter
into a SQLAlchemy expression over them, ``collection`` answers the reference server's
routers from PostgreSQL, ``app`` builds the FastAPI application, and ``federation`` queries
several OPTIMADE providers and merges their hits.
"""
