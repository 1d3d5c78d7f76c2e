"""Celery tasks: thin wrappers over the month close and the ledger.

A worker killed in the middle of one leaves its task to be delivered again (tasks are acknowledged when they
end): both are safe to run again. Each organization's statement, and each deduction, is one transaction that
commits whole or not at all, and what was already issued or deducted is skipped (billing/tests/test_close_reaping.py).
"""

from celery import shared_task

from console.dates import previous_month, utc_today

from .closing import close_month
from .ledger import deduct_due_statements


@shared_task
def close_previous_month() -> int:
    """On the 1st (UTC): issue last month's statements. Idempotent. Returns how many were issued."""
    return len(close_month(previous_month(utc_today())))


@shared_task
def daily_ledger() -> int:
    """Every day: deduct statements that are due and suspend or lift organizations. Idempotent."""
    return deduct_due_statements()
