"""Who works on a project: everyone (the default), or only its members. Admins work on
every project; the rule holds for every other user, reviewers included."""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Integer, bindparam, delete, exists, or_, select, true
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ..database import Prepared, dialect_insert
from ..models import Article, Paragraph, Project, ProjectMember, User


class MemberError(ValueError):
    """An unknown username given as a member."""


def works_on(user: User):
    """A condition on Project: the user may see and label it."""
    if user.is_admin:
        return true()
    return or_(~Project.members_only, exists().where(
        ProjectMember.project_id == Project.id, ProjectMember.user_id == user.id))


def workers(project: Project):
    """The users who may work on the project, by name."""
    query = select(User).order_by(User.username)
    if project.members_only:
        query = query.where(or_(User.role == "admin", User.id.in_(
            select(ProjectMember.user_id).where(ProjectMember.project_id == project.id))))
    return query


def visible_projects(user: User):
    """The projects the user works on, by name."""
    return select(Project).where(works_on(user)).order_by(Project.name)


# What a route's argument names, as the project it belongs to; with the check whether the
# user (bound as "uid") works on it, built once: this runs before every annotator request.
_VALUE = bindparam("value", type_=Integer)
_PROJECT_OF = {
    "project_id": select(Project.id).where(Project.id == _VALUE),
    "article_id": select(Article.project_id).where(Article.id == _VALUE),
    "paragraph_id": (select(Article.project_id).join(Paragraph, Paragraph.article_id == Article.id)
                     .where(Paragraph.id == _VALUE)),
}
_MAY_REACH = {
    argument: Prepared(select(or_(~Project.members_only, exists().where(
        ProjectMember.project_id == Project.id,
        ProjectMember.user_id == bindparam("uid", type_=Integer))))
    .where(Project.id == project.scalar_subquery()))
    for argument, project in _PROJECT_OF.items()}
ARGUMENTS = tuple(_PROJECT_OF)


def may_reach(connection: Connection, user: User, argument: str, value: int) -> bool:
    """Whether the user works on the project of `argument` (one of ARGUMENTS) = value, in one
    query; True when there is no such object (the view answers 404)."""
    if user.is_admin:
        return True
    rows = _MAY_REACH[argument].run(connection, {"uid": user.id, "value": value}).fetchall()
    return not rows or bool(rows[0][0])


def may_work_on(session: Session, user: User, project: Project) -> bool:
    return may_reach(session.connection(), user, "project_id", project.id)


def member_ids(session: Session, project: Project) -> set[int]:
    return set(session.scalars(select(ProjectMember.user_id)
                               .where(ProjectMember.project_id == project.id)))


def member_names(session: Session, project: Project) -> list[str]:
    return list(session.scalars(
        select(User.username).join(ProjectMember, ProjectMember.user_id == User.id)
        .where(ProjectMember.project_id == project.id).order_by(User.username)))


def _user_ids(session: Session, usernames: Iterable[str]) -> list[int]:
    names = list(dict.fromkeys(usernames))
    found = dict(session.execute(select(User.username, User.id).where(User.username.in_(names))).all())
    missing = [name for name in names if name not in found]
    if missing:
        raise MemberError(f"no user named {', '.join(map(repr, missing))}")
    return [found[name] for name in names]


def set_members(session: Session, project: Project, user_ids: Iterable[int]) -> None:
    """Make exactly these users the project's members (the caller commits)."""
    wanted = set(user_ids)
    current = member_ids(session, project)
    if current - wanted:
        session.execute(delete(ProjectMember).where(
            ProjectMember.project_id == project.id,
            ProjectMember.user_id.in_(current - wanted)))
    for user_id in sorted(wanted - current):
        session.add(ProjectMember(project_id=project.id, user_id=user_id))


def change_members(session: Session, project: Project, *, add: Iterable[str] = (),
                   remove: Iterable[str] = ()) -> None:
    """Add and remove members by username, all or nothing; commits."""
    added, removed = _user_ids(session, add), _user_ids(session, remove)
    if added:
        session.execute(dialect_insert(session)(ProjectMember).values(
            [{"project_id": project.id, "user_id": user_id} for user_id in added])
            .on_conflict_do_nothing())
    if removed:
        session.execute(delete(ProjectMember).where(ProjectMember.project_id == project.id,
                                                    ProjectMember.user_id.in_(removed)))
    session.commit()
