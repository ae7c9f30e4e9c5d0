"""Every patch id of the workflows, in one place (see docs/reliability.md, "Changing workflow code").

A patch names one change to what a running workflow does: ``workflow.patched(ID)`` is true for runs
that start on code with the change and false when a history recorded before it replays, so both
replay as they ran. Each id stays ``patched`` until no run that began before its change is still open;
then it becomes ``workflow.deprecate_patch(ID)`` (the old branch is deleted) and, once no run holds
the marker either, the call goes. Which runs are still open, per workflow type, is one visibility
query away: ``temporal workflow list --query "WorkflowType='SessionWorkflow' AND StartTime < '<date>'
AND ExecutionStatus='Running'"``. A session runs until it is resolved (weeks, for a long enrollment);
a consent child runs for its consent window (48 h by default).
"""

# ----- SessionWorkflow ------------------------------------------------------------------------------

# The pre-session brief timer is armed at start (workflows/brief_timer.py).
# deprecate_patch: once no SessionWorkflow started before the brief existed is open.
PRE_SESSION_BRIEF = "pre-session-brief"

# Reminders, pending nudges and continue-as-new (workflows/session_timers.py); older runs keep only
# their end timer. deprecate_patch: once no SessionWorkflow started before the timers is open.
SESSION_TIMERS = "session-reminders-nudges"

# A rescheduled session whose new time has ended unresolved nudges its coach like a pending one
# (coach_sessions/timers.py). Asked once at the start of a run; older runs nudge pending sessions only.
# deprecate_patch: once no SessionWorkflow started before it is open.
RESCHEDULED_NUDGES = "rescheduled-session-nudges"

# A consent decision's token is written with its learning event, so a keyed retry of a withdraw or an
# admin's decision finds its own decision. deprecate_patch: once no SessionWorkflow started before it
# holds a pending cancellation request.
DECISION_TOKEN = "consent-decision-token"

# A run that begins on a row already moved (version > 1) first catches up on what its transitions may
# have left undone: queued messages, a pending request's consent child (an update lost with the
# Temporal server before the workflow's first task). deprecate_patch: once no SessionWorkflow started
# before it is open.
CATCH_UP_AT_START = "session-catch-up-at-start"

# ----- SessionWorkflow: the consent child machinery (workflows/consent_child.py) ----------------------

# The parent's consent request message is delivered by the session workflow, not by the consent child.
# deprecate_patch: once no SessionWorkflow that asked for consent before it is open.
REQUEST_SENT_BY_SESSION = "consent-request-sent-by-session"

# A failed consent child withdraws the request (decided by "system") instead of failing the session.
# deprecate_patch: once no SessionWorkflow started before it is open.
CONSENT_FAILURE_WITHDRAWS = "consent-child-failure-withdraws"

# The request-cancellation update answers once its transition is committed; the consent child is
# started (then the parent's request sent) after the answer. deprecate_patch: once no SessionWorkflow
# started before it is open.
CHILD_AFTER_ANSWER = "consent-child-started-after-answer"

# ----- CancellationConsentWorkflow ----------------------------------------------------------------------

# A failed "Call Me" notice is logged and the consent process goes on (before: the workflow failed).
# deprecate_patch: once no consent workflow started before it is open (at most its consent window).
CALLBACK_FAILURE_TOLERATED = "consent-callback-failure-tolerated"

# ----- EnrollmentWorkflow -------------------------------------------------------------------------------

# The session workflows are started together, in one workflow task, instead of one after the other.
# deprecate_patch: once no EnrollmentWorkflow started before it is open (an enrollment's workflow ends
# once its sessions are started, so within minutes of the deploy).
START_SESSIONS_TOGETHER = "enrollment-start-sessions-together"
