"""Durable pull consumers: explicit ack, redelivery with backoff, dead letters.

A fetched batch of messages is handled in one database transaction: one statement claims
every event id in the inbox (so a redelivery changes nothing), then the handlers run;
messages are acknowledged only after the commit. One commit per batch instead of per
message is what lets a consumer keep up with a burst. If any message fails, the batch
runs again with a savepoint per message, so a failing message rolls back only itself.
A consumer may also have a *batch handler*: it gets every newly claimed event of the
batch in one call, so a projection can read and write a batch's rows with a few
statements instead of a few per event; it must have the same effect as the per-event
handlers applied in turn, which the re-run with savepoints uses. On failure the
message is nak'ed with a growing delay; after ``max_deliver`` deliveries, or at once if
it is not even a valid envelope, it goes to the province's dead-letter stream with the
error and is terminated. ``motcua dlq list|replay`` works on that stream: a replay
re-publishes the original event to its original subject (consumers that already applied
it skip it through their inbox).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from motcua import inbox
from motcua.bus import Bus
from motcua.contracts import REGISTRY
from motcua.errors import database_unavailable
from motcua.events import Envelope, EventData
from motcua.logging import causation_id_var, correlation_id_var, get_logger
from motcua.streams import DLQ, ConsumerSpec, dlq_subject, stream_name

log = get_logger("motcua.consumer")

Handler = Callable[[Envelope, Any, AsyncSession], Awaitable[None]]
#: Every newly claimed event of a batch, in delivery order, with its validated data.
BatchHandler = Callable[[list[tuple[Envelope, Any]], AsyncSession], Awaitable[None]]
Work = tuple[Msg, Envelope, EventData, Handler]

H_SUBJECT = "Motcua-Original-Subject"
H_CONSUMER = "Motcua-Consumer"
H_ERROR = "Motcua-Error"
H_DELIVERIES = "Motcua-Deliveries"
H_EVENT_ID = "Motcua-Event-Id"
#: Waits between tries of a batch the database could not take (each under any
#: consumer's ``ack_wait``: the batch is marked in progress before each).
_HOLD_S = (0.5, 1.0, 2.0)


@dataclass
class ConsumerStats:
    """Counters exported to Prometheus."""

    processed: int = 0
    duplicates: int = 0
    failed: int = 0
    dead_lettered: int = 0
    pending: int = 0
    #: Tries of a batch the database could not take (see ``handle_batch``).
    database_waits: int = 0
    #: Batches whose one transaction failed and that ran again with a savepoint per
    #: message: a failing message, or a transient abort (a deadlock, a serialization
    #: failure) after which every message may then have been applied.
    reruns: int = 0


class ConsumerRunner:
    """Runs one durable pull consumer with a handler per event type."""

    def __init__(self, spec: ConsumerSpec, *, province: str, bus: Bus,
                 sessions: async_sessionmaker[AsyncSession], handlers: dict[str, Handler],
                 batch_handler: BatchHandler | None = None, max_deliver: int = 5,
                 backoff_s: list[float] | None = None, batch: int = 100,
                 txn_batch: int = 50, hold_s: tuple[float, ...] = _HOLD_S) -> None:
        self.spec = spec
        self.province = province
        self._bus = bus
        self._sessions = sessions
        self._handlers = handlers
        self._batch_handler = batch_handler
        self._max_deliver = max_deliver
        self._backoff = backoff_s or [1.0, 5.0, 15.0, 30.0, 60.0]
        self._batch = batch
        self._txn_batch = max(1, txn_batch)
        self._hold_s = hold_s
        self.stats = ConsumerStats()
        self.bound = False

    @property
    def name(self) -> str:
        """The durable name (also the inbox's consumer name)."""
        return self.spec.durable

    async def run(self) -> None:
        """Fetch and handle messages forever."""
        await self._bus.wait_connected()
        stream = self.spec.stream(self.province)
        psub = None
        while psub is None:
            try:
                psub = await self._bus.js.pull_subscribe_bind(self.spec.durable, stream)
                take_queued_at_once(psub)
            except Exception as exc:
                log.warning("consumer_bind_failed", consumer=self.name, error=str(exc))
                await asyncio.sleep(1.0)
        self.bound = True
        try:
            await self._pull(psub)
        finally:
            await self._withdraw(psub)

    async def _pull(self, psub: Any) -> None:
        """Fetch batches and handle them until cancelled."""
        idle = 0
        while True:
            try:
                msgs = await psub.fetch(self._batch, timeout=1.0)
            except (NatsTimeout, TimeoutError):
                idle += 1
                if idle % 5 == 0:
                    await self._refresh_pending(psub)
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("consumer_fetch_failed", consumer=self.name, error=str(exc))
                await asyncio.sleep(0.5)
                continue
            for start in range(0, len(msgs), self._txn_batch):
                await self.handle_batch(msgs[start:start + self._txn_batch])
            await self._refresh_pending(psub)

    async def _withdraw(self, psub: Any) -> None:
        """Withdraw the pull interest and wait until the server has seen it.

        A cancelled fetch leaves its pull request waiting on the server. Until the server
        learns that nobody listens any more, it may hand the next message to that stale
        request, and the message then waits out ``ack_wait`` before it is redelivered to
        a live consumer (another replica, or this service once restarted). Unsubscribing
        with a round trip closes that window on a graceful stop; after a crash the
        server sees the connection drop and ``ack_wait`` remains the safety net.
        """
        with contextlib.suppress(Exception):
            await asyncio.wait_for(psub.unsubscribe(), timeout=2)
            await self._bus.nc.flush(timeout=2)

    async def _refresh_pending(self, psub: Any) -> None:
        with contextlib.suppress(Exception):
            info = await psub.consumer_info()
            self.stats.pending = int(info.num_pending) + int(info.num_ack_pending)

    async def handle(self, msg: Msg) -> None:
        """Apply one message exactly once, or schedule its redelivery, or dead-letter it."""
        await self.handle_batch([msg])

    async def handle_batch(self, msgs: list[Msg]) -> None:
        """Apply messages in one transaction; then ack, retry or dead-letter each.

        First all at once: one statement claims every event id in the inbox, then the
        handlers run (or the batch handler, once). If anything fails, that transaction
        rolls back whole and the batch runs again with a savepoint per message and the
        per-event handlers, so only the failing message is retried and the others are
        applied. Failures are rare; the savepoints (three statements
        per message) are paid only then.

        A failure that is the database's, not the message's (:func:`database_unavailable`:
        no connection, refused, lost), counts against no message: the batch is held,
        marked in progress so the server does not redeliver it, and tried again until
        the database serves (the inbox makes the retry safe). An outage pauses the
        consumer instead of dead-lettering whatever it delivers meanwhile.
        """
        work: list[Work] = []
        for msg in msgs:
            prepared = await self._prepare(msg)
            if prepared is not None:
                work.append(prepared)
        if not work:
            return
        waits = 0
        while True:
            outcomes = await self._attempt(work)
            down = next((why for o in outcomes if isinstance(o, Exception)
                         and (why := database_unavailable(o))), None)
            if down is None:
                break
            await self._hold(work, down, waits)
            waits += 1
        if waits:
            log.warning("consumer_database_back", consumer=self.name, waits=waits)
        for (msg, envelope, _, _), outcome in zip(work, outcomes, strict=True):
            if isinstance(outcome, Exception):
                await self._failed(msg, envelope, outcome)
                continue
            await msg.ack()
            if outcome:
                self.stats.processed += 1
            else:
                self.stats.duplicates += 1

    async def _attempt(self, work: list[Work]) -> list[bool | Exception]:
        """The batch together, or apart if that fails: per message applied (True),
        duplicate (False) or its error."""
        try:
            return await self._apply_together(work)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # stopping: the unacknowledged batch is redelivered later
            if database_unavailable(exc):
                return [exc] * len(work)  # apart would meet the same
            self.stats.reruns += 1
            log.info("consumer_batch_rerun_apart", consumer=self.name, size=len(work),
                     error=f"{type(exc).__name__}: {str(exc)[:200]}")
            return await self._apply_apart(work)

    async def _hold(self, work: list[Work], why: str, waits: int) -> None:
        """Keep a batch the database could not take: mark its messages in progress (the
        server's ``ack_wait`` starts again) and wait before the next try."""
        if waits == 0:
            log.warning("consumer_waiting_for_database", consumer=self.name,
                        size=len(work), reason=why)
        for msg, _, _, _ in work:
            with contextlib.suppress(Exception):  # NATS down too: redelivered later
                await msg.in_progress()
        self.stats.database_waits += 1
        await asyncio.sleep(self._hold_s[min(waits, len(self._hold_s) - 1)])

    async def _apply_together(self, work: list[Work]) -> list[bool | Exception]:
        """The whole batch in one transaction without savepoints; raises on any failure."""
        outcomes: list[bool | Exception] = []
        async with self._sessions() as session, session.begin():
            fresh = await inbox.claim_many(session, consumer=self.name, events=[
                (envelope.id, envelope.type) for _, envelope, _, _ in work])
            claimed: list[tuple[Envelope, Any, Handler]] = []
            for _msg, envelope, data, handler in work:
                first = envelope.id in fresh
                fresh.discard(envelope.id)  # the same event twice in a batch: once
                if first:
                    claimed.append((envelope, data, handler))
                outcomes.append(first)
            if self._batch_handler is not None and claimed:
                await self._batch_handler([(e, d) for e, d, _ in claimed], session)
            else:
                for envelope, data, handler in claimed:
                    with causation(envelope):
                        await handler(envelope, data, session)
            await _still_usable(session)
        return outcomes

    async def _apply_apart(self, work: list[Work]) -> list[bool | Exception]:
        """The batch in one transaction, each message in its own savepoint."""
        outcomes: list[bool | Exception] = []
        try:
            async with self._sessions() as session, session.begin():
                for _msg, envelope, data, handler in work:
                    outcomes.append(await self._apply(session, envelope, data, handler))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # The commit failed: nothing of the batch was applied.
            outcomes = [exc] * len(work)
        return outcomes

    async def _prepare(self, msg: Msg) -> Work | None:
        """Parse and route a message; dead-letter or ack at once what needs no handling."""
        deliveries = msg.metadata.num_delivered
        try:
            envelope = Envelope.from_bytes(msg.data)
        except ValidationError as exc:
            await self._dead_letter(msg, f"envelope.invalid: {exc.error_count()} error(s)",
                                    deliveries, event_id=None)
            return None
        handler = self._handlers.get(envelope.type)
        if handler is None:
            await msg.ack()  # an event this consumer does not need
            return None
        if deliveries > self._max_deliver:
            await self._dead_letter(msg, "max_deliver exceeded before handling", deliveries,
                                    event_id=envelope.id)
            return None
        try:
            data = REGISTRY.get(envelope.type, EventData).model_validate(envelope.data)
        except ValidationError as exc:
            await self._failed(msg, envelope, exc)
            return None
        return msg, envelope, data, handler

    async def _apply(self, session: AsyncSession, envelope: Envelope, data: EventData,
                     handler: Handler) -> bool | Exception:
        """Claim and handle one event in a savepoint: True applied, False duplicate."""
        try:
            with causation(envelope):
                async with session.begin_nested():
                    first = await inbox.claim(session, consumer=self.name,
                                              event_id=envelope.id, event_type=envelope.type)
                    if first:
                        await handler(envelope, data, session)
                        await _still_usable(session)
            return first
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return exc

    async def _failed(self, msg: Msg, envelope: Envelope, exc: Exception) -> None:
        """Schedule a redelivery with backoff, or dead-letter after ``max_deliver``."""
        deliveries = msg.metadata.num_delivered
        self.stats.failed += 1
        error = f"{type(exc).__name__}: {exc}"
        if deliveries >= self._max_deliver:
            await self._dead_letter(msg, error, deliveries, event_id=envelope.id)
            return
        delay = self._backoff[min(deliveries - 1, len(self._backoff) - 1)]
        log.warning("consumer_retry", consumer=self.name, event_id=envelope.id,
                    event_type=envelope.type, deliveries=deliveries, retry_in=delay,
                    error=error[:300])
        await msg.nak(delay=delay)

    async def _dead_letter(self, msg: Msg, error: str, deliveries: int, *,
                           event_id: str | None) -> None:
        stream_seq = msg.metadata.sequence.stream
        headers = {
            H_SUBJECT: msg.subject, H_CONSUMER: self.name, H_ERROR: error[:1000],
            H_DELIVERIES: str(deliveries), H_EVENT_ID: event_id or "",
            "Nats-Msg-Id": f"dlq.{self.name}.{msg.metadata.stream}.{stream_seq}",
        }
        try:
            await self._bus.js.publish(dlq_subject(self.province, self.spec.owner, self.name),
                                       msg.data, headers=headers)
        except Exception as exc:
            log.error("dead_letter_failed", consumer=self.name, error=str(exc))
            await msg.nak(delay=self._backoff[-1])
            return
        await msg.term()
        self.stats.dead_lettered += 1
        log.error("dead_lettered", consumer=self.name, event_id=event_id, error=error[:300],
                  deliveries=deliveries)


@dataclass
class DeadLetter:
    """One message in the dead-letter stream."""

    seq: int
    consumer: str
    subject: str
    event_id: str
    error: str
    deliveries: int
    data: bytes

    def as_dict(self) -> dict[str, Any]:
        """For printing."""
        return {"seq": self.seq, "consumer": self.consumer, "subject": self.subject,
                "event_id": self.event_id, "error": self.error, "deliveries": self.deliveries}


def take_queued_at_once(psub: Any) -> bool:
    """Make ``psub.fetch`` take the messages already received without a task each.

    nats-py's ``fetch`` asks its subscription's ``next_msg`` once per message, and
    ``next_msg`` (2.16) waits in a task of its own wrapped in ``asyncio.wait_for`` (a
    third), even when the message is already queued. On an event loop busy with HTTP
    requests each of those waits for a turn of the loop: intake's consumer of workflow's
    events fell 1,500 messages behind at 200 submissions/s. Here a queued message is
    returned at once, with nats-py's bookkeeping (pending size, ``task_done``); an empty
    queue still waits in nats-py's own way, with its timeout. Returns whether the
    subscription could be changed (False, and nats-py's own path, if a nats-py release
    no longer has these attributes).
    """
    sub = getattr(psub, "_sub", None)
    if not all(hasattr(sub, a) for a in ("_pending_queue", "_pending_size", "_conn")):
        log.warning("consumer_fast_fetch_unavailable", reason="nats-py internals changed")
        return False
    wait = sub.next_msg

    async def next_msg(timeout: float | None = 1.0) -> Msg:
        queue = sub._pending_queue
        if queue.empty() or sub._conn.is_closed:
            return await wait(timeout)
        msg = queue.get_nowait()
        sub._pending_size -= len(msg.data)
        queue.task_done()
        return msg

    sub.next_msg = next_msg
    return True


async def list_dead_letters(js: JetStreamContext, province: str) -> list[DeadLetter]:
    """Every dead letter of the province, oldest first."""
    stream = stream_name(province, DLQ)
    info = await js.stream_info(stream)
    out: list[DeadLetter] = []
    seq = info.state.first_seq
    while info.state.messages and seq <= info.state.last_seq:
        try:
            raw = await js.get_msg(stream, seq)
        except NotFoundError:
            seq += 1
            continue
        h = raw.headers or {}
        out.append(DeadLetter(seq=raw.seq or seq, consumer=h.get(H_CONSUMER, ""),
                              subject=h.get(H_SUBJECT, ""), event_id=h.get(H_EVENT_ID, ""),
                              error=h.get(H_ERROR, ""),
                              deliveries=int(h.get(H_DELIVERIES, "0") or 0),
                              data=raw.data or b""))
        seq += 1
    return out


async def replay_dead_letter(js: JetStreamContext, province: str, letter: DeadLetter) -> None:
    """Re-publish a dead letter to its original subject, then remove it from the DLQ."""
    # A fresh message id: the original is still inside JetStream's duplicate window.
    await js.publish(letter.subject, letter.data,
                     headers={"Nats-Msg-Id": f"replay.{letter.event_id or 'raw'}.{letter.seq}"})
    await js.delete_msg(stream_name(province, DLQ), letter.seq)


async def _still_usable(session: AsyncSession) -> None:
    """Raise if a handler swallowed a PostgreSQL error: the transaction is then aborted,
    and its COMMIT would roll everything back without an error while the messages were
    acknowledged as applied. (SQLite goes on after a failed statement.)"""
    if session.bind.dialect.name == "postgresql":
        await session.execute(text("SELECT 1"))


@contextlib.contextmanager
def causation(envelope: Envelope) -> Iterator[None]:
    """Events a handler records carry the handled event's correlation and causation
    (a batch handler enters it for each event it applies)."""
    corr = correlation_id_var.set(envelope.correlationid)
    cause = causation_id_var.set(envelope.id)
    try:
        yield
    finally:
        correlation_id_var.reset(corr)
        causation_id_var.reset(cause)
