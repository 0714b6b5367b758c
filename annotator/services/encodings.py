"""The text encodings an import accepts: WHATWG's labels, the names browsers know, and no
other. Python's codec registry is never asked about a name from a file or a user: it also
holds byte transforms (zlib, base64, hex, rot13 ...) that are no text encoding at all."""
from __future__ import annotations

import codecs
import re

from .messages import N_

# WHATWG Encoding Standard (https://encoding.spec.whatwg.org/encodings.json): name, the
# Python codec that decodes it, its labels (an indented line continues the one above). Left
# out: "replacement" (iso-2022-kr, hz-gb-2312 ...: browsers refuse those too) and
# "x-user-defined". GBK's labels (gb2312 ...) are read as GB18030, GBK's superset, as the
# spec's GBK decoder does.
_TABLE = """
utf-8           utf-8       unicode-1-1-utf-8 utf-8 utf8
ibm866          cp866       866 cp866 csibm866 ibm866
iso-8859-2      iso8859-2   csisolatin2 iso-8859-2 iso-ir-101 iso8859-2 iso88592 iso_8859-2
                            iso_8859-2:1987 l2 latin2
iso-8859-3      iso8859-3   csisolatin3 iso-8859-3 iso-ir-109 iso8859-3 iso88593 iso_8859-3
                            iso_8859-3:1988 l3 latin3
iso-8859-4      iso8859-4   csisolatin4 iso-8859-4 iso-ir-110 iso8859-4 iso88594 iso_8859-4
                            iso_8859-4:1988 l4 latin4
iso-8859-5      iso8859-5   csisolatincyrillic cyrillic iso-8859-5 iso-ir-144 iso8859-5 iso88595
                            iso_8859-5 iso_8859-5:1988
iso-8859-6      iso8859-6   arabic asmo-708 csiso88596e csiso88596i csisolatinarabic ecma-114
                            iso-8859-6 iso-8859-6-e iso-8859-6-i iso-ir-127 iso8859-6 iso88596
                            iso_8859-6 iso_8859-6:1987
iso-8859-7      iso8859-7   csisolatingreek ecma-118 elot_928 greek greek8 iso-8859-7 iso-ir-126
                            iso8859-7 iso88597 iso_8859-7 iso_8859-7:1987 sun_eu_greek
iso-8859-8      iso8859-8   csiso88598e csisolatinhebrew hebrew iso-8859-8 iso-8859-8-e
                            iso-ir-138 iso8859-8 iso88598 iso_8859-8 iso_8859-8:1988 visual
iso-8859-8-i    iso8859-8   csiso88598i iso-8859-8-i logical
iso-8859-10     iso8859-10  csisolatin6 iso-8859-10 iso-ir-157 iso8859-10 iso885910 l6 latin6
iso-8859-13     iso8859-13  iso-8859-13 iso8859-13 iso885913
iso-8859-14     iso8859-14  iso-8859-14 iso8859-14 iso885914
iso-8859-15     iso8859-15  csisolatin9 iso-8859-15 iso8859-15 iso885915 iso_8859-15 l9
iso-8859-16     iso8859-16  iso-8859-16
koi8-r          koi8-r      cskoi8r koi koi8 koi8-r koi8_r
koi8-u          koi8-u      koi8-u
macintosh       mac-roman   csmacintosh mac macintosh x-mac-roman
windows-874     cp874       dos-874 iso-8859-11 iso8859-11 iso885911 tis-620 windows-874
windows-1250    cp1250      cp1250 windows-1250 x-cp1250
windows-1251    cp1251      cp1251 windows-1251 x-cp1251
windows-1252    cp1252      ansi_x3.4-1968 ascii cp1252 cp819 csisolatin1 ibm819 iso-8859-1
                            iso-ir-100 iso8859-1 iso88591 iso_8859-1 iso_8859-1:1987 l1 latin1
                            us-ascii windows-1252 x-cp1252
windows-1253    cp1253      cp1253 windows-1253 x-cp1253
windows-1254    cp1254      cp1254 csisolatin5 iso-8859-9 iso-ir-148 iso8859-9 iso88599
                            iso_8859-9 iso_8859-9:1989 l5 latin5 windows-1254 x-cp1254
windows-1255    cp1255      cp1255 windows-1255 x-cp1255
windows-1256    cp1256      cp1256 windows-1256 x-cp1256
windows-1257    cp1257      cp1257 windows-1257 x-cp1257
windows-1258    cp1258      cp1258 windows-1258 x-cp1258
x-mac-cyrillic  mac-cyrillic x-mac-cyrillic x-mac-ukrainian
gb18030         gb18030     gb18030 chinese csgb2312 csiso58gb231280 gb2312 gb_2312 gb_2312-80
                            gbk iso-ir-58 x-gbk
big5            big5hkscs   big5 big5-hkscs cn-big5 csbig5 x-x-big5
euc-jp          euc_jp      cseucpkdfmtjapanese euc-jp x-euc-jp
iso-2022-jp     iso2022_jp  csiso2022jp iso-2022-jp
shift_jis       cp932       csshiftjis ms932 ms_kanji shift-jis shift_jis sjis windows-31j
                            x-sjis
euc-kr          cp949       cseuckr csksc56011987 euc-kr iso-ir-149 korean ks_c_5601-1987
                            ks_c_5601-1989 ksc5601 ksc_5601 windows-949
utf-16be        utf-16-be   utf-16be
utf-16le        utf-16-le   utf-16le
utf-16          utf-16      utf-16
"""
# (WHATWG makes "utf-16" a label of utf-16le; as its own entry it decodes by the BOM, as the
# spec's BOM sniffing would, and is little-endian without one.)

