"""The weekly Top Rated evaluation: the pure rules (table), and the service that opens and closes periods
and emails the status-loss notice once."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from jss import services, tasks
from jss.models import TopRatedEvaluation
from jss.top_rated import TopRatedFacts, decide
from marketplace.models import TopRatedPeriod
from outbox import tasks as outbox_tasks
from outbox.models import EmailDelivery
from tests import factories as f

AS_OF = dt.date(2026, 11, 28)  # a Saturday
NOW = timezone.make_aware(dt.datetime(2026, 11, 28, 3, 0))
OLD_START = AS_OF - dt.timedelta(days=400)


def facts(**overrides):
    values = dict(
        kind="freelancer",
        score=95,
        earlier_at_90=15,
        earlier_on_record=15,
        currently_top_rated=True,
        account_status="active",
        first_contract_started_on=OLD_START,
        charged_12_months=Decimal(5000),
        tos_violation_on=None,
        profile_completeness=100,
        members=0,
    )
    values.update(overrides)
    return TopRatedFacts(**values)


@pytest.mark.parametrize(
    ("overrides", "top_rated", "failed", "loss"),
    [
        pytest.param({}, True, (), None, id="everything-met"),
        pytest.param({"score": 90}, True, (), None, id="jss-exactly-90"),
        pytest.param({"score": 89}, False, ("jss_below_90",), "jss_dip", id="jss-89"),
        pytest.param({"score": None}, False, ("jss_below_90",), "jss_dip", id="no-jss"),
        pytest.param({"earlier_at_90": 12}, True, (), None, id="13-of-16-with-this-week"),
        pytest.param({"earlier_at_90": 11}, False, ("jss_history",), "jss_dip", id="12-of-16"),
        pytest.param(
            {"score": 85, "earlier_at_90": 12}, False, ("jss_below_90", "jss_history"), "jss_dip", id="this-week-counts"
        ),
        pytest.param({"earlier_at_90": 0, "earlier_on_record": 0}, True, (), None, id="no-history-on-record-kept"),
        pytest.param(
            {"earlier_at_90": 0, "earlier_on_record": 0, "currently_top_rated": False},
            False,
            ("jss_history",),
            None,
            id="no-history-not-gained",
        ),
        pytest.param({"earlier_at_90": 12, "currently_top_rated": False}, True, (), None, id="gained-at-13"),
        pytest.param({"account_status": "suspended"}, False, ("account_suspended",), "suspension", id="suspended"),
        pytest.param({"account_status": "inactive"}, False, ("account_inactive",), "other", id="inactive"),
        pytest.param(
            {"tos_violation_on": AS_OF - dt.timedelta(days=30)}, False, ("tos_violation",), "tos_violation", id="tos"
        ),
        pytest.param({"tos_violation_on": dt.date(2026, 8, 28)}, True, (), None, id="tos-exactly-3-months-ago"),
        pytest.param(
            {"tos_violation_on": dt.date(2026, 8, 29)}, False, ("tos_violation",), "tos_violation", id="tos-in-3-months"
        ),
        pytest.param(
            {"account_status": "suspended", "score": 50, "tos_violation_on": AS_OF},
            False,
            ("jss_below_90", "account_suspended", "tos_violation"),
            "suspension",
            id="the-account-before-the-score",
        ),
        pytest.param(
            {"score": 50, "profile_completeness": 90},
            False,
            ("jss_below_90", "profile_incomplete"),
            "jss_dip",
            id="the-score-before-the-rest",
        ),
        pytest.param(
            {"first_contract_started_on": AS_OF - dt.timedelta(days=90)},
            False,
            ("first_contract_recent",),
            "other",
            id="first-contract-90-days",
        ),
        pytest.param({"first_contract_started_on": AS_OF - dt.timedelta(days=91)}, True, (), None, id="91-days"),
        pytest.param({"charged_12_months": Decimal("999.99")}, False, ("earnings_below_minimum",), "other", id="$999"),
        pytest.param({"charged_12_months": Decimal(1000)}, True, (), None, id="$1000"),
        pytest.param({"profile_completeness": 99}, False, ("profile_incomplete",), "other", id="profile-99"),
        pytest.param(
            {"kind": "agency", "members": 2, "charged_12_months": Decimal(10000)}, True, (), None, id="agency"
        ),
        pytest.param(
            {"kind": "agency", "members": 1, "charged_12_months": Decimal(10000)},
            False,
            ("too_few_members",),
            "other",
            id="agency-one-member",
        ),
        pytest.param(
            {"kind": "agency", "members": 3, "charged_12_months": Decimal(9999)},
            False,
            ("earnings_below_minimum",),
            "other",
            id="agency-$9999",
        ),
        pytest.param(
            {"kind": "agency", "members": 3, "charged_12_months": Decimal(10000), "profile_completeness": 10},
            True,
            (),
            None,
            id="agency-has-no-profile-rule",
        ),
    ],
)
def test_decide(overrides, top_rated, failed, loss):
    decision = decide(facts(**overrides), as_of=AS_OF)
    assert (decision.top_rated, decision.failed, decision.loss_reason) == (top_rated, failed, loss)
    current = facts(**overrides).currently_top_rated
    assert decision.opens == (top_rated and not current)
    assert decision.closes == (current and not top_rated)


# --- the service ----------------------------------------------------------------------------------------


def jobs(freelancer, scores, *, agency=None, charged="800.00", before=AS_OF):
    """Ended jobs, one per client, 30+ days before ``before``; the first started long ago."""
    for i, score in enumerate(scores):
        end = before - dt.timedelta(days=30 + i)
        contract = f.ContractFactory(
            freelancer=freelancer,
            agency=agency,
            started_on=OLD_START if i == 0 else end - dt.timedelta(days=20),
            ended_on=end,
            last_payment_on=end,
            total_charged=Decimal(charged),
        )
        f.FeedbackFactory(contract=contract, private_score=score, public_rating=None)


def scored(as_of=AS_OF):
    assert services.run_update(as_of=as_of, force=True, now=NOW).outcome == "started"


def evaluate(django_capture_on_commit_callbacks, as_of=AS_OF):
    with django_capture_on_commit_callbacks(execute=True):
        return tasks.evaluate_top_rated.delay(as_of=as_of.isoformat()).get()


@pytest.mark.django_db
def test_nobody_is_judged_before_the_first_jss_update(django_capture_on_commit_callbacks):
    freelancer = f.FreelancerFactory(top_rated=True)
    assert evaluate(django_capture_on_commit_callbacks)["outcome"] == "no_scores"
    assert freelancer.top_rated_periods.get().ended_on is None
    assert not TopRatedEvaluation.objects.exists()


@pytest.mark.django_db
def test_a_top_rated_freelancer_who_still_qualifies_keeps_the_status(django_capture_on_commit_callbacks):
    freelancer = f.FreelancerFactory(top_rated=True)
    jobs(freelancer, [10, 10, 10])
    scored()
    result = evaluate(django_capture_on_commit_callbacks)
    assert (result["outcome"], result["opened"], result["closed"]) == ("evaluated", 0, 0)
    evaluation = TopRatedEvaluation.objects.get(freelancer=freelancer)
    assert (evaluation.top_rated, evaluation.score, evaluation.change, evaluation.failed) == (True, 100, "", [])
    assert mail.outbox == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        pytest.param({"scores": [10, 10, 2]}, "jss_dip", id="jss-dip"),
        pytest.param({"scores": [10, 10, 10], "account_status": "suspended"}, "suspension", id="suspension"),
        pytest.param(
            {"scores": [10, 10, 10], "tos_violation_on": AS_OF - dt.timedelta(days=20)}, "tos_violation", id="tos"
        ),
        pytest.param({"scores": [10, 10, 10], "profile_completeness": 80}, "other", id="profile"),
    ],
)
def test_losing_the_status_closes_the_period_with_its_reason_and_emails_the_notice_once(
    setup, reason, django_capture_on_commit_callbacks
):
    freelancer = f.FreelancerFactory(
        top_rated=True,
        account_status=setup.get("account_status", "active"),
        tos_violation_on=setup.get("tos_violation_on"),
        profile_completeness=setup.get("profile_completeness", 100),
    )
    jobs(freelancer, setup["scores"])
    scored()
    mail.outbox.clear()
    result = evaluate(django_capture_on_commit_callbacks)
    assert (result["opened"], result["closed"]) == (0, 1)
    period = freelancer.top_rated_periods.get()
    assert (period.ended_on, period.loss_reason) == (AS_OF, reason)
    evaluation = TopRatedEvaluation.objects.get(freelancer=freelancer)
    assert (evaluation.change, evaluation.period, evaluation.top_rated) == ("closed", period, False)
    [delivery] = EmailDelivery.objects.filter(kind="status_loss", about_id=evaluation.pk)
    assert delivery.sent_at is not None

    assert len(mail.outbox) == 1
    notice = mail.outbox[0]
    assert notice.to == [freelancer.user.email]
    assert "no longer Top Rated" in notice.body
    html = notice.alternatives[0][0]
    if reason == "jss_dip":
        assert "Job Success Score" in notice.subject
        grace_until = (AS_OF + dt.timedelta(days=14)).strftime("%-d %B %Y")
        assert "screenshot of this email" in notice.body and grace_until in notice.body
        assert "screenshot of this email" in html and grace_until in html
    else:
        assert "no grace period" in notice.body and "screenshot" not in notice.body

    # The same evaluation again, and the notice task redelivered: nothing changes, no second email.
    assert evaluate(django_capture_on_commit_callbacks)["outcome"] == "done"
    with django_capture_on_commit_callbacks(execute=True):
        assert outbox_tasks.send_email.delay(delivery.pk).get() is False
    assert len(mail.outbox) == 1
    assert freelancer.top_rated_periods.count() == 1


@pytest.mark.django_db
def test_the_status_is_gained_after_13_weekly_evaluations_at_90(django_capture_on_commit_callbacks):
    freelancer = f.FreelancerFactory()
    first_week = AS_OF - dt.timedelta(weeks=15)
    jobs(freelancer, [10, 10, 10], charged="1200.00", before=first_week)
    scored(first_week - dt.timedelta(days=1))
    opened_on = None
    for week in range(16):
        day = first_week + dt.timedelta(weeks=week)
        result = evaluate(django_capture_on_commit_callbacks, as_of=day)
        if result["opened"]:
            opened_on = day
    assert opened_on == first_week + dt.timedelta(weeks=12)  # the 13th evaluation at 90 or more
    period = freelancer.top_rated_periods.get()
    assert (period.started_on, period.ended_on) == (opened_on, None)
    evaluations = TopRatedEvaluation.objects.filter(freelancer=freelancer).order_by("evaluated_on")
    assert [e.weeks_at_90 for e in evaluations][:13] == list(range(1, 14))
    assert evaluations.get(evaluated_on=opened_on).change == "opened"
    assert mail.outbox == []


@pytest.mark.django_db
def test_an_agency_needs_two_members_and_its_own_jss(django_capture_on_commit_callbacks):
    agency = f.AgencyFactory(top_rated=True)
    owner = f.AgencyMembershipFactory(agency=agency, owner=True).freelancer
    jobs(owner, [10, 10, 10], agency=agency, charged="4000.00")
    scored()
    mail.outbox.clear()
    result = evaluate(django_capture_on_commit_callbacks)
    assert result["closed"] == 1
    period = agency.top_rated_periods.get()
    assert period.loss_reason == "other"
    assert TopRatedEvaluation.objects.get(agency=agency).failed == ["too_few_members"]
    assert [m.to for m in mail.outbox] == [[owner.user.email]]  # the people who may ask for the perk


@pytest.mark.django_db
def test_a_members_tos_violation_costs_the_agency_its_status(django_capture_on_commit_callbacks):
    agency = f.AgencyFactory(top_rated=True)
    owner = f.AgencyMembershipFactory(agency=agency, owner=True).freelancer
    f.AgencyMembershipFactory(agency=agency, freelancer=f.FreelancerFactory(tos_violation_on=AS_OF - dt.timedelta(5)))
    jobs(owner, [10, 10, 10], agency=agency, charged="4000.00")
    scored()
    evaluate(django_capture_on_commit_callbacks)
    assert agency.top_rated_periods.get().loss_reason == "tos_violation"


@pytest.mark.django_db
def test_the_evaluation_reads_every_subject_in_a_fixed_number_of_queries(
    django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    for i in range(12):
        freelancer = f.FreelancerFactory(top_rated=i % 2 == 0)
        jobs(freelancer, [10, 10, 10 if i % 3 else 2])
    scored()
    with django_assert_max_num_queries(20):
        services.evaluate_top_rated(as_of=AS_OF, now=NOW)
    assert TopRatedEvaluation.objects.filter(evaluated_on=AS_OF).count() == 12
    assert TopRatedPeriod.objects.filter(ended_on=AS_OF).count() == 2  # the two Top Rated ones with a 2
