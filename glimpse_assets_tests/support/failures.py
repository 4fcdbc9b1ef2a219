"""What a failed Dagster step says, for assertions: the one failure-text helper.

    result = dg.materialize(..., raise_on_error=False)
    assert result.success, failure_text(result)
    assert "S3 write" in failure_text(result, "tallies")
    assert failure_classes(result, "image_prompt")[0] == "BudgetExceededError"

`failure_text` is the message of each failed step's error (only `step`'s when one is named),
then the messages of its causes and of the errors it was raised while handling, outermost
first, one after the other: what a user reads in the run's log, without stack traces (so an
assertion on the text cannot match a line of source code). Asked of a result where no such step
failed, both fail the test, so `"x" not in failure_text(result)` never passes for want of a
failure.
"""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg


def failed_steps(result: dg.ExecuteInProcessResult, step: str | None = None) -> list:
    """The errors (SerializableErrorInfo) of the failed steps, or of `step` only; at least one."""
    events = [
        event
        for event in result.get_step_failure_events()
        if step is None or event.step_key == step
    ]
    if not events:
        failed = "no step" if step is None else f"step {step} did not fail"
        raise AssertionError(f"{failed}: the run's success is {result.success}")
    return [event.step_failure_data.error for event in events]


def error_chain(error) -> Iterator:
    """`error`, then its causes and contexts, outermost first."""
    pending = [error]
    while pending:
        current = pending.pop(0)
        if current is None:
            continue
        yield current
        pending[:0] = [current.cause, current.context]


def failure_text(result: dg.ExecuteInProcessResult, step: str | None = None) -> str:
    """Every message of the failed steps' errors (see the module docstring)."""
    return "\n".join(
        (each.message or "").strip()
        for error in failed_steps(result, step)
        for each in error_chain(error)
    )


def failure_classes(result: dg.ExecuteInProcessResult, step: str | None = None) -> list[str]:
    """The class names of the failed steps' errors and their causes, outermost first."""
    return [
        each.cls_name or "" for error in failed_steps(result, step) for each in error_chain(error)
    ]
