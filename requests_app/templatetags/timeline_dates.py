"""The date hierarchy of the timeline across tickets (the RequestEvent admin) without a DISTINCT over millions
of events: Django's own tag and template, fed the periods between the first and the last event of the filtered
list (two index reads). A period inside that span with no event still shows; it lists nothing when picked."""

import datetime as dt

from django import template
from django.contrib.admin.templatetags.admin_list import date_hierarchy
from django.db.models import Max, Min
from django.utils import timezone

register = template.Library()


class _Span:
    """Stands in for the changelist's queryset in ``date_hierarchy``: min/max from SQL, the periods in Python."""

    def __init__(self, queryset, field):
        self._queryset, self._field = queryset, field

    def aggregate(self, **kwargs):
        return self._queryset.aggregate(**kwargs)

    def datetimes(self, field_name, kind):
        span = self._queryset.aggregate(first=Min(field_name), last=Max(field_name))
        if span["first"] is None:
            return []
        first, last = (timezone.localtime(span[k]).date() for k in ("first", "last"))
        if kind == "year":
            return [dt.date(year, 1, 1) for year in range(first.year, last.year + 1)]
        if kind == "month":
            months = range(first.year * 12 + first.month - 1, last.year * 12 + last.month)
            return [dt.date(m // 12, m % 12 + 1, 1) for m in months]
        return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]

    dates = datetimes


class _ChangeList:
    def __init__(self, changelist):
        self._changelist = changelist
        self.queryset = _Span(changelist.queryset, changelist.date_hierarchy)

    def __getattr__(self, name):
        return getattr(self._changelist, name)


@register.inclusion_tag("admin/date_hierarchy.html")
def timeline_date_hierarchy(changelist):
    return date_hierarchy(_ChangeList(changelist))
