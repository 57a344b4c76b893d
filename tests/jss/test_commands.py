"""recalculate_jss, evaluate_top_rated and generate_bench_data, as an operator runs them."""

import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction

from jss.models import JssExclusion, ScoreSnapshot, ScoreUpdate
from jss.progress import ProgressBar
from marketplace.models import Agency, Contract, Feedback, Freelancer
from tests.jss.builders import ClientSpec, ContractSpec, SubjectSpec, build_world

pytestmark = pytest.mark.django_db

AS_OF = dt.date(2026, 11, 26)


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def small_world(n=5):
    end = AS_OF - dt.timedelta(days=10)
    job = ContractSpec(
        client=0, started_on=end - dt.timedelta(days=5), ended_on=end, last_payment_on=end, private_score=9
    )
    other = ContractSpec(
        client=1, started_on=end - dt.timedelta(days=5), ended_on=end, last_payment_on=end, private_score=10
    )
    return build_world(
        [ClientSpec(), ClientSpec()], [SubjectSpec(agency=i == 0, contracts=[job, other]) for i in range(n)]
    )


def test_recalculate_jss_scores_everyone_and_shows_progress_on_stderr():
    small_world(5)
    out, err = run("recalculate_jss", "--as-of", AS_OF.isoformat())
    assert "JSS update as of 2026-11-26: 5 subjects in 2 chunks, 5 snapshots written or changed" in out
    # The bar counts the ids the chunks cover (the agency's owner is a freelancer with no contract).
    assert "6/6 subject ids (100%)" in err and "[" in err
    assert ScoreSnapshot.objects.filter(as_of=AS_OF, score=100).count() == 5

    out, _ = run("recalculate_jss", "--as-of", (AS_OF + dt.timedelta(days=1)).isoformat())
    assert "not due" in out
    out, _ = run("recalculate_jss", "--as-of", AS_OF.isoformat())
    assert "already done" in out
    out, _ = run("recalculate_jss", "--as-of", AS_OF.isoformat(), "--force")
    assert "5 subjects in 2 chunks, 0 snapshots written or changed" in out
    assert ScoreUpdate.objects.count() == 1


def test_recalculate_jss_with_jobs_and_a_refused_job_count():
    small_world(5)
    with pytest.raises(CommandError, match="--jobs must be at least 1"):
        run("recalculate_jss", "--as-of", AS_OF.isoformat(), "--jobs", "0")
    assert not ScoreUpdate.objects.exists()
    out, err = run("recalculate_jss", "--as-of", AS_OF.isoformat(), "--jobs", "2")
    assert "5 subjects in 2 chunks, 5 snapshots written or changed" in out and "6/6 subject ids (100%)" in err


def test_evaluate_top_rated_command():
    small_world(2)
    out, _ = run("evaluate_top_rated", "--as-of", AS_OF.isoformat())
    assert "No finished JSS update" in out
    run("recalculate_jss", "--as-of", AS_OF.isoformat())
    out, _ = run("evaluate_top_rated", "--as-of", AS_OF.isoformat())
    assert "Top Rated evaluation of 2026-11-26: 2 subjects, 0 became Top Rated, 0 lost the status." in out
    out, _ = run("evaluate_top_rated", "--as-of", AS_OF.isoformat())
    assert "already evaluated" in out


def test_the_progress_bar_is_throttled():
    stream, now = io.StringIO(), [0.0]
    bar = ProgressBar(stream, every=0.5, clock=lambda: now[0])
    bar(0, 10)
    bar(3, 10)  # too soon: not drawn
    now[0] = 1.0
    bar(5, 10)
    bar(10, 10)  # the end is always drawn
    frames = stream.getvalue().split("\r")[1:]
    assert [frame.split("] ")[1].split(" ")[0] for frame in frames] == ["0/10", "5/10", "10/10"]
    assert frames[-1].endswith("(100%)\n")


def test_generate_bench_data_refuses_a_database_not_named_for_it():
    with pytest.raises(CommandError, match="refusing"):
        run("generate_bench_data", "--contracts", "100")
    assert not Contract.objects.exists()


def dump():
    return (
        sorted(
            Contract.objects.values_list(
                "number",
                "freelancer__public_id",
                "agency__public_id",
                "client__public_id",
                "started_on",
                "ended_on",
                "last_payment_on",
                "total_charged",
                "disputed",
                "platform",
            )
        ),
        sorted(Feedback.objects.values_list("contract__number", "public_rating", "private_score")),
        sorted(JssExclusion.objects.values_list("contract__number", "removal_request__ticket_number")),
    )


def test_generate_bench_data_is_deterministic_and_says_what_it_made():
    dumps = []
    for _ in range(2):
        with transaction.atomic():
            out, _ = run(
                "generate_bench_data", "--contracts", "600", "--seed", "7", "--as-of", "2026-11-26", "--any-database"
            )
            assert out.startswith("made 600 contracts (")
            assert Contract.objects.count() == 600
            assert Freelancer.objects.count() + Agency.objects.count() == 30  # one subject per 20 contracts
            assert JssExclusion.objects.count() >= 1
            dumps.append(dump())
            transaction.set_rollback(True)
    assert dumps[0] == dumps[1]
    assert dumps[0][0][0][0] == "70000000"  # Contract IDs are digits


def test_generate_bench_data_refuses_a_database_with_contracts():
    small_world(1)
    with pytest.raises(CommandError, match="already has contracts"):
        run("generate_bench_data", "--contracts", "100", "--any-database")
