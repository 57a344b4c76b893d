"""What jss tells the apps above it (SPEC §3 "Dependencies"): sent after the transaction commits.

``outcomes_changed(changes=[(contract_id, outcome, as_of), ...])``: a scheduled update changed these perk
exclusions' outcomes. Receivers must be idempotent: a change can be announced again (a redelivered chunk
after a crash between commit and send is covered by the receiver's own reconciliation, not by jss)."""

from django.dispatch import Signal

outcomes_changed = Signal()
