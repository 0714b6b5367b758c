"""What every format's reader shares: the record, the problem, the parse budget, strict
decoding and the checks every record passes."""
from __future__ import annotations

import codecs
import time
from dataclasses import dataclass, field
from typing import Any

from ..encodings import CODECS
from ..messages import N_, Text
from ..text import normalise, paragraphs_of

PARSE_SECONDS = 10.0  # CPU time one file may take to parse


@dataclass
class Record:
    """One article as read from its source, before de-duplication."""

    source: str  # FILE:LINE
    title: str
    paragraphs: list[str]
    article_id: str | None = None
    url: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    features: list[dict[str, Any]] | None = None
    """What the HTML parser saw of each paragraph (parallel to `paragraphs`), else None."""


@dataclass
class Problem:
    """A record or file that cannot be imported, and why."""

    source: str
    reason: str  # a messages.Text where the web shows it translated

    def __str__(self) -> str:
        return self.message()

    def message(self) -> Text:
        """FILE:LINE: reason, translatable as its reason is."""
        return Text("%(source)s: %(reason)s", {"source": self.source, "reason": self.reason})


class Invalid(Exception):
    """Raised inside a parser with a messages.Text; becomes a Problem at the record's source."""

    @property
    def reason(self) -> str:
        return self.args[0]


class Budget:
    """The CPU time one file may take to parse (this thread's, so a busy server does not
    refuse files a quiet one takes), checked as the parsers go."""

    def __init__(self, seconds: float, what: str):
        self.seconds = seconds
        self.what = what
        self.deadline = time.thread_time() + seconds

    def check(self) -> None:
        if time.thread_time() > self.deadline:
            raise Invalid(N_("the %(what)s is too complex to parse (more than %(seconds)s s of "
                             "CPU time); split or simplify the file",
                             what=self.what, seconds=format(self.seconds, "g")))


def is_blank(data: bytes) -> bool:
    """Nothing but ASCII whitespace, after a UTF-8 BOM if there is one."""
    return not data.removeprefix(codecs.BOM_UTF8).strip()


def checked(record: Record) -> Record:
    """Normalise a record's title and paragraphs, refusing one with neither."""
    record.title = normalise(record.title)
    if not record.title:
        raise Invalid(N_("missing or empty title"))
    if record.features is None:
        record.paragraphs = paragraphs_of(record.paragraphs)
    else:  # drop the empty paragraphs and their features alike
        kept = [(text, seen) for text, seen in
                zip(map(normalise, record.paragraphs), record.features) if text]
        record.paragraphs = [text for text, _ in kept]
        record.features = [seen for _, seen in kept]
    if not record.paragraphs:
        raise Invalid(N_("no paragraphs"))
    check_storable("".join([record.title, *record.paragraphs]))  # all at once: one message
    return record


def check_storable(text: str, where: str = N_("text")) -> None:
    """Refuse what no database can hold: NUL characters and lone surrogates (from JSON escapes)."""
    if "\x00" in text:
        raise Invalid(N_("%(where)s contains a NUL character (U+0000)", where=where))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise Invalid(N_("%(where)s contains a lone surrogate (%(char)s), which is not valid "
                         "Unicode", where=where, char="U+" + format(ord(text[error.start]), "04X"))) from None


def decode(data: bytes, encoding: str, errors: str = "strict") -> str:
    """Decode (a WHATWG name), strictly unless told, naming the first offending byte; a BOM
    is allowed."""
    codec = CODECS[encoding]
    try:
        return codecs.decode(data, "utf-8-sig" if codec == "utf-8" else codec, errors)
    except UnicodeDecodeError as error:
        bad = data[error.start:error.start + 1].hex()
        where = {"encoding": encoding, "byte": f"0x{bad}", "offset": error.start}
        raise Invalid(N_("bytes do not decode as %(encoding)s (byte %(byte)s at offset "
                         "%(offset)s); pass --encoding if the file uses another one", **where)
                      .on_web(N_("bytes do not decode as %(encoding)s (byte %(byte)s at offset "
                                 "%(offset)s): if the file uses another encoding, name it in the "
                                 "Encoding field", **where))) from None

