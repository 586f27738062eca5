"""A seeded corpus of hostile HTTP requests for ``atlas2d serve``, and a raw client that sends them.

The corpus holds every route of the API (entry listings and single entries under each base
URL, info, links, versions, ``/v1/extensions/similar``, the docs, unknown paths and other
methods) with bad query parameters: numbers that are not numbers (``abc``, ``1.5``, ``NaN``,
``²``, Arabic-Indic and full-width digits, ``2^63``), out-of-range ones (``-1``, 2^63, 400
nines), NUL bytes, invalid UTF-8 and broken percent-escapes, long strings, deep and
mistyped filters, unknown fields and prefixes, repeated and valueless parameters. The same
``seed`` and ``size`` always give the same requests.

Requests go out over plain sockets (``send_raw``), so that the request target is sent byte
for byte as written here: an HTTP client library would re-encode or refuse most of it.

A response counts as a **fault** when its status is 5xx other than the two that the OPTIMADE
specification prescribes (501 Not Implemented for valid filters a server does not support,
553 Version Not Supported for unknown versioned base URLs); a **dropped connection** is one
closed or timed out without a complete status line.
"""

from __future__ import annotations

import random
import socket
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import quote

SPEC_5XX = frozenset({501, 553})
"""5xx statuses the OPTIMADE specification asks for: not faults of the server."""

BASES = ("/v1", "/v1.2", "/v1.2.0", "")
LISTINGS = ("structures", "references", "links")
SINGLES = ("structures", "references")
OTHER_PATHS = (
    "/versions",
    "/v1/info",
    "/v1/info/structures",
    "/v1/info/references",
    "/v1/info/links",
    "/v1/info/nothing",
    "/v1/extensions/docs",
    "/v1/extensions/openapi.json",
    "/v1/extensions/redoc",
    "/v1/extensions/nothing",
    "/",
    "/v1",
    "/v1/",
    "/v2/structures",
    "/v1.3/structures",
    "/v0.9/info",
    "/v1.2.0.1/structures",
    "/v99999999999999999999/info",
    "//v1//structures",
    "/v1/structures/",
    "/v1/nothing",
    "/static/..%2f..%2fetc%2fpasswd",
    "/v1/%00",
    "/v1/info/%ff",
)

BAD_NUMBERS = (
    "abc", "-1", "1.5", "NaN", "nan", "inf", "-inf", "Infinity", "\u00b2", "\u0661\u0662", "\u0663", "\uff11\uff10",
    "\u2167", "2^63", str(2**63), str(2**63 - 1), str(2**64), str(-(2**63)), "9" * 400, "1e400", "1e3", "", " ",
    "+1", "0x10", "1_000", "0", "-0", "00001", "\x00", "1\x00", "true", "null", "[]", "1,2", "\U0001f642", "5" * 20,
    "1 ", " 1", "1\n", "501", "500", "499", "-9223372036854775809",
)
"""Values for integer parameters: none of these should reach SQL, or a 500."""

HOSTILE_STRINGS = (
    "\x00", "a\x00b", "x" * 5_000, "\u00e9\u00e8", "\u202e\u0645\u0631\u062d\u0628\u0627", "\ud800", "\U0001f4a5" * 50,
    "../../../../etc/passwd", "'; DROP TABLE entry; --", "{0}{1}%s%n", '"', "\\", "\\x00", "\r\nX-Injected: 1",
    "<script>alert(1)</script>", "{\"a\": 1}", "()" * 40, "," * 100, "-", "--", "_", "__", "_atlas2d_", "_other_",
    " ", "\t", "\u3000", "null", "None",
)
"""Values for string parameters."""

