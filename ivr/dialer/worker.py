"""The worker loop: recover orphans, claim due contacts, pace them through the shared budgets, place them.
Threads, the claim horizon and shutdown on SIGTERM: docs/dialer.md, "Inside the worker"."""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import queue
import random
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from ..calls.logsafe import describe, redacted
from ..campaigns import attempts
from ..models import Attempt, Campaign
from . import budget
from .claim import Job, claim
from .clock import Clock, WallClock, wait_until
from .lease import Leases
from .recovery import STALE_SECONDS, recover
from .rest import CallRequest, FoundCall, LateSlot, Rejected, Retryable, TwilioRest, Uncertain, Unknown

log = logging.getLogger(__name__)
HORIZON = 2.0  # seconds of calls claimed ahead per campaign
MAX_TRIES = (
    6  # REST requests per attempt on 429/5xx/no connection: backoff 1, 2, 4, 8, 16 s (each with jitter)
)
BACKOFF_BASE, BACKOFF_CAP = 1.0, 30.0
RETRY_LATER = 300.0  # a contact whose request Twilio kept refusing (429/5xx, auth) is due again after this
RECOVERY_EVERY = 10.0  # seconds between recovery rounds
# A slot is taken at least LEAD ahead, so the bookkeeping between taking it and sending (a commit, a hand-off
# to a sender) is done before it comes; each time a job still missed its slot, its lead doubles (to 2 s).
LEAD, MAX_LEAD = 0.05, 2.0
AUTH_ERRORS = (401, 403)
# After a 5xx, Twilio's call list is asked at once, then again after 1, 2, 4, 8, 16, 30, 30... s, until the
# look-up window (Settings.recovery_grace) has passed since that request: only then is it sent again.
LOOK_FIRST, LOOK_CAP = 1.0, 30.0


@dataclass(frozen=True)
class Settings:
    """What the worker needs from the app's configuration."""

    account_sid: str
    auth_token: str
    public_base_url: str
    api_base_url: str = "https://api.twilio.com"
    cps: float = 1.0
    batch: int = 20
    poll: float = 1.0
    threads: int = 8
    recovery_grace: float = 120.0
    stale: float = STALE_SECONDS

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """Settings from the app config (ivr/config.py); ValueError naming what is missing or wrong."""
        missing = [
            k for k in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "PUBLIC_BASE_URL") if not config.get(k)
        ]
        if missing:
            raise ValueError(f"the dialer needs {', '.join(missing)} (see the README, Dialer worker)")
        settings = cls(
            account_sid=str(config["TWILIO_ACCOUNT_SID"]),
            auth_token=str(config["TWILIO_AUTH_TOKEN"]),
            public_base_url=str(config["PUBLIC_BASE_URL"]).rstrip("/"),
            api_base_url=str(config.get("TWILIO_API_BASE_URL") or "https://api.twilio.com"),
            cps=float(config.get("DIALER_CPS", 1.0)),
            batch=int(config.get("DIALER_BATCH", 20)),
            poll=float(config.get("DIALER_POLL_SECONDS", 1.0)),
            threads=int(config.get("DIALER_THREADS", 8)),
            recovery_grace=float(config.get("DIALER_RECOVERY_SECONDS", 120.0)),
            stale=float(config.get("DIALER_STALE_SECONDS", STALE_SECONDS)),
        )
        if settings.cps <= 0 or settings.batch < 1 or settings.poll <= 0 or settings.threads < 0:
            raise ValueError("DIALER_CPS and DIALER_POLL_SECONDS must be above 0, DIALER_BATCH at least 1")
        return settings


