"""Security tests: who may do what (test_matrix), CSRF on every POST (test_csrf). What they share: the
state a refused call must leave exactly as it was."""

import io
from pathlib import Path

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core import mail
from PIL import Image

from jss.models import JssExclusion, ScoreSnapshot, ScoreUpdate
from marketplace import models as m
from requests_app.models import RemovalRequest, RequestEvent


def png_bytes(size=(90, 60)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (20, 128, 74)).save(buffer, format="PNG")
    return buffer.getvalue()


def state(media_root, areas=None) -> dict:
    """Every row a person on these pages could change, and the stored screenshots, by area (or only the
    ``areas`` named). Sessions and ``last_login`` are left out: signing in is not a change to the data."""
    User = get_user_model()

    def rows(model, *fields):
        ordered = model.objects.order_by("pk")
        return list(ordered.values_list(*fields) if fields else ordered.values())

    def files():
        root = Path(media_root)
        return sorted((p.relative_to(root).as_posix(), p.read_bytes()) for p in root.rglob("*") if p.is_file())

    readers = {
        "tickets": lambda: rows(RemovalRequest),
        "timeline": lambda: rows(RequestEvent),
        "exclusions": lambda: rows(JssExclusion),
        "feedback": lambda: rows(m.Feedback),
        "marketplace": lambda: [
            rows(model)
            for model in (m.Freelancer, m.Agency, m.AgencyMembership, m.Client, m.Contract, m.TopRatedPeriod)
        ],
        "scores": lambda: [rows(ScoreSnapshot), rows(ScoreUpdate)],
        "accounts": lambda: [
            rows(User, "pk", "username", "password", "email", "is_active", "is_staff", "is_superuser"),
            rows(User.groups.through, "user_id", "group_id"),
            rows(User.user_permissions.through, "user_id", "permission_id"),
            rows(Group, "pk", "name"),
            rows(Group.permissions.through, "group_id", "permission_id"),
            Permission.objects.count(),
        ],
        # django-axes: lockouts and the log of sign-ins and sign-outs.
        "login-records": lambda: [rows(AccessAttempt), rows(AccessLog), rows(AccessFailureLog)],
        "files": files,
        "mail": lambda: len(mail.outbox),
    }
    return {area: read() for area, read in readers.items() if areas is None or area in areas}
