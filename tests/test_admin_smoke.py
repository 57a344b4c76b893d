"""Every admin page a superuser can reach: list, search and change page for each model; nothing that
changes marketplace feedback or exclusions is offered."""

import pytest
from django.contrib import admin
from django.urls import reverse

from tests import factories as f

pytestmark = pytest.mark.django_db

REGISTERED = sorted(
    (m for m in admin.site._registry if m._meta.app_label in {"marketplace", "jss", "requests_app"}),
    key=lambda m: m._meta.label,
)


@pytest.fixture
def world():
    exclusion = f.JssExclusionFactory()
    contract = exclusion.contract
    f.AgencyMembershipFactory(freelancer=contract.freelancer, owner=True)
    f.TopRatedPeriodFactory(freelancer=contract.freelancer)
    f.RequestEventFactory(request=exclusion.removal_request)
    f.ScoreSnapshotFactory(freelancer=contract.freelancer)
    f.ScoreUpdateChunkFactory()
    f.TopRatedEvaluationFactory(freelancer=contract.freelancer)
    return exclusion


@pytest.mark.parametrize("model", REGISTERED, ids=lambda m: m._meta.label)
def test_changelist_search_and_change_page(admin_client, world, model):
    info = model._meta.app_label, model._meta.model_name
    changelist = reverse("admin:{}_{}_changelist".format(*info))
    assert admin_client.get(changelist).status_code == 200
    assert admin_client.get(changelist, {"q": "a"}).status_code == 200
    obj = model.objects.first()
    assert obj is not None, f"the fixture made no {model._meta.label}"
    response = admin_client.get(reverse("admin:{}_{}_change".format(*info), args=[obj.pk]))
    assert response.status_code == 200


@pytest.mark.parametrize("model", REGISTERED, ids=lambda m: m._meta.label)
def test_no_add_or_delete_pages(admin_client, world, model):
    info = model._meta.app_label, model._meta.model_name
    assert admin_client.get(reverse("admin:{}_{}_add".format(*info))).status_code == 403
    obj = model.objects.first()
    assert admin_client.get(reverse("admin:{}_{}_delete".format(*info), args=[obj.pk])).status_code == 403


def test_feedback_cannot_be_edited_even_by_a_superuser(admin_client, world):
    feedback = f.FeedbackFactory()
    url = reverse("admin:marketplace_feedback_change", args=[feedback.pk])
    page = admin_client.get(url)
    assert b'name="public_comment"' not in page.content
    admin_client.post(url, {"public_comment": "edited", "public_rating": "1.00", "private_score": "0"})
    feedback.refresh_from_db()
    assert feedback.public_comment != "edited"
    assert feedback.public_rating != 1


def test_contract_search_by_number(admin_client, world):
    contract = f.ContractFactory(number="98765432")
    response = admin_client.get(reverse("admin:marketplace_contract_changelist"), {"q": "98765432"})
    assert contract.title.encode() in response.content


def test_agent_can_view_marketplace_but_not_change(client, world):
    agent = f.UserFactory(agent=True)
    client.force_login(agent)
    contract = world.contract
    assert client.get(reverse("admin:marketplace_contract_changelist")).status_code == 200
    assert client.get(reverse("admin:marketplace_contract_change", args=[contract.pk])).status_code == 200
    assert client.get(reverse("admin:auth_user_changelist")).status_code == 403


def test_support_groups_exist_with_their_permissions():
    from django.contrib.auth.models import Group

    agents = set(Group.objects.get(name="Support agents").permissions.values_list("codename", flat=True))
    leads = set(Group.objects.get(name="Support leads").permissions.values_list("codename", flat=True))
    assert {
        "view_removalrequest",
        "claim_removalrequest",
        "add_note_removalrequest",
        "approve_removalrequest",
        "reject_removalrequest",
        "view_contract",
        "view_feedback",
    } <= agents
    assert "reassign_removalrequest" not in agents and "view_reports" not in agents
    assert agents | {"reassign_removalrequest", "view_reports"} == leads
    models = [
        "freelancer",
        "agency",
        "contract",
        "feedback",
        "client",
        "jssexclusion",
        "removalrequest",
        "requestevent",
    ]
    assert not leads & {f"{verb}_{model}" for verb in ("add", "change", "delete") for model in models}
