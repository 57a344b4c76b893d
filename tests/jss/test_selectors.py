"""jss.selectors.latest_scores: what the public profiles show, one query for any number of subjects."""

import datetime as dt

import pytest

from jss.selectors import latest_scores
from tests import factories as f

pytestmark = pytest.mark.django_db


def test_latest_scores_in_one_query(django_assert_num_queries):
    alice, bob, nobody = f.FreelancerFactory(), f.FreelancerFactory(), f.FreelancerFactory()
    agency = f.AgencyFactory()
    f.ScoreSnapshotFactory(freelancer=alice, as_of=dt.date(2026, 10, 1), score=80, window="6m")
    f.ScoreSnapshotFactory(freelancer=alice, as_of=dt.date(2026, 11, 1), score=92, window="12m")
    f.ScoreSnapshotFactory(freelancer=bob, as_of=dt.date(2026, 9, 1), score=None, window=None)
    f.ScoreSnapshotFactory(freelancer=None, agency=agency, as_of=dt.date(2026, 11, 1), score=97, window="24m")
    f.ScoreSnapshotFactory(freelancer=f.FreelancerFactory(), as_of=dt.date(2026, 11, 1), score=50)  # not asked for
    with django_assert_num_queries(1):
        scores = latest_scores(freelancer_ids=[alice.pk, bob.pk, nobody.pk], agency_ids=[agency.pk])
        summary = {key: (s.as_of, s.score, s.window) for key, s in scores.items()}
    assert summary == {
        ("freelancer", alice.pk): (dt.date(2026, 11, 1), 92, "12m"),
        ("freelancer", bob.pk): (dt.date(2026, 9, 1), None, None),
        ("agency", agency.pk): (dt.date(2026, 11, 1), 97, "24m"),
    }


def test_an_agency_score_is_never_read_as_a_freelancers():
    agency = f.AgencyFactory()
    f.ScoreSnapshotFactory(freelancer=None, agency=agency, score=99)
    assert latest_scores(freelancer_ids=[agency.pk]) == {}
    assert set(latest_scores(agency_ids=[agency.pk])) == {("agency", agency.pk)}


def test_no_subjects_no_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert latest_scores() == {}
