"""The source adapters: one module per source format, each exporting one ``Adapter``.

The contract is ``atlas2d.ingest.sources.base``; adapters are found by name through the
``atlas2d.sources`` entry points (``atlas2d.ingest.sources.registry``); what every adapter
does the same way is in ``atlas2d.ingest.sources.common``.
"""
