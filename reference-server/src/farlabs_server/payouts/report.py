"""A run's report as the lines people read (the CLI prints them, the admin API returns them).

The dry run prints exactly the plan's lines (section 3.2):

    ✓ Found 1 provider with unpaid earnings
    ✓ Total to pay: 0.25 FAR
    ✓ Would execute payment transaction...
    [DRY RUN - no actual payment]
"""

from __future__ import annotations

from .amounts import format_far
from .tracker import RunReport


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def report_lines(report: RunReport) -> list[str]:
    """The report of a run or a dry run, one line per list item."""
    lines: list[str] = []
    if report.planned_earlier:
        lines.append(f"✓ The week of {report.period_start.isoformat()} is already planned; nothing new to pay "
                     "until next Monday")
    plan = report.plan
    if plan is not None:
        lines.append(f"✓ Found {_plural(len(plan.payees), 'provider')} with unpaid earnings")
        if plan.carried_over:
            below = f" below the {format_far(plan.minimum_wei)} FAR minimum"
            lines.append(f"✓ {_plural(len(plan.carried_over), 'provider')}{below} carried to next week "
                         f"({format_far(plan.total_carried_wei)} FAR)")
        lines.append(f"✓ Total to pay: {format_far(plan.total_paid_wei)} FAR")
    if report.dry_run:
        if plan is not None and plan.batches:
            count = len(plan.batches)
            lines.append("✓ Would execute payment transaction..." if count == 1
                         else f"✓ Would execute {count} payment transactions...")
        lines.append("[DRY RUN - no actual payment]")
        return lines
    for outcome in report.batches:
        if outcome.status == "confirmed":
            lines.append(f"✓ Paid {_plural(outcome.recipients, 'provider')} {format_far(outcome.total_wei)} FAR in "
                         f"transaction {outcome.tx_hash} (block {outcome.block_number})")
        else:
            lines.append(f"✗ Batch {outcome.batch_key} is {outcome.status}: {outcome.error or 'not confirmed yet'}")
    if not report.batches:
        lines.append("✓ Nothing to pay")
    elif not report.unfinished:
        lines.append(f"✓ All {_plural(len(report.batches), 'payment transaction')} confirmed")
    return lines
