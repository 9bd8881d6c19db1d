"""Agent tasks and their events, kept in SQLite, with the lifecycle Pulumi Cloud gives them.

One connection guarded by a lock serves every request thread: SQLite serialises writers anyway, and
a single connection is the only way to share an in-memory database. Values that move with time
(status, runtime phase, token counts, heartbeat) are derived on read from a few stored instants, so
nothing needs a background thread. The scripted agent's events (`emulator/agent.py`) are written
the same way: a run's steps wait in the task's `_run` field and every operation on the task first
stores the steps whose time has come, stamped with that time, so the clock alone drives a run.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from terraform_provider_pulumiservice.emulator import agent
from terraform_provider_pulumiservice.emulator.model import (
    ApiError,
    CreateTaskParams,
    EntityDiff,
    ListEventsQuery,
    ListTasksQuery,
    RespondParams,
    UpdateTaskParams,
    events_token,
    generated_task_name,
    list_token,
    rfc3339,
)

CONTEXT_WINDOW_TOKENS = 200_000
CONTEXT_COMPACTION_THRESHOLD_PERCENT = 80
# While a task runs, its usage grows at this pace (the emulated agent "thinks").
TOKENS_PER_SECOND = 40
CONTEXT_TOKENS_PER_SECOND = 120
REPLY_OUTPUT_TOKENS = agent.REPLY_OUTPUT_TOKENS
# The task's pending run (see `TaskStore._advance`); not an AgentTask property, never served.
RUN_KEY = "_run"

# run_state values: "active" runs until idle_after seconds past activity_start; "pinned" runs until
# told otherwise (forced through the control endpoint); "idle" was stopped explicitly at idle_since.
ACTIVE, PINNED, IDLE = "active", "pinned", "idle"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    org TEXT NOT NULL,
    id TEXT NOT NULL,
    created REAL NOT NULL,
    last_event REAL NOT NULL,
    activity_start REAL NOT NULL,
    run_state TEXT NOT NULL,
    idle_since REAL,
    tokens_base INTEGER NOT NULL,
    context_base INTEGER NOT NULL,
    owner TEXT NOT NULL,
    fields TEXT NOT NULL,
    UNIQUE (org, id)
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    org TEXT NOT NULL,
    task_id TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_task ON events (org, task_id, seq);
"""

_TASK_COLUMNS = (
    "seq, org, id, created, last_event, activity_start, run_state, idle_since, "
    "tokens_base, context_base, owner, fields"
)


def _estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4)