SORTS = (
    "-", "--nelements", "nelements,", ",", "-_atlas2d_band_gap", "_other_thing", "lattice_vectors", "species",
    "id,id", "unknown", "nelements,-nsites", "_atlas2d_nothing", "NELEMENTS", "elements", "-" * 50, "id" + ",id" * 300,
)
RESPONSE_FIELDS = (
    "", ",", "id,,", "_other_x", "_atlas2d_nothing", "nothing", "a" * 1000, "nelements,nelements", "id", "ID",
    "cartesian_site_positions,species", "_exmpl_x", "elements" + ",elements" * 400, "relationships", "type,links",
)
INCLUDES = ("references,references", "links", "", "structures", "references", "nothing", "references,nothing", ",")
FORMATS = ("xml", "", "JSON", "json", "_atlas2d_csv", "j\x00son")
API_HINTS = ("v2", "v1", "v0", "v1.2", "1", "v1,v2", "v99999999999999999999", "v1.2.3", "", "vNaN", "v\u00b2")
EMAILS = ("user@example.com", "not-an-email", "a@", "@b", "a" * 300 + "@example.com", "\x00@x.y")
SIMILAR_BY = ("bands", "structures", "", "BANDS", "nothing", "structures\x00", "x" * 500)
SIMILAR_IDS = (
    "", "/", "a/b/c", "poscar2d/POSCAR-MoS2", "mc2d/MoS2-a", "../../etc/passwd", "\x00", "%", "x" * 3000,
    "\u00b2/\u00b2", "mc2d/", "/MoS2", "tight-binding-generated/kagome-s11-00003",
)
ENTRY_IDS = (
    "%00", "..", "..%2F..%2Fetc%2Fpasswd", "a%2Fb", "x" * 3000, "%C3%A9", "%FF", "%ED%A0%80", "mc2d/", "/",
    "poscar2d/POSCAR-nothing", "%25", "null", "1", "-1", "%0D%0AX-Injected:%201",
)
FILTERS = (
    'nelements="2"', "nsites LENGTH > 3", "elements HAS 1", 'elements HAS ALL "Mo", 2', "chemical_formula_reduced > 1",
    '_atlas2d_band_gap = "x"', "_other_flag = TRUE", "_other_flag != FALSE", '_other_x = "y"', "_atlas2d_unknown = 1",
    "_exmpl_bandgap < 2.0 OR _exmpl2_bandgap < 2.5", "nelements = TRUE", 'elements = "Mo"', "nelements CONTAINS 1",
    'nelements STARTS "1"', "last_modified > 1", 'last_modified > "yesterday"', 'last_modified > "2020-01-01T00:00:00"',
    "nelements > 1e400", "nelements > -1e400", "nelements = 99999999999999999999999", "nelements < .1E1",
    "dimension_types HAS 9999999999", "elements LENGTH 1e400", "elements LENGTH -1", "id > 1", 'id = "\\"',
    "(" * 51 + "nelements=1" + ")" * 51, "(" * 49 + "nelements=1" + ")" * 49, "(" * 2_000, "nelements=1 AND " * 400 + "nsites>0",
    "x" * 4_097, "nelements", "nelements =", "=", 'elements HAS "\u00e9"', '"a" = "b"', "1 = 1", "nelements = nsites",
    'species.name HAS "Mo"', 'elements:species_at_sites HAS "Mo":"Mo"', 'lattice_vectors HAS 1', "structure_features HAS 1",
    'chemical_formula_reduced = "\x00"', "NOT NOT NOT nelements = 1", '_atlas2d_band_gap_method STARTS WITH 1',
    'elements HAS ONLY "Mo", "S", 1', "nelements > 2 AND nelements < 1 OR", "\u00b2 = 2", "nelements = \u00b2",
    "references.id = 1", "_ = 1", "_atlas2d_ = 1", "_Other_x = 1", '_other_x HAS "a"', "_other_x LENGTH 2",
    "_other_x IS KNOWN", "_other_x IS UNKNOWN", "nelements IS KNOWN AND _other_x", "TRUE", "FALSE", "NOT TRUE",
)


@dataclass(frozen=True)
class HostileRequest:
    """One request: its method, its request target exactly as sent, and what kind of hostility it carries."""

    method: str
    target: str
    kind: str


@dataclass
class Outcome:
    """What the server answered to one request: its status, or None for a dropped connection."""

    request: HostileRequest
    status: int | None
    body: bytes = b""
    seconds: float = 0.0


@dataclass
class Tally:
    """Counts over a run of the corpus."""

    requests: int = 0
    statuses: Counter = field(default_factory=Counter)
    dropped: list[HostileRequest] = field(default_factory=list)
    faults: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def responses_5xx(self) -> int:
        """Responses with a 5xx status that the specification does not prescribe (server faults)."""
        return len(self.faults)

    @property
    def responses_spec_5xx(self) -> int:
        return sum(n for status, n in self.statuses.items() if status in SPEC_5XX)


def encode(value: str) -> str:
    """``value`` percent-encoded for a query string (UTF-8; a lone surrogate as its raw code point bytes)."""
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


def _query(pairs: Iterable[tuple[str, str]]) -> str:
    return "&".join(f"{encode(key)}={encode(value)}" for key, value in pairs)


