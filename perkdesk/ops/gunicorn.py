"""gunicorn's own lines (access and error) as the same JSON as Django's: ``logger_class`` in gunicorn.conf.py."""

import logging

from gunicorn import glogging

from perkdesk.logformat import JsonFormatter


class JsonLogger(glogging.Logger):
    def setup(self, cfg):
        super().setup(cfg)
        formatter = JsonFormatter()
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(formatter)

    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        headers = dict((name.lower(), value) for name, value in (resp.headers or []))
        extra = {
            "method": req.method,
            "path": req.path,
            "status": int(status) if str(status).isdigit() else status,
            "duration_ms": round(request_time.total_seconds() * 1000, 1),
            "bytes": getattr(resp, "sent", None),
            "remote_addr": environ.get("REMOTE_ADDR"),
            "user_agent": environ.get("HTTP_USER_AGENT"),
        }
        if "x-request-id" in headers:
            extra["request_id"] = headers["x-request-id"]
        try:
            self.access_log.log(logging.INFO, "%s %s %s", req.method, req.path, status, extra=extra)
        except Exception:  # noqa: BLE001 - as gunicorn does: a broken log line is an error line, not a crash
            self.exception("access log failed")
