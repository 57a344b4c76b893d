"""seed_demo: the demo world of SPEC §2, made idempotently."""

import pytest
from django.apps import apps
from django.core import serializers
from django.core.management import call_command

from marketplace.models import Agency, Contract
from requests_app import services
from requests_app.models import RemovalRequest

# Real commits: the seed runs through services whose work leaves on commit, as in `make run`.
pytestmark = pytest.mark.django_db(transaction=True)

USERS = ["agent", "lead", "admin", "alice", "bob", "carol", "dave", "erin", "frank", "grace"]


def dump_everything():
    models = [m for label in ("marketplace", "jss", "requests_app") for m in apps.get_app_config(label).get_models()]
    from django.contrib.auth.models import Group, User

    rows = {}
    for model in [*models, User, Group]:
        rows[model._meta.label] = serializers.serialize("json", model.objects.order_by("pk"))
    return rows


@pytest.fixture
def demo(capsys):
    call_command("seed_demo")
    return capsys.readouterr().out


def test_seed_prints_every_login(demo):
    for username in USERS:
        assert f"  {username}" in demo
    assert "perkdesk" in demo


def test_seed_twice_changes_nothing(demo):
    before = dump_everything()
    call_command("seed_demo")
    assert dump_everything() == before


def user(username):
    from django.contrib.auth.models import User

    return User.objects.get(username=username)


def codes(username, number, **kwargs):
    return set(services.check_eligibility(requester=user(username), contract_number=number, **kwargs).codes())


def test_demo_people_are_in_the_situations_the_readme_promises(demo):
    assert codes("alice", "31849001") == set()
    assert codes("bob", "55219001") == {"screenshot_required"}
    assert codes("bob", "55219001", has_screenshot=True) == set()
    assert "account_inactive" in codes("carol", "66309001")
    agency_contract = (
        Contract.objects.filter(agency__public_id="brightline-studio")
        .exclude(freelancer__user__username="erin")
        .first()
    )
    assert codes("dave", agency_contract.number) == set()
    assert codes("erin", agency_contract.number) == {"agency_role_required"}
    assert codes("frank", "81109002") == {"not_top_rated"}
    assert {"cooldown_months", "cooldown_jobs"} <= codes("grace", "9043000")
    assert codes("grace", "90439002") == set()  # the Special Offer contract skips the cooldown


def test_demo_has_rich_histories(demo):
    assert Contract.objects.filter(platform="elance").exists()
    assert Contract.objects.filter(is_special_offer=True).exists()
    assert Contract.objects.filter(agency__isnull=False).count() >= 5
    assert Contract.objects.filter(ended_on__isnull=True).exists()
    assert Contract.objects.values("client").distinct().count() >= 8
    assert Agency.objects.get(public_id="brightline-studio").top_rated_periods.filter(ended_on__isnull=True).exists()
    bob_period = apps.get_model("marketplace", "TopRatedPeriod").objects.get(freelancer__user__username="bob")
    assert bob_period.loss_reason == "jss_dip"


def test_demo_queue_holds_every_status_with_timelines(demo):
    statuses = set(RemovalRequest.objects.values_list("status", flat=True))
    assert statuses == {"submitted", "approved", "applied", "rejected", "withdrawn"}
    for request in RemovalRequest.objects.all():
        kinds = list(request.events.values_list("kind", flat=True))
        assert kinds[0] == "submitted"
        assert request.status == "submitted" or request.status in kinds
    assert set(RemovalRequest.objects.filter(status="applied").values_list("jss_outcome", flat=True)) == {
        "excluded",
        "kept_no_harm",
    }
