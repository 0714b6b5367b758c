"""The data model: users, projects and their labels, articles, paragraphs, annotations, gold,
spans and links."""
from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from flask_login import UserMixin
from markupsafe import Markup
from sqlalchemy import (JSON, BigInteger, Float, ForeignKey, Index, LargeBinary, String, Text,
                        UniqueConstraint, false, true)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from .extensions import db
from .rendering import render_markdown

ROLES = ("admin", "reviewer", "annotator")

DEFAULT_LABELS = (
    # key, display name, colour, hotkey, description
    ("claim", "Claim", "#d9480f", "1", "States a position the article argues for."),
    ("evidence", "Evidence", "#1971c2", "2", "Gives facts, data or sources that support a claim."),
    ("boilerplate", "Ads/Boilerplate", "#868e96", "3",
     "Site furniture: navigation, teasers, related links, promos, comments, copyright."),
    ("other", "Other", "#2f9e44", "4", "Body text that is neither claim nor evidence."),
)

DEFAULT_SPAN_LABELS = (
    # key, display name, colour, hotkey (in span mode)
    ("claim", "Claim", "#d9480f", "1"),
    ("evidence", "Evidence", "#1971c2", "2"),
)

DEFAULT_RELATIONS = (
    # key, display name, hotkey (in the link picker); the first is the default
    ("supports", "Supports", "s"),
    ("attacks", "Attacks", "x"),
)


def utcnow() -> datetime:
    """Now in UTC, without tzinfo: every stored timestamp is naive UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


def isoformat(moment: datetime | None) -> str | None:
    """Format a stored (naive UTC) timestamp as ISO 8601 ending in Z."""
    if moment is None:
        return None
    return moment.replace(microsecond=0).isoformat() + "Z"


class User(UserMixin, db.Model):
    """Someone who signs in: an admin, a reviewer or an annotator."""

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="annotator")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    session_generation: Mapped[int] = mapped_column(default=0, server_default="0")
    """Part of every session and remember-me cookie: bumping it (see `end_sessions`) makes
    them all stop working at once."""

    tokens: Mapped[list[ApiToken]] = relationship(
        back_populates="user", cascade="all, delete-orphan")

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    def get_id(self) -> str:
        return f"{self.id}:{self.session_generation}"

    def end_sessions(self) -> None:
        """Sign the user out everywhere: at sign-out, password reset, (de)activation."""
        self.session_generation = User.session_generation + 1  # atomic in SQL

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def can_adjudicate(self) -> bool:
        return self.role in ("admin", "reviewer")


class ApiToken(db.Model):
    """A bearer token for scripts; only the SHA-256 of the secret is kept."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="tokens")


