"""The run store interface: what durable runs need from a backend, independent of SQLite.

A backend keeps runs (machine source, status, ownership), the latest checkpoint of each run (the
runtime state as JSON), the run's events, its tool calls and its recorded LLM exchanges. All methods
are synchronous; `SQLiteStore` also offers awaitable variants that run off the event loop.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import socket
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Iterable, Optional


class RunStatus(str, Enum):
    PENDING = "pending"        # created, not started yet (e.g. a detached run before its process starts)
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"  # its process died (stale heartbeat); resumable

    @property
    def is_final(self) -> bool:
        return self in (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED)


class StoreError(Exception):
    """A user-facing store problem (unknown run, id taken, run owned by a live process)."""


class RunNotFound(StoreError):
    def __init__(self, run_id: str):
        super().__init__(f"no run with id '{run_id}'")
        self.run_id = run_id


class RunExists(StoreError):
    def __init__(self, run_id: str):
        super().__init__(f"a run with id '{run_id}' already exists (use --force to replace it)")
        self.run_id = run_id


class RunBusy(StoreError):
    def __init__(self, run_id: str, pid: int | None, host: str | None):
        super().__init__(f"run '{run_id}' is still running (pid {pid} on {host})")
        self.run_id = run_id


class RunTakenOver(StoreError):
    def __init__(self, run_id: str, pid: int | None, host: str | None):
        super().__init__(f"run '{run_id}' was taken over by process {pid} on {host}; this process stopped "
                         f"writing to it")
        self.run_id = run_id


HOST = socket.gethostname()
# A run whose owner has not beaten for this long is considered dead.
STALE_AFTER = float(os.environ.get("DYGRAPH_STALE_AFTER", "15"))
HEARTBEAT_EVERY = float(os.environ.get("DYGRAPH_HEARTBEAT_EVERY", "3"))


def default_home() -> Path:
    return Path(os.environ.get("DYGRAPH_HOME") or Path.home() / ".dygraph").expanduser()


def default_db_path() -> Path:
    return default_home() / "runs.db"


def source_hash(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()


def new_run_id(machine: str | None) -> str:
    slug = "".join(c if c.isalnum() else "-" for c in (machine or "run").lower()).strip("-")[:24] or "run"
    return f"{slug}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{secrets.token_hex(3)}"


def process_alive(pid: int) -> bool:
    """True when `pid` is a live (not zombie) process on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


@dataclass(slots=True)
class RunRecord:
    id: str
    machine: str
    status: RunStatus
    created_at: float
    updated_at: float
    machine_file: Optional[str] = None
    source: str = ""
    source_hash: str = ""
    ir: Optional[str] = None  # the compiled machine (IR JSON) the run executes
    parent_id: Optional[str] = None
    options: dict[str, Any] = field(default_factory=dict)
    step: int = 0  # checkpoints committed
    error: Optional[str] = None
    result: Optional[dict[str, Any]] = None
    heartbeat_at: Optional[float] = None
    owner_pid: Optional[int] = None
    owner_host: Optional[str] = None
    cancel_requested: bool = False
    steps: int = 0  # the runtime's step count at the last checkpoint

    def owner_alive(self, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        if self.owner_pid is None:
            return False
        if self.owner_host == HOST and not process_alive(self.owner_pid):
            return False
        return self.heartbeat_at is not None and now - self.heartbeat_at < STALE_AFTER

    def effective_status(self, now: float | None = None) -> RunStatus:
        """The stored status, except that a running/pending run whose process is gone is `interrupted`."""
        if self.status is RunStatus.RUNNING and self.owner_pid is None:  # its process let go of it
            return RunStatus.INTERRUPTED
        if self.status in (RunStatus.RUNNING, RunStatus.PENDING) and self.owner_pid is not None \
                and not self.owner_alive(now):
            return RunStatus.INTERRUPTED
        return self.status

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "machine": self.machine, "file": self.machine_file,
                "status": self.effective_status().value, "steps": self.steps, "checkpoint": self.step,
                "parent": self.parent_id,
                "created_at": self.created_at, "updated_at": self.updated_at, "error": self.error}


@dataclass(slots=True)
class EventRecord:
    run_id: str
    seq: int
    step: int
    type: str
    payload: dict[str, Any]
    at: float

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "step": self.step, "type": self.type, "at": self.at, **self.payload}


