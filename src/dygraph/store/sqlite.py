"""SQLite run store: one file (`$DYGRAPH_HOME/runs.db`), WAL mode, one writer thread per process.

Every database call runs on the store's own thread, which owns the connection, so the event loop
never blocks on disk. Writes that queue up while a transaction is in flight are committed together
(group commit), each inside its own savepoint: a caller's `commit_step` returns only once its step
is committed, so batching never weakens the per-step durability guarantee. Several processes may
share the file; `BEGIN IMMEDIATE` plus a busy timeout serialise their writers.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import sqlite3
import threading
import time
from concurrent.futures import Future, InvalidStateError
from pathlib import Path
from typing import Any, Callable, Iterable

import pydantic_core

from dygraph.store.base import (
    HEARTBEAT_EVERY, HOST, EventRecord, JSONText, LLMExchange, RunBusy, RunExists, RunNotFound, RunRecord, RunStatus,
    RunStore, RunTakenOver, StoreError, ToolCallRecord, ToolCallStatus, default_db_path, new_run_id, source_hash,
)

# Each entry migrates the schema from version i to i + 1. Never edit a released entry; append.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        machine TEXT NOT NULL,
        machine_file TEXT,
        source TEXT NOT NULL DEFAULT '',
        source_hash TEXT NOT NULL DEFAULT '',
        ir TEXT,
        status TEXT NOT NULL,
        parent_id TEXT,
        options TEXT NOT NULL DEFAULT '{}',
        error TEXT,
        result TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        heartbeat_at REAL,
        owner_pid INTEGER,
        owner_host TEXT,
        cancel_requested INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX runs_by_status ON runs(status, created_at);
    CREATE INDEX runs_by_machine ON runs(machine, created_at);
    CREATE INDEX runs_by_created ON runs(created_at);
    CREATE INDEX runs_by_parent ON runs(parent_id);
    CREATE TABLE checkpoints (
        run_id TEXT PRIMARY KEY,
        step INTEGER NOT NULL,
        state TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE TABLE events (
        run_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        step INTEGER NOT NULL,
        type TEXT NOT NULL,
        payload TEXT NOT NULL,
        at REAL NOT NULL,
        PRIMARY KEY (run_id, seq)
    ) WITHOUT ROWID;
    CREATE INDEX events_by_type ON events(run_id, type);
    CREATE TABLE tool_calls (
        run_id TEXT NOT NULL,
        call_id TEXT NOT NULL,
        path_id TEXT,
        name TEXT NOT NULL,
        arguments TEXT NOT NULL,
        status TEXT NOT NULL,
        idempotent INTEGER NOT NULL DEFAULT 1,
        result TEXT,
        error TEXT,
        attempts INTEGER NOT NULL DEFAULT 1,
        started_at REAL NOT NULL,
        finished_at REAL,
        PRIMARY KEY (run_id, call_id)
    ) WITHOUT ROWID;
    CREATE INDEX tool_calls_by_status ON tool_calls(run_id, status);
    CREATE TABLE history (
        run_id TEXT NOT NULL,
        path_id TEXT NOT NULL,
        idx INTEGER NOT NULL,
        node TEXT NOT NULL,
        PRIMARY KEY (run_id, path_id, idx)
    ) WITHOUT ROWID;
    CREATE TABLE llm_exchanges (
        run_id TEXT NOT NULL,
        key TEXT NOT NULL,
        request TEXT NOT NULL,
        reply TEXT NOT NULL,
        at REAL NOT NULL,
        PRIMARY KEY (run_id, key)
    ) WITHOUT ROWID;
    """,
    # 2: the runtime's own step count next to the checkpoint number, for listings
    """
    ALTER TABLE checkpoints ADD COLUMN steps INTEGER NOT NULL DEFAULT 0;
    """,
    # 3: per-path maps (visit and turn counts) stored as rows, changed entries only
    """
    CREATE TABLE path_maps (
        run_id TEXT NOT NULL,
        path_id TEXT NOT NULL,
        field TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (run_id, path_id, field, key)
    ) WITHOUT ROWID;
    """,
    # 4: each path its own row, written when the path changed (checkpoints keep the run-level state)
    """
    CREATE TABLE path_states (
        run_id TEXT NOT NULL,
        path_id TEXT NOT NULL,
        state TEXT NOT NULL,
        PRIMARY KEY (run_id, path_id)
    ) WITHOUT ROWID;
    """,
    # 5: no query reads events by type, and the index cost every step's commit one more page write
    """
    DROP INDEX IF EXISTS events_by_type;
    """,
    # 6: what a commit appends is stored as one row per commit, not one per item: the events of the
    # commit (a JSON array), each path's new history entries, each path's changed counters. A row
    # costs SQLite about as much as its encoding, so per-item rows were most of a step's commit.
    # Views keep `events` and `history` queryable item by item. A run's machine (source and IR, which
    # can be large) moves to a table of its own: SQLite rewrites a whole row on every update, and the
    # run row is updated by every heartbeat, claim and status change.
    """
    CREATE TABLE event_batches (
        run_id TEXT NOT NULL,
        first_seq INTEGER NOT NULL,
        last_seq INTEGER NOT NULL,
        step INTEGER NOT NULL,
        at REAL NOT NULL,
        events TEXT NOT NULL,
        PRIMARY KEY (run_id, first_seq)
    ) WITHOUT ROWID;
    INSERT INTO event_batches
        SELECT run_id, seq, seq, step, at, json_array(json_set(payload, '$.type', type)) FROM events;
    DROP TABLE events;
    CREATE VIEW events (run_id, seq, step, type, payload, at) AS
        SELECT b.run_id, b.first_seq + e.key, b.step, json_extract(e.value, '$.type'),
               json_remove(e.value, '$.type'), b.at
        FROM event_batches AS b, json_each(b.events) AS e;
    CREATE TABLE history_chunks (
        run_id TEXT NOT NULL,
        path_id TEXT NOT NULL,
        first_idx INTEGER NOT NULL,
        nodes TEXT NOT NULL,
        PRIMARY KEY (run_id, path_id, first_idx)
    ) WITHOUT ROWID;
    INSERT INTO history_chunks SELECT run_id, path_id, idx, json_array(node) FROM history;
    DROP TABLE history;
    CREATE VIEW history (run_id, path_id, idx, node) AS
        SELECT h.run_id, h.path_id, h.first_idx + n.key, n.value
        FROM history_chunks AS h, json_each(h.nodes) AS n;
    CREATE TABLE path_map_changes (
        run_id TEXT NOT NULL,
        path_id TEXT NOT NULL,
        field TEXT NOT NULL,
        version INTEGER NOT NULL,
        changes TEXT NOT NULL,
        PRIMARY KEY (run_id, path_id, field, version)
    ) WITHOUT ROWID;
    INSERT INTO path_map_changes
        SELECT run_id, path_id, field, 0, json_group_object(key, json(value)) FROM path_maps
        GROUP BY run_id, path_id, field;
    DROP TABLE path_maps;
    CREATE TABLE run_machines (
        run_id TEXT PRIMARY KEY,
        source TEXT NOT NULL DEFAULT '',
        ir TEXT
    );
    INSERT INTO run_machines SELECT id, source, ir FROM runs;
    UPDATE runs SET source = '', ir = NULL;
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)
CHECKPOINT_EVERY = 0.2  # seconds between background WAL checkpoints while there are writes

# The columns of `runs` in use (`source` and `ir` stay empty since schema 6: see `run_machines`).
_RUN_COLUMNS = ("id, machine, status, created_at, updated_at, machine_file, source_hash, parent_id, options, "
                "error, result, heartbeat_at, owner_pid, owner_host, cancel_requested")
# The step of a run is that of its latest checkpoint (the per-step transaction does not touch `runs`).
_RUN_STEPS = (", COALESCE((SELECT c.step FROM checkpoints c WHERE c.run_id = runs.id), 0)"
              ", COALESCE((SELECT c.steps FROM checkpoints c WHERE c.run_id = runs.id), 0)")
_RUN_SELECT = (_RUN_COLUMNS + ", COALESCE((SELECT m.source FROM run_machines m WHERE m.run_id = runs.id), '')"
               ", (SELECT m.ir FROM run_machines m WHERE m.run_id = runs.id)" + _RUN_STEPS)
_RUN_LIST_COLUMNS = _RUN_COLUMNS + ", '', NULL" + _RUN_STEPS  # listings leave the machine out
_RUN_TABLES = ("run_machines", "checkpoints", "event_batches", "history_chunks", "path_map_changes", "path_states",
               "tool_calls", "llm_exchanges")


def _history_chunks(history: Iterable[tuple]) -> list[tuple[str, int, list[str]]]:
    """`(path_id, first_index, [nodes])` per run of consecutive entries of one path."""
    chunks: list[tuple[str, int, list[str]]] = []
    for path_id, first, nodes in history:
        nodes = [nodes] if isinstance(nodes, str) else list(nodes)
        if chunks and chunks[-1][0] == path_id and chunks[-1][1] + len(chunks[-1][2]) == first:
            chunks[-1][2].extend(nodes)
        else:
            chunks.append((path_id, first, nodes))
    return chunks


def _dumps(value: Any) -> str:
    if isinstance(value, JSONText):
        return value
    # pydantic_core's encoder: compact JSON, about 3x faster than json.dumps for event payloads.
    return pydantic_core.to_json(value, fallback=str).decode()


def _run(row: tuple) -> RunRecord:
    (id_, machine, status, created, updated, file, shash, parent, options, error,
     result, beat, pid, host, cancel, source, ir, step, steps) = row
    return RunRecord(id=id_, machine=machine, status=RunStatus(status), created_at=created,
                     updated_at=updated, machine_file=file, source=source, source_hash=shash, ir=ir,
                     parent_id=parent, options=json.loads(options), step=step, error=error,
                     result=json.loads(result) if result else None, heartbeat_at=beat,
                     owner_pid=pid, owner_host=host, cancel_requested=bool(cancel), steps=steps)


def _exchange(row: tuple) -> LLMExchange:
    return LLMExchange(row[0], row[1], json.loads(row[2]), json.loads(row[3]), row[4])


def _tool_call(row: tuple) -> ToolCallRecord:
    run_id, call_id, path_id, name, args, status, idem, result, error, attempts, started, finished = row
    return ToolCallRecord(run_id=run_id, call_id=call_id, path_id=path_id, name=name,
                          arguments=json.loads(args), status=ToolCallStatus(status),
                          idempotent=bool(idem), result=json.loads(result) if result else None,
                          error=error, attempts=attempts, started_at=started, finished_at=finished)


def _check_owner(conn: sqlite3.Connection, run_id: str) -> None:
    row = conn.execute("SELECT owner_pid, owner_host FROM runs WHERE id = ?", (run_id,)).fetchone()
    if row is None:
        raise RunNotFound(run_id)
    if row[0] is not None and (row[0], row[1]) != (os.getpid(), HOST):
        raise RunTakenOver(run_id, row[0], row[1])


def _settle(future: Future, value: Any, error: BaseException | None) -> None:
    """Report a job's outcome; its waiter may have gone (a cancelled run), the write stands."""
    if future.done():
        return
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)
    except InvalidStateError:  # cancelled between the check and the set
        pass