@dataclass
class TaskRecord:
    """One stored task. `fields` holds the AgentTask properties that only change on request, and
    under RUN_KEY the current run of the scripted agent:

    `start` (when it began), `pace` (seconds per step; None spreads the steps over idle_after),
    `steps` (lists of event bodies), `next` (how many steps are stored as events), `approval` (what
    follows the approval request the run ends with), `awaiting` (the approval the task waits for,
    once that request is out) and `task_pace` (a pace the task's prompt asked for).
    """

    seq: int
    org: str
    task_id: str
    created: float
    last_event: float
    activity_start: float
    run_state: str
    idle_since: float | None
    tokens_base: int
    context_base: int
    owner: str
    fields: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> TaskRecord:
        seq, org, task_id, created, last_event, activity_start, run_state, idle_since = row[:8]
        tokens_base, context_base, owner, fields = row[8:]
        return cls(
            seq,
            org,
            task_id,
            created,
            last_event,
            activity_start,
            run_state,
            idle_since,
            tokens_base,
            context_base,
            owner,
            json.loads(fields),
        )

    # --- time-derived state -------------------------------------------------------------------

    def run(self) -> dict[str, Any] | None:
        run = self.fields.get(RUN_KEY)
        return run if isinstance(run, dict) else None

    def run_length(self, idle_after: float) -> float:
        """How long the current run lasts: until its last step is due."""
        run = self.run()
        if run is None or run.get("pace") is None or not run["steps"]:
            return idle_after
        return float(run["pace"]) * len(run["steps"])

    def is_running(self, now: float, idle_after: float) -> bool:
        if self.run_state == PINNED:
            return True
        return self.run_state == ACTIVE and now < self.activity_start + self.run_length(idle_after)

    def _run_seconds(self, now: float, idle_after: float) -> float:
        """How long the current (or most recent) activity window has been running."""
        if self.run_state == PINNED:
            return max(0.0, now - self.activity_start)
        if self.run_state == ACTIVE:
            return max(0.0, min(now - self.activity_start, self.run_length(idle_after)))
        return 0.0

    def tokens_used(self, now: float, idle_after: float) -> int:
        return self.tokens_base + int(self._run_seconds(now, idle_after) * TOKENS_PER_SECOND)

    def context_used(self, now: float, idle_after: float) -> int:
        grown = self.context_base + int(
            self._run_seconds(now, idle_after) * CONTEXT_TOKENS_PER_SECOND
        )
        return min(grown, CONTEXT_WINDOW_TOKENS)

    def runtime_phase(self, now: float, idle_after: float) -> str:
        if not self.is_running(now, idle_after):
            return "ready"
        if self.activity_start != self.created:
            return "running"
        # The first activity window boots the runtime: booting, then ready, then running.
        elapsed = now - self.activity_start
        boot_span = min(self.run_length(idle_after), 10.0)
        if elapsed < boot_span * 0.2:
            return "booting"
        if elapsed < boot_span * 0.4:
            return "ready"
        return "running"

    def last_heartbeat(self, now: float, idle_after: float) -> float:
        if self.is_running(now, idle_after):
            return now
        if self.run_state == IDLE and self.idle_since is not None:
            return self.idle_since
        return self.activity_start + self.run_length(idle_after)

    def sort_key(self, sort_by: str, now: float, idle_after: float) -> Any:
        if sort_by == "created":
            return self.created
        if sort_by == "status":
            # Running sorts before idle in ascending order.
            return 0 if self.is_running(now, idle_after) else 1
        if sort_by == "name":
            return str(self.fields.get("name", ""))
        if sort_by == "tokensUsed":
            return self.tokens_used(now, idle_after)
        return self.last_event

    def to_agent_task(self, now: float, idle_after: float) -> dict[str, Any]:
        """The AgentTask JSON, in the spec's property order, omitting properties with no value."""
        f = self.fields
        task: dict[str, Any] = {
            "id": self.task_id,
            "name": f["name"],
            "taskType": f.get("taskType", "sync"),
            "status": "running" if self.is_running(now, idle_after) else "idle",
            "createdAt": rfc3339(self.created),
            "approvalMode": f["approvalMode"],
            "entities": f.get("entities", []),
            "planMode": f.get("planMode", False),
            "isShared": f.get("isShared", False),
        }
        if f.get("sharedAt") is not None:
            task["sharedAt"] = f["sharedAt"]
        task["createdBy"] = f["createdBy"]
        task["permissionMode"] = f["permissionMode"]
        if f.get("role") is not None:
            task["role"] = f["role"]
        task["runtimePhase"] = self.runtime_phase(now, idle_after)
        task["lastHeartbeat"] = rfc3339(self.last_heartbeat(now, idle_after))
        task["contextUsedTokens"] = self.context_used(now, idle_after)
        task["contextWindowTokens"] = CONTEXT_WINDOW_TOKENS
        task["contextCompactionThresholdPercent"] = CONTEXT_COMPACTION_THRESHOLD_PERCENT
        task["tokensUsed"] = self.tokens_used(now, idle_after)
        task["toolExecutionMode"] = f["toolExecutionMode"]
        task["source"] = f["source"]
        return task


@dataclass(frozen=True)
class EventPage:
    events: list[dict[str, Any]]
    continuation_token: str | None
    last_seq: int
    seqs: list[int] = field(default_factory=list)  # each event's position, for the stream


