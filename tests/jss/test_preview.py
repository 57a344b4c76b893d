"""jss.services.preview_removal: the score now, without the contract, and whether the no-harm rule keeps it."""

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from jss.services import RemovalPreview, preview_removal, preview_removals
from marketplace.models import Contract
from tests.jss.builders import ClientSpec, ContractSpec, SubjectSpec, applied_request, build_world

pytestmark = pytest.mark.django_db

AS_OF = dt.date(2026, 3, 31)


def job(days_ago, client, score):
    end = AS_OF - dt.timedelta(days=days_ago)
    return ContractSpec(
        client=client, started_on=end - dt.timedelta(days=10), ended_on=end, last_payment_on=end, private_score=score
    )


@pytest.fixture
def subject():
    """Positive, positive, negative from three clients (weights 1): 100 x (2 - 1) / 3 = 33.3 -> 33."""
    clients = [ClientSpec(), ClientSpec(), ClientSpec()]
    contracts = [
        job(5, 0, 10),
        job(6, 1, 10),
        job(7, 2, 2),
        ContractSpec(client=0, started_on=AS_OF - dt.timedelta(days=30), ended_on=AS_OF - dt.timedelta(days=8)),
    ]
    built = build_world(clients, [SubjectSpec(agency=False, contracts=contracts)])
    ids = [c.contract_id for c in built.facts[built.subjects[0]]]
    return [Contract.objects.get(pk=pk) for pk in ids]


def test_the_shape_other_pages_code_against():
    assert [f.name for f in dataclasses.fields(RemovalPreview)] == [
        "as_of",
        "current_score",
        "current_window",
        "score_without",
        "window_without",
        "kept_by_no_harm",
        "already_excluded",
        "current_unrounded",
        "without_unrounded",
    ]
    assert RemovalPreview.__dataclass_params__.frozen


@pytest.mark.parametrize(
    ("index", "without", "window_without", "kept"),
    [
        pytest.param(2, 100, "24m", False, id="negative-raises-the-score"),
        pytest.param(0, 0, "24m", True, id="positive-would-lower-it-kept"),
        pytest.param(3, 33, "24m", False, id="left-out-changes-nothing"),
    ],
)
def test_preview(subject, index, without, window_without, kept, django_assert_num_queries):
    with django_assert_num_queries(2):
        preview = preview_removal(subject[index], as_of=AS_OF)
    assert preview == RemovalPreview(
        as_of=AS_OF,
        current_score=33,
        current_window="24m",
        score_without=without,
        window_without=window_without,
        kept_by_no_harm=kept,
        already_excluded=False,
    )
    assert preview.score_after == (33 if kept else without)


def test_an_excluded_contract_is_already_excluded_and_the_current_score_counts_it(subject):
    applied_request(subject[2], subject[2].freelancer.user, at=timezone.make_aware(dt.datetime(2026, 3, 1)))
    preview = preview_removal(subject[2], as_of=AS_OF)
    assert (preview.already_excluded, preview.kept_by_no_harm) == (True, False)
    assert (preview.current_score, preview.score_without) == (100, 100)
    # Another contract of the same subject is judged after the existing exclusion: {1, 2} -> without 1: {2} alone.
    other = preview_removal(subject[0], as_of=AS_OF)
    assert (other.current_score, other.score_without, other.kept_by_no_harm) == (100, None, True)


def test_an_exclusion_created_after_as_of_does_not_count_yet(subject):
    applied_request(subject[2], subject[2].freelancer.user, at=timezone.make_aware(dt.datetime(2026, 4, 2)))
    preview = preview_removal(subject[2], as_of=AS_OF)
    assert (preview.already_excluded, preview.current_score) == (False, 33)


def test_agency_contracts_are_previewed_against_the_agency_score():
    clients = [ClientSpec(), ClientSpec()]
    built = build_world(clients, [SubjectSpec(agency=True, contracts=[job(5, 0, 10), job(6, 1, 3)])])
    contract = Contract.objects.get(pk=built.facts[built.subjects[0]][1].contract_id)
    assert contract.agency_id is not None
    preview = preview_removal(contract, as_of=AS_OF)
    assert (preview.current_score, preview.score_without, preview.window_without) == (0, None, None)
    assert preview.kept_by_no_harm  # no score at all would be lower than 0


def test_preview_removals_reads_each_subject_once(subject, django_assert_num_queries):
    with django_assert_num_queries(2):
        previews = preview_removals(subject, as_of=AS_OF)
    assert previews == {c.pk: preview_removal(c, as_of=AS_OF) for c in subject}


def test_as_of_defaults_to_today(subject):
    assert preview_removal(subject[0]).as_of == timezone.localdate()


@pytest.mark.parametrize(
    ("current", "without", "current_exact", "without_exact", "hidden"),
    [
        (92, 92, "92.40", "91.60", True),  # both round to 92: the verdict needs the decimal
        (92, 92, "92.00", "92.00", False),  # truly equal
        (92, 91, "92.40", "91.40", False),  # the whole numbers already differ
        (None, None, None, None, False),  # no score at all
        (92, None, "92.40", None, False),  # no score without it
    ],
)
def test_one_decimal_only_where_rounding_hides_the_difference(current, without, current_exact, without_exact, hidden):
    preview = RemovalPreview(
        as_of=AS_OF,
        current_score=current,
        current_window="12m" if current is not None else None,
        score_without=without,
        window_without="12m" if without is not None else None,
        kept_by_no_harm=True,
        already_excluded=False,
        current_unrounded=Decimal(current_exact) if current_exact else None,
        without_unrounded=Decimal(without_exact) if without_exact else None,
    )
    assert preview.rounding_hides_the_difference is hidden
