from django.db import models


class Heartbeat(models.Model):
    """When a periodic process last showed it was alive: ``beat`` (the scheduler) and ``sweep`` (the SLA
    sweep). One row per name, overwritten; ``data`` holds what the last run did (the sweep's counts)."""

    name = models.CharField(max_length=40, primary_key=True)
    beat_at = models.DateTimeField()
    data = models.JSONField(default=dict, blank=True)

    def __str__(self):
        return f"{self.name} at {self.beat_at:%Y-%m-%d %H:%M:%S}"
