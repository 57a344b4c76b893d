"""Structured logs: one JSON object per line, so the platform's log shipper needs no parsing rules.

Web, worker and beat use the same formatter; ``ContextFilter`` adds the request id of the web request being
served (``perkdesk.ops.requestid``) and the name and id of the Celery task being run."""

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
# The ticket a web request is about (its URL names it), for the log lines of that request.
request_ticket: ContextVar[str | None] = ContextVar("request_ticket", default=None)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        # Anything passed with extra={...} travels as its own key.
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_") and key not in payload:
                payload[key] = value
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


class ContextFilter(logging.Filter):
    """Adds ``request_id`` (web) or ``task_name``/``task_id`` (worker) to every record that has none."""

    def filter(self, record: logging.LogRecord) -> bool:
        current = request_id.get()
        if current and not hasattr(record, "request_id"):
            record.request_id = current
            ticket = request_ticket.get()
            if ticket and not hasattr(record, "ticket"):
                record.ticket = ticket
        task = _current_task()
        if task is not None and not hasattr(record, "task_id"):
            record.task_name, record.task_id = task.name, task.request.id
            ticket = _ticket_of(task)
            if ticket and not hasattr(record, "ticket"):
                record.ticket = ticket
        return True


def _current_task():
    try:
        from celery import current_task
    except ImportError:  # pragma: no cover - celery is a runtime dependency
        return None
    task = current_task._get_current_object() if current_task else None
    if task is None or getattr(task.request, "id", None) is None:
        return None
    return task


def _ticket_of(task):
    """The ticket number of a task about one ticket, looked up once before it runs (``perkdesk.celery``)."""
    return getattr(task.request, "perkdesk_ticket", None) or None