class _Job:
    __slots__ = ("fn", "args", "write", "future")

    def __init__(self, fn: Callable, args: tuple, write: bool):
        self.fn, self.args, self.write, self.future = fn, args, write, Future()


class SQLiteStore(RunStore):
    """The default `RunStore`. Safe to share between threads, tasks and processes."""

    def __init__(self, path: str | os.PathLike | None = None, *, synchronous: str = "NORMAL"):
        self.path = Path(path) if path is not None else default_db_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._synchronous = synchronous
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._owned: dict[str, Callable[[], None] | None] = {}
        self._owned_lock = threading.Lock()
        self._closed = False
        self._stop_beating = threading.Event()
        self._beater: threading.Thread | None = None
        self._wrote = threading.Event()
        self._inline_lock = threading.Lock()
        self._queued_writes = 0  # writes submitted to the store thread and not yet done
        self._count_lock = threading.Lock()
        self._inline_conn: sqlite3.Connection | None = None
        self._checkpointer = threading.Thread(target=self._checkpoint_wal, name="dygraph-wal", daemon=True)
        ready: Future = Future()
        self._writer = threading.Thread(target=self._serve, args=(ready,), name="dygraph-store",
                                        daemon=True)
        self._writer.start()
        try:
            ready.result()  # surfaces connection / migration errors here
        except sqlite3.Error as exc:  # not a database, unreadable, locked for too long…
            raise StoreError(f"{self.path}: {exc}") from None
        self._checkpointer.start()

    # ---------------------------------------------------------------- writer thread

    def _connect(self, *, busy_timeout_ms: int = 60000, migrate: bool = True) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                               timeout=busy_timeout_ms / 1000)
        conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
        self._enable_wal(conn, busy_timeout_ms / 1000)
        # NORMAL in WAL mode: a commit survives a process crash (kill -9); only power loss can
        # lose the last transactions, never corrupt the file.
        conn.execute(f"PRAGMA synchronous = {self._synchronous}")
        conn.execute("PRAGMA temp_store = MEMORY")
        # Copying the WAL back into the database (with its fsync) is left to a background thread
        # (`_checkpoint_wal`) instead of landing on whichever commit crosses the threshold; the
        # high limit is only a backstop.
        conn.execute("PRAGMA wal_autocheckpoint = 20000")
        conn.execute("PRAGMA journal_size_limit = 67108864")
        if migrate:
            self._migrate(conn)
        return conn

    @staticmethod
    def _enable_wal(conn: sqlite3.Connection, patience: float) -> None:
        # Switching a new file to WAL does not wait on the busy handler: when two processes create
        # the store at once, one of them is told "locked" and simply tries again.
        deadline = time.monotonic() + max(patience, 1.0)
        while True:
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                         "(version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)")
            current = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0]
            if current > SCHEMA_VERSION:
                raise StoreError(f"the run store has schema version {current}, newer than this dygraph "
                                 f"knows ({SCHEMA_VERSION}) — upgrade dygraph")
            for version in range(current, SCHEMA_VERSION):
                for statement in MIGRATIONS[version].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute("INSERT INTO schema_migrations VALUES (?, ?)", (version + 1, time.time()))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _serve(self, ready: Future) -> None:
        try:
            conn = self._connect()
        except BaseException as exc:  # reported to the constructor
            ready.set_exception(exc)
            return
        ready.set_result(None)
        self._conn = conn
        try:
            while True:
                job = self._queue.get()
                batch = [job]
                while job is not None and len(batch) < 256:
                    try:
                        job = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    batch.append(job)
                stop = batch[-1] is None
                self._run_batch(conn, [j for j in batch if j is not None])
                self._wrote.set()
                if stop:
                    return
        finally:
            conn.close()

    @staticmethod
    def _run_batch(conn: sqlite3.Connection, batch: list[_Job]) -> None:
        done: list[tuple[_Job, Any, BaseException | None]] = []
        # A savepoint per write isolates a failing write from the others in the same transaction;
        # a lone write needs none (its failure rolls back the whole transaction).
        isolate = sum(job.write for job in batch) > 1
        in_tx = False
        try:
            for job in batch:
                if job.write and not in_tx:
                    conn.execute("BEGIN IMMEDIATE")
                    in_tx = True
                if job.write and isolate:
                    conn.execute("SAVEPOINT job")
                try:
                    value = job.fn(conn, *job.args)
                except Exception as exc:
                    if job.write and isolate:
                        conn.execute("ROLLBACK TO job")
                        conn.execute("RELEASE job")
                    elif job.write:
                        conn.execute("ROLLBACK")
                        in_tx = False
                    done.append((job, None, exc))
                    continue
                if job.write and isolate:
                    conn.execute("RELEASE job")
                done.append((job, value, None))
            if in_tx:
                conn.execute("COMMIT")
        except BaseException as exc:  # the commit itself failed: no write of this batch happened
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            for job in batch:
                _settle(job.future, None, exc)
            return
        for job, value, error in done:
            _settle(job.future, value, error)

    def _checkpoint_wal(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=60)
        try:
            while not self._stop_beating.is_set():
                self._wrote.wait()
                self._wrote.clear()
                if self._stop_beating.wait(CHECKPOINT_EVERY):
                    break
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error:  # busy or locked: the next round catches up
                    pass
        finally:
            conn.close()

    def _submit(self, fn: Callable, *args: Any, write: bool) -> Future:
        if self._closed:
            raise RuntimeError("the run store is closed")
        job = _Job(fn, args, write)
        if write:
            with self._count_lock:
                self._queued_writes += 1
            job.future.add_done_callback(self._write_done)
        self._queue.put(job)
        return job.future

    def _write_done(self, _future: Future) -> None:
        with self._count_lock:
            self._queued_writes -= 1

    def _call(self, fn: Callable, *args: Any, write: bool = False) -> Any:
        return self._submit(fn, *args, write=write).result()

    def try_write_here(self, fn: Callable, *args: Any) -> tuple[bool, Any]:
        """Commit `fn(conn, *args)` on the calling thread if the database is free right now and no
        write is queued; `(False, None)` when it was not (queue it instead)."""
        return self._try_inline(fn, args)

    def _try_inline(self, fn: Callable, args: tuple) -> tuple[bool, Any]:
        """Run a write on the calling thread when nothing else is waiting for it (see `awrite`).

        Uses its own connection with no busy wait: if any writer (the store thread, another
        process) holds the database, it gives up at once and the caller queues the write instead."""
        if not self._inline_lock.acquire(blocking=False):
            return False, None
        try:
            if self._queued_writes:  # never overtake a queued write (an older checkpoint, say)
                return False, None
            if self._inline_conn is None:
                self._inline_conn = self._connect(busy_timeout_ms=0, migrate=False)
            conn = self._inline_conn
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:
                return False, None
            try:
                value = fn(conn, *args)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            self._wrote.set()
            return True, value
        finally:
            self._inline_lock.release()

    async def awrite(self, fn: Callable, *args: Any) -> Any:
        """Commit `fn(conn, *args)` in its own transaction and return once it is durable.

        If the event loop has nothing else ready to run, handing the write to the store thread
        only adds two thread wake-ups to the wait (measured: about as long as the commit itself),
        so it runs right here; when other tasks are ready, it goes to the store thread and they
        run meanwhile (and concurrent writes are group-committed)."""
        loop = asyncio.get_running_loop()
        if not getattr(loop, "_ready", True):
            done, value = self._try_inline(fn, args)
            if done:
                return value
        return await self.acall(fn, *args)

    async def acall(self, fn: Callable, *args: Any, write: bool = True) -> Any:
        """Run `fn(conn, *args)` on the store thread and await it without blocking the loop."""
        return await self.wait(self._submit(fn, *args, write=write))

    @staticmethod
    async def wait(future: Future) -> Any:
        """Await a job of the store thread (e.g. from `commit_step_nowait`) without blocking the loop."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # another event loop (trio): wait in a worker thread
            import anyio.to_thread
            return await anyio.to_thread.run_sync(future.result)
        # Shielded: a cancelled caller stops waiting, but the write it asked for is not withdrawn.
        return await asyncio.shield(asyncio.wrap_future(future))

    def close(self) -> None:
        if self._closed:
            return
        self._stop_beating.set()
        self._wrote.set()
        if self._beater is not None:
            self._beater.join()
        self._checkpointer.join()
        self._closed = True
        self._queue.put(None)
        self._writer.join()
        with self._inline_lock:
            if self._inline_conn is not None:
                self._inline_conn.close()

    def __enter__(self) -> "SQLiteStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- ownership and heartbeats

    def own(self, run_id: str, on_cancel: Callable[[], None] | None = None) -> None:
        """This process runs `run_id`: beat for it, and call `on_cancel` if someone cancels it."""
        with self._owned_lock:
            self._owned[run_id] = on_cancel
            if self._beater is None:
                self._beater = threading.Thread(target=self._beat, name="dygraph-heartbeat", daemon=True)
                self._beater.start()

    def disown(self, run_id: str) -> None:
        with self._owned_lock:
            self._owned.pop(run_id, None)

    def _beat(self) -> None:
        while not self._stop_beating.wait(HEARTBEAT_EVERY):
            with self._owned_lock:
                owned = dict(self._owned)
            if not owned:
                continue
            try:
                cancelled = self.heartbeat(owned)
            except Exception:  # a busy database must not kill the heartbeat
                continue
            for run_id in cancelled:
                callback = owned.get(run_id)
                if callback is not None:
                    callback()

    def heartbeat(self, run_ids: Iterable[str]) -> set[str]:
        return self._call(self._heartbeat, list(run_ids), write=True)

    @staticmethod
    def _heartbeat(conn: sqlite3.Connection, run_ids: list[str]) -> set[str]:
        now = time.time()
        pid = os.getpid()
        cancelled: set[str] = set()
        for run_id in run_ids:
            row = conn.execute("UPDATE runs SET heartbeat_at = ? WHERE id = ? AND owner_pid = ? "
                               "AND owner_host = ? RETURNING cancel_requested",
                               (now, run_id, pid, HOST)).fetchone()
            if row and row[0]:
                cancelled.add(run_id)
        return cancelled

    # ---------------------------------------------------------------- runs

    def create_run(self, *, machine: str, source: str = "", ir: str | None = None,
                   machine_file: str | None = None, run_id: str | None = None,
                   parent_id: str | None = None, options: dict | None = None, force: bool = False,
                   status: RunStatus = RunStatus.RUNNING, owned: bool = True) -> RunRecord:
        return self._call(self._create_run, machine, source, ir, machine_file, run_id, parent_id,
                          options or {}, force, status, owned, write=True)

    def _create_run(self, conn, machine, source, ir, machine_file, run_id, parent_id, options,
                    force, status, owned) -> RunRecord:
        if run_id is None:  # a generated id: draw again on the (rare) collision
            run_id = new_run_id(machine)
            while conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone():
                run_id = new_run_id(machine)
        existing = conn.execute(f"SELECT {_RUN_SELECT} FROM runs WHERE id = ?", (run_id,)).fetchone()
        if existing is not None:
            if not force:
                raise RunExists(run_id)
            record = _run(existing)
            if record.effective_status() is RunStatus.RUNNING and record.owner_pid != os.getpid():
                raise RunBusy(run_id, record.owner_pid, record.owner_host)
            self._delete(conn, run_id)
        now = time.time()
        pid, host = (os.getpid(), HOST) if owned else (None, None)
        conn.execute(f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES "
                     "(?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?, ?, 0)",
                     (run_id, machine, status.value, now, now, machine_file, source_hash(source), parent_id,
                      _dumps(options), now if owned else None, pid, host))
        conn.execute("INSERT INTO run_machines VALUES (?, ?, ?)", (run_id, source, ir))
        return RunRecord(id=run_id, machine=machine, status=status, created_at=now, updated_at=now,
                         machine_file=machine_file, source=source, source_hash=source_hash(source),
                         ir=ir, parent_id=parent_id, options=options, heartbeat_at=now if owned else None,
                         owner_pid=pid, owner_host=host)

    def get_run(self, run_id: str) -> RunRecord | None:
        return self._call(self._get_run, run_id)

    @staticmethod
    def _get_run(conn, run_id: str) -> RunRecord | None:
        row = conn.execute(f"SELECT {_RUN_SELECT} FROM runs WHERE id = ?", (run_id,)).fetchone()
        return _run(row) if row else None

    def list_runs(self, *, statuses: Iterable[str] | None = None, machine: str | None = None,
                  limit: int | None = None) -> list[RunRecord]:
        wanted = {RunStatus(s) for s in statuses} if statuses else None
        # `interrupted` is derived from running/pending rows whose owner is gone.
        stored = None
        if wanted is not None:
            stored = {s.value for s in wanted} | ({"running", "pending"} if RunStatus.INTERRUPTED in wanted else set())
        rows = self._call(self._list_runs, sorted(stored) if stored else None, machine)
        runs = [r for r in rows if wanted is None or r.effective_status() in wanted]
        return runs[:limit] if limit else runs

    @staticmethod
    def _list_runs(conn, stored: list[str] | None, machine: str | None) -> list[RunRecord]:
        where, params = [], []
        if stored:
            where.append(f"status IN ({','.join('?' * len(stored))})")
            params += stored
        if machine:
            where.append("(machine = ? OR machine_file = ? OR machine_file LIKE ?)")
            params += [machine, machine, f"%/{machine}"]
        sql = f"SELECT {_RUN_LIST_COLUMNS} FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [_run(row) for row in conn.execute(sql + " ORDER BY created_at DESC", params)]

    def delete_run(self, run_id: str) -> bool:
        return self._call(self._delete, run_id, write=True)

    @staticmethod
    def _delete(conn, run_id: str) -> bool:
        for table in _RUN_TABLES:
            conn.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))
        return conn.execute("DELETE FROM runs WHERE id = ?", (run_id,)).rowcount > 0

    def claim_run(self, run_id: str, *, force: bool = False) -> RunRecord:
        return self._call(self._claim, run_id, force, write=True)

    def _claim(self, conn, run_id: str, force: bool) -> RunRecord:
        record = self._get_run(conn, run_id)
        if record is None:
            raise RunNotFound(run_id)
        if not force and record.owner_pid not in (None, os.getpid()) \
                and record.effective_status() is RunStatus.RUNNING:
            raise RunBusy(run_id, record.owner_pid, record.owner_host)
        now = time.time()
        conn.execute("UPDATE runs SET status = 'running', owner_pid = ?, owner_host = ?, heartbeat_at = ?, "
                      "updated_at = ?, error = NULL WHERE id = ?", (os.getpid(), HOST, now, now, run_id))
        record.status, record.owner_pid, record.owner_host = RunStatus.RUNNING, os.getpid(), HOST
        record.heartbeat_at = record.updated_at = now
        return record

    def set_owner(self, run_id: str, pid: int) -> None:
        """Hand a run to another process on this host (e.g. the one `detach` started)."""
        self._call(lambda conn: conn.execute(
            "UPDATE runs SET owner_pid = ?, owner_host = ?, heartbeat_at = ? WHERE id = ?",
            (pid, HOST, time.time(), run_id)), write=True)

    def update_run(self, run_id: str, *, status: RunStatus | None = None, error: str | None = None,
                   result: dict | None = None, source: str | None = None, ir: str | None = None,
                   release: bool = False) -> None:
        self._call(self._update_run, run_id, status, error, result, source, ir, release, write=True)

    @staticmethod
    def _update_run(conn, run_id, status, error, result, source, ir, release) -> None:
        sets, params = ["updated_at = ?"], [time.time()]
        for column, value in (("status", status.value if status else None), ("error", error),
                              ("result", _dumps(result) if result is not None else None)):
            if value is not None:
                sets.append(f"{column} = ?")
                params.append(value)
        if source is not None:
            sets.append("source_hash = ?")
            params.append(source_hash(source))
        if release:
            sets.append("owner_pid = NULL, owner_host = NULL")
        # Only the owner (or anyone, when nobody owns it) may change a run.
        if conn.execute(f"UPDATE runs SET {', '.join(sets)} WHERE id = ? AND (owner_pid IS NULL OR "
                        "(owner_pid = ? AND owner_host = ?))", (*params, run_id, os.getpid(), HOST)).rowcount == 0:
            _check_owner(conn, run_id)
        for column, value in (("source", source), ("ir", ir)):
            if value is not None:
                conn.execute(f"INSERT INTO run_machines (run_id, {column}) VALUES (?, ?) "
                             f"ON CONFLICT (run_id) DO UPDATE SET {column} = excluded.{column}", (run_id, value))

    def request_cancel(self, run_id: str) -> RunRecord:
        return self._call(self._request_cancel, run_id, write=True)

    def _request_cancel(self, conn, run_id: str) -> RunRecord:
        record = self._get_run(conn, run_id)
        if record is None:
            raise RunNotFound(run_id)
        if record.status.is_final:
            return record
        if record.effective_status() is RunStatus.RUNNING:  # its owner stops it at its next beat
            conn.execute("UPDATE runs SET cancel_requested = 1 WHERE id = ?", (run_id,))
            record.cancel_requested = True
        else:  # nobody is running it: cancel it here
            conn.execute("UPDATE runs SET status = 'cancelled', cancel_requested = 1, updated_at = ?, "
                         "owner_pid = NULL, owner_host = NULL WHERE id = ?", (time.time(), run_id))
            record.status = RunStatus.CANCELLED
        return record

    # ---------------------------------------------------------------- steps

    def commit_step(self, run_id: str, step: int, state: str, events: list[tuple[str, dict]], *,
                    paths: list[tuple] = (), history: list[tuple[str, int, str]] = (), maps: list[tuple] = (),
                    status: RunStatus | None = None, first_seq: int | None = None, steps: int = 0) -> int:
        return self._call(self._commit_step, run_id, step, state, events, paths, history, maps, status,
                          first_seq, steps, write=True)

    async def acommit_step(self, run_id: str, step: int, state: str, events: list[tuple[str, dict]],
                           *, paths: list[tuple] = (), history: list[tuple[str, int, str]] = (),
                           maps: list[tuple] = (), status: RunStatus | None = None, first_seq: int | None = None,
                           steps: int = 0) -> int:
        return await self.awrite(self._commit_step, run_id, step, state, events, paths, history, maps, status,
                                 first_seq, steps)

    def commit_step_nowait(self, run_id: str, step: int, state: str, events: list[tuple[str, dict]], *,
                           paths: list[tuple] = (), history: list[tuple[str, int, str]] = (),
                           maps: list[tuple] = (), status: RunStatus | None = None,
                           first_seq: int | None = None, steps: int = 0) -> Future:
        """Queue the step's transaction on the store thread; the future settles once it is committed.
        Writes are committed in the order they were queued."""
        return self._submit(self._commit_step, run_id, step, state, events, paths, history, maps, status,
                            first_seq, steps, write=True)

    def _commit_step(self, conn, run_id, step, state, events, paths, history, maps, status, first_seq,
                     steps) -> int:
        """The commit's transaction: its events, the new history entries and changed counters of each
        path, the rows of the paths that changed, the checkpoint, and (only when it changes) the run row.

        `events` are `(type, payload)` pairs or event dicts with a "type"; `history` entries are
        `(path_id, first_index, node or [nodes])` (a first index of 0 replaces the path's history);
        `maps` entries are `(path_id, field, reset, {key: value or None})` (None deletes the key; reset
        replaces the whole map). Appended data is one row per commit, never rewritten, so a long run's
        commits stay proportional to what changed. Liveness is kept by heartbeats, so the run row is
        not rewritten on every commit."""
        _check_owner(conn, run_id)  # fencing: a process that lost the run must not write over it
        now = time.time()
        last = conn.execute("SELECT last_seq FROM event_batches WHERE run_id = ? ORDER BY first_seq DESC LIMIT 1",
                            (run_id,)).fetchone()
        last = last[0] if last else 0
        if first_seq is None:
            first_seq = last + 1
        elif events and first_seq <= last:
            raise sqlite3.IntegrityError(f"events {first_seq}.. of run {run_id} are stored already (up to {last})")
        seq = first_seq - 1
        if events:
            if type(events[0]) is tuple:
                events = [{**payload, "type": kind} for kind, payload in events]
            seq += len(events)
            conn.execute("INSERT INTO event_batches VALUES (?, ?, ?, ?, ?, ?)",
                         (run_id, first_seq, seq, step, now, pydantic_core.to_json(events, fallback=str).decode()))
        for path_id, text in paths:  # text None: the path is gone
            if text is None:
                conn.execute("DELETE FROM path_states WHERE run_id = ? AND path_id = ?", (run_id, path_id))
            else:
                conn.execute("INSERT OR REPLACE INTO path_states VALUES (?, ?, ?)", (run_id, path_id, text))
        for path_id, first, nodes in _history_chunks(history):
            if first == 0:
                conn.execute("DELETE FROM history_chunks WHERE run_id = ? AND path_id = ?", (run_id, path_id))
            conn.execute("INSERT OR REPLACE INTO history_chunks VALUES (?, ?, ?, ?)",
                         (run_id, path_id, first, pydantic_core.to_json(nodes).decode()))
        for path_id, field, reset, changes in maps:
            if reset:
                conn.execute("DELETE FROM path_map_changes WHERE run_id = ? AND path_id = ? AND field = ?",
                             (run_id, path_id, field))
            conn.execute("INSERT OR REPLACE INTO path_map_changes VALUES (?, ?, ?, ?, ?)",
                         (run_id, path_id, field, step, pydantic_core.to_json(changes).decode()))
        # The latest checkpoint is updated in place: about a third of the pages of insert + delete.
        conn.execute("INSERT INTO checkpoints VALUES (?, ?, ?, ?, ?) ON CONFLICT (run_id) DO UPDATE SET "
                     "step = excluded.step, state = excluded.state, created_at = excluded.created_at, "
                     "steps = excluded.steps", (run_id, step, state, now, steps))
        if status is not None:
            conn.execute("UPDATE runs SET status = ?, updated_at = ? WHERE id = ?", (status.value, now, run_id))
        return seq

    def latest_checkpoint(self, run_id: str) -> tuple[int, str] | None:
        row = self._call(self._latest_checkpoint, run_id)
        return (row[0], row[1]) if row else None

    @staticmethod
    def _latest_checkpoint(conn, run_id):
        return conn.execute("SELECT step, state FROM checkpoints WHERE run_id = ?", (run_id,)).fetchone()

    def history(self, run_id: str) -> dict[str, list[str]]:
        return self._call(self._history, run_id)

    @staticmethod
    def _history(conn, run_id) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for path_id, first, nodes in conn.execute("SELECT path_id, first_idx, nodes FROM history_chunks "
                                                  "WHERE run_id = ? ORDER BY path_id, first_idx", (run_id,)):
            nodes = json.loads(nodes)
            out.setdefault(path_id, [])[first:first + len(nodes)] = nodes
        return out

    def path_states(self, run_id: str) -> dict[str, str]:
        """The stored row of each path of a run, by path id."""
        return self._call(lambda conn: dict(conn.execute(
            "SELECT path_id, state FROM path_states WHERE run_id = ?", (run_id,)).fetchall()))

    def path_maps(self, run_id: str) -> dict[str, dict[str, dict[str, Any]]]:
        """Stored per-path maps: path id -> field -> key -> value."""
        def read(conn):
            out: dict[str, dict[str, dict[str, Any]]] = {}
            for path_id, field, changes in conn.execute(
                    "SELECT path_id, field, changes FROM path_map_changes WHERE run_id = ? "
                    "ORDER BY path_id, field, version", (run_id,)):
                values = out.setdefault(path_id, {}).setdefault(field, {})
                for key, value in json.loads(changes).items():
                    if value is None:
                        values.pop(key, None)
                    else:
                        values[key] = value
            return out
        return self._call(read)

    def events(self, run_id: str, *, after_seq: int = 0, limit: int | None = None,
               last: int | None = None) -> list[EventRecord]:
        return self._call(self._events, run_id, after_seq, limit, last)

    @staticmethod
    def _events(conn, run_id, after_seq, limit, last) -> list[EventRecord]:
        def unpack(row) -> list[EventRecord]:
            first, step, at, text = row
            records = []
            for i, payload in enumerate(json.loads(text)):
                kind = payload.pop("type", "event")
                records.append(EventRecord(run_id, first + i, step, kind, payload, at))
            return records

        if last:
            out: list[EventRecord] = []
            for row in conn.execute("SELECT first_seq, step, at, events FROM event_batches WHERE run_id = ? "
                                    "AND last_seq > ? ORDER BY first_seq DESC", (run_id, after_seq)):
                out[:0] = [e for e in unpack(row) if e.seq > after_seq]
                if len(out) >= last:
                    break
            return out[-last:]
        out = []
        # Batches hold consecutive seqs: start at the one holding `after_seq` (an index seek, so
        # following a long run stays cheap), not at the run's first.
        for row in conn.execute("SELECT first_seq, step, at, events FROM event_batches WHERE run_id = ? "
                                "AND first_seq >= COALESCE((SELECT MAX(first_seq) FROM event_batches "
                                "WHERE run_id = ? AND first_seq <= ?), 0) ORDER BY first_seq",
                                (run_id, run_id, after_seq)):
            out.extend(e for e in unpack(row) if e.seq > after_seq)
            if limit and len(out) >= limit:
                return out[:limit]
        return out

    def last_event_seq(self, run_id: str) -> int:
        return self._call(lambda conn: (conn.execute(
            "SELECT last_seq FROM event_batches WHERE run_id = ? ORDER BY first_seq DESC LIMIT 1",
            (run_id,)).fetchone() or (0,))[0])

    # ---------------------------------------------------------------- tool calls

    def tool_call_started(self, call: ToolCallRecord) -> None:
        self._call(self._tool_started, call, write=True)

    async def atool_call_started(self, call: ToolCallRecord) -> None:
        await self.acall(self._tool_started, call)

    @staticmethod
    def _tool_started(conn, call: ToolCallRecord) -> None:
        conn.execute("INSERT INTO tool_calls VALUES (?, ?, ?, ?, ?, 'started', ?, NULL, NULL, 1, ?, NULL) "
                     "ON CONFLICT (run_id, call_id) DO UPDATE SET status = 'started', attempts = attempts + 1, "
                     "started_at = excluded.started_at, error = NULL",
                     (call.run_id, call.call_id, call.path_id, call.name, _dumps(call.arguments),
                      int(call.idempotent), call.started_at or time.time()))

    async def atool_call_begin(self, call: ToolCallRecord) -> ToolCallRecord | None:
        """Atomically: the stored record of this call if there is one, else record it as started."""
        return await self.acall(self._tool_begin, call)

    def _tool_begin(self, conn, call: ToolCallRecord) -> ToolCallRecord | None:
        existing = self._tool_call(conn, call.run_id, call.call_id)
        if existing is None:
            self._tool_started(conn, call)
        return existing

    def tool_call_finished(self, run_id: str, call_id: str, *, result: Any = None,
                           error: str | None = None) -> None:
        self._call(self._tool_finished, run_id, call_id, result, error, write=True)

    async def atool_call_finished(self, run_id: str, call_id: str, *, result: Any = None,
                                  error: str | None = None) -> None:
        await self.acall(self._tool_finished, run_id, call_id, result, error)

    def tool_call_finished_nowait(self, run_id: str, call_id: str, *, result: Any = None,
                                  error: str | None = None) -> None:
        """Queue the write without waiting (see `put_llm_exchange_nowait`)."""
        self._submit(self._tool_finished, run_id, call_id, result, error, write=True)

    @staticmethod
    def _tool_finished(conn, run_id, call_id, result, error) -> None:
        status = ToolCallStatus.FAILED if error is not None else ToolCallStatus.COMPLETED
        conn.execute("UPDATE tool_calls SET status = ?, result = ?, error = ?, finished_at = ? "
                     "WHERE run_id = ? AND call_id = ?",
                     (status.value, _dumps(result), error, time.time(), run_id, call_id))

    def tool_call(self, run_id: str, call_id: str) -> ToolCallRecord | None:
        return self._call(self._tool_call, run_id, call_id)

    async def atool_call(self, run_id: str, call_id: str) -> ToolCallRecord | None:
        return await self.acall(self._tool_call, run_id, call_id, write=False)

    @staticmethod
    def _tool_call(conn, run_id, call_id) -> ToolCallRecord | None:
        row = conn.execute("SELECT * FROM tool_calls WHERE run_id = ? AND call_id = ?", (run_id, call_id)).fetchone()
        return _tool_call(row) if row else None

    def tool_calls(self, run_id: str) -> list[ToolCallRecord]:
        return self._call(lambda conn: [_tool_call(r) for r in conn.execute(
            "SELECT * FROM tool_calls WHERE run_id = ? ORDER BY started_at, call_id", (run_id,))])

    # ---------------------------------------------------------------- LLM exchanges

    def put_llm_exchange(self, exchange: LLMExchange) -> None:
        self._call(self._put_exchange, exchange, write=True)

    async def aput_llm_exchange(self, exchange: LLMExchange) -> None:
        await self.acall(self._put_exchange, exchange)

    def put_llm_exchange_nowait(self, exchange: LLMExchange) -> None:
        """Queue the write without waiting: any later commit of this process is ordered after it
        (the store thread is first in, first out, and an inline commit never overtakes it)."""
        self._submit(self._put_exchange, exchange, write=True)

    @staticmethod
    def _put_exchange(conn, ex: LLMExchange) -> None:
        conn.execute("INSERT OR REPLACE INTO llm_exchanges VALUES (?, ?, ?, ?, ?)",
                     (ex.run_id, ex.key, _dumps(ex.request), _dumps(ex.reply), ex.at or time.time()))

    def llm_exchange(self, run_id: str, key: str) -> LLMExchange | None:
        return self._call(self._exchange, run_id, key)

    async def allm_exchange(self, run_id: str, key: str) -> LLMExchange | None:
        return await self.acall(self._exchange, run_id, key, write=False)

    @staticmethod
    def _exchange(conn, run_id, key) -> LLMExchange | None:
        row = conn.execute("SELECT * FROM llm_exchanges WHERE run_id = ? AND key = ?", (run_id, key)).fetchone()
        return _exchange(row) if row else None

    def llm_exchanges(self, run_id: str) -> list[LLMExchange]:
        return self._call(lambda conn: [_exchange(r) for r in conn.execute(
            "SELECT * FROM llm_exchanges WHERE run_id = ? ORDER BY at, key", (run_id,))])

    # ---------------------------------------------------------------- maintenance

    def schema_version(self) -> int:
        return self._call(lambda conn: conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0])

    def integrity_check(self) -> str:
        return self._call(lambda conn: conn.execute("PRAGMA integrity_check").fetchone()[0])
