"""Markdown from users (project guidelines) rendered to HTML that is safe to show."""
from __future__ import annotations

from functools import cache

from markupsafe import Markup

_ALLOWED_TAGS = {"p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li",
                 "blockquote", "pre", "code", "em", "strong", "a", "table", "thead", "tbody",
                 "tr", "th", "td", "del"}


@cache
def _markdown():
    """The parser, made on first use: markdown-it and nh3 are imported only by what renders."""
    from markdown_it import MarkdownIt
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def render_markdown(text: str) -> Markup:
    """Render Markdown, then sanitise: the output holds no script, style or event handler."""
    import nh3

    html = _markdown().render(text or "")
    clean = nh3.clean(html, tags=_ALLOWED_TAGS, attributes={"a": {"href", "title"}},
                      url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer")
    return Markup(clean)
