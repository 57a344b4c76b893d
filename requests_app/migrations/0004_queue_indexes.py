"""Indexes the agents' queue and /desk/ need at a million requests (bench/admin_queue.py).

- request_open_by_deadline: the open queue (every default view and SLA filter) by deadline, partial so it
  stays as small as the open set;
- request_status_recent: a final status, newest first;
- request_deadline_cover, request_decided_cover, request_applied_cover: the desk's aggregates (SLA
  compliance, time to decision, outcomes, weekly throughput) as index-only scans on PostgreSQL (INCLUDE is
  ignored elsewhere). request_decided_cover replaces request_decided_at.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('requests_app', '0003_final_status_is_final'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='removalrequest',
            name='request_decided_at',
        ),
        migrations.AddIndex(
            model_name='removalrequest',
            index=models.Index(
                condition=models.Q(('status__in', ['submitted', 'approved'])),
                fields=['sla_due_at', 'id'],
                name='request_open_by_deadline',
            ),
        ),
        migrations.AddIndex(
            model_name='removalrequest',
            index=models.Index(fields=['status', '-submitted_at', '-id'], name='request_status_recent'),
        ),
        migrations.AddIndex(
            model_name='removalrequest',
            index=models.Index(fields=['sla_due_at'], include=('status', 'applied_at'), name='request_deadline_cover'),
        ),
        migrations.AddIndex(
            model_name='removalrequest',
            index=models.Index(fields=['decided_at'], include=('submitted_at',), name='request_decided_cover'),
        ),
        migrations.AddIndex(
            model_name='removalrequest',
            index=models.Index(
                condition=models.Q(('status', 'applied')),
                fields=['applied_at'],
                include=('jss_outcome',),
                name='request_applied_cover',
            ),
        ),
    ]