class ToolCallStatus(str, Enum):
    STARTED = "started"
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass(slots=True)
class ToolCallRecord:
    run_id: str
    call_id: str
    name: str
    arguments: Any
    status: ToolCallStatus
    path_id: Optional[str] = None
    idempotent: bool = True
    result: Any = None
    error: Optional[str] = None
    started_at: float = 0.0
    finished_at: Optional[float] = None
    attempts: int = 1


class JSONText(str):
    """A value that is already JSON text: stored as it is, not encoded again."""


@dataclass(slots=True)
class LLMExchange:
    run_id: str
    key: str
    request: Any
    reply: Any
    at: float = 0.0


class RunStore(ABC):
    """A place where runs survive their process."""

    # --- runs ---
    @abstractmethod
    def create_run(self, *, machine: str, source: str = "", ir: str | None = None,
                   machine_file: str | None = None, run_id: str | None = None,
                   parent_id: str | None = None, options: dict | None = None, force: bool = False,
                   status: RunStatus = RunStatus.RUNNING, owned: bool = True) -> RunRecord: ...

    @abstractmethod
    def get_run(self, run_id: str) -> RunRecord | None: ...

    def require_run(self, run_id: str) -> RunRecord:
        run = self.get_run(run_id)
        if run is None:
            raise RunNotFound(run_id)
        return run

    @abstractmethod
    def list_runs(self, *, statuses: Iterable[str] | None = None, machine: str | None = None,
                  limit: int | None = None) -> list[RunRecord]: ...

    @abstractmethod
    def delete_run(self, run_id: str) -> bool: ...

    @abstractmethod
    def claim_run(self, run_id: str, *, force: bool = False) -> RunRecord:
        """Make this process the owner of a run (resume); refuses while another live process owns it."""

    @abstractmethod
    def update_run(self, run_id: str, *, status: RunStatus | None = None, error: str | None = None,
                   result: dict | None = None, source: str | None = None, ir: str | None = None,
                   release: bool = False) -> None: ...

    @abstractmethod
    def request_cancel(self, run_id: str) -> RunRecord: ...

    @abstractmethod
    def heartbeat(self, run_ids: Iterable[str]) -> set[str]:
        """Beat for runs owned here; returns those whose cancellation was requested."""

    # --- steps ---
    @abstractmethod
    def commit_step(self, run_id: str, step: int, state: str, events: list[tuple[str, dict]], *,
                    paths: list[tuple] = (), history: list[tuple[str, int, str]] = (), maps: list[tuple] = (),
                    status: RunStatus | None = None, first_seq: int | None = None, steps: int = 0) -> int:
        """Atomically store the run-level state after `step`, its events, the rows of the paths that
        changed `(path_id, JSON | None)`, the new entries of path histories `(path_id, index, node)`
        and the changed entries of per-path maps `(path_id, field, key, value JSON | None)`;
        returns the last event seq."""

    @abstractmethod
    def latest_checkpoint(self, run_id: str) -> tuple[int, str] | None: ...

    @abstractmethod
    def history(self, run_id: str) -> dict[str, list[str]]:
        """Every stored history entry, by path id."""

    @abstractmethod
    def path_states(self, run_id: str) -> dict[str, str]:
        """The stored row of each path of a run, by path id."""

    @abstractmethod
    def path_maps(self, run_id: str) -> dict[str, dict[str, dict[str, Any]]]:
        """Stored per-path maps: path id -> field -> key -> value."""

    @abstractmethod
    def events(self, run_id: str, *, after_seq: int = 0, limit: int | None = None,
               last: int | None = None) -> list[EventRecord]: ...

    @abstractmethod
    def last_event_seq(self, run_id: str) -> int: ...

    # --- tool calls and LLM exchanges ---
    @abstractmethod
    def tool_call_started(self, call: ToolCallRecord) -> None: ...

    @abstractmethod
    def tool_call_finished(self, run_id: str, call_id: str, *, result: Any = None,
                           error: str | None = None) -> None: ...

    @abstractmethod
    def tool_call(self, run_id: str, call_id: str) -> ToolCallRecord | None: ...

    @abstractmethod
    def tool_calls(self, run_id: str) -> list[ToolCallRecord]: ...

    @abstractmethod
    def put_llm_exchange(self, exchange: LLMExchange) -> None: ...

    @abstractmethod
    def llm_exchange(self, run_id: str, key: str) -> LLMExchange | None: ...

    @abstractmethod
    def llm_exchanges(self, run_id: str) -> list[LLMExchange]: ...

    def close(self) -> None:  # pragma: no cover - trivial default
        pass
