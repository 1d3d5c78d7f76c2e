"""The native API for billing (read only): `/api/v1/statements/` (invoices, each with its lines at
`/api/v1/statements/{number}/`) and `/api/v1/transactions/` (the ledger). Billing view, as the pages.
A statement's status and amounts paid and due are the invoice pages' ones (`billing.settlement`)."""

import django_filters
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.response import Response

from accounts.access import get_for_member, restrict
from console.api import Conflict, ErrorSerializer, ModulePermissionMixin
from console.dates import month_start

from .api_serializers import (
    STATUSES,
    EstimateSerializer,
    StatementDetailSerializer,
    StatementSerializer,
    TransactionSerializer,
)
from .estimate import current_estimate
from .models import BillingProfile, Statement, Transaction
from .settlement import settle_organization, with_settlement

TAG = "Billing"
MONTH_FORMATS = ["%Y-%m", "%Y-%m-%d"]


class StatementFilter(django_filters.FilterSet):
    month_from = django_filters.DateFilter(
        method="filter_month_from", input_formats=MONTH_FORMATS, help_text="First billed month, YYYY-MM."
    )
    month_to = django_filters.DateFilter(
        method="filter_month_to", input_formats=MONTH_FORMATS, help_text="Last billed month, YYYY-MM, included."
    )
    status = django_filters.ChoiceFilter(
        choices=list(STATUSES.items()), method="filter_status", help_text="open, partially_paid, paid or overdue."
    )

    class Meta:
        model = Statement
        fields = ["month_from", "month_to", "status"]

    def filter_month_from(self, queryset, name, value):
        return queryset.filter(month__gte=month_start(value))

    def filter_month_to(self, queryset, name, value):
        return queryset.filter(month__lte=month_start(value))

    def filter_status(self, queryset, name, value):
        return queryset.filter(status=value)  # annotated by with_settlement


@extend_schema(tags=[TAG])
@extend_schema_view(list=extend_schema(summary="Statements (invoices), newest month first"))
class StatementViewSet(ModulePermissionMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Monthly statements (invoices), issued on the 1st for the month before. Needs billing "view"."""

    module = "billing"
    queryset = Statement.objects.none()
    serializer_class = StatementSerializer
    filterset_class = StatementFilter
    ordering = ("-month",)  # one statement per organization and month
    lookup_field = "number"

    def caller_queryset(self):
        membership = self.membership
        return with_settlement(restrict(Statement, membership), settle_organization(membership.organization))

    @extend_schema(summary="A statement with its lines", responses=StatementDetailSerializer)
    def retrieve(self, request, number):
        statement = get_for_member(self.membership, self.get_queryset().prefetch_related("lines"), number=number)
        profile = BillingProfile.objects.filter(organization_id=statement.organization_id).first()
        return Response(StatementDetailSerializer(statement, context={"profile": profile}).data)


class TransactionFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=Transaction.Kind.choices)
    date_from = django_filters.DateFilter(field_name="occurred_on", lookup_expr="gte", help_text="First value date.")
    date_to = django_filters.DateFilter(field_name="occurred_on", lookup_expr="lte", help_text="Last, included.")

    class Meta:
        model = Transaction
        fields = ["kind", "date_from", "date_to"]


@extend_schema(tags=[TAG])
@extend_schema_view(list=extend_schema(summary="Ledger transactions, newest value date first"))
class TransactionViewSet(ModulePermissionMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """The ledger: payments, statement deductions, refunds and adjustments. Needs billing "view"."""

    module = "billing"
    queryset = Transaction.objects.none()
    serializer_class = TransactionSerializer
    filterset_class = TransactionFilter
    ordering = ("-occurred_on", "-pk")

    def caller_queryset(self):
        return restrict(Transaction, self.membership).select_related("statement", "recorded_by")


NO_PRICE_BOOK = OpenApiResponse(ErrorSerializer, description="No price book is in force for this month.")


@extend_schema(tags=[TAG])
class EstimateViewSet(ModulePermissionMixin, viewsets.GenericViewSet):
    """The month-to-date bill estimate of the caller's organization (every project, RTC usage), computed from
    the stored usage with the prices in force, as the Bill estimate page. Needs billing "view"."""

    module = "billing"
    serializer_class = EstimateSerializer
    pagination_class = None
    filter_backends = []

    @extend_schema(
        summary="This month's bill estimate so far: minutes per tier, free minutes, lines, discount, total",
        responses={200: EstimateSerializer, 409: NO_PRICE_BOOK},
    )
    def current(self, request):
        found = current_estimate(self.membership.organization)
        if found is None:
            raise Conflict("No price book is in force for this month, so no estimate can be made.")
        return Response(EstimateSerializer(found).data)
