"""Band-structure files as users bring them, attached to entries already in the store.

Readers (``vasp``, ``ase_json``, ``qe``, ``questaal``, and ``c2db`` for a C2DB download's
band-structure result) turn one file into segments of the k-path (the
``atlas2d.ingest.band_records`` currency); ``index`` attaches the files an index CSV names
(``source``, ``source_id``, ``method``, ``code``) to their entries; ``loose`` attaches files
without an index row to the stored entry their structure matches. A file that cannot be read
or attached is quarantined with the reason.
"""
