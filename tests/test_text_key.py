"""text_key is stored (paragraph.text_key, backfilled by migration 0005): its values must
never change, whatever makes it faster."""
from __future__ import annotations

import hashlib
import random
import re
import unicodedata

from annotator.services.text import KEY_CHARS, nfkc, text_key

PINNED = {
    "上一篇：电池回收 2024": "5e0443fdf460b22a",
    "ＲＥＬＡＴＥＤ  News 12": "38075ef2884e7b81",
    "Body.": "cea3312c3658fd0b",
    "© 2026 news.example.cn 版权所有，未经授权禁止转载": "0007ed97f98b4a87",
    "x" * 150: "50e483690ec481f4",
    "ﬁ Straße Ⅻ ①": "1675991904c23803",
    "相关文章 1": "a6cc96f7cecbec48",
    "A\u00a0b\tC": "a9993e364706816a",
}


def reference_key(text: str) -> str:
    """text_key as first defined, without its shortcuts."""
    folded = "".join(unicodedata.normalize("NFKC", text[:KEY_CHARS]).casefold().split())
    folded = re.sub(r"\d", "0", folded)
    return hashlib.sha1(folded.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def test_text_key_values_are_pinned():
    assert {text: text_key(text) for text in PINNED} == PINNED


def test_text_key_and_nfkc_match_the_plain_definition_on_random_text():
    rng = random.Random(9)
    alphabet = ("abcXYZ 019.,:;!?\t\n\u00a0\u3000\u00e9\u0301ﬁßİΣς①Ⅻ²"
                "电池回收。，！？：（）ＡＢＣ０１２ｱｲｳ\u200b\U0001d400\ud800")
    for _ in range(5000):
        text = "".join(rng.choices(alphabet, k=rng.randint(0, 130)))
        assert nfkc(text) == unicodedata.normalize("NFKC", text)
        assert text_key(text) == reference_key(text), repr(text)


def test_text_key_of_ascii_text_matches_the_plain_definition():
    rng = random.Random(10)  # every ASCII character: the bytes shortcut covers all of them
    alphabet = [chr(code) for code in range(128)]
    for _ in range(5000):
        text = "".join(rng.choices(alphabet, k=rng.randint(0, 130)))
        assert text_key(text) == reference_key(text), repr(text)