def backoff(tries: int, rng: random.Random) -> float:
    """Seconds to wait before try `tries + 1`: exponential, capped, half of it random (jitter)."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (tries - 1))
    return float(ceiling / 2 + rng.uniform(0, ceiling / 2))


class Worker:
    """One dialer worker; run() until stop is set."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        rest: TwilioRest,
        clock: Clock | None = None,
        stop: threading.Event | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.rest = rest
        self.stop = stop or threading.Event()
        self.clock: Clock = clock or WallClock(self.stop)
        self.guard = isinstance(self.clock, WallClock)  # the pacing guard compares with the wall clock
        self.rng = rng or random.Random()
        self.maker = sessionmaker(engine, expire_on_commit=False)
        self.leases = Leases(engine)
        self.heap: list[tuple[datetime, int, Job]] = []  # jobs waiting for their turn (main thread only)
        self.order = itertools.count()
        self.returned: queue.SimpleQueue[Job] = queue.SimpleQueue()  # jobs the senders give back
        self.mutex = threading.Lock()
        self.held: Counter[int] = Counter()  # jobs per campaign, waiting or being sent
        self.sending = 0
        self.pool = ThreadPoolExecutor(settings.threads, "dialer-send") if settings.threads else None
        self.last_recovery: datetime | None = None
        self.last_claim: datetime | None = None
        self.rounds = 0
        self.placed = 0

    # -- the loop --------------------------------------------------------------------------------------

    def run(self) -> None:
        """Place calls until stopped; then finish the requests in flight and give back the rest."""
        log.info("dialer started: %s calls per second, batches of %s", self.settings.cps, self.settings.batch)
        try:
            while not self.stop.is_set():
                try:
                    busy = self.run_once()
                except Exception:  # the database or Twilio away for a moment: try again after a pause
                    log.exception("dialer round failed; trying again in %s s", self.settings.poll)
                    busy = not self.clock.wait(self.settings.poll)
                if not busy and self.clock.wait(self.idle_seconds()):
                    break
        finally:
            self.shutdown()
        log.info("dialer stopped after placing %s call(s)", self.placed)

    def run_once(self) -> bool:
        """One turn: recovery when due, claims when needed, then the next job whose turn has come."""
        self.take_back()
        now = self.clock.now()
        if self.last_recovery is None or now - self.last_recovery >= timedelta(seconds=RECOVERY_EVERY):
            self.last_recovery = now
            recover(
                self.maker, self.leases, self.rest, now, self.settings.recovery_grace, self.settings.stale
            )
        if self.claim_due(now):
            self.fill(now)
        job = self.next_job(self.clock.now())
        if job is None:
            return False
        self.place(job)
        return True

    def idle_seconds(self) -> float:
        """How long to wait when nothing is due: until the next job's turn, at most the poll interval."""
        wait = self.settings.poll
        if self.heap:
            wait = min(wait, (self.heap[0][0] - self.clock.now()).total_seconds())
        with self.mutex:
            if self.sending:
                wait = min(wait, 0.05)  # a sender may give a job back soon
        return max(wait, 0.001)

    def claim_due(self, now: datetime) -> bool:
        """Whether to claim now: every poll interval, and at once when no job is waiting."""
        if self.last_claim is None or not self.heap:
            return True
        return now - self.last_claim >= timedelta(seconds=self.settings.poll)

    def fill(self, now: datetime) -> None:
        """Claim contacts of each running campaign, up to HORIZON seconds of calls ahead at its pace."""
        self.last_claim = now
        with self.maker() as session:
            running = list(
                session.execute(
                    select(Campaign.id, Campaign.max_cps)
                    .where(Campaign.state == "running")
                    .order_by(Campaign.id)
                ).tuples()
            )
        if not running:
            return
        self.rounds += 1
        start = self.rounds % len(running)
        for campaign_id, max_cps in running[start:] + running[:start]:
            target = math.ceil(min(max_cps, self.settings.cps) * HORIZON) + 1
            with self.mutex:
                limit = min(self.settings.batch, target - self.held[campaign_id])
            if limit > 0:
                self.claim(campaign_id, now, limit)
            with self.mutex:
                idle = self.held[campaign_id] == 0
            if idle:
                with self.maker() as session:
                    attempts.finish_if_done(session, campaign_id, now)
                    session.commit()

    def claim(self, campaign_id: int, now: datetime, limit: int) -> None:
        """Claim up to `limit` contacts of one campaign and queue their jobs."""
        with self.maker() as session:
            claimed = claim(session, campaign_id, now, limit, self.settings.batch)
            taken = [job for job in claimed.jobs if self.leases.hold(job.attempt_id)]
            if len(taken) != len(claimed.jobs):  # a brand-new attempt id cannot be held elsewhere
                session.rollback()
                for job in taken:
                    self.leases.release(job.attempt_id)
                raise RuntimeError("could not take the lease of a new attempt")
            try:
                session.commit()
            except Exception:
                for job in taken:
                    self.leases.release(job.attempt_id)
                raise
        for job in taken:
            with self.mutex:
                self.held[job.campaign_id] += 1
            self.push(job)
        if claimed.skipped or claimed.deferred or claimed.failed:
            log.info(
                "campaign %s: %s skipped (do-not-call), %s deferred to their calling window, %s without one",
                campaign_id, claimed.skipped, claimed.deferred, claimed.failed,
            )  # fmt: skip

    def push(self, job: Job) -> None:
        """Queue a job for its turn."""
        heapq.heappush(self.heap, (job.not_before or self.clock.now(), next(self.order), job))

    def next_job(self, now: datetime) -> Job | None:
        """The job whose turn has come (earliest first), if a sender is free to take it."""
        if not self.heap or self.heap[0][0] > now:
            return None
        with self.mutex:
            if self.pool is not None and self.sending >= self.settings.threads:
                return None
        return heapq.heappop(self.heap)[2]

    def take_back(self) -> None:
        """Queue again the jobs senders gave back (late for their slot, or to retry after backoff)."""
        while True:
            try:
                job = self.returned.get_nowait()
            except queue.Empty:
                return
            self.push(job)

    # -- one job ---------------------------------------------------------------------------------------

    def place(self, job: Job) -> None:
        """Reserve the job's slot and mark it requested; a sender waits for the slot and sends it."""
        try:
            if job.uncertain is not None:  # a request answered 5xx: look for its call, never send yet
                with self.mutex:
                    self.sending += 1
                self.dispatch(self.look_again, job)
                return
            self._place(job)
        except Exception:
            job.not_before = self.clock.now() + timedelta(seconds=self.settings.poll)
            self.push(job)  # still this worker's: tried again after the pause
            raise

    def _place(self, job: Job) -> None:
        lead = timedelta(seconds=min(MAX_LEAD, LEAD * 2**job.late))
        earliest = self.clock.now() + lead
        slot = budget.reserve(self.engine, job.campaign_id, earliest, self.settings.cps, job.campaign_cps)
        if not slot.granted:  # the campaign's next slot: come back just in time to take it
            job.not_before = slot.at - lead - budget.AHEAD / 2
            self.push(job)
            return
        with self.maker() as session:
            mark = attempts.mark(session, job.attempt_id, slot.at)
            session.commit()
        if mark.verdict != "ok":
            if mark.kept:  # an earlier request answered 5xx: undone only if Twilio has no call
                skipped = mark.verdict == "blocked"
                outcome = attempts.WINDOW if mark.verdict == "closed" else None
                self.give_up(job, mark.verdict, skipped=skipped, due=mark.due, outcome=outcome)
            self.done(job)
            return
        if job.sent is None:
            job.sent = slot.at
        with self.mutex:
            self.sending += 1
        self.dispatch(self.send, job, slot.at)

    def dispatch(self, task: Callable[..., None], *args: Any) -> None:
        """Run a sender's task: on a sender thread, or here without threads (tests)."""
        if self.pool is None:
            task(*args)
        else:
            self.pool.submit(task, *args)

    def request(self, job: Job) -> CallRequest:
        """The Calls.create parameters of a job."""
        base = self.settings.public_base_url
        return CallRequest(
            to=job.phone,
            from_=job.caller_id,
            url=f"{base}/voice/outbound/{job.attempt_id}",
            status_callback=f"{base}/voice/status?attempt={job.attempt_id}",
            machine_detection=job.machine_detection,
        )

    def send(self, job: Job, slot: datetime) -> None:
        """At the slot, make the REST request (a sender thread) and commit what Twilio answered."""
        again = False
        try:
            self.rest.client()  # this thread's client is ready before the slot comes
            if wait_until(self.clock, slot):
                self.give_up(job, "the worker is stopping")
                return
            again = self._send(job, slot)
        except Exception:
            log.exception("attempt %s: sending failed; recovery will look at it", job.attempt_id)
        finally:
            self._finish(job, again)

    def _send(self, job: Job, slot: datetime) -> bool:
        """True when the job must be queued again (late slot, or a retry after backoff)."""
        try:
            sid = self.rest.place(self.request(job), slot.timestamp() if self.guard else None, budget.LATE)
        except LateSlot as exc:
            log.debug("attempt %s: %s; taking a new slot", job.attempt_id, exc)
            job.not_before = None
            job.late += 1
            return True
        except Uncertain as exc:
            job.uncertain, job.error, job.looks = slot, str(exc), 0
            return self.search(job)
        except Retryable as exc:
            return self.retry(job, exc)
        except Rejected as exc:
            if exc.status in AUTH_ERRORS:
                log.error(
                    "Twilio refused the credentials (%s): check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN",
                    exc,
                )
                self.give_up(job, str(exc), delay=RETRY_LATER, error=f"Twilio: {exc}")
                return False
            log.info("attempt %s: Twilio refused the call: %s", job.attempt_id, describe(exc))
            with self.maker() as session:
                attempts.reject(
                    session, job.attempt_id, exc.code or exc.status, exc.message, self.clock.now()
                )
                session.commit()
            return False
        except Unknown as exc:
            log.warning(
                "attempt %s: no answer from Twilio (%s); recovery will ask Twilio", job.attempt_id, exc
            )
            return False
        with self.maker() as session:
            attempts.store_sid(session, job.attempt_id, sid)
            session.commit()
        self.placed += 1
        log.info("attempt %s: call %s placed", job.attempt_id, sid)
        return False

    def _finish(self, job: Job, again: bool) -> None:
        """A sender is free: the job comes back to be looked for again, or is done."""
        with self.mutex:
            self.sending -= 1
        if again:
            self.returned.put(job)
        else:
            self.done(job)

    def look_again(self, job: Job) -> None:
        """A job whose request answered 5xx comes back: look for its call again (a sender's task)."""
        again = False
        try:
            again = self.search(job)
        except Exception:
            log.exception("attempt %s: looking for its call failed; recovery will ask", job.attempt_id)
        finally:
            self._finish(job, again)

    def search(self, job: Job) -> bool:
        """After a 5xx: adopt the call if Twilio lists it (or a callback linked it), else look again later
        (True), sending again only once the window has passed with no call (docs/dialer.md)."""
        assert job.uncertain is not None
        job.looks += 1
        try:
            found = self.look_up(job)
        except Exception:
            log.exception(
                "attempt %s: %s and Twilio's call list failed; recovery will ask", job.attempt_id, job.error
            )
            return False
        if found is not None:
            log.warning(
                "attempt %s: %s, but Twilio has call %s (look %s): adopted",
                job.attempt_id, job.error, found.sid, job.looks,
            )  # fmt: skip
            self.adopt(job, found)
            return False
        if self.linked(job):
            log.info("attempt %s: a status callback linked its call; not sent again", job.attempt_id)
            return False
        now = self.clock.now()
        end = job.uncertain + timedelta(seconds=self.settings.recovery_grace)
        if now >= end:
            job.uncertain = None
            return self.retry(job, job.error)
        wait = min(LOOK_CAP, LOOK_FIRST * 2 ** (job.looks - 1))
        job.not_before = min(now + timedelta(seconds=wait), end)
        return True

    def linked(self, job: Job) -> bool:
        """Whether the job's attempt has a CallSid (a status callback of its call linked it)."""
        with self.maker() as session:
            sid = session.scalar(select(Attempt.call_sid).where(Attempt.id == job.attempt_id))
        return sid is not None

    def retry(self, job: Job, exc: Exception | str) -> bool:
        """Twilio has no call for the request: send it again after backoff (True), or give up (False)."""
        job.tries += 1
        if job.tries >= MAX_TRIES:
            log.warning(
                "attempt %s: %s, %s times; the contact is due later", job.attempt_id, _safe(exc), job.tries
            )
            self.give_up(job, str(exc), delay=RETRY_LATER, error=f"Twilio: {exc}")
            return False
        wait = backoff(job.tries, self.rng)
        log.info("attempt %s: %s; trying again in %.1f s", job.attempt_id, _safe(exc), wait)
        job.not_before = self.clock.now() + timedelta(seconds=wait)
        return True

    def look_up(self, job: Job) -> FoundCall | None:
        """The job's call in Twilio's call list, if an earlier request created it (not another's)."""
        assert job.sent is not None
        with self.maker() as session:
            known = attempts.known_sids(session, job.phone)
        return self.rest.find(job.phone, job.caller_id, job.sent, known)

    def adopt(self, job: Job, found: FoundCall) -> None:
        """Twilio has the job's call although it answered an error: keep its CallSid and status."""
        with self.maker() as session:
            attempts.adopt(session, job.attempt_id, found, self.clock.now())
            session.commit()
        self.placed += 1

    def give_up(
        self,
        job: Job,
        reason: str,
        delay: float | None = None,
        error: str | None = None,
        *,
        skipped: bool = False,
        due: datetime | None = None,
        outcome: str | None = None,
    ) -> None:
        """The job will not be sent (again): undo its attempt (the contact is due again).

        When a request of the job was answered 5xx, Twilio's call list is asked first: a call found is
        adopted; if the list cannot be read, or the look-up window of a 5xx has not passed, the attempt is
        left to recovery (which asks the list DIALER_RECOVERY_SECONDS after the request).
        """
        if job.sent is not None:
            try:
                found = self.look_up(job)
            except Exception:
                log.exception("attempt %s: Twilio's call list failed; recovery will ask", job.attempt_id)
                return
            if found is not None:
                log.warning("attempt %s: Twilio has call %s after all: adopted", job.attempt_id, found.sid)
                self.adopt(job, found)
                return
            if job.uncertain is not None:  # the list may not show the call yet
                log.warning("attempt %s: %s; left to recovery to look for its call", job.attempt_id, reason)
                return
        with self.maker() as session:
            attempts.revert(
                session, job.attempt_id, self.clock.now(), reason=reason, delay=delay, error=error,
                skipped=skipped, due=due, outcome=outcome, sent=job.sent is not None,
            )  # fmt: skip
            session.commit()

    def done(self, job: Job) -> None:
        """The job is over for this worker: release its lease."""
        self.leases.release(job.attempt_id)
        with self.mutex:
            self.held[job.campaign_id] -= 1

    # -- stopping --------------------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Let senders finish, give back every job not sent, release the leases."""
        if self.pool is not None:
            self.pool.shutdown(wait=True)
        self.take_back()
        while self.heap:
            job = heapq.heappop(self.heap)[2]
            try:
                self.give_up(job, "the worker stopped")
            except Exception:
                log.exception("attempt %s: could not give it back; recovery will", job.attempt_id)
            self.done(job)
        self.leases.close()


def _safe(exc: Exception | str) -> str:
    """Twilio's answer for a log line, without the numbers it may name (logs carry SIDs, not numbers)."""
    return describe(exc) if isinstance(exc, BaseException) else redacted(exc)
