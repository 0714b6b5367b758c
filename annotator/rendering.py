"""Markdown from users (project guidelines) rendered to HTML that is safe to show."""
from __future__ import annotations

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
_ALLOWED_TAGS = {"p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li",
                 "blockquote", "pre", "code", "em", "strong", "a", "table", "thead", "tbody",
                 "tr", "th", "td", "del"}


def render_markdown(text: str) -> Markup:
    """Render Markdown, then sanitise: the output holds no script, style or event handler."""
    html = _markdown.render(text or "")
    clean = nh3.clean(html, tags=_ALLOWED_TAGS, attributes={"a": {"href", "title"}},
                      url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer")
    return Markup(clean)
