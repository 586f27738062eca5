"""The source adapters: one module per source format; each source's main module exports one ``Adapter``.

A source published in several formats (C2DB, MC2D) keeps one name and one adapter whose
``read`` picks the format's reader by content (``atlas2d.ingest.sources.formats``).

The contract is ``atlas2d.ingest.sources.base``; adapters are found by name through the
``atlas2d.sources`` entry points (``atlas2d.ingest.sources.registry``); what every adapter
does the same way is in ``atlas2d.ingest.sources.common``.
"""