class TaskStore:
    """Thread-safe task storage and lifecycle. Every public method takes the lock once."""

    def __init__(
        self,
        db_path: str | None = None,
        idle_after: float = 2.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.idle_after = idle_after
        # The scripted agent's settings (also reachable through POST /_emulator/config); a prompt
        # marker overrides outcome and pace for its task.
        self.agent_pace: float | None = None
        self.agent_outcome = "success"
        self.default_approval_mode = "manual"
        self._clock = clock
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(db_path or ":memory:", check_same_thread=False)
        if db_path:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)
        self._conn.commit()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # --- internals (caller holds the lock) ------------------------------------------------------

    def _load(self, org: str, task_id: str) -> TaskRecord:
        row = self._conn.execute(
            f"SELECT {_TASK_COLUMNS} FROM tasks WHERE org = ? AND id = ?", (org, task_id)
        ).fetchone()
        if row is None:
            raise ApiError(404, f"task {task_id!r} not found in organization {org!r}")
        return TaskRecord.from_row(row)

    def _save(self, record: TaskRecord) -> None:
        self._conn.execute(
            "UPDATE tasks SET last_event = ?, activity_start = ?, run_state = ?, idle_since = ?, "
            "tokens_base = ?, context_base = ?, fields = ? WHERE seq = ?",
            (
                record.last_event,
                record.activity_start,
                record.run_state,
                record.idle_since,
                record.tokens_base,
                record.context_base,
                json.dumps(record.fields),
                record.seq,
            ),
        )

    def _fold_usage(self, record: TaskRecord, now: float) -> None:
        """Bank the usage accrued so far, so a state change never makes counters go backwards."""
        record.tokens_base = record.tokens_used(now, self.idle_after)
        record.context_base = record.context_used(now, self.idle_after)

    def _append_event(self, record: TaskRecord, event: dict[str, Any], now: float) -> None:
        self._conn.execute(
            "INSERT INTO events (org, task_id, body) VALUES (?, ?, ?)",
            (record.org, record.task_id, json.dumps(event)),
        )
        record.last_event = now

    def _user_input(self, user_event: dict[str, Any], now: float) -> dict[str, Any]:
        body = dict(user_event)
        if body.get("timestamp") is None:
            body["timestamp"] = rfc3339(now)
        return {
            "id": str(uuid.uuid4()),
            "isSynthetic": False,
            "type": "userInput",
            "eventBody": body,
        }

    def _charge(self, record: TaskRecord, prompt: str) -> int:
        """Charge reading `prompt` and answering it to the task; the input tokens of the answer."""
        input_tokens = record.context_base + _estimate_tokens(prompt)
        record.context_base = min(input_tokens, CONTEXT_WINDOW_TOKENS)
        record.tokens_base += input_tokens + REPLY_OUTPUT_TOKENS
        return input_tokens

    def _start_run(self, record: TaskRecord, script: agent.Script, pace: float | None) -> None:
        previous = record.run() or {}
        task_pace = pace if pace is not None else previous.get("task_pace")
        record.fields[RUN_KEY] = {
            "start": record.activity_start,
            "pace": task_pace if task_pace is not None else self.agent_pace,
            "task_pace": task_pace,
            "steps": script.steps,
            "next": 0,
            "approval": script.approval,
            "awaiting": None,
        }

    def _advance(self, record: TaskRecord, now: float) -> bool:
        """Store the run's steps that are due by `now`; True when the record changed."""
        run = record.run()
        if run is None or run["next"] >= len(run["steps"]):
            return False
        length, count = record.run_length(self.idle_after), len(run["steps"])
        changed = False
        while run["next"] < count:
            step = run["next"] + 1
            # The last step is due exactly when the task turns idle (no rounding in between).
            due = float(run["start"]) + (length if step == count else length * step / count)
            if due > now:
                break
            for body in run["steps"][run["next"]]:
                stamped = {"type": body["type"], "timestamp": rfc3339(due)}
                stamped.update({k: v for k, v in body.items() if k != "type"})
                self._append_event(record, self._backend_event(stamped, synthetic=False), due)
            run["next"] += 1
            changed = True
        if run["next"] == count and run.get("approval") is not None:
            run["awaiting"], run["approval"] = run["approval"], None
        return changed

    def _advance_and_save(self, record: TaskRecord, now: float) -> None:
        if self._advance(record, now):
            self._save(record)

    def _backend_event(self, body: dict[str, Any], synthetic: bool = True) -> dict[str, Any]:
        return {
            "id": str(uuid.uuid4()),
            "isSynthetic": synthetic,
            "type": "agentResponse",
            "eventBody": body,
        }

    def _apply_entities(self, record: TaskRecord, diff: EntityDiff) -> None:
        if diff.add or diff.remove:
            record.fields["entities"] = diff.apply(list(record.fields.get("entities", [])))

    # --- the API operations --------------------------------------------------------------------

    def create(self, org: str, creator: dict[str, str], params: CreateTaskParams) -> str:
        now = self._clock()
        task_id = str(uuid.uuid4())
        fields: dict[str, Any] = {
            "name": generated_task_name(params.content),
            "taskType": "sync",
            "approvalMode": params.approval_mode or self.default_approval_mode,
            "entities": params.entity_diff.apply([]),
            "planMode": bool(params.plan_mode),
            "isShared": False,
            "createdBy": creator,
            "permissionMode": params.permission_mode or "default",
            "toolExecutionMode": params.tool_execution_mode or "cloud",
            "source": params.source or "api",
        }
        if params.role is not None:
            fields["role"] = params.role
        with self._lock, self._conn:
            self._conn.execute(
                f"INSERT INTO tasks ({_TASK_COLUMNS}) "
                "VALUES (NULL, ?, ?, ?, ?, ?, ?, NULL, 0, 0, ?, ?)",
                (org, task_id, now, now, now, ACTIVE, creator["githubLogin"], json.dumps(fields)),
            )
            record = self._load(org, task_id)
            self._append_event(record, self._user_input(params.message, now), now)
            knobs = agent.parse_knobs(params.content)
            script = agent.first_run(
                params.content,
                fields["name"],
                outcome=knobs.outcome or self.agent_outcome,
                needs_approval=fields["approvalMode"] == "manual",
                plan_mode=fields["planMode"],
                input_tokens=self._charge(record, params.content),
            )
            self._start_run(record, script, knobs.pace)
            self._advance(record, now)
            self._save(record)
        return task_id

    def get(self, org: str, task_id: str) -> dict[str, Any]:
        now = self._clock()
        with self._lock, self._conn:
            record = self._load(org, task_id)
            self._advance_and_save(record, now)
        return record.to_agent_task(now, self.idle_after)

    def list_tasks(
        self, org: str, query: ListTasksQuery
    ) -> tuple[list[dict[str, Any]], str | None]:
        now = self._clock()
        with self._lock, self._conn:
            rows = self._conn.execute(
                f"SELECT {_TASK_COLUMNS} FROM tasks WHERE org = ?", (org,)
            ).fetchall()
            records = [TaskRecord.from_row(row) for row in rows]
            for record in records:
                self._advance_and_save(record, now)
        if query.task_type is not None:
            records = [r for r in records if r.fields.get("taskType", "sync") == query.task_type]
        keyed = [((r.sort_key(query.sort_by, now, self.idle_after), r.seq), r) for r in records]
        keyed.sort(key=lambda pair: pair[0], reverse=query.descending)
        if query.after is not None:
            after = query.after
            try:
                if query.descending:
                    keyed = [pair for pair in keyed if pair[0] < after]
                else:
                    keyed = [pair for pair in keyed if pair[0] > after]
            except TypeError:
                raise ApiError(400, "invalid continuationToken") from None
        page = keyed[: query.page_size]
        token = None
        if len(keyed) > query.page_size:
            last_key, last_seq = page[-1][0]
            token = list_token(query, last_key, last_seq)
        return [r.to_agent_task(now, self.idle_after) for _, r in page], token

    def update(
        self, org: str, task_id: str, login: str, params: UpdateTaskParams
    ) -> dict[str, Any]:
        now = self._clock()
        with self._lock, self._conn:
            record = self._load(org, task_id)
            self._advance(record, now)
            if record.owner != login:
                raise ApiError(404, "task not found or not owned by user")
            if params.name is not None:
                record.fields["name"] = params.name
            if params.is_shared is not None:
                record.fields["isShared"] = params.is_shared
                if params.is_shared and record.fields.get("sharedAt") is None:
                    record.fields["sharedAt"] = rfc3339(now)
            if params.approval_mode is not None:
                record.fields["approvalMode"] = params.approval_mode
            if params.permission_mode is not None:
                record.fields["permissionMode"] = params.permission_mode
            self._save(record)
        return record.to_agent_task(now, self.idle_after)

    def respond(self, org: str, task_id: str, params: RespondParams) -> None:
        now = self._clock()
        with self._lock, self._conn:
            record = self._load(org, task_id)
            self._advance(record, now)
            if record.is_running(now, self.idle_after):
                raise ApiError(409, "cannot respond while a request is still ongoing")
            self._apply_entities(record, params.entity_diff)
            self._append_event(record, self._user_input(params.event, now), now)
            run = record.run() or {}
            awaiting = run.get("awaiting")
            event = params.event
            if params.event_type == "user_cancel":
                run["awaiting"] = None  # the pending approval is withdrawn; nothing runs
            else:
                self._fold_usage(record, now)
                record.run_state, record.activity_start, record.idle_since = ACTIVE, now, None
                prompt = str(event.get("content") or params.event_type)
                input_tokens = self._charge(record, prompt)
                still_waiting = None
                if awaiting is not None and event.get("approval_request_id") == awaiting["id"]:
                    steps = awaiting["approved"] if event.get("ok") else awaiting["rejected"]
                    script = agent.Script(steps)
                elif awaiting is not None:
                    # Blocked on the approval: the agent can only say so (awaiting_approvals).
                    script, still_waiting = agent.awaiting_run(), awaiting
                else:
                    script = agent.reply_run(prompt, input_tokens)
                self._start_run(record, script, agent.parse_knobs(prompt).pace)
                self._advance(record, now)
                record.fields[RUN_KEY]["awaiting"] = still_waiting
            self._save(record)

    def cancel(self, org: str, task_id: str) -> None:
        now = self._clock()
        with self._lock, self._conn:
            record = self._load(org, task_id)
            self._advance(record, now)
            if not record.is_running(now, self.idle_after):
                raise ApiError(409, "task is not running")
            self._stop(record, now)
            cancelled = {
                "type": "cancelled",
                "timestamp": rfc3339(now),
                "operation_was_running": True,
            }
            self._append_event(record, self._backend_event(cancelled), now)
            self._save(record)

    def _stop(self, record: TaskRecord, now: float) -> None:
        """Stop the task now: the run's steps not yet due never happen (the caller advanced it)."""
        self._fold_usage(record, now)
        record.run_state, record.idle_since = IDLE, now
        run = record.run()
        if run is not None:
            del run["steps"][run["next"] :]
            run["approval"] = None

    def events(self, org: str, task_id: str, query: ListEventsQuery) -> EventPage:
        now = self._clock()
        with self._lock, self._conn:
            self._advance_and_save(self._load(org, task_id), now)
            rows = self._conn.execute(
                "SELECT seq, body FROM events WHERE org = ? AND task_id = ? AND seq > ? "
                "ORDER BY seq LIMIT ?",
                (org, task_id, query.after_seq, query.page_size + 1),
            ).fetchall()
        page = rows[: query.page_size]
        last_seq = page[-1][0] if page else query.after_seq
        token = events_token(last_seq) if len(rows) > query.page_size else None
        events = [json.loads(body) for _, body in page]
        return EventPage(events, token, last_seq, [int(seq) for seq, _ in page])

    def event_seq(self, org: str, task_id: str, event_id: str) -> int:
        """The position of event `event_id` of the task (for Last-Event-ID), else a 400."""
        with self._lock:
            self._load(org, task_id)
            rows = self._conn.execute(
                "SELECT seq, body FROM events WHERE org = ? AND task_id = ? ORDER BY seq",
                (org, task_id),
            ).fetchall()
        for seq, body in rows:
            if json.loads(body).get("id") == event_id:
                return int(seq)
        raise ApiError(400, f"Last-Event-ID {event_id!r} is not an event of task {task_id!r}")

    def is_running(self, org: str, task_id: str) -> bool:
        with self._lock:
            record = self._load(org, task_id)
        return record.is_running(self._clock(), self.idle_after)

    # --- control-plane operations ----------------------------------------------------------------

    def all_tasks(self) -> list[tuple[str, dict[str, Any]]]:
        now = self._clock()
        with self._lock, self._conn:
            rows = self._conn.execute(f"SELECT {_TASK_COLUMNS} FROM tasks ORDER BY seq").fetchall()
            records = [TaskRecord.from_row(row) for row in rows]
            for record in records:
                self._advance_and_save(record, now)
        return [(r.org, r.to_agent_task(now, self.idle_after)) for r in records]

    def delete(self, org: str, task_id: str) -> None:
        with self._lock, self._conn:
            self._load(org, task_id)
            self._conn.execute("DELETE FROM tasks WHERE org = ? AND id = ?", (org, task_id))
            self._conn.execute("DELETE FROM events WHERE org = ? AND task_id = ?", (org, task_id))

    def force_status(self, org: str, task_id: str, status: str) -> None:
        now = self._clock()
        with self._lock, self._conn:
            record = self._load(org, task_id)
            self._advance(record, now)
            if status == "running":
                self._fold_usage(record, now)
                record.run_state, record.activity_start, record.idle_since = PINNED, now, None
            else:
                self._stop(record, now)
            self._save(record)
