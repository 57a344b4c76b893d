"""Every JSS write and live computation (STYLE.md: services). Tasks, commands, admin and pages call these.

- ``preview``: what the perk would do to one contract's subject score (``preview_removal``).
- ``update``: the scheduled update (start when due, score chunks, finish, record request outcomes).
- ``top_rated``: the weekly Top Rated evaluation and its status-loss notice.
"""

from jss.services.preview import RemovalPreview, preview_removal, preview_removals, removal_preview
from jss.services.top_rated import EvaluationResult, evaluate_top_rated, owe_status_loss_notices
from jss.services.update import (
    UpdateStart,
    create_exclusion,
    finish_update,
    record_outcomes,
    run_update,
    score_chunk,
    start_scheduled_update,
    update_is_due,
)

__all__ = [
    "EvaluationResult",
    "RemovalPreview",
    "UpdateStart",
    "create_exclusion",
    "evaluate_top_rated",
    "finish_update",
    "owe_status_loss_notices",
    "preview_removal",
    "preview_removals",
    "record_outcomes",
    "removal_preview",
    "run_update",
    "score_chunk",
    "start_scheduled_update",
    "update_is_due",
]
