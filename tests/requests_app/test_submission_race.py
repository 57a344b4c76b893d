"""Simultaneous submissions on PostgreSQL, with real threads and connections: the database's partial unique
constraints settle "one open request per subject / per contract", and the losers get ``request_open``."""

import io
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections, transaction
from PIL import Image

from requests_app import services
from requests_app.eligibility import NotEligible
from requests_app.models import RemovalRequest, RequestEvent
from tests import factories as f

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 6


def png():
    buffer = io.BytesIO()
    Image.new("RGB", (60, 40), "white").save(buffer, format="PNG")
    return buffer.getvalue()


def run_at_once(calls):
    """Run each call in its own thread and connection, all released together by a barrier."""
    barrier = threading.Barrier(len(calls))
    outcomes = [None] * len(calls)

    def worker(i, call):
        try:
            barrier.wait(timeout=30)
            outcomes[i] = ("ok", call())
        except NotEligible as refused:
            outcomes[i] = ("refused", refused)
        except Exception as exc:  # noqa: BLE001 - any other failure is reported by the test
            outcomes[i] = ("error", exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return outcomes


def private_files():
    root = Path(settings.PRIVATE_MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_one_freelancer_many_contracts_at_once_gives_exactly_one_request():
    alice = f.FreelancerFactory(top_rated=True)
    contracts = [f.ContractFactory(freelancer=alice, with_feedback=True) for _ in range(THREADS)]
    outcomes = run_at_once(
        [
            lambda number=c.number: services.submit_request(
                requester=alice.user, contract_number=number, scope="jss_only"
            )
            for c in contracts
        ]
    )
    assert [kind for kind, _ in outcomes].count("error") == 0, outcomes
    winners = [value for kind, value in outcomes if kind == "ok"]
    losers = [value for kind, value in outcomes if kind == "refused"]
    assert len(winners) == 1 and len(losers) == THREADS - 1
    assert all(refused.codes() == ("request_open",) for refused in losers)
    assert RemovalRequest.objects.count() == 1
    assert RemovalRequest.objects.get().ticket_number == winners[0].ticket_number
    # One timeline and one email: the losers left nothing behind.
    assert sorted(RequestEvent.objects.values_list("kind", flat=True)) == ["email_sent", "submitted"]
    assert len(mail.outbox) == 1 and winners[0].ticket_number in mail.outbox[0].subject


def test_racing_uploads_leave_only_the_winner_s_screenshot():
    bob = f.FreelancerFactory()
    f.TopRatedPeriodFactory(freelancer=bob, lost_jss_dip=True)
    contracts = [f.ContractFactory(freelancer=bob, with_feedback=True) for _ in range(4)]
    content = png()
    outcomes = run_at_once(
        [
            lambda number=c.number: services.submit_request(
                requester=bob.user,
                contract_number=number,
                scope="jss_only",
                screenshot=SimpleUploadedFile("mail.png", content),
            )
            for c in contracts
        ]
    )
    assert sorted(kind for kind, _ in outcomes) == ["ok", "refused", "refused", "refused"], outcomes
    winner = RemovalRequest.objects.get()
    assert private_files() == [Path(settings.PRIVATE_MEDIA_ROOT) / winner.screenshot.name]


def test_an_agency_s_managers_racing_for_two_contracts_get_one_request():
    agency = f.AgencyFactory(top_rated=True)
    managers = [f.FreelancerFactory(top_rated=True) for _ in range(4)]
    for manager, role in zip(managers, ["owner", "admin", "business_manager", "admin"], strict=True):
        f.AgencyMembershipFactory(agency=agency, freelancer=manager, role=role)
    contracts = [f.ContractFactory(freelancer=managers[0], agency=agency, with_feedback=True) for _ in range(4)]
    outcomes = run_at_once(
        [
            lambda user=m.user, number=c.number: services.submit_request(
                requester=user, contract_number=number, scope="jss_only"
            )
            for m, c in zip(managers, contracts, strict=True)
        ]
    )
    assert sorted(kind for kind, _ in outcomes) == ["ok", "refused", "refused", "refused"], outcomes
    assert RemovalRequest.objects.filter(agency=agency).count() == 1


def test_the_same_special_offer_contract_twice_at_once_gives_one_request():
    # Special Offers skip the one-per-subject rule, so only the per-contract constraint stands in the way.
    grace = f.FreelancerFactory(top_rated=True)
    offer = f.ContractFactory(freelancer=grace, with_feedback=True, special_offer=True)
    outcomes = run_at_once(
        [
            lambda: services.submit_request(requester=grace.user, contract_number=offer.number, scope="jss_only")
            for _ in range(THREADS)
        ]
    )
    assert sorted(kind for kind, _ in outcomes) == ["ok"] + ["refused"] * (THREADS - 1), outcomes
    assert RemovalRequest.objects.filter(contract=offer).count() == 1


def test_a_submission_that_read_before_the_other_committed_is_refused_by_the_database():
    """Force the interleaving: B checks eligibility while A's request is inserted but not committed, so only
    the partial unique index can stop B. B waits on A's row, then gets ``request_open`` (never a 500)."""
    alice = f.FreelancerFactory(top_rated=True)
    first, second = (f.ContractFactory(freelancer=alice, with_feedback=True) for _ in range(2))
    a_inserted, a_may_commit = threading.Event(), threading.Event()
    outcome = {}

    def a():
        try:
            with transaction.atomic():
                services.submit_request(requester=alice.user, contract_number=first.number, scope="jss_only")
                a_inserted.set()
                assert a_may_commit.wait(timeout=30)
        finally:
            connections.close_all()

    def b():
        try:
            assert a_inserted.wait(timeout=30)
            services.submit_request(requester=alice.user, contract_number=second.number, scope="jss_only")
            outcome["b"] = "stored"
        except NotEligible as refused:
            outcome["b"] = refused
        finally:
            connections.close_all()

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for thread in threads:
        thread.start()
    # B is blocked on A's uncommitted row in the unique index: PostgreSQL shows it waiting for a lock.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0] >= 1:
                break
        time.sleep(0.02)
    else:
        pytest.fail("the second submission never waited on the first one's row")
    a_may_commit.set()
    for thread in threads:
        thread.join(timeout=30)
    refused = outcome["b"]
    assert isinstance(refused, NotEligible) and refused.codes() == ("request_open",)
    assert "Only one job can be removed at a time" in refused.reasons[0].message
    assert list(RemovalRequest.objects.values_list("contract_id", flat=True)) == [first.pk]
