"""warc: a web archive (WARC, each record gzipped or not), read a record at a time with warcio;
each HTML response with HTTP status 200 is an article, read as an .html file is."""
from __future__ import annotations

import hashlib
import io
import zlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from ..encodings import for_label
from ..messages import N_
from .html import MAX_PAGE_BYTES, html_record
from . import Skipped
from .records import PARSE_SECONDS, Budget, Invalid, Problem, Record

HTML_TYPES = {"text/html", "application/xhtml+xml"}
READ = 1 << 16  # bytes of a record's payload read at a time


SKIPPED = ("not_response", "not_html", "not_200", "duplicate")
"""Why a record is skipped: no HTTP response (request, revisit, metadata, warcinfo ...), not
HTML, a status other than 200, a URL taken before."""


def warc_records(data: bytes | Path, name: str, user: str | None = None,
                 parse_seconds: float = PARSE_SECONDS, seen: set[bytes] | None = None,
                 ) -> Iterator[Record | Problem | Skipped]:
    """The archive's articles, its other records as Skipped, and a Problem (at the record's
    byte offset) for each page that cannot be read or a file that ends inside a record.
    `seen` holds the URLs (as digests) taken so far, across the files of one import."""
    seen = set() if seen is None else seen
    with (data.open("rb") if isinstance(data, Path) else io.BytesIO(data)) as file:
        head = file.read(5)
        file.seek(0)
        if not head.strip():
            yield Problem(f"{name}:0", N_("file is empty"))
            return
        if not head.startswith((b"WARC/", b"\x1f\x8b")):
            yield Problem(f"{name}:0", N_("not a WARC file: it starts with neither WARC/ nor "
                                          "a gzip header"))
            return
        archive = ArchiveIterator(file)
        end = 0  # where the last whole record ends: the next one's offset
        try:
            for record in archive:
                offset = archive.offset
                item = _article(record, f"{name}:{offset}", user, parse_seconds, seen)
                decompressor = archive.reader.decompressor
                archive.read_to_end()
                length = record.rec_headers.get_header("Content-Length") or ""
                if (not length.strip().isdigit()  # a record cut in its headers
                        or getattr(record.raw_stream, "limit", 0)
                        or (decompressor is not None and not decompressor.eof)):
                    yield _truncated(name, offset)  # its block short of its Content-Length
                    return
                yield item
                end = archive.offset
        except AttributeError:  # warcio's parser, on a record cut inside its headers
            yield Problem(f"{name}:{end}", N_("the WARC record's headers are cut short or "
                                              "malformed (truncated?)"))
            return
        except (ArchiveLoadFailed, zlib.error, EOFError, ValueError) as error:
            if "non-chunked gzip" in str(error):  # warcio's offsets mean nothing in it
                yield Problem(f"{name}:0", N_(
                    "the file is gzipped whole, not a gzip member per record as WARC files "
                    "are: recompress it (warcio recompress IN OUT) or gunzip it"))
            else:
                yield Problem(f"{name}:{end}", N_(
                    "not a readable WARC record (%(error)s)",
                    error=str(error).strip().splitlines()[0][:200]))
            return
        file.seek(end)
        if file.read(4096).strip():  # warcio stops quietly at a record cut in its headers
            yield _truncated(name, end)


def _truncated(name: str, offset: int) -> Problem:
    return Problem(f"{name}:{offset}", N_("the file ends inside this WARC record (truncated?)"))


def _article(record, source: str, user: str | None, parse_seconds: float,
             seen: set[bytes]) -> Record | Problem | Skipped:
    """One record: an article, why it is skipped, or why its page cannot be read."""
    if record.rec_type != "response" or record.http_headers is None:
        return Skipped("not_response")
    headers = record.http_headers
    media, _, parameters = (headers.get_header("Content-Type") or "").partition(";")
    if media.strip().lower() not in HTML_TYPES:
        return Skipped("not_html")
    if headers.get_statuscode() != "200":
        return Skipped("not_200")
    url = record.rec_headers.get_header("WARC-Target-URI") or ""
    digest = hashlib.blake2b(url.encode("utf-8", "surrogatepass"), digest_size=16).digest()
    if digest in seen:
        return Skipped("duplicate")
    seen.add(digest)
    stream = record.content_stream()  # the payload, transfer- and content-decoded
    payload = bytearray()
    while chunk := stream.read(READ):
        payload += chunk
        if len(payload) > MAX_PAGE_BYTES:
            return Problem(source, N_("the HTML page is over %(limit)s MB; pages over "
                                      "%(limit)s MB are refused", limit=MAX_PAGE_BYTES // 2**20))
    try:
        article = html_record(bytes(payload), source, urlsplit(url).path.rpartition("/")[2]
                              or url, user, Budget(parse_seconds, "HTML"),
                              transport=_charset(parameters))
    except Invalid as error:
        return Problem(source, error.reason)
    article.url = url or None
    article.meta = {"site": _host(url), "fetched_at": record.rec_headers.get_header("WARC-Date"),
                    "status": 200, **article.meta}
    return article


def _charset(parameters: str) -> str | None:
    """The WHATWG encoding a Content-Type's charset parameter names, if any."""
    for parameter in parameters.split(";"):
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "charset":
            return for_label(value.strip().strip("\"'"))
    return None


def _host(url: str) -> str | None:
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None
