"""Editing a project's span label set and relation set (the settings page): rows checked,
added, renamed and reordered by key; a key that spans or links use is never removed (the
refusal says how many use it). Spans are independent of paragraph labels: nothing here
touches annotations, and the paragraph label set's changes touch no span."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import Article, Link, Paragraph, Project, Relation, Span, SpanLabel
from .messages import N_, Text, joined, ngettext
from .spans import change_span_labels

KEY: Final = re.compile(r"[a-z0-9_-]{1,32}")
COLOR: Final = re.compile(r"#[0-9a-fA-F]{6}")
# What span mode and the link picker already use (static/js/spans.js, links.js): a hotkey
# there would never reach its label or relation.
SPAN_MODE_KEYS: Final = frozenset("sjk")
PICKER_KEYS: Final = frozenset("123456789")


@dataclass(frozen=True)
class Row:
    """One row of a set's table as the form sent it (`color` None for relations)."""

    key: str
    name: str
    hotkey: str
    color: str | None = None


@dataclass(frozen=True)
class Use:
    """How many annotators' and gold spans (or links) use a key."""

    annotators: int = 0
    gold: int = 0

    def text(self, noun: str) -> Text:
        """"12 spans, 1 gold span" (noun "span") or the same for links."""
        own = (ngettext("%(num)s span", "%(num)s spans", self.annotators) if noun == "span"
               else ngettext("%(num)s link", "%(num)s links", self.annotators))
        gold = (ngettext("%(num)s gold span", "%(num)s gold spans", self.gold) if noun == "span"
                else ngettext("%(num)s gold link", "%(num)s gold links", self.gold))
        parts = [part for part, count in ((own, self.annotators), (gold, self.gold)) if count]
        return joined(*parts, separator=N_(", "))


def span_label_uses(session: Session, project_id: int) -> dict[str, Use]:
    """Every span label key the project's spans use, with its counts."""
    rows = session.execute(
        select(Span.label, Span.gold, func.count()).join(Paragraph, Paragraph.id == Span.paragraph_id)
        .join(Article, Article.id == Paragraph.article_id).where(Article.project_id == project_id)
        .group_by(Span.label, Span.gold))
    return _uses(rows)


def relation_uses(session: Session, project_id: int) -> dict[str, Use]:
    """Every relation key the project's links use, with its counts."""
    rows = session.execute(
        select(Link.relation, Link.gold, func.count()).join(Article, Article.id == Link.article_id)
        .where(Article.project_id == project_id).group_by(Link.relation, Link.gold))
    return _uses(rows)


def _uses(rows) -> dict[str, Use]:
    counts: dict[str, dict[bool, int]] = {}
    for key, gold, count in rows:
        counts.setdefault(key, {})[bool(gold)] = count
    return {key: Use(by.get(False, 0), by.get(True, 0)) for key, by in counts.items()}


def edit_span_labels(session: Session, project: Project, rows: list[Row],
                     removed: set[str]) -> list[Text]:
    """Make the rows (less the removed keys) the project's span label set, in their order;
    returns the problems instead, changing nothing, when there are any."""
    return _edit(session, project, project.span_labels, SpanLabel, rows, removed,
                 N_("Span label"), SPAN_MODE_KEYS, span_label_uses, "span")


def edit_relations(session: Session, project: Project, rows: list[Row],
                   removed: set[str]) -> list[Text]:
    """`edit_span_labels` for the relation set (the first relation is a link's default)."""
    return _edit(session, project, project.relations, Relation, rows, removed,
                 N_("Relation"), PICKER_KEYS, relation_uses, "link")


def _edit(session, project, current, model, rows, removed, what, reserved, uses_of, noun):
    errors: list[Text] = []
    wanted = []
    for row in rows:
        key, name, hotkey = row.key.strip(), row.name.strip(), row.hotkey.strip()
        if (not key and not name) or key in removed:
            continue  # an empty new row, or one to remove
        if not KEY.fullmatch(key):
            errors.append(N_("%(what)s key “%(key)s” must be 1–32 of a-z, 0-9, _ and -.",
                             what=what, key=key))
        if not name or len(name) > 100:
            errors.append(N_("%(what)s “%(key)s” needs a name of at most 100 characters.",
                             what=what, key=key))
        if row.color is not None and not COLOR.fullmatch(row.color):
            errors.append(N_("%(what)s “%(key)s”: colour must look like #1a2b3c.",
                             what=what, key=key))
        if len(hotkey) != 1 or hotkey.isspace() or hotkey in reserved:
            errors.append(N_("%(what)s “%(key)s”: the hotkey must be one character, not one "
                             "of %(keys)s.", what=what, key=key, keys=" ".join(sorted(reserved))))
        wanted.append(Row(key, name, hotkey, row.color))
    for field, label in (("key", N_("key")), ("hotkey", N_("hotkey"))):
        seen: set[str] = set()
        for row in wanted:
            value = getattr(row, field)
            if value in seen:
                errors.append(N_("Two of the %(what)s rows share the %(field)s “%(value)s”.",
                                 what=what, field=label, value=value))
            seen.add(value)
    existing = {item.key: item for item in current}
    leaving = set(existing) - {row.key for row in wanted}
    if leaving:  # saves in flight commit first; later ones see the new set
        change_span_labels(session)
        uses = uses_of(session, project.id)
        for key in sorted(leaving):
            if key in uses:
                errors.append(N_("%(what)s “%(key)s” is in use (%(uses)s): it stays until "
                                 "they are removed.", what=what, key=key,
                                 uses=uses[key].text(noun)))
    if errors:
        return errors
    for key in leaving:
        current.remove(existing[key])
    session.flush()
    for position, row in enumerate(wanted):
        item = existing.get(row.key)
        if item is None:
            item = model(key=row.key)
            current.append(item)
        item.name, item.hotkey, item.position = row.name, row.hotkey, position
        if row.color is not None:
            item.color = row.color
    return []
