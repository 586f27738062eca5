"""The web explorer: server-rendered HTML pages over the store, beside the OPTIMADE API.

``atlas2d serve`` answers the explorer's paths (``/``, ``/overview``, ``/materials/…``,
``/entries/…``, ``/assets/…``) with this package and every other path with the OPTIMADE
application, which stays exactly as it was. Pages read through the read-only role.
"""
