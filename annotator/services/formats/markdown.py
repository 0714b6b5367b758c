"""md: one article per file, read with markdown-it-py within the parse budget."""
from __future__ import annotations

from functools import cache

from ..text import normalise
from .records import PARSE_SECONDS, Budget


def _inline_budget(state, _silent) -> bool:
    state.env["budget"].check()
    return False  # never matches: the other rules go on as before


def _block_budget(state, _start, _end, _silent) -> bool:
    state.env["budget"].check()
    return False


# markdown-it-py is linear but slow on some input (13 us a byte for `![` repeated, here):
# rules that match nothing check the budget wherever the parsers try a rule
@cache
def _markdown():
    """The parser, made on first use (importing markdown-it would cost every start-up)."""
    from markdown_it import MarkdownIt

    parser = MarkdownIt("commonmark")
    parser.inline.ruler.before("text", "budget", _inline_budget)
    parser.block.ruler.before("table", "budget", _block_budget)
    return parser


def md_article(text: str, _split: str = "line",
               budget: Budget | None = None) -> tuple[str, list[str]]:
    """Each block (paragraph, heading, list item, quote, code) is a paragraph; title: 1st heading."""
    text = normalise(text)
    title = None
    paragraphs = []
    tokens = _markdown().parse(text, {"budget": budget or Budget(PARSE_SECONDS, "Markdown")})
    for position, token in enumerate(tokens):
        if token.type == "inline":
            paragraphs.append(token.content)
            if not title and tokens[position - 1].type == "heading_open":
                title = token.content.strip()  # an empty heading (`#`) is not the title
        elif token.type in ("fence", "code_block", "html_block"):
            paragraphs.append(token.content)
    if not title:
        title = text.partition("\n")[0]
    return title, paragraphs