def _listing_paths() -> list[str]:
    return [f"{base}/{name}" for base in BASES for name in LISTINGS]


def _systematic() -> dict[str, list[HostileRequest]]:
    """Every hostile value on every parameter that takes it, grouped by kind."""
    listings = _listing_paths()
    groups: dict[str, list[HostileRequest]] = {}

    def add(kind: str, path: str, query: str = "", method: str = "GET") -> None:
        groups.setdefault(kind, []).append(HostileRequest(method, f"{path}?{query}" if query else path, kind))

    for i, value in enumerate(BAD_NUMBERS):
        for param in ("page_limit", "page_offset", "page_number", "page_cursor"):
            add(f"number:{param}", listings[(i + len(param)) % len(listings)], _query([(param, value)]))
        add("number:k", "/v1/extensions/similar", _query([("id", "poscar2d/POSCAR-MoS2"), ("k", value)]))
        add("number:single", f"/v1/structures/x?{_query([('page_limit', value)])}")
    for i, value in enumerate(HOSTILE_STRINGS):
        path = listings[i % len(listings)]
        for param in ("filter", "sort", "response_fields", "include", "response_format", "email_address", "api_hint",
                      "page_above", "page_below", "_other_param", "_atlas2d_param", "nothing"):
            add(f"string:{param}", path, _query([(param, value)]))
        add("string:similar", "/v1/extensions/similar", _query([("id", value), ("by", value), ("k", value)]))
    for kind, param, values in (("sort", "sort", SORTS), ("fields", "response_fields", RESPONSE_FIELDS),
                                ("include", "include", INCLUDES), ("format", "response_format", FORMATS),
                                ("api_hint", "api_hint", API_HINTS), ("email", "email_address", EMAILS)):
        for i, value in enumerate(values):
            add(kind, listings[i % len(listings)], _query([(param, value)]))
            add(kind, "/v1/structures/poscar2d/POSCAR-MoS2", _query([(param, value)]))
    for value in API_HINTS:
        add("api_hint", "/versions", _query([("api_hint", value)]))
        add("api_hint", "/v1/info", _query([("api_hint", value), ("api_hint", "v1")]))
    for i, text in enumerate(FILTERS):
        add("filter", listings[i % len(listings)], _query([("filter", text)]))
        add("filter", "/v1/structures", _query([("filter", text), ("page_limit", "1"), ("response_fields", "id")]))
    for by in SIMILAR_BY:
        for similar_id in SIMILAR_IDS:
            add("similar", "/v1/extensions/similar", _query([("id", similar_id), ("by", by)]))
    for base in BASES:
        for name in SINGLES:
            for entry_id in ENTRY_IDS:
                add("entry_id", f"{base}/{name}/{entry_id}")
    for path in OTHER_PATHS:
        add("path", path)
        add("path", path, "page_limit=abc&filter=%00")
    for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "BREW", "get"):
        for path in ("/v1/structures", "/v1/info", "/versions", "/v1/extensions/similar?id=a/b"):
            add("method", path, method=method)
    raw_queries = (
        "page_limit", "&&&", "=x", "page_limit=1&page_limit=abc", ";", "page_limit=1;page_offset=x", "%", "%G1",
        "filter=%", "filter=%ZZ", "filter=%C3%28", "filter=%FF%FE", "filter=%ED%A0%80", "a=%C0%AF", "page_limit=%EF%BC%91",
        "page_limit=%C2%B2", "page_limit=1%00", "=", "==", "page_limit==1", "page_limit=1=2", "filter=nelements%3D1%00",
        "%00=1", "page_limit=" + "1" * 5000, "x" * 8000 + "=1", "&".join(f"p{i}=1" for i in range(500)),
        "filter=" + "%28" * 60 + "nelements%3D1" + "%29" * 60, "response_fields=id&response_fields=%00",
        "api_hint=v2&filter=nelements%3D1", "api_hint=v1&filter=%C3%A9%20%3D%201&x=%20",
    )
    for i, query in enumerate(raw_queries):
        add("raw_query", listings[i % len(listings)], query)
        add("raw_query", "/v1/extensions/similar", query)
        add("raw_query", "/versions", query)
    return groups


def _interleaved(groups: dict[str, list[HostileRequest]], rng: random.Random) -> list[HostileRequest]:
    """The groups' requests, shuffled within each group and taken round robin, so a short prefix covers every kind."""
    queues = [rng.sample(items, len(items)) for _, items in sorted(groups.items())]
    ordered: list[HostileRequest] = []
    while any(queues):
        for queue in queues:
            if queue:
                ordered.append(queue.pop())
    return ordered


