"""perkdesk.permissions: a user's permissions in one query, the same answers as Django's ModelBackend."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission

from perkdesk.permissions import ModelBackendOneQuery
from tests import factories as f

pytestmark = pytest.mark.django_db


def fresh(user):
    return get_user_model().objects.get(pk=user.pk)  # no permission cache carried over


@pytest.fixture
def users():
    own = f.UserFactory(is_staff=True)
    own.user_permissions.add(Permission.objects.get(codename="view_reports"))
    both = f.UserFactory(agent=True)
    both.user_permissions.add(Permission.objects.get(codename="reassign_removalrequest"))
    return {
        "agent": f.UserFactory(agent=True),
        "lead": f.UserFactory(lead=True),
        "own permission only": own,
        "group and own": both,
        "superuser": f.UserFactory(is_staff=True, is_superuser=True),
        "inactive agent": f.UserFactory(agent=True, is_active=False),
        "nobody": f.UserFactory(),
    }


@pytest.mark.parametrize(
    "name", ["agent", "lead", "own permission only", "group and own", "superuser", "inactive agent", "nobody"]
)
def test_the_same_permissions_as_django_in_one_query(users, name, django_assert_num_queries):
    expected = ModelBackend().get_all_permissions(fresh(users[name]))
    user = fresh(users[name])
    with django_assert_num_queries(1 if users[name].is_active else 0):
        assert ModelBackendOneQuery().get_all_permissions(user) == expected
        for perm in ("requests_app.approve_removalrequest", "requests_app.view_reports", "auth.add_user"):
            assert ModelBackendOneQuery().has_perm(user, perm) == (perm in expected)
    if name in ("agent", "lead", "group and own"):
        assert "requests_app.claim_removalrequest" in expected