CODECS: dict[str, str] = {}  # WHATWG name -> Python codec
LABELS: dict[str, str] = {}  # label -> WHATWG name
for _line in re.sub(r"\n +", " ", _TABLE).strip().splitlines():  # indented: continued
    _name, _codec, *_labels = _line.split()
    CODECS[_name] = _codec  # as codecs.lookup names it (tested); a lookup imports the codec
    LABELS.update(dict.fromkeys(_labels, _name))

UTF_16 = {"utf-16", "utf-16be", "utf-16le"}
DETECT_SAMPLE = 64 * 1024  # bytes detection looks at: its cost grows with the sample
_NON_ASCII = re.compile(rb"[\x80-\xff]")


class UnknownEncoding(ValueError):
    """A name that is not a WHATWG label of a text encoding."""


def for_label(label: str) -> str | None:
    """The WHATWG name a label stands for (case and surrounding whitespace ignored), or None."""
    return LABELS.get(label.strip(" \t\n\f\r").lower())


def user_encoding(label: str) -> str:
    """The encoding a user named (`--encoding`, the upload form), or UnknownEncoding."""
    name = for_label(label)
    if name is None:
        raise UnknownEncoding(N_("unknown encoding %(label)s: give the name of a text encoding, "
                                 "such as utf-8, gb18030, windows-1252 or shift_jis",
                                 label=repr(label)))
    return name


def decodes(data: bytes, name: str) -> bool:
    """True when the bytes are valid text in that encoding."""
    try:
        codecs.decode(data, CODECS[name])
    except UnicodeDecodeError:
        return False
    return True


def detect(data: bytes) -> list[str]:
    """Encodings the bytes may be in, best first, guessed by charset-normalizer from at most
    DETECT_SAMPLE bytes from the first non-ASCII one on (a page's head can be long and all
    ASCII), cut at a '<' or line break, never inside a character."""
    import charset_normalizer  # here: importing it would cost every start-up

    sample = data
    if len(data) > DETECT_SAMPLE:
        non_ascii = _NON_ASCII.search(data)
        first = non_ascii.start() if non_ascii else 0
        start = max(data.rfind(b"<", 0, first), data.rfind(b"\n", 0, first), 0)
        end = start + DETECT_SAMPLE
        cut = max(data.rfind(b"<", start + 1, end), data.rfind(b"\n", start + 1, end))
        sample = data[start:cut if cut > start and end < len(data) else end]
    candidates = [codec for name, codec in CODECS.items() if name not in UTF_16]
    ranked = []
    for match in charset_normalizer.from_bytes(sample, cp_isolation=candidates):
        # a match stands for every encoding that gives the same text; equal scores are a
        # tie, which goes to the web's most common legacy encoding, then to table order
        names = [name for codec in match.could_be_from_charset
                 for name in _NAMES.get(codecs.lookup(codec).name, ())]
        for name in names:
            ranked.append((round(match.chaos, 3), -round(match.coherence, 3), _rank(name), name))
    found: list[str] = []
    for *_, name in sorted(ranked):
        if name not in found:
            found.append(name)
    return found


