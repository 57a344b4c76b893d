"""`manage.py load_marketplace`: the marketplace's export, loaded all or nothing (marketplace.importer)."""

import copy
import datetime as dt
import json
import threading
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection

from marketplace import importer
from marketplace.models import (
    Agency,
    AgencyMembership,
    Client,
    Contract,
    Feedback,
    Freelancer,
    TopRatedPeriod,
)
from tests.factories import (
    ClientFactory,
    ContractFactory,
    FeedbackFactory,
    FreelancerFactory,
    TopRatedPeriodFactory,
    UserFactory,
)

DATA = Path(__file__).parent / "data"
GOOD = DATA / "good.json"
UPDATE = DATA / "update.json"
User = get_user_model()
TABLES = (User, Freelancer, Agency, AgencyMembership, Client, Contract, Feedback, TopRatedPeriod)


def snapshot():
    """Every row of every table the import writes, all columns, in primary-key order."""
    return {model._meta.label: list(model.objects.order_by("pk").values()) for model in TABLES}


def load(path, **options):
    out, err = StringIO(), StringIO()
    call_command("load_marketplace", str(path), stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def refuse(path):
    """Run the command expecting a refusal; returns everything it printed on stderr plus the summary."""
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command("load_marketplace", str(path), stdout=out, stderr=err)
    assert excinfo.value.returncode == 1
    assert out.getvalue() == ""
    return err.getvalue() + str(excinfo.value)


def good_data():
    return json.loads(GOOD.read_text())


def write(tmp_path, data, name="import.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data, indent=2))
    return path


# --- A good file ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_good_file_loads_every_kind_of_row():
    out, err = load(GOOD)

    assert err == ""
    assert "Imported" in out
    for line in (
        "users: 3 created",
        "freelancers: 3 created",
        "agencies: 1 created",
        "memberships: 2 created",
        "clients: 2 created",
        "contracts: 4 created",
        "feedback: 3 created",
        "top_rated_periods: 3 created",
    ):
        assert line in out
    assert (Freelancer.objects.count(), Agency.objects.count(), AgencyMembership.objects.count()) == (3, 1, 2)
    assert (Client.objects.count(), Contract.objects.count(), Feedback.objects.count()) == (2, 4, 3)
    assert TopRatedPeriod.objects.count() == 3

    erin = Freelancer.objects.select_related("user").get(public_id="erin")
    assert (erin.name, erin.profile_completeness, erin.account_status, erin.tos_violation_on) == (
        "Erin Novak",
        85,
        "active",
        None,
    )
    assert (erin.user.username, erin.user.email, erin.user.first_name, erin.user.last_name) == (
        "erin",
        "erin@example.com",
        "Erin",
        "Novak",
    )
    assert not erin.user.has_usable_password()
    assert Freelancer.objects.get(public_id="dave").profile_completeness == 100  # the model's default

    northwind = Agency.objects.get(public_id="northwind-studio")
    roles = dict(northwind.memberships.values_list("freelancer__public_id", "role"))
    assert roles == {"dave": "owner", "erin": "member"}
    assert Client.objects.get(public_id="globex").flagged is True

    landing = Contract.objects.get(number="41000001")
    assert (landing.freelancer.public_id, landing.client.public_id, landing.agency, landing.platform) == (
        "alice",
        "acme",
        None,
        "upwork",
    )
    assert (landing.started_on, landing.ended_on, landing.total_charged) == (
        dt.date(2025, 3, 1),
        dt.date(2025, 6, 30),
        Decimal("1250.50"),
    )
    assert (landing.feedback.public_rating, landing.feedback.private_score) == (Decimal("4.80"), 10)
    assert (landing.feedback.public_comment, landing.feedback.freelancer_response) == ("Great work.", "Thanks!")

    api = Contract.objects.get(number="41000002")
    assert (api.ended_on, api.is_special_offer, api.total_charged, hasattr(api, "feedback")) == (
        None,
        True,
        Decimal("300.00"),
        False,
    )
    mobile = Contract.objects.get(number="41000003")
    assert mobile.agency == northwind
    assert (mobile.feedback.public_rating, mobile.feedback.private_score) == (Decimal("3.50"), 4)
    logo = Contract.objects.get(number="41000004")
    assert (logo.platform, logo.disputed, logo.feedback.public_rating, logo.feedback.hidden_on_profile) == (
        "elance",
        True,
        None,
        True,
    )
    assert logo.feedback.hidden_at == dt.datetime(2014, 1, 1, 9, 30, tzinfo=dt.UTC)

    agency_period = TopRatedPeriod.objects.get(agency=northwind)
    assert (agency_period.freelancer, agency_period.started_on, agency_period.ended_on, agency_period.loss_reason) == (
        None,
        dt.date(2023, 9, 1),
        None,
        None,
    )
    dave_period = TopRatedPeriod.objects.get(freelancer__public_id="dave")
    assert (dave_period.ended_on, dave_period.loss_reason) == (dt.date(2024, 3, 10), "jss_dip")
    assert TopRatedPeriod.objects.get(freelancer__public_id="alice").is_current


@pytest.mark.django_db
def test_loading_the_same_file_twice_changes_nothing():
    load(GOOD)
    before = snapshot()

    out, _ = load(GOOD)

    assert snapshot() == before
    for kind in ("users", "freelancers", "contracts", "feedback", "top_rated_periods"):
        assert f"{kind}: 0 created, 0 updated" in out
    assert "contracts: 0 created, 0 updated, 4 unchanged" in out


def _changes(before, after):
    changed = set()
    for label, rows in after.items():
        old = {row["id"]: row for row in before[label]}
        for row in rows:
            if row["id"] not in old:
                changed.add((label, row["id"], "(new row)"))
                continue
            changed |= {(label, row["id"], name) for name, value in row.items() if old[row["id"]][name] != value}
        assert {row["id"] for row in rows} >= set(old), f"{label}: rows disappeared"
    return changed


@pytest.mark.django_db
def test_an_update_file_changes_the_named_fields_only():
    load(GOOD)
    before = snapshot()

    out, _ = load(UPDATE)

    erin = Freelancer.objects.get(public_id="erin")
    acme = Client.objects.get(public_id="acme")
    api = Contract.objects.get(number="41000002")
    alice_period = TopRatedPeriod.objects.get(freelancer__public_id="alice")
    assert _changes(before, snapshot()) == {
        ("marketplace.Freelancer", erin.pk, "account_status"),
        ("marketplace.Client", acme.pk, "flagged"),
        ("marketplace.Contract", api.pk, "ended_on"),
        ("marketplace.Feedback", api.feedback.pk, "(new row)"),
        # ... and the database's copy of the new feedback on its contract (marketplace migration 0002).
        ("marketplace.Contract", api.pk, "feedback_public_rating"),
        ("marketplace.Contract", api.pk, "feedback_private_score"),
        ("marketplace.TopRatedPeriod", alice_period.pk, "ended_on"),
        ("marketplace.TopRatedPeriod", alice_period.pk, "loss_reason"),
    }
    assert (erin.account_status, erin.profile_completeness, erin.name) == ("suspended", 85, "Erin Novak")
    assert (acme.flagged, acme.name) == (True, "Acme Corp")
    assert (api.ended_on, api.title, api.is_special_offer) == (dt.date(2025, 11, 20), "API integration", True)
    assert (api.feedback.public_rating, api.feedback.private_score, api.feedback.public_comment) == (
        Decimal("5.00"),
        9,
        "",
    )
    assert (alice_period.ended_on, alice_period.loss_reason) == (dt.date(2025, 11, 15), "jss_dip")
    assert "freelancers: 0 created, 1 updated, 0 unchanged" in out
    assert "feedback: 1 created, 0 updated, 0 unchanged" in out


@pytest.mark.django_db
def test_references_may_point_to_rows_already_in_the_database(tmp_path):
    client = ClientFactory(public_id="initech", name="Initech")
    freelancer = FreelancerFactory(public_id="zoe")
    data = {
        "contracts": [
            {"number": "99", "title": "Reports", "freelancer": "zoe", "client": "initech", "started_on": "2025-01-01"}
        ]
    }

    load(write(tmp_path, data))

    contract = Contract.objects.get(number="99")
    assert (contract.client, contract.freelancer, contract.total_charged) == (client, freelancer, Decimal("0.00"))


@pytest.mark.django_db
def test_a_freelancer_login_is_updated_or_linked_never_duplicated(tmp_path):
    zoe = FreelancerFactory(public_id="zoe", user__username="zoe", user__email="old@example.com")
    frank = UserFactory(username="frank")  # an account made before the marketplace sent frank's profile
    data = {
        "freelancers": [
            {"public_id": "zoe", "username": "zoe.k", "email": "zoe@example.com", "name": "Zoe Kim"},
            {"public_id": "frank", "username": "frank", "email": "frank@example.com", "name": "Frank Li"},
        ]
    }
    users_before = User.objects.count()

    load(write(tmp_path, data))

    zoe.user.refresh_from_db()
    assert (zoe.user.username, zoe.user.email, zoe.user.get_full_name()) == ("zoe.k", "zoe@example.com", "Zoe Kim")
    assert Freelancer.objects.get(public_id="frank").user == frank
    frank.refresh_from_db()
    assert frank.email == "frank@example.com" and frank.check_password("perkdesk")
    assert User.objects.count() == users_before


@pytest.mark.django_db
def test_hidden_feedback_stays_hidden(tmp_path):
    load(GOOD)
    data = {
        "contracts": [
            {
                "number": "41000004",
                "feedback": {"hidden_on_profile": False, "hidden_at": None, "public_comment": "Fine."},
            }
        ]
    }

    out, _ = load(write(tmp_path, data))

    feedback = Feedback.objects.get(contract__number="41000004")
    assert (feedback.hidden_on_profile, feedback.public_comment) == (True, "Fine.")
    assert feedback.hidden_at == dt.datetime(2014, 1, 1, 9, 30, tzinfo=dt.UTC)
    assert "contracts[0].feedback: kept hidden" in out


@pytest.mark.django_db
def test_dry_run_checks_and_counts_but_writes_nothing():
    before = snapshot()

    out, _ = load(GOOD, dry_run=True)

    assert snapshot() == before
    assert "dry run, nothing was written" in out and "contracts: 4 created" in out


@pytest.mark.django_db
def test_a_big_file_shows_progress_and_stays_within_a_query_budget(tmp_path, django_assert_max_num_queries):
    count = 2500
    data = good_data()
    data["contracts"] = [
        {
            "number": str(50_000_000 + n),
            "title": f"Job {n}",
            "freelancer": "alice",
            "client": "acme",
            "started_on": "2025-01-01",
            "ended_on": "2025-02-01",
            "total_charged": "10.00",
            "feedback": {"public_rating": 5, "private_score": 10},
        }
        for n in range(count)
    ]
    path = write(tmp_path, data)

    # One lookup per kind (chunked by SQLite's parameter limit) and bulk writes: about 70 queries on SQLite,
    # 20 on PostgreSQL, for 2,500 contracts with feedback.
    with django_assert_max_num_queries(100):
        _, err = load(path)

    assert Contract.objects.count() == count and Feedback.objects.count() == count
    assert "contracts: 1,000 / 2,500 (40%)" in err and "contracts: 2,500 / 2,500 (100%)" in err

    out, err = load(path, verbosity=0)
    assert (out, err) == ("", "")


# --- Bad files: exit 1, every problem with its JSON path, nothing written ---------------------


@pytest.fixture
def existing_rows(db):
    """What the database holds before a bad file arrives: rows a partial write or update would change."""
    UserFactory(username="agent", is_staff=True)
    zoe = FreelancerFactory(public_id="zoe", user__username="zoe")
    contract = ContractFactory(number="30000001", freelancer=zoe, client=ClientFactory(public_id="initech"))
    FeedbackFactory(contract=contract)
    TopRatedPeriodFactory(
        freelancer=zoe, started_on=dt.date(2020, 1, 1), ended_on=dt.date(2024, 1, 1), loss_reason="jss_dip"
    )
    return zoe


def bad_base():
    """The good file plus updates of rows already in the database (zoe, her contract)."""
    data = good_data()
    data["freelancers"].append({"public_id": "zoe", "account_status": "suspended"})  # freelancers[3]
    data["contracts"].append({"number": "30000001", "title": "Renamed", "disputed": True})  # contracts[4]
    return data


def change(section, index, **fields):
    def mutate(data):
        data[section][index].update(fields)

    return mutate


def change_feedback(index, **fields):
    def mutate(data):
        data["contracts"][index]["feedback"].update(fields)

    return mutate


def drop(section, index, name):
    def mutate(data):
        del data[section][index][name]

    return mutate


def append(section, item):
    def mutate(data):
        data[section].append(item)

    return mutate


INVALID_JSON = '{\n  "freelancers": [\n    {"public_id": "alice" "username": "alice"}\n  ]\n}\n'

BAD_FILES = [
    pytest.param(INVALID_JSON, ["import.json: invalid JSON at line 3, column 27"], id="invalid-json"),
    pytest.param(["not", "an", "object"], ["(top level): must be a JSON object"], id="top-level-not-an-object"),
    pytest.param(
        drop("contracts", 0, "title"), ["contracts[0].title: missing required field"], id="missing-required-field"
    ),
    pytest.param(
        change("freelancers", 1, profile_completeness="high"),
        ["freelancers[1].profile_completeness: must be a whole number 0–100"],
        id="wrong-type",
    ),
    pytest.param(
        change("clients", 0, flagged="yes"), ["clients[0].flagged: must be true or false"], id="wrong-type-bool"
    ),
    pytest.param(
        change("contracts", 2, platform="fiverr"),
        ['contracts[2].platform: must be one of upwork, elance (got "fiverr")'],
        id="bad-enum",
    ),
    pytest.param(
        change_feedback(0, private_score=11),
        ["contracts[0].feedback.private_score: must be 0–10"],
        id="private-score-11",
    ),
    pytest.param(
        change_feedback(0, public_rating="5.5"),
        ["contracts[0].feedback.public_rating: must be 1.00–5.00"],
        id="rating-5.5",
    ),
    pytest.param(
        change("contracts", 1, client="umbrella"),
        ['contracts[1].client: unknown client "umbrella" (not in the file or the database)'],
        id="unknown-client",
    ),
    pytest.param(
        append(
            "freelancers", {"public_id": "alice", "username": "alice2", "email": "a2@example.com", "name": "Alice Two"}
        ),
        ['freelancers[4].public_id: duplicate "alice" (also freelancers[0])'],
        id="duplicate-public-id",
    ),
    pytest.param(
        change("contracts", 0, ended_on="2025-02-01"),
        ["contracts[0].ended_on: must be on or after started_on"],
        id="end-before-start",
    ),
    pytest.param(
        change("top_rated_periods", 1, freelancer="dave"),
        ["top_rated_periods[1]: exactly one of freelancer / agency"],
        id="period-with-both-subjects",
    ),
    pytest.param(change("contracts", 2, colour="blue"), ["contracts[2].colour: unknown field"], id="unknown-field"),
    pytest.param(
        change("top_rated_periods", 2, loss_reason="fired"),
        ["top_rated_periods[2].loss_reason: must be one of jss_dip, suspension, tos_violation, other"],
        id="only-problem-at-the-end",
    ),
    pytest.param(
        change("contracts", 3, number="41-000004"),
        ["contracts[3].number: must be digits only"],
        id="non-digit-contract-number",
    ),
    pytest.param(
        change("contracts", 0, number=41000001),
        ["contracts[0].number: must be a string of digits"],
        id="contract-number-not-a-string",
    ),
    pytest.param(
        change("contracts", 1, started_on="2025-02-30"),
        ["contracts[1].started_on: is not a real date"],
        id="impossible-date",
    ),
    pytest.param(
        change("contracts", 1, started_on="01/08/2025"),
        ["contracts[1].started_on: must be a date YYYY-MM-DD"],
        id="date-format",
    ),
    pytest.param(
        change("contracts", 0, total_charged="10.555"),
        ["contracts[0].total_charged: must have at most 2 decimal places"],
        id="money-three-decimals",
    ),
    pytest.param(
        drop("top_rated_periods", 2, "loss_reason"),
        ["top_rated_periods[2].loss_reason: required when ended_on is set"],
        id="ended-period-no-reason",
    ),
    pytest.param(
        append("top_rated_periods", {"freelancer": "alice", "started_on": "2025-06-01"}),
        [
            'top_rated_periods[0]: freelancer "alice" would have 2 current Top Rated periods',
            'top_rated_periods[3]: freelancer "alice" would have 2 current Top Rated periods',
        ],
        id="two-current-periods",
    ),
    pytest.param(
        change("freelancers", 0, username="agent"),
        ['freelancers[0].username: "agent" is a staff account'],
        id="staff-login",
    ),
    pytest.param(
        change("freelancers", 0, username="zoe"),
        ['freelancers[0].username: "zoe" is already the login of freelancer "zoe"'],
        id="taken-login",
    ),
    pytest.param(
        change("contracts", 4, ended_on="2020-01-01"),
        ["contracts[4].ended_on: must be on or after started_on (2026-07-29, in the database)"],
        id="update-against-database-dates",
    ),
]


@pytest.mark.parametrize(("bad", "expected"), BAD_FILES)
def test_a_bad_file_is_refused_whole_and_names_the_path(bad, expected, existing_rows, tmp_path):
    if callable(bad):
        data = bad_base()
        bad(data)
    else:
        data = bad
    path = write(tmp_path, data)
    before = snapshot()

    output = refuse(path)

    assert snapshot() == before
    for text in expected:
        assert text in output
    # One line per problem, then the summary; each case has exactly the problems it expects.
    assert len(output.splitlines()) == len(expected) + 1
    assert output.endswith(f"{len(expected)} error{'s' * (len(expected) > 1)}; nothing was imported.")


@pytest.mark.django_db
def test_every_problem_of_a_file_is_listed(tmp_path):
    data = good_data()
    data["freelancers"][2]["email"] = "not-an-email"
    del data["clients"][1]["name"]
    data["contracts"][0]["feedback"]["private_score"] = 11
    data["contracts"][3]["colour"] = "red"
    data["top_rated_periods"][0]["agency"] = "northwind-studio"
    before = snapshot()

    output = refuse(write(tmp_path, data))

    assert snapshot() == before
    lines = output.splitlines()
    assert lines == [
        'freelancers[2].email: must be an email address (got "not-an-email")',
        'clients[1].name: missing required field (to create client "globex")',
        "contracts[0].feedback.private_score: must be 0–10 (got 11)",
        "contracts[3].colour: unknown field",
        "top_rated_periods[0]: exactly one of freelancer / agency",
        "5 errors; nothing was imported.",
    ]


@pytest.mark.django_db
def test_a_missing_file_is_a_clear_error(tmp_path):
    output = refuse(tmp_path / "nowhere.json")

    assert f"{tmp_path / 'nowhere.json'}: file not found" in output


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_database_refusal_while_writing_rolls_back_everything(monkeypatch, tmp_path):
    """The one thing no check can see: another process writing between the check and the writes. Here
    the weekly Top Rated evaluation opens a period for zoe, in its own committed transaction, while the
    file opens another; the partial unique constraint refuses the file's, and the file's rows that were
    already written in the same transaction (freelancers, contracts...) are rolled back with it."""
    zoe = FreelancerFactory(public_id="zoe")
    data = good_data()
    data["top_rated_periods"].append({"freelancer": "zoe", "started_on": "2025-06-01"})
    checked = importer.check_against_database
    before = {}

    def check_while_the_evaluation_runs(doc, known):
        problems = checked(doc, known)
        assert problems == []

        def evaluation():
            try:
                TopRatedPeriod.objects.create(freelancer=zoe, started_on=dt.date(2025, 11, 1))
            finally:
                connection.close()

        thread = threading.Thread(target=evaluation)
        thread.start()
        thread.join()
        before.update(snapshot())
        return problems

    monkeypatch.setattr(importer, "check_against_database", check_while_the_evaluation_runs)

    output = refuse(write(tmp_path, data))

    assert snapshot() == before
    assert before["marketplace.TopRatedPeriod"][0]["started_on"] == dt.date(2025, 11, 1)
    assert (
        "(database): the database refused the import: a freelancer can have only one current Top Rated period "
        '[duplicate key value violates unique constraint "top_rated_one_current_per_freelancer"]'
    ) in output
    assert "1 error; nothing was imported." in output


# --- The checks themselves: pure functions over the parsed file and plain data ------------------


def problems_of(data, known=None):
    doc = importer.read_document(copy.deepcopy(data))
    return [
        str(p)
        for p in importer.sort_problems(doc.problems + importer.check_against_database(doc, known or importer.Known()))
    ]


def test_a_good_file_has_no_problems():
    assert problems_of(good_data()) == []


def test_an_update_of_a_row_in_the_database_needs_only_its_key():
    known = importer.Known(
        freelancers={"erin": 7, "alice": 8},
        clients={"acme"},
        contracts={"41000002": importer.KnownContract(dt.date(2025, 8, 1), None, dt.date(2025, 11, 1))},
        periods={("freelancer", "alice"): [importer.KnownPeriod(dt.date(2024, 5, 1), None, None)]},
    )

    assert problems_of(json.loads(UPDATE.read_text()), known) == []
    assert problems_of(json.loads(UPDATE.read_text())) == [
        'freelancers[0].username: missing required field (to create freelancer "erin")',
        'freelancers[0].email: missing required field (to create freelancer "erin")',
        'freelancers[0].name: missing required field (to create freelancer "erin")',
        'clients[0].name: missing required field (to create client "acme")',
        'contracts[0].title: missing required field (to create contract "41000002")',
        'contracts[0].freelancer: missing required field (to create contract "41000002")',
        'contracts[0].client: missing required field (to create contract "41000002")',
        'contracts[0].started_on: missing required field (to create contract "41000002")',
        'top_rated_periods[0].freelancer: unknown freelancer "alice" (not in the file or the database)',
    ]


def test_a_current_period_in_the_file_clashes_with_one_in_the_database():
    data = {"top_rated_periods": [{"freelancer": "zoe", "started_on": "2025-06-01"}]}
    known = importer.Known(
        freelancers={"zoe": 1}, periods={("freelancer", "zoe"): [importer.KnownPeriod(dt.date(2023, 1, 1), None, None)]}
    )

    assert problems_of(data, known) == [
        'top_rated_periods[0]: freelancer "zoe" would have 2 current Top Rated periods (started 2023-01-01, '
        "2025-06-01); only one may be open: give the others ended_on and loss_reason"
    ]
    # Closing the old one in the same file is the fix.
    data["top_rated_periods"].insert(
        0, {"freelancer": "zoe", "started_on": "2023-01-01", "ended_on": "2025-05-31", "loss_reason": "jss_dip"}
    )
    assert problems_of(data, known) == []


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({"public_id": "bob smith"}, "freelancers[0].public_id: must be a slug: letters, digits, - and _ only"),
        (
            {"public_id": "bob", "account_status": "paused"},
            'freelancers[0].account_status: must be one of active, inactive, suspended (got "paused")',
        ),
        (
            {"public_id": "bob", "profile_completeness": 101},
            "freelancers[0].profile_completeness: must be 0–100 (got 101)",
        ),
        (
            {"public_id": "bob", "profile_completeness": True},
            "freelancers[0].profile_completeness: must be a whole number",
        ),
        ({"public_id": "bob", "name": None}, "freelancers[0].name: must not be null"),
        ({"public_id": "bob", "name": "   "}, "freelancers[0].name: must not be empty"),
        (
            {"public_id": "bob", "tos_violation_on": "2025-1-5"},
            "freelancers[0].tos_violation_on: must be a date YYYY-MM-DD",
        ),
        ({"public_id": "bob", "usrname": "bob"}, 'freelancers[0].usrname: unknown field (did you mean "username"?)'),
        ({"public_id": "bob", "username": "bob smith"}, "freelancers[0].username: must be letters, digits and"),
        ("bob", "freelancers[0]: must be an object (got a string)"),
        ({"username": "bob"}, "freelancers[0].public_id: missing required field"),
    ],
)
def test_freelancer_field_problems(item, expected):
    problems = problems_of({"freelancers": [item]}, importer.Known(freelancers={"bob": 1}))

    assert any(p.startswith(expected) for p in problems), problems


