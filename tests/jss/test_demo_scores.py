"""seed_demo ends with a forced scheduled JSS update for today, so the demo has scores, once."""

import pytest
from django.core.management import call_command
from django.utils import timezone

from jss import engine, selectors
from jss.models import ScoreSnapshot, ScoreUpdate
from marketplace.models import Agency, Freelancer
from requests_app.models import RemovalRequest

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_demo_has_todays_scores_made_by_the_scheduled_update():
    call_command("seed_demo")
    today = timezone.localdate()
    update = ScoreUpdate.objects.get()
    assert (update.as_of, update.forced) == (today, True) and update.finished_at is not None
    subjects = [f for f in Freelancer.objects.all() if f.contracts.filter(agency__isnull=True).exists()]
    assert ScoreSnapshot.objects.filter(as_of=today).count() == len(subjects) + Agency.objects.count()
    for freelancer in subjects:
        snapshot = ScoreSnapshot.objects.get(freelancer=freelancer, as_of=today)
        facts = selectors.contract_facts(freelancer_id=freelancer.pk)
        exclusions = selectors.exclusion_order(freelancer_id=freelancer.pk, as_of=today)
        assert snapshot.full_detail == engine.compute(facts, as_of=today, exclusions=exclusions).detail
    # The update agrees with the outcomes the demo's story tells, so it changes none of them.
    assert set(RemovalRequest.objects.filter(status="applied").values_list("jss_outcome", flat=True)) == {
        "excluded",
        "kept_no_harm",
    }
    alice = Freelancer.objects.get(user__username="alice")
    assert selectors.latest_scores(freelancer_ids=[alice.pk])[("freelancer", alice.pk)].as_of == today

    call_command("seed_demo")  # a second run finds today's update and leaves the scores alone
    assert ScoreUpdate.objects.count() == 1
    assert ScoreSnapshot.objects.filter(as_of=today).count() == len(subjects) + Agency.objects.count()


def test_the_demo_is_consistent_with_the_top_rated_evaluation():
    """The demo's Top Rated people and agency score 90 or more, so the weekly evaluation keeps every status
    as the demo tells it (bob stays lost, nobody is closed with a jss_dip), and alice's bad job is one the
    perk would really take out of her score."""
    from jss import services
    from jss.services.preview import preview_removal
    from marketplace.models import Contract, TopRatedPeriod

    call_command("seed_demo")
    today = timezone.localdate()
    current = TopRatedPeriod.objects.filter(ended_on__isnull=True)
    periods = TopRatedPeriod.objects.order_by("pk").values_list("pk", "started_on", "ended_on", "loss_reason")
    before = list(periods)
    scores = selectors.latest_scores(
        freelancer_ids=[p.freelancer_id for p in current if p.freelancer_id],
        agency_ids=[p.agency_id for p in current if p.agency_id],
    )
    assert len(scores) == current.count() == 9  # alice, erin, grace, the five queue freelancers, Brightline
    assert all(snapshot.score >= 90 for snapshot in scores.values()), scores

    result = services.evaluate_top_rated(as_of=today)
    assert (result.outcome, result.opened, result.closed) == ("evaluated", 0, 0)
    assert list(periods) == before

    preview = preview_removal(Contract.objects.get(number="31849001"), as_of=today)
    assert preview.score_without > preview.current_score >= 90 and not preview.kept_by_no_harm