class Project(db.Model):
    """A set of articles labeled with one label set."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    guidelines: Mapped[str] = mapped_column(Text, default="")
    guidelines_html: Mapped[str] = mapped_column(Text, default="", server_default="")
    """`guidelines` rendered and sanitised, set whenever they are (views show it as is)."""
    overlap: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    suggestions_enabled: Mapped[bool] = mapped_column(default=True, server_default=true())
    """Off: no suggestion is made, returned or shown (a calibration round)."""
    suggestion_threshold: Mapped[float] = mapped_column(Float, default=0.8, server_default="0.8")
    """Suggestions are shown from this confidence up."""
    members_only: Mapped[bool] = mapped_column(default=False, server_default=false())
    """On: only its members (and admins) see and label it; off: every user does."""
    guideline_version: Mapped[int] = mapped_column(default=1, server_default="1")
    """The number of its guideline version in force (the newest GuidelineVersion): every
    label saved now records it."""
    recalibrate: Mapped[bool] = mapped_column(default=False, server_default=false())
    """On: an annotator's calibration counts only if made under the version in force, so a
    new guideline version sends everyone through its calibration articles again."""
    check_rate: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    """The share (0 to 1) of the articles the queue serves that are hidden checks: gold
    articles served unannounced as ordinary work (0: none)."""

    labels: Mapped[list[Label]] = relationship(
        back_populates="project", cascade="all, delete-orphan", order_by="Label.position")
    span_labels: Mapped[list[SpanLabel]] = relationship(
        cascade="all, delete-orphan", order_by="SpanLabel.position")
    relations: Mapped[list[Relation]] = relationship(
        cascade="all, delete-orphan", order_by="Relation.position")

    def label_keys(self) -> set[str]:
        return {label.key for label in self.labels}

    @validates("guidelines")
    def _render_guidelines(self, _key: str, guidelines: str) -> str:
        """Render on save, not on every page view (a long text takes seconds to render)."""
        self.guidelines_html = str(render_markdown(guidelines))
        return guidelines

    @property
    def guidelines_markup(self) -> Markup:
        return Markup(self.guidelines_html)


class GuidelineVersion(db.Model):
    """One numbered version (1, 2, ...) of a project's guidelines and label set, kept when
    either changes (services/guideline_versions.py)."""

    __table_args__ = (UniqueConstraint("project_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    number: Mapped[int]
    guidelines: Mapped[str] = mapped_column(Text, default="")
    labels: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    """The label set then: [{"key", "name", "description"}, ...] in the set's order."""
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Label(db.Model):
    """One label of a project's label set."""

    __table_args__ = (UniqueConstraint("project_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    color: Mapped[str] = mapped_column(String(16))
    hotkey: Mapped[str] = mapped_column(String(8))
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(default=0)

    project: Mapped[Project] = relationship(back_populates="labels")


class SpanLabel(db.Model):
    """One label of a project's span label set (what a span inside a paragraph can be)."""

    __table_args__ = (UniqueConstraint("project_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    color: Mapped[str] = mapped_column(String(16))
    hotkey: Mapped[str] = mapped_column(String(8))
    position: Mapped[int] = mapped_column(default=0)


class Relation(db.Model):
    """One relation of a project's relation set (what a link says: supports, attacks)."""

    __table_args__ = (UniqueConstraint("project_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    hotkey: Mapped[str] = mapped_column(String(8))
    position: Mapped[int] = mapped_column(default=0)


def default_span_labels() -> list[SpanLabel]:
    """A new project's span label set (DEFAULT_SPAN_LABELS)."""
    return [SpanLabel(key=key, name=name, color=color, hotkey=hotkey, position=position)
            for position, (key, name, color, hotkey) in enumerate(DEFAULT_SPAN_LABELS)]


def default_relations() -> list[Relation]:
    """A new project's relation set (DEFAULT_RELATIONS)."""
    return [Relation(key=key, name=name, hotkey=hotkey, position=position)
            for position, (key, name, hotkey) in enumerate(DEFAULT_RELATIONS)]


class ProjectMember(db.Model):
    """A user who works on a members-only project."""

    __table_args__ = (Index("ix_project_member_user", "user_id"),)

    project_id: Mapped[int] = mapped_column(
        ForeignKey("project.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"),
                                         primary_key=True)


class Article(db.Model):
    """One imported article; import order is the order of ids."""

    __table_args__ = (
        UniqueConstraint("project_id", "article_id"),
        Index("ix_article_project_content", "project_id", "content_hash"),
        Index("ix_article_project_order", "project_id", "id"),  # import order: queue, pages
        Index("ix_article_project_site", "project_id", "site"),
        Index("ix_article_scored_project", "signals_scored", "project_id"),  # still to score
        Index("ix_article_project_calibration", "project_id", "calibration"),  # the queue
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    article_id: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source_file: Mapped[str | None] = mapped_column(Text)
    """The file it was imported from: relative to the folder given to `flask import` (that
    folder's name first), or the file's name; null for articles imported before schema 0007."""
    source_line: Mapped[int | None]
    """Its line in that file for a jsonl record; null for the one-article-per-file formats."""
    content_hash: Mapped[str] = mapped_column(String(64))
    site: Mapped[str] = mapped_column(String(255), default="", server_default="")
    """meta.site, else the URL's host, else "" (the project as a whole): see text.site_of."""
    paragraph_count: Mapped[int] = mapped_column(default=0)
    labeled_count: Mapped[int] = mapped_column(default=0, server_default="0")
    """Paragraphs with at least one annotation; kept up to date by every save and clear."""
    finished_count: Mapped[int] = mapped_column(default=0, server_default="0")
    """Annotators who marked it done; kept up to date by queue.set_finished."""
    signals_scored: Mapped[bool] = mapped_column(default=False, server_default=false())
    """Its cold suggestions are stored (suggest/signals.py: at import, or after a large one)."""
    calibration: Mapped[bool] = mapped_column(default=False, server_default=false())
    """A calibration article (an admin's choice, services/calibration.py): its gold labels
    teach; annotators' labels of it are scored, never part of the dataset or agreement."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    paragraphs: Mapped[list[Paragraph]] = relationship(
        back_populates="article", order_by="Paragraph.index", passive_deletes=True)


class Paragraph(db.Model):
    """One paragraph of an article, at its 0-based index."""

    __table_args__ = (
        UniqueConstraint("article_id", "index"),
        Index("ix_paragraph_article_annotations", "article_id", "annotation_count"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("article.id", ondelete="CASCADE"))
    index: Mapped[int]
    text: Mapped[str] = mapped_column(Text)
    annotation_count: Mapped[int] = mapped_column(default=0, server_default="0")
    """How many annotators labeled it; kept up to date by every save and clear."""
    text_key: Mapped[str | None] = mapped_column(String(16), index=True)
    """text.text_key(text): equal for repeated text (the repetition index)."""
    features: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """What the HTML parser saw of it (suggest/structure.py); null for other formats."""

    article: Mapped[Article] = relationship(back_populates="paragraphs")


class Annotation(db.Model):
    """One annotator's current label for one paragraph."""

    __table_args__ = (
        UniqueConstraint("paragraph_id", "user_id"),
        Index("ix_annotation_user_paragraph", "user_id", "paragraph_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    paragraph_id: Mapped[int] = mapped_column(ForeignKey("paragraph.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16), default="human", server_default="human")
    """"human" (typed) or "suggestion" (an accepted suggestion)."""
    guideline_version: Mapped[int | None]
    """The project's guideline version in force when it was set (null: set before 0010)."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class LabelCount(db.Model):
    """How many of a user's current labels in a project have each label and were first set
    on each day (UTC): kept up to date by every save, change and clear, so progress and the
    dashboard read a few rows instead of counting every annotation."""

    project_id: Mapped[int] = mapped_column(
        ForeignKey("project.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"),
                                         primary_key=True)
    label: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    count: Mapped[int] = mapped_column(default=0)


class AnnotationHistory(db.Model):
    """An earlier value of an annotation: kept whenever one is changed or removed."""

    id: Mapped[int] = mapped_column(primary_key=True)
    paragraph_id: Mapped[int] = mapped_column(
        ForeignKey("paragraph.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16), default="human", server_default="human")
    guideline_version: Mapped[int | None]
    """The guideline version the earlier value was set under."""
    valid_from: Mapped[datetime]
    replaced_at: Mapped[datetime] = mapped_column(default=utcnow)
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))


class Gold(db.Model):
    """The adjudicated label of a paragraph."""

    paragraph_id: Mapped[int] = mapped_column(
        ForeignKey("paragraph.id", ondelete="CASCADE"), primary_key=True)
    label: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    guideline_version: Mapped[int | None]
    """The project's guideline version in force when it was set."""
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Span(db.Model):
    """A labeled stretch of one paragraph's text, by one annotator or (`gold`) adjudicated.

    `start`/`end` count code points of the stored text, `end` exclusive, as Python indexes a
    `str`: `paragraph.text[start:end]` is the span's text."""

    __table_args__ = (
        Index("ix_span_paragraph_user", "paragraph_id", "user_id"),
        Index("ix_span_user_paragraph", "user_id", "paragraph_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    paragraph_id: Mapped[int] = mapped_column(ForeignKey("paragraph.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    """The annotator; for a gold span, the reviewer who set it."""
    gold: Mapped[bool] = mapped_column(default=False, server_default=false())
    start: Mapped[int]
    end: Mapped[int]
    label: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16), default="human", server_default="human")
    """"human" (marked) or "suggestion" (an accepted pre-marked span)."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Link(db.Model):
    """A relation from one unit (a paragraph or a span) to another in the same article, by
    one annotator or (`gold`) adjudicated. Each end is a paragraph or a span, never both;
    removing a span removes its links."""

    __table_args__ = (Index("ix_link_article_user", "article_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("article.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    """The annotator; for a gold link, the reviewer who set it."""
    gold: Mapped[bool] = mapped_column(default=False, server_default=false())
    from_paragraph_id: Mapped[int | None] = mapped_column(
        ForeignKey("paragraph.id", ondelete="CASCADE"))
    from_span_id: Mapped[int | None] = mapped_column(
        ForeignKey("span.id", ondelete="CASCADE"), index=True)
    to_paragraph_id: Mapped[int | None] = mapped_column(
        ForeignKey("paragraph.id", ondelete="CASCADE"))
    to_span_id: Mapped[int | None] = mapped_column(
        ForeignKey("span.id", ondelete="CASCADE"), index=True)
    relation: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Suggestion(db.Model):
    """The best suggested label of a paragraph; counts nowhere until accepted."""

    paragraph_id: Mapped[int] = mapped_column(
        ForeignKey("paragraph.id", ondelete="CASCADE"), primary_key=True)
    label: Mapped[str] = mapped_column(String(32))
    confidence: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(String(200), default="")
    model: Mapped[str] = mapped_column(String(64))
    """"signals" (cold rules), "model" (the project's model) or an external model's name."""
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SuggestionModel(db.Model):
    """A project's fitted model, and the lease of whoever is training the next one."""

    project_id: Mapped[int] = mapped_column(
        ForeignKey("project.id", ondelete="CASCADE"), primary_key=True)
    trained_at: Mapped[datetime | None]
    trained_on: Mapped[int] = mapped_column(default=0)
    """Human labels the stored model learned from."""
    human_labels_seen: Mapped[int] = mapped_column(default=0)
    blob: Mapped[bytes | None] = mapped_column(LargeBinary)
    """The fitted model: numpy arrays (np.savez), loaded without pickle."""
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    lease_until: Mapped[datetime | None]
    """Training in progress until then (one trainer at a time across processes)."""


class PropagationQueue(db.Model):
    """Human labels saved on repeated paragraphs, in the order the server processes noted
    them, waiting for the one process that propagates them to the copies (suggest/training.py):
    each process adds its own, the holder of the "propagation" lease reads and removes them."""

    id: Mapped[int] = mapped_column(primary_key=True)
    paragraph_id: Mapped[int] = mapped_column(ForeignKey("paragraph.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(32))


class BackgroundLease(db.Model):
    """Work that one server process does for all (`name`, e.g. "propagation"): who holds it
    (host:pid:thread) and until when; a holder that stops renewing it loses it then."""

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(255), default="")
    until: Mapped[datetime | None]


class Assignment(db.Model):
    """An annotator's hold on an article: started, and finished once marked done."""

    __table_args__ = (
        UniqueConstraint("article_id", "user_id"),
        Index("ix_assignment_user_article", "user_id", "article_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("article.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    touched_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    labeled_at: Mapped[datetime | None]
    """The user's first label in the article: before it, the hold is only a short claim."""
    pinned: Mapped[bool] = mapped_column(default=False, server_default=false())
    """Assigned by an admin: held until finished or unassigned, never released by time."""


class GoldAttempt(db.Model):
    """An annotator's round on a gold article: a calibration article (under one guideline
    version), or a hidden check; done once they mark it done, when its results are frozen."""

    __table_args__ = (UniqueConstraint("user_id", "article_id", "kind", "guideline_version"),
                      Index("ix_gold_attempt_project_user", "project_id", "user_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    article_id: Mapped[int] = mapped_column(ForeignKey("article.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    """"calibration" or "check"."""
    guideline_version: Mapped[int]
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None]


class GoldResult(db.Model):
    """One gold paragraph of a done attempt: the annotator's label (null: left unlabeled)
    and the gold label, as they were when it was marked done."""

    attempt_id: Mapped[int] = mapped_column(
        ForeignKey("gold_attempt.id", ondelete="CASCADE"), primary_key=True)
    paragraph_id: Mapped[int] = mapped_column(
        ForeignKey("paragraph.id", ondelete="CASCADE"), primary_key=True)
    label: Mapped[str | None] = mapped_column(String(32))
    gold_label: Mapped[str] = mapped_column(String(32))


class LoginThrottle(db.Model):
    """Sign-in attempts from one client address for one username, or (username "") for
    every username: consecutive failures and when the next attempt is allowed (see
    services/throttle.py)."""

    remote_addr: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_attempt_at: Mapped[datetime] = mapped_column(index=True)
    next_allowed_at: Mapped[datetime]


class ImportJob(db.Model):
    """A web import run in the background of the server process that took the upload
    (services/import_jobs.py): its progress and outcome. The row is the truth across
    processes; `heartbeat_at` and `owner` tell a live job from one whose process died."""

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"),
                                            index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    file_name: Mapped[str] = mapped_column(String(255))
    format: Mapped[str] = mapped_column(String(16))
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """{"encoding", "split", "skip_invalid"}: as the import form and route take them."""
    path: Mapped[str | None] = mapped_column(Text)
    """The upload kept on disk until the job ends (None after)."""
    state: Mapped[str] = mapped_column(String(16), default="queued")
    """"queued", "running", "done" or "failed"."""
    owner: Mapped[str] = mapped_column(String(255), default="")
    """host:pid of the process running it."""
    stage: Mapped[str] = mapped_column(String(64), default="")
    records_read: Mapped[int] = mapped_column(default=0)
    bytes_read: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_total: Mapped[int] = mapped_column(BigInteger, default=0)
    added: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[int] = mapped_column(default=0)
    paragraphs: Mapped[int] = mapped_column(default=0)
    warc_skipped: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    errors: Mapped[list[str]] = mapped_column(JSON, default=list)
    """FILE:LINE: reason for each invalid record (the first MAX_ERRORS)."""
    error_count: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    """Why nothing was stored, for a failed job."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    started_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
