"""Beat's heartbeat: if beat dies, the SLA alerts and the lost-message recovery stop silently, so every tick
touches a file (compose's healthcheck reads its age) and, at most once a minute, the ``beat`` heartbeat row
(/healthz, /metrics)."""

import logging
import time
from pathlib import Path

from celery.beat import PersistentScheduler
from django.conf import settings

logger = logging.getLogger(__name__)
ROW_EVERY_SECONDS = 60


class HeartbeatScheduler(PersistentScheduler):
    _last_row = 0.0

    def tick(self, *args, **kwargs):
        interval = super().tick(*args, **kwargs)
        self.heartbeat()
        return interval

    def heartbeat(self):
        path = Path(settings.BEAT_HEARTBEAT_FILE)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        except OSError:
            logger.warning("beat could not touch its heartbeat file %s", path, exc_info=True)
        if time.monotonic() - self._last_row < ROW_EVERY_SECONDS:
            return
        from django.db import close_old_connections

        from perkdesk.ops import heartbeats

        try:
            close_old_connections()
            heartbeats.record(heartbeats.BEAT)
        except Exception:  # noqa: BLE001 - the database away must not stop beat; the next tick tries again
            logger.warning("beat could not record its heartbeat", exc_info=True)
        else:
            self._last_row = time.monotonic()