@pytest.mark.parametrize(
    "message",
    [
        'duplicate key value violates unique constraint "top_rated_one_current_per_freelancer"\nDETAIL:  Key ...',
        "UNIQUE constraint failed: marketplace_topratedperiod.freelancer_id",
    ],
)
def test_a_database_refusal_is_explained_on_either_database(message):
    problem = importer.describe_refusal(IntegrityError(message))

    assert str(problem) == (
        "(database): the database refused the import: a freelancer can have only one current Top Rated period "
        f"[{message.splitlines()[0]}]"
    )


def test_json_problems_come_with_line_and_column():
    with pytest.raises(importer.ImportRefused) as excinfo:
        importer.parse(INVALID_JSON)

    assert [str(p) for p in excinfo.value.problems] == ["invalid JSON at line 3, column 27: Expecting ',' delimiter"]


def test_a_key_given_twice_in_one_object_is_a_problem():
    data = importer.parse('{"clients": [{"public_id": "acme", "name": "A", "name": "B"}]}')

    assert problems_of(data) == ["clients[0].name: given more than once in the same object"]


def test_money_and_ratings_are_exact_decimals():
    data = importer.parse('{"contracts": [{"number": "1", "total_charged": 0.1, "feedback": {"public_rating": 4.75}}]}')
    doc = importer.read_document(data)

    assert doc.problems == []
    assert doc.contracts[0].values["total_charged"] == Decimal("0.10")
    assert doc.contracts[0].feedback.values["public_rating"] == Decimal("4.75")
