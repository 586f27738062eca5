"""Band-structure files as users bring them, attached to entries already in the store.

Readers (``ase_json``, ``vasp``) turn one file into segments of the k-path (the
``atlas2d.ingest.band_records`` currency); ``index`` reads an index CSV that names, per file,
the entry (``source``, ``source_id``), ``method`` and ``code``; ``attach`` writes the bands
beside that entry, or quarantines the file with the reason.
"""
