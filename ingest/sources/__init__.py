"""Source adapters: each reads one source's own format and yields ``Record`` or ``Rejected``."""
