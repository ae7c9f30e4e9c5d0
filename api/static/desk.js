// The programme desk (admins): the pending cancellation requests to decide, and the ops queue with the
// action that resolves each row (GET /api/ops/queue, /api/ops/cancellation-requests, /api/ops/actions).
// Every action sends the row's updated_at as listed: a row changed meanwhile is refused (409
// row_changed) and the desk is read again. Text from data is only ever set as text.
"use strict";
(() => {
  if (!Coach.ready()) return;
  const { api, el, formatWhen, toast } = Coach;
  const status = document.getElementById("desk-status");
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const when = (iso) => formatWhen(iso, zone);
  const ANSWERS = { call_me: "asked for a call", reschedule: "asked for another time", approve: "approved" };
  const ACTIONS = { resend: "Resend", mark_delivered: "Mark delivered", drop: "Drop", retry_calendar_sync: "Retry now" };

  function who(item) {
    return el("div", { class: "session-line" },
      item.scheduled_at ? el("span", { class: "when", text: when(item.scheduled_at) }) : null,
      el("strong", { class: "child", text: item.child_name || "(no child)" }),
      item.session_number ? el("span", { class: "num", text: `session ${item.session_number}` }) : null,
      item.coach_name ? el("span", { class: "muted", text: `with ${item.coach_name}` }) : null);
  }

  function button(label, cls, onclick, about) {
    return el("button", { type: "button", class: `btn ${cls}`, onclick }, label, el("span", { class: "sr", text: ` ${about}` }));
  }

  async function act(path, body, done) {
    const answer = await api("POST", path, body);
    if (answer.ok) { toast(done); }
    else if (answer.data.error === "row_changed") { toast("That row changed meanwhile: here it is as it is now.", "error"); }
    else { toast(answer.data.detail || "That did not work; try again.", "error"); }
    await load();
  }

  function decisionRow(r) {
    const about = `for ${r.child_name}, session ${r.session_number}`;
    const decide = (decision) => act("/api/sessions/decide-cancel", { sessionId: r.session_id, decision },
      decision === "approve" ? "Approved: the session is cancelled." : "Rejected: the session stands.");
    return el("li", { class: "session", "data-session-id": r.session_id }, who(r),
      el("p", { class: "notes", text: `Reason: ${r.cancellation_reason || "—"}` }),
      el("p", { class: "notes", text: `Approves itself ${when(r.cancellation_expires_at)}. Parent: ${ANSWERS[r.parent_last_answer] || "no answer yet"}.` }),
      el("div", { class: "buttons" },
        button("Approve", "btn-cancel", () => decide("approve"), about),
        button("Reject", "btn-primary", () => decide("reject"), about)));
  }

  function messageRow(m) {
    const about = `the ${m.template_name} message${m.child_name ? " about " + m.child_name : ""}`;
    const path = (verb) => `/api/ops/messages/${m.id}/${verb}`;
    const body = { seenUpdatedAt: m.updated_at };
    return el("li", { class: "session", "data-message-id": m.id }, who(m),
      el("p", { class: "notes" }, el("span", { class: "badge st-pending", text: m.status === "in_doubt" ? "in doubt" : "failed" }),
        ` ${m.template_name} to the ${m.recipient_role}, ${m.attempts} attempt(s): ${m.last_error || "no error recorded"}`),
      el("div", { class: "buttons" },
        button("Resend", "btn-primary", () => act(path("resend"), body, "Queued again: it is being sent."), about),
        button("Mark delivered", "btn", () => act(path("mark-delivered"), body, "Marked delivered."), about),
        button("Drop", "btn-cancel", () => act(path("drop"), body, "Dropped: it will not be sent."), about)));
  }

  function syncRow(s) {
    return el("li", { class: "session", "data-session-id": s.session_id }, who(s),
      el("p", { class: "notes", text: `Sync failed: ${s.calendar_sync_error || "no error recorded"}` }),
      el("div", { class: "buttons" },
        button("Retry now", "btn-primary", () => act(`/api/ops/sessions/${s.session_id}/retry-calendar-sync`,
          { seenUpdatedAt: s.updated_at }, "Syncing the calendar again."), `for ${s.child_name}, session ${s.session_number}`)));
  }

  function workflowRow(w) {
    return el("li", { class: "session", "data-workflow-id": w.workflow_id },
      el("div", { class: "session-line" },
        el("span", { class: "badge st-cancelled", text: w.status.replace("_", " ") }),
        el("strong", { text: w.workflow_type }),
        w.close_time ? el("span", { class: "when", text: when(w.close_time) }) : null),
      el("p", { class: "notes", text: `${w.workflow_id} (run ${w.run_id})` }));
  }

  function retryingRow(a) {
    return el("li", { class: "session", "data-workflow-id": a.workflow_id },
      el("div", { class: "session-line" },
        el("span", { class: "badge st-pending", text: `attempt ${a.attempt}` }),
        el("strong", { text: a.activity_type }),
        el("span", { class: "muted", text: a.last_error })),
      el("p", { class: "notes", text: `${a.workflow_id} (failing since ${when(a.first_failed_at)})` }));
  }

  function pendingRow(s) {
    return el("li", { class: "session", "data-session-id": s.session_id }, who(s),
      el("p", { class: "notes", text: "Ended over a day ago and not resolved: the coach completes it or marks it missed." }));
  }

  function auditRow(a) {
    return el("li", { class: "session", "data-action-id": a.id },
      el("div", { class: "session-line" },
        el("span", { class: "when", text: when(a.created_at) }),
        el("strong", { text: ACTIONS[a.action] || a.action }),
        el("span", { text: `${a.target_kind}: ${a.from_state} → ${a.to_state}` }),
        el("span", { class: "muted", text: a.channel === "cli" ? "(command line)" : "(desk)" })),
      a.note ? el("p", { class: "notes", text: a.note }) : null);
  }

  function fill(id, items, render, empty) {
    const list = document.querySelector(`#${id} [data-list]`);
    list.replaceChildren(...items.map(render));
    if (!items.length) list.append(el("li", { class: "empty", text: empty }));
  }

  const percent = (rate) => (rate === null ? "–" : `${Math.round(rate * 100)}%`);
  function coachRow(c) {
    return el("tr", { "data-coach-id": c.coach_id },
      el("th", { scope: "row", text: c.coach_name }),
      ...[c.scheduled, c.completed, c.missed, c.pending].map((n) => el("td", { text: String(n) })),
      el("td", { text: `${percent(c.completion_rate_4w)} (${c.completed_4w} of ${c.completed_4w + c.missed_4w})` }));
  }

  async function load() {
    const [queue, requests, actions, overview] = await Promise.all([
      api("GET", "/api/ops/queue"), api("GET", "/api/ops/cancellation-requests"), api("GET", "/api/ops/actions?limit=20"),
      api("GET", "/api/ops/overview"),
    ]);
    const failed = [queue, requests, actions, overview].find((a) => !a.ok);
    if (failed) { status.textContent = failed.data.detail || "Could not load the desk."; return; }
    const q = queue.data;
    fill("decisions", requests.data.requests, decisionRow, "No cancellation request is waiting.");
    fill("messages", q.messages, messageRow, "Every message was sent or is on its way.");
    fill("calendar-syncs", q.calendar_syncs, syncRow, "Every calendar is in step.");
    fill("sessions-pending", q.sessions_pending, pendingRow, "No session has waited over a day.");
    fill("retrying-activities", q.retrying_activities, retryingRow, "No activity is stuck retrying.");
    fill("failed-workflows", q.failed_workflows, workflowRow,
      q.workflows_checked ? "No workflow failed in the last 7 days." : "Temporal could not list workflows just now: look in the Temporal UI.");
    fill("audit", actions.data.actions, auditRow, "No desk action yet.");
    document.querySelector("#overview [data-rows]").replaceChildren(...overview.data.coaches.map(coachRow));
    const waiting = requests.data.requests.length + q.messages.length + q.calendar_syncs.length + q.sessions_pending.length
      + q.failed_workflows.length + q.retrying_activities.length;
    status.textContent = waiting ? `${waiting} item(s) need a human. Times in ${zone}.` : `Nothing needs a human. Times in ${zone}.`;
    document.getElementById("desk").hidden = false;
  }

  document.getElementById("desk-reload").addEventListener("click", load);
  load();
})();