_NAMES: dict[str, list[str]] = {}  # Python codec -> the WHATWG names it decodes
for _name, _codec in CODECS.items():
    _NAMES.setdefault(_codec, []).append(_name)
_ORDER = list(CODECS)


def _rank(name: str) -> int:
    return -1 if name == "windows-1252" else _ORDER.index(name)


PRESCAN = 4096  # bytes searched for a declared charset
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16le"),
         (codecs.BOM_UTF16_BE, "utf-16be"))


def bom_encoding(data: bytes) -> str | None:
    """The encoding a byte-order mark at the start names, if there is one."""
    return next((name for bom, name in _BOMS if data.startswith(bom)), None)


def declared_encoding(data: bytes) -> str | None:
    """The encoding a page's `<meta charset>` or `http-equiv` Content-Type names, if it is a
    WHATWG label (others are ignored, as browsers ignore them)."""
    match = _META_CHARSET.search(data[:PRESCAN])
    name = for_label(match.group(1).decode("ascii")) if match else None
    return "utf-8" if name in UTF_16 else name  # a page read as ASCII cannot be UTF-16 (WHATWG)


def html_encoding(data: bytes, user: str | None = None,
                  transport: str | None = None) -> tuple[str, str]:
    """How a browser would decode a page, as (encoding, errors): a BOM, else the user's
    encoding, else UTF-8 if the bytes are valid UTF-8 (a page declaring another charset is
    then mislabelled), else the charset its HTTP header names (`transport`, a WHATWG name) if
    it decodes them, else the page's declared one if it does, else the first detected
    encoding that does. Text with a few bad bytes (a cut character, a stray byte) is read in
    its own encoding with those as U+FFFD ("replace"), as browsers show them, before any
    single-byte encoding, which decodes anything into mojibake. Nothing fits: strict UTF-8,
    whose error names the first bad byte."""
    bom = bom_encoding(data)
    if bom or user:
        return bom or user, "strict"
    if transport in UTF_16:
        transport = None  # bytes without a UTF-16 BOM: a mislabelled page (WHATWG reads UTF-8)
    declared = [name for name in (transport, declared_encoding(data)) if name]
    if data.isascii():
        return (declared or ["utf-8"])[0], "strict"
    if decodes(data, "utf-8"):
        return "utf-8", "strict"
    for name in declared:
        if decodes(data, name):
            return name, "strict"
    for name in declared:
        bad, good = _bad_and_good(data, name)
        if bad <= good:
            return name, "replace"  # what the author said, and more right than wrong
    for name in ("utf-8", *_MULTIBYTE):
        if _mostly(data, name):
            return name, "replace"
    return next((name for name in detect(data) if decodes(data, name)), "utf-8"), "strict"


def _mostly(data: bytes, name: str) -> bool:
    """Text in that encoding but for a few bad bytes (one per 20 other non-ASCII characters
    at most); for a legacy multi-byte encoding, which reads much of anything, also the one
    detection names once those bytes are dropped."""
    bad, good = _bad_and_good(data, name)
    if not 0 < bad <= good / 20:
        return False
    codec = CODECS[name]
    return name == "utf-8" or detect(data.decode(codec, "ignore").encode(codec))[:1] == [name]


_MULTIBYTE = ("gb18030", "big5", "shift_jis", "euc-kr", "euc-jp")


def _bad_and_good(data: bytes, name: str) -> tuple[int, int]:
    """How many characters of the decoded bytes are U+FFFD, and how many other non-ASCII."""
    text = codecs.decode(data, CODECS[name], "replace")
    bad = text.count("\ufffd")
    return bad, len(text) - len(text.encode("ascii", "ignore")) - bad