def _mutated(rng: random.Random) -> HostileRequest:
    """A random request: a route with up to four parameters, each a hostile value, some of them mutated further."""
    pools = {
        "page_limit": BAD_NUMBERS, "page_offset": BAD_NUMBERS, "page_number": BAD_NUMBERS, "filter": FILTERS,
        "sort": SORTS, "response_fields": RESPONSE_FIELDS, "include": INCLUDES, "api_hint": API_HINTS,
        "response_format": FORMATS, "email_address": EMAILS, "page_above": HOSTILE_STRINGS, "k": BAD_NUMBERS,
        "id": SIMILAR_IDS, "by": SIMILAR_BY, "_other_x": HOSTILE_STRINGS, "junk": HOSTILE_STRINGS,
    }
    path = rng.choice([*_listing_paths(), "/v1/extensions/similar", "/v1/info", "/versions",
                       f"/v1/structures/{rng.choice(ENTRY_IDS)}", f"/v1/references/{rng.choice(ENTRY_IDS)}"])
    pairs = []
    for param in rng.sample(sorted(pools), rng.randint(1, 4)):
        value = rng.choice(pools[param])
        roll = rng.random()
        if roll < 0.15:
            value = value + chr(rng.choice([0, 0x7F, 0xB2, 0x660, 0xFF10, 0x1F600, 0xFFFF, rng.randint(1, 0x10FFFF)]))
        elif roll < 0.25 and value:
            cut = rng.randrange(len(value))
            value = value[:cut] + value[cut + 1 :]
        elif roll < 0.3 and len(value) < 200:
            value = value * rng.randint(2, 50)
        pairs.append((param, value))
    query = _query(pairs)
    if rng.random() < 0.1:
        query += rng.choice(["%", "%G", "&=", "&x", ";y", "%FF", "%ED%A0%80"])
    return HostileRequest("GET", f"{path}?{query}", "mutated")


def http_corpus(size: int, seed: int = 18) -> list[HostileRequest]:
    """``size`` hostile requests: the systematic ones round robin by kind, then random mutations; deterministic."""
    rng = random.Random(seed)
    corpus = _interleaved(_systematic(), rng)[:size]
    while len(corpus) < size:
        corpus.append(_mutated(rng))
    return corpus


def send_raw(host: str, port: int, request: HostileRequest, timeout: float = 60) -> Outcome:
    """Send ``request`` on a fresh connection and read the whole answer; status None if none came."""
    started = time.perf_counter()
    head = f"{request.method} {request.target} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    chunks = []
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(head.encode("latin-1", "replace"))
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    except OSError:
        pass
    data = b"".join(chunks)
    status = _status(data, bodiless=request.method.upper() == "HEAD")
    return Outcome(request, status, data.partition(b"\r\n\r\n")[2], time.perf_counter() - started)


def _status(data: bytes, bodiless: bool = False) -> int | None:
    """The status of a complete HTTP response (head, and the full body by Content-Length unless
    ``bodiless``, as the answer to HEAD is), else None."""
    head, separator, body = data.partition(b"\r\n\r\n")
    parts = head.split(b"\r\n", 1)[0].split(b" ")
    if not separator or len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        return None
    for line in head.split(b"\r\n")[1:] if not bodiless else ():
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit() and len(body) < int(value.strip()):
            return None
    return int(parts[1])


def fire(host: str, port: int, corpus: list[HostileRequest], workers: int = 4, timeout: float = 60) -> Tally:
    """Send the whole corpus with ``workers`` concurrent clients and count what came back."""
    tally = Tally()
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        for outcome in pool.map(lambda r: send_raw(host, port, r, timeout), corpus):
            _count(tally, outcome)
    tally.seconds = time.perf_counter() - started
    return tally


def _count(tally: Tally, outcome: Outcome) -> None:
    tally.requests += 1
    if outcome.status is None:
        tally.dropped.append(outcome.request)
        return
    tally.statuses[outcome.status] += 1
    if outcome.status >= 500 and outcome.status not in SPEC_5XX:
        tally.faults.append(outcome)


def kinds(corpus: list[HostileRequest]) -> Iterator[tuple[str, int]]:
    """How many requests of each kind the corpus holds (for reports)."""
    yield from sorted(Counter(r.kind for r in corpus).items())
