"""What callers hear: the newest published version in the database (the source of truth), and the version
each call is pinned to; the flows folder is published as it changes only when FLOWS_WATCH is on."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from ..db import utcnow
from ..engine import Bundle, Problem, Site, load_folder
from ..engine.problems import errors
from ..models import SiteVersion
from .errors import NothingPublished
from .history import newest_version_id
from .publishing import PUBLISHED, NothingToPublish, newest_from_folder, publish_folder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Published:
    """A stored version and the engine's view of it."""

    id: int
    digest: str
    site: Site


@dataclass(frozen=True)
class FolderWatch:
    """The actor of a publish made by watching the flows folder."""

    name: str = "flows folder"
    address: str = "local"


class FlowStore:
    """Serves the newest published version and any stored version by id; optionally watches the folder.

    Every process on every host serves the newest version: one cheap `SELECT max(id)` every
    `check_seconds`, and a publish committed through this store's sessionmaker is served at once. With
    `watch`, a change to the folder is published as a new version when its documents differ from the
    newest version published from that folder (so publishes from the browser or the API stay).
    """

    def __init__(
        self, folder: Path, sessions: sessionmaker[Session], check_seconds: float = 2.0, watch: bool = False
    ) -> None:
        self.folder = folder
        self.sessions = sessions
        self.check_seconds = check_seconds
        self.watch = watch
        self.problems: list[Problem] = []  # of the folder when it was last read
        self._versions: dict[int, Published] = {}
        self._current: int | None = None
        self._fingerprint: tuple[tuple[str, int, int], ...] | None = None
        self._unpublished_folder: dict[str, str] | None = None  # as first read, when never published
        self._checked_at = float("-inf")
        self._lock = threading.Lock()
        event.listen(sessions, "after_commit", self._after_commit)
        event.listen(sessions, "after_rollback", self._after_rollback)

    def _after_commit(self, session: Session) -> None:
        if session.info.get(
            PUBLISHED
        ):  # left set for the other stores on this sessionmaker (tests have several)
            self._checked_at = float("-inf")  # a version was published here: serve it from the next call

    def _after_rollback(self, session: Session) -> None:
        session.info.pop(PUBLISHED, None)

    def _files_fingerprint(self) -> tuple[tuple[str, int, int], ...]:
        try:
            stats = [(p.name, p.stat()) for p in sorted(self.folder.glob("*.json"))]
        except OSError:
            return ()
        return tuple((name, st.st_mtime_ns, st.st_size) for name, st in stats)

    def current(self) -> Published | None:
        """The version new calls start on: the newest published one (None when there is none yet)."""
        now = time.monotonic()
        if now - self._checked_at >= self.check_seconds:
            with self._lock:
                self._checked_at = now
                if self.watch:
                    self._check_folder()
                try:
                    self._current = self._newest()
                except Exception:
                    if self._current is None:
                        raise
                    log.exception(
                        "could not look up the newest flows version; still serving %s", self._current
                    )
        return self.get(self._current) if self._current is not None else None

    def published(self) -> Published:
        """The version new calls start on; NothingPublished when there is none yet."""
        found = self.current()
        if found is None:
            raise NothingPublished()
        return found

    def _newest(self) -> int | None:
        with self.sessions() as session:
            return newest_version_id(session)

    def _check_folder(self) -> None:
        fingerprint = self._files_fingerprint()
        if fingerprint == self._fingerprint:
            return
        try:
            self.reload()
            self._fingerprint = fingerprint
        except Exception:  # the database, most likely; the next check tries again
            log.exception("could not publish the flows folder")

    def reload(self) -> list[Problem]:
        """Read the folder now and publish it when it is valid and differs from the newest version.

        Returns the folder's problems (errors refuse it; warnings come with a published version).
        """
        bundle, problems = load_folder(self.folder)
        self.problems = problems
        for problem in problems:
            log.log(logging.ERROR if problem.is_error else logging.WARNING, "flows folder: %s", problem)
        if bundle is None:
            log.error("flows folder not published (%s error(s))", len(errors(problems)))
            return problems
        self.publish(bundle, source=str(self.folder))
        return problems

    def publish(self, bundle: Bundle, source: str) -> int | None:
        """Publish a folder's bundle when it differs from the newest version published from this folder
        (`source`), or when nothing is published yet; the newest id.

        Comparing with the folder's own last version (not the newest) keeps what was published from the
        browser or the API since: a worker or a restart with an unchanged folder publishes nothing. A folder
        never published while other versions are is only remembered: its next change is published.
        """
        with self.sessions() as session:
            newest = newest_version_id(session)
            last = newest_from_folder(session, source)
            if last is not None:
                if Bundle.from_json(last.bundle).texts == bundle.texts:
                    return newest  # read only: no write lock taken when nothing changed
            elif newest is not None:
                if self._unpublished_folder is None:
                    log.warning(
                        "flows folder %s was never published and version %s is: its next change is "
                        "published (or run `ivr flows publish %s`)", source, newest, source,
                    )  # fmt: skip
                    self._unpublished_folder = dict(bundle.texts)
                if self._unpublished_folder == bundle.texts:
                    return newest
            try:
                version = publish_folder(
                    session,
                    bundle.texts,
                    note="the flows folder changed",
                    actor=FolderWatch(),
                    now=utcnow(),
                    source=source,
                )
            except NothingToPublish:
                session.rollback()
                return newest_version_id(session)
            session.commit()
            log.info("published flows version %s from %s", version.id, source)
            self._current = version.id
            return version.id

    def site_for_fallback(self) -> Site | None:
        """The site whose fallback a failed step answers, never asking the database (it may be what
        failed): the newest version this process has served, else the folder as it is, else None."""
        known = self._versions.get(self._current) if self._current is not None else None
        if known is not None:
            return known.site
        try:
            bundle, _problems = load_folder(self.folder)
        except Exception:  # an unreadable folder: the caller answers the plain apology
            log.exception("no flows version known and the folder cannot be read")
            return None
        return bundle.build() if bundle is not None else None

    def get(self, version_id: int) -> Published | None:
        """A stored version by id (cached; versions never change)."""
        if version_id not in self._versions:
            with self.sessions() as session:
                row = session.get(SiteVersion, version_id)
                if row is None:
                    return None
                self._versions[version_id] = _published(row.id, row.digest, row.bundle)
        return self._versions[version_id]


def _published(version_id: int, digest: str, stored: dict[str, Any]) -> Published:
    return Published(version_id, digest, Bundle.from_json(stored).build())
