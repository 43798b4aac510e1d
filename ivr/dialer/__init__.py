"""The dialer worker: places the calls of running campaigns through Twilio's Calls API.

How a contact is dialled (each step its own committed transaction):

1. claim (`claim.py`): the campaign's row is locked, due pending contacts are taken in a small batch
   (`FOR UPDATE SKIP LOCKED` on PostgreSQL), checked against the do-not-call list and the calling window,
   and each one left gets an attempt row (status `pending`, no requested_at, no call_sid) while the contact
   becomes `dialling`. The worker holds a lease on each new attempt (`lease.py`) before the commit.
2. pace (`budget.py`): a slot is reserved in the account's calls-per-second budget and the campaign's
   (`dial_budget`, `campaigns.next_slot_at`), shared by every worker.
3. mark (`outcomes.mark`): the campaign is still running, the number still not on the
   do-not-call list and the calling window still open at the slot; requested_at is committed.
4. send (`rest.py`): at the slot, `POST Calls.json`; the CallSid is committed. 429 and connections never
   made are retried with backoff and jitter (a new slot each time); after a 5xx (the call may exist)
   Twilio's call list is asked first; a 4xx fails the attempt with Twilio's code and message.
5. status callbacks (`outcomes.on_status`, from /voice/status) move the attempt on; the final one settles
   the contact (`lifecycle.py`) and finishes the campaign when nothing is left to call.

Crash safety (`recovery.py`): an attempt without call_sid whose worker is gone (no lease) is an orphan.
Without requested_at it was never sent: it is deleted and the contact is due again. With requested_at
the request may have reached Twilio: the status callbacks (their URL names the attempt) link it as soon as
they come; if none has come after DIALER_RECOVERY_SECONDS, Twilio's call list is asked (To and From) and a
call found is adopted (never one already on another attempt), else the attempt is deleted and the
contact is due again. So no contact is dialled twice and none is lost. An attempt whose final callback
was lost is read from Twilio after DIALER_STALE_SECONDS and settled. On SQLite one worker runs
(`lease.only_worker`).
"""
