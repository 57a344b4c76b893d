"""factory-boy factories for every model, with traits for the states tests need most."""

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from jss.models import JssExclusion, ScoreSnapshot, ScoreUpdate, ScoreUpdateChunk, TopRatedEvaluation
from marketplace import models as m
from requests_app.models import RemovalRequest, RequestEvent
from tests.clock import TODAY  # noqa: F401  (tests import it from here too)


def today():
    """The date on the clock the code reads: the pinned one (tests/clock.py), or the real one in a test
    marked ``real_clock``; every factory date derives from it, so the world and the code agree."""
    return timezone.localdate()


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.django.Password("perkdesk")

    class Params:
        agent = factory.Trait(is_staff=True, groups__names=("Support agents",))
        lead = factory.Trait(is_staff=True, groups__names=("Support leads",))

    @factory.post_generation
    def groups(self, create, extracted, **kwargs):
        names = extracted or kwargs.get("names")
        if create and names:
            from django.contrib.auth.models import Group

            self.groups.add(*Group.objects.filter(name__in=names))


class FreelancerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Freelancer
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)
    name = factory.LazyAttribute(lambda f: f.user.get_full_name() or f.user.username)
    public_id = factory.Sequence(lambda n: f"freelancer-{n}")
    account_status = m.AccountStatus.ACTIVE
    profile_completeness = 100

    class Params:
        suspended = factory.Trait(account_status=m.AccountStatus.SUSPENDED)
        inactive = factory.Trait(account_status=m.AccountStatus.INACTIVE)
        top_rated = factory.Trait(
            top_rated_period=factory.RelatedFactory(
                "tests.factories.TopRatedPeriodFactory", factory_related_name="freelancer"
            )
        )


class AgencyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Agency
        skip_postgeneration_save = True

    name = factory.Faker("company")
    public_id = factory.Sequence(lambda n: f"agency-{n}")
    account_status = m.AccountStatus.ACTIVE

    class Params:
        suspended = factory.Trait(account_status=m.AccountStatus.SUSPENDED)
        top_rated = factory.Trait(
            top_rated_period=factory.RelatedFactory(
                "tests.factories.TopRatedPeriodFactory", factory_related_name="agency"
            )
        )


class AgencyMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.AgencyMembership
        skip_postgeneration_save = True

    agency = factory.SubFactory(AgencyFactory)
    freelancer = factory.SubFactory(FreelancerFactory)
    role = m.AgencyRole.MEMBER

    class Params:
        owner = factory.Trait(role=m.AgencyRole.OWNER)
        admin = factory.Trait(role=m.AgencyRole.ADMIN)
        business_manager = factory.Trait(role=m.AgencyRole.BUSINESS_MANAGER)


class ClientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Client
        skip_postgeneration_save = True

    name = factory.Faker("company")
    public_id = factory.Sequence(lambda n: f"client-{n}")

    class Params:
        flagged_client = factory.Trait(flagged=True)
        tos_suspended = factory.Trait(suspended_for_tos=True)


class ContractFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Contract
        skip_postgeneration_save = True

    number = factory.Sequence(lambda n: f"{40_000_000 + n}")
    title = factory.Faker("catch_phrase")
    freelancer = factory.SubFactory(FreelancerFactory)
    agency = None
    client = factory.SubFactory(ClientFactory)
    platform = m.Platform.UPWORK
    started_on = factory.LazyFunction(lambda: today() - dt.timedelta(days=120))
    ended_on = factory.LazyFunction(lambda: today() - dt.timedelta(days=20))
    last_payment_on = factory.LazyAttribute(lambda c: c.ended_on or today() - dt.timedelta(days=5))
    total_charged = Decimal("800.00")

    class Params:
        active = factory.Trait(ended_on=None)
        elance = factory.Trait(platform=m.Platform.ELANCE)
        special_offer = factory.Trait(is_special_offer=True)
        with_feedback = factory.Trait(
            feedback=factory.RelatedFactory("tests.factories.FeedbackFactory", factory_related_name="contract")
        )


class FeedbackFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Feedback
        skip_postgeneration_save = True

    contract = factory.SubFactory(ContractFactory)
    public_rating = Decimal("5.00")
    public_comment = factory.Faker("sentence")
    freelancer_response = ""
    private_score = 10

    class Params:
        negative = factory.Trait(
            public_rating=Decimal("2.00"), private_score=3, public_comment="Missed every deadline."
        )
        private_only = factory.Trait(public_rating=None, public_comment="")
        empty = factory.Trait(public_rating=None, private_score=None, public_comment="")
        hidden = factory.Trait(hidden_on_profile=True, hidden_at=factory.LazyFunction(timezone.now))


class TopRatedPeriodFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.TopRatedPeriod
        skip_postgeneration_save = True

    freelancer = None
    agency = None
    started_on = factory.LazyFunction(lambda: today() - dt.timedelta(days=400))
    ended_on = None
    loss_reason = None

    class Params:
        lost_jss_dip = factory.Trait(
            ended_on=factory.LazyFunction(lambda: today() - dt.timedelta(days=5)), loss_reason="jss_dip"
        )
        lost_suspension = factory.Trait(
            ended_on=factory.LazyFunction(lambda: today() - dt.timedelta(days=5)), loss_reason="suspension"
        )


def _ticket(n):
    return f"{(n * 7919 + 104729) % 900_000_000 + 100_000_000:09d}"


class RemovalRequestFactory(factory.django.DjangoModelFactory):
    """A row as the services would leave it; histories with events are built by calling the services."""

    class Meta:
        model = RemovalRequest
        skip_postgeneration_save = True

    ticket_number = factory.Sequence(_ticket)
    contract = factory.SubFactory(ContractFactory, with_feedback=True)
    freelancer = factory.SelfAttribute("contract.freelancer")
    agency = factory.SelfAttribute("contract.agency")
    requested_by = factory.SelfAttribute("freelancer.user")
    scope = "jss_only"
    is_special_offer = factory.SelfAttribute("contract.is_special_offer")
    status = "submitted"
    submitted_at = factory.LazyFunction(timezone.now)
    sla_due_at = factory.LazyAttribute(lambda r: r.submitted_at + dt.timedelta(days=7))

    class Params:
        hide = factory.Trait(scope="hide_profile_and_jss")
        approved = factory.Trait(status="approved", decided_at=factory.LazyFunction(timezone.now))
        rejected = factory.Trait(
            status="rejected", rejection_reason="other", decided_at=factory.LazyFunction(timezone.now)
        )
        withdrawn = factory.Trait(status="withdrawn")
        applied = factory.Trait(
            status="applied",
            decided_at=factory.LazyFunction(timezone.now),
            applied_at=factory.LazyFunction(timezone.now),
        )


class RequestEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RequestEvent
        skip_postgeneration_save = True

    request = factory.SubFactory(RemovalRequestFactory)
    created_at = factory.LazyFunction(timezone.now)
    actor = None
    kind = "submitted"
    message = "Request submitted."
    public = True


class JssExclusionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = JssExclusion
        skip_postgeneration_save = True

    """An applied ticket's exclusion; the ticket points at it (``RemovalRequest.exclusion``)."""

    contract = factory.SubFactory(ContractFactory, with_feedback=True)
    created_at = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def ticket(obj, create, extracted, **kwargs):
        if create:
            RemovalRequestFactory(applied=True, contract=obj.contract, exclusion=obj, **kwargs)


class ScoreSnapshotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScoreSnapshot
        skip_postgeneration_save = True

    freelancer = factory.SubFactory(FreelancerFactory)
    agency = None
    as_of = factory.LazyFunction(today)
    score = 95
    window = "12m"
    detail = factory.LazyFunction(dict)
    algorithm_version = 1


class ScoreUpdateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScoreUpdate
        skip_postgeneration_save = True

    as_of = factory.LazyFunction(today)
    started_at = factory.LazyFunction(timezone.now)
    finished_at = factory.LazyFunction(timezone.now)


class ScoreUpdateChunkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScoreUpdateChunk
        skip_postgeneration_save = True

    update = factory.SubFactory(ScoreUpdateFactory)
    kind = "freelancer"
    first_subject = 1
    last_subject = 2000
    subjects = 10


class TopRatedEvaluationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TopRatedEvaluation
        skip_postgeneration_save = True

    freelancer = factory.SubFactory(FreelancerFactory)
    agency = None
    evaluated_on = factory.LazyFunction(today)
    score = 95
    weeks_at_90 = 16
    weeks_on_record = 16
    top_rated = True
