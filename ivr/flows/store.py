"""Publishing flows: watch the flows folder, store each valid version, keep serving the last valid one."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ..db import utcnow
from ..engine import Bundle, Problem, Site, load_folder
from ..models import SiteVersion
from .errors import NothingPublished

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Published:
    """A stored version and the engine's view of it."""

    id: int
    digest: str
    site: Site


class FlowStore:
    """Loads the flows folder when it changes and hands out published versions by id."""

    def __init__(self, folder: Path, sessions: sessionmaker[Session], check_seconds: float = 2.0) -> None:
        self.folder = folder
        self.sessions = sessions
        self.check_seconds = check_seconds
        self.problems: list[Problem] = []
        self._versions: dict[int, Published] = {}
        self._current: int | None = None
        self._fingerprint: tuple[tuple[str, int, int], ...] | None = None
        self._checked_at = float("-inf")
        self._lock = threading.Lock()

    def _files_fingerprint(self) -> tuple[tuple[str, int, int], ...]:
        try:
            stats = [(p.name, p.stat()) for p in sorted(self.folder.glob("*.json"))]
        except OSError:
            return ()
        return tuple((name, st.st_mtime_ns, st.st_size) for name, st in stats)

    def current(self) -> Published | None:
        """The version new calls start on: the folder's, if valid, else the last valid one stored."""
        now = time.monotonic()
        if now - self._checked_at >= self.check_seconds:
            with self._lock:
                self._checked_at = now
                fingerprint = self._files_fingerprint()
                if fingerprint != self._fingerprint:
                    try:
                        self.reload()
                        self._fingerprint = fingerprint
                    except Exception:  # the database, most likely; the next check tries again
                        log.exception("could not publish the flows folder")
        if self._current is None:
            self._current = self._latest_stored()
        return self.get(self._current) if self._current is not None else None

    def published(self) -> Published:
        """The version new calls start on; NothingPublished when there is none yet."""
        found = self.current()
        if found is None:
            raise NothingPublished()
        return found

    def reload(self) -> list[Problem]:
        """Read the folder now; publish it if valid, else log every problem and keep the current version."""
        bundle, problems = load_folder(self.folder)
        self.problems = problems
        if bundle is None:
            for problem in problems:
                log.error("flows not published: %s", problem)
            if self._current is not None:
                log.error("still serving flows version %s", self._current)
            return problems
        self._current = self.publish(bundle, source=str(self.folder)).id
        return []

    def publish(self, bundle: Bundle, source: str) -> Published:
        """Store the bundle as a version (or find the stored one with the same content)."""
        digest = bundle.digest()
        with self.sessions() as session:
            found = session.scalars(select(SiteVersion).where(SiteVersion.digest == digest)).first()
            if found is not None and found.id != self._current:  # published again, e.g. after a revert
                found.published_at = utcnow()
                session.commit()
            if found is None:
                found = SiteVersion(digest=digest, bundle=bundle.as_json(), source=source)
                session.add(found)
                try:
                    session.commit()
                    log.info("published flows version %s (%s) from %s", found.id, digest[:12], source)
                except IntegrityError:  # another worker published the same content first
                    session.rollback()
                    found = session.scalars(select(SiteVersion).where(SiteVersion.digest == digest)).one()
            published = Published(found.id, digest, bundle.build())
        self._versions[published.id] = published
        return published

    def _latest_stored(self) -> int | None:
        with self.sessions() as session:
            newest = select(SiteVersion.id).order_by(SiteVersion.published_at.desc(), SiteVersion.id.desc())
            latest: int | None = session.scalars(newest).first()
            return latest

    def site_for_fallback(self) -> Site | None:
        """The site whose fallback a failed step answers: the current version, else the folder as it is."""
        try:
            current = self.current()
        except Exception:  # the database may be what failed
            log.exception("no stored flows version for the fallback; reading the folder")
            current = None
        if current is not None:
            return current.site
        bundle, _problems = load_folder(self.folder)
        return bundle.build() if bundle is not None else None

    def get(self, version_id: int) -> Published | None:
        """A stored version by id (cached; versions never change)."""
        if version_id not in self._versions:
            with self.sessions() as session:
                row = session.get(SiteVersion, version_id)
                if row is None:
                    return None
                bundle = Bundle.from_json(row.bundle)
                self._versions[version_id] = Published(row.id, row.digest, bundle.build())
        return self._versions[version_id]
