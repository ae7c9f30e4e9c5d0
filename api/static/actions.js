// A session's action buttons and their dialogs (api/templates/_dialogs.html), shared by the agenda and
// the sessions page. Each button follows the API's own flag (can_*) and, when that is false, names the
// API's reason (unavailable_reasons.<action>.detail). After an action, the page's refresh(child) redraws.
"use strict";
const Actions = (() => {
  const { api, keyedSender, el, toast, formatWhen, localDate } = Coach;
  const TERMINAL = new Set(["completed", "missed", "cancelled"]);
  const LABELS = { pending: "awaiting your update" };  // the API's value stays "pending"
  const statusLabel = (status) => LABELS[status] || status;
  let page = null;    // {isAdmin, tzOf(child), refresh(child)}
  let current = null; // {session, child, send}: what the open dialog acts on; send holds its Idempotency-Key

  const sr = (text) => el("span", { class: "sr", text });
  const why = (s, action) => ((s.unavailable_reasons || {})[action] || {}).detail || `Session ${s.session_number} cannot be changed now.`;

  // A greyed button stays focusable (aria-disabled, not disabled). Its reason is in its tooltip and in a
  // visible line under the row's buttons (phones have no hover), which the button is described by.
  function button(cls, label, s, action, open, reasons) {
    const n = s.session_number;
    if (s[`can_${action}`]) {
      return el("button", { type: "button", class: `btn ${cls}`, "data-action": action, onclick: open }, label, sr(` session ${n}`));
    }
    const reason = why(s, action);
    if (!reasons.has(reason)) reasons.set(reason, { id: `why-${s.id}-${Math.random().toString(36).slice(2, 8)}`, labels: [] });
    const entry = reasons.get(reason);  // the same session can show twice (agenda sections): ids stay unique
    entry.labels.push(label);
    const locked = ((s.unavailable_reasons || {})[action] || {}).code === "session_locked";
    return el("button", { type: "button", class: `btn ${cls}`, "data-action": action, "aria-disabled": "true", "data-locked": locked ? "" : null,
      "data-reason": reason, title: reason, "aria-describedby": entry.id, onclick: () => toast(reason, "error") },
    locked ? Coach.icon("lock") : "", label, sr(` session ${n}`));
  }

  function reasonLines(reasons) {
    if (!reasons.size) return null;
    return el("ul", { class: "why-off" }, [...reasons].map(([reason, { id, labels }]) =>
      el("li", {}, `${labels.join(", ")}: `, el("span", { id, text: reason }))));
  }

  // The row's controls: a pending cancellation, then the buttons (or, once finished, its outcome).
  function controls(child, s) {
    const n = s.session_number;
    const tz = page.tzOf(child);
    const reasons = new Map();  // reason → {id, labels}: one line per reason under the buttons
    const parts = [];
    if (s.cancellation_status === "pending") {
      parts.push(el("div", { class: "awaiting", "data-awaiting": "" },
        el("strong", { text: "Cancellation awaiting parent" }),
        el("span", { text: `auto-approves ${formatWhen(s.cancellation_expires_at, tz)}` }),
        button("btn-small", "Withdraw", s, "withdraw_cancel", withdrawer(child, s), reasons)));
    }
    const profile = el("a", { class: "btn btn-profile", href: `/coach/children/${s.child_id || child.id}/progress` }, Coach.icon("person"), "Progress", sr(` of ${child.name}`));
    if (TERMINAL.has(s.status)) {
      return parts.concat(el("div", { class: "buttons outcome" },
        s.coach_notes ? el("p", { class: "notes", text: `Private notes: ${s.coach_notes}` }) : null, profile));
    }
    const missedCode = ((s.unavailable_reasons || {}).mark_missed || {}).code;
    const cancelAction = page.isAdmin ? "cancel" : "request_cancel";
    parts.push(el("div", { class: "buttons" },
      el("button", { type: "button", class: "btn btn-prep", onclick: () => openPrep(child, s) }, "Prep", sr(` for session ${n}`)),
      // Missed is left out before the session has started (the product note's [Missed*]).
      missedCode === "session_not_started" ? null : button("btn-missed", "Missed", s, "mark_missed", () => openMissed(child, s), reasons),
      button("btn-reschedule", "Reschedule", s, "reschedule", () => openReschedule(child, s), reasons),
      button("btn-cancel", "Cancel", s, cancelAction, () => openCancel(child, s), reasons),
      button("btn-complete", "Complete", s, "complete", () => openComplete(child, s), reasons),
      /^https:\/\//.test(s.meet_link || "") ? el("a", { class: "btn btn-join", href: s.meet_link, target: "_blank", rel: "noopener" }, "Join", sr(` session ${n} (Meet)`)) : null,
      profile));
    parts.push(reasonLines(reasons));
    return parts;
  }

  // ----- dialogs --------------------------------------------------------------------------------

  function openDialog(name, child, s) {
    current = { child, session: s, send: keyedSender() };  // one key per opening
    const dialog = document.getElementById(`${name}-dialog`);
    const form = dialog.querySelector("form");
    if (form) { form.reset(); form.querySelector(".form-error").textContent = ""; }
    const subject = dialog.querySelector("[data-subject]");
    if (subject) subject.textContent = `${child.name} · session ${s.session_number} · ${formatWhen(s.scheduled_at, page.tzOf(child))}`;
    const preview = dialog.querySelector("[data-preview]");
    if (preview) preview.replaceChildren();
    dialog.showModal();
    return dialog;
  }

  async function submit(form, call, success) {
    clearTimeout(previewTimer);  // leaving a field on the way to Send asks for a preview: not needed now
    previewSeq += 1;
    const error = form.querySelector(".form-error");
    error.textContent = "";
    const button = form.querySelector("[type=submit]");
    button.setAttribute("aria-disabled", "true");
    try {
      const answer = await call();
      if (!answer.ok) { error.textContent = answer.data.detail || `Refused (${answer.status}).`; return; }
      form.closest("dialog").close();
      toast(success);
      await page.refresh(current.child);
    } finally {
      button.removeAttribute("aria-disabled");
    }
  }

  function wire(formId, handler) {
    document.getElementById(formId).addEventListener("submit", (event) => {
      event.preventDefault();
      handler(event.target);
    });
  }

  // ----- the parent's message, previewed (POST /api/sessions/message-preview, debounced) ----------

  const PREVIEW_DELAY_MS = 300;
  let previewTimer = null;
  let previewSeq = 0;

  // The preview's request for the form as it is, or null while it cannot be asked yet.
  function previewBody(form) {
    const s = current.session;
    const message = form.parentMessage ? form.parentMessage.value.trim() : "";
    const reason = form.reason ? form.reason.value.trim() : "";
    const body = { sessionId: s.id };
    if (form.id === "complete-form") body.action = "complete";
    if (form.id === "missed-form") Object.assign(body, { action: "missed", notifyParent: form.notifyParent.checked });
    if (message) body.parentMessage = message;
    if (form.id === "reschedule-form") {
      const time = chosenTime(form);
      if (!form.date.value || !time) return null;
      Object.assign(body, { action: "reschedule", newDate: form.date.value, newTime: time });
      if (reason) body.reason = reason;
    }
    if (form.id === "cancel-form") {
      if (reason.length < 3) return null;
      Object.assign(body, { action: page.isAdmin ? "cancel" : "request-cancel", reason });
    }
    return body;
  }

  function schedulePreview(form) {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(() => showPreview(form), PREVIEW_DELAY_MS);
  }

  async function showPreview(form) {
    const box = form.querySelector("[data-preview]");
    const seq = ++previewSeq;
    if (!form.closest("dialog").open) return;  // closed (sent or dropped) before its preview was due
    const body = previewBody(form);
    if (!body) { box.replaceChildren(); return; }
    const answer = await api("POST", "/api/sessions/message-preview", body);
    if (seq !== previewSeq || !form.closest("dialog").open) return;  // a newer preview is on its way, or it closed
    if (!answer.ok) { box.replaceChildren(el("p", { class: "muted", text: `No preview: ${answer.data.detail}` })); return; }
    const p = answer.data;
    if (!p.template) { box.replaceChildren(el("p", { "data-preview-none": "", text: "The parent gets no message." })); return; }
    box.replaceChildren(
      el("p", { class: "preview-to", text: `WhatsApp to ${p.recipient.name} (${p.recipient.phone}):` }),
      el("blockquote", { class: "preview-text", "data-preview-text": "", text: p.text }));
  }

  const PREVIEWED = new Set(["parentMessage", "notifyParent", "date", "time", "slot", "reason"]);
  for (const id of ["complete-form", "missed-form", "reschedule-form", "cancel-form"]) {
    const form = document.getElementById(id);
    for (const type of ["input", "change"]) {
      form.addEventListener(type, (event) => { if (PREVIEWED.has(event.target.name)) schedulePreview(form); });
    }
  }

  // ----- Complete, Missed ---------------------------------------------------------------------------

  function openComplete(child, s) {
    const dialog = openDialog("complete", child, s);
    showPreview(dialog.querySelector("form"));
  }

  const HOUR = 3600000;
  function openMissed(child, s) {
    const dialog = openDialog("missed", child, s);
    const form = dialog.querySelector("form");
    // The API's own default: the parent is told only of a session that ended in the last 48 hours.
    const ended = new Date(s.scheduled_at).getTime() + (s.duration_minutes || 0) * 60000;
    const recent = Date.now() - ended <= 48 * HOUR;
    form.notifyParent.checked = recent;
    dialog.querySelector("[data-notify-hint]").textContent = recent
      ? "The notice names the session's date."
      : `This session was on ${formatWhen(s.scheduled_at, page.tzOf(child))}, over 48 hours ago: the parent is not told unless you tick the box.`;
    showPreview(form);
  }

  wire("missed-form", (form) => {
    const body = { sessionId: current.session.id, notes: form.notes.value.trim() || null, notifyParent: form.notifyParent.checked };
    if (form.parentMessage.value.trim()) body.parentMessage = form.parentMessage.value.trim();
    return submit(form, () => current.send("POST", "/api/sessions/missed", body), `Session ${current.session.session_number} marked missed.`);
  });

  wire("complete-form", (form) => submit(form, async () => {
    const opened = current;
    const s = opened.session;
    const body = { sessionId: s.id, notes: form.notes.value.trim() || null };
    if (form.parentMessage.value.trim()) body.parentMessage = form.parentMessage.value.trim();
    const done = await opened.send("POST", "/api/sessions/complete", body);
    // Homework and scores take no Idempotency-Key: they go once per dialog opening, even when a
    // double click has two completions answered (with the one outcome).
    if (!done.ok || opened.extrasSent) return done;
    opened.extrasSent = true;
    const childId = s.child_id || opened.child.id;
    const extras = [];
    if (form.homework.value.trim()) {
      extras.push(api("POST", "/api/homework", { childId, sessionId: s.id, title: form.homework.value.trim(), dueDate: form.due.value || null }));
    }
    if (form.score.value !== "") {
      extras.push(api("POST", "/api/assessments", { childId, sessionId: s.id, kind: "reading", score: Number(form.score.value) }));
    }
    const failed = (await Promise.all(extras)).find((a) => !a.ok);
    if (failed) toast(`Session completed, but: ${failed.data.detail}`, "error");
    return done;
  }, `Session ${current.session.session_number} completed.`));

  // ----- Cancel, Withdraw -----------------------------------------------------------------------------

  function openCancel(child, s) {
    const dialog = openDialog("cancel", child, s);
    dialog.querySelector("#cancel-explain").textContent = page.isAdmin
      ? "As an admin you cancel directly; the calendar event is removed."
      : "The parent is asked on WhatsApp; with no answer the cancellation is approved automatically.";
    dialog.querySelector("[type=submit]").textContent = page.isAdmin ? "Cancel session" : "Request cancellation";
  }

  wire("cancel-form", (form) => {
    const s = current.session;
    const reason = form.reason.value.trim();
    return submit(form, () => (page.isAdmin
      ? current.send("DELETE", "/api/sessions", { sessionId: s.id, reason })  // in the body: query strings get logged
      : current.send("POST", "/api/sessions/request-cancel", { sessionId: s.id, reason })),
    page.isAdmin ? `Session ${s.session_number} cancelled.` : `Cancellation of session ${s.session_number} sent to the parent.`);
  });

  // Withdraw has no dialog: its key is made with the button, so a double click is one request.
  function withdrawer(child, s) {
    const send = keyedSender();
    return async () => {
      const answer = await send("POST", "/api/sessions/withdraw-cancel", { sessionId: s.id });
      if (!answer.ok) return toast(answer.data.detail, "error");
      toast(`Cancellation of session ${s.session_number} withdrawn.`);
      await page.refresh(child);
    };
  }

  // ----- Reschedule: the current time beside the new one -----------------------------------------------

  function openReschedule(child, s) {
    const dialog = openDialog("reschedule", child, s);
    const tz = page.tzOf(child);
    const tomorrow = localDate(new Date(Date.now() + 86400000).toISOString(), tz);
    const own = localDate(s.scheduled_at, tz);
    dialog.querySelector("#reschedule-date").value = own > tomorrow ? own : tomorrow;
    dialog.querySelector("#slots-tz").textContent = `(${tz})`;
    showMove();
    loadSlots();
  }

  function chosenTime(form) {
    const chosen = form.querySelector("input[name=slot]:checked");
    return form.time.value || (chosen && chosen.value);
  }

  function showMove() {
    const form = document.getElementById("reschedule-form");
    if (!current) return;
    const now = formatWhen(current.session.scheduled_at, page.tzOf(current.child));
    const time = chosenTime(form);
    form.querySelector("[data-moving]").textContent = `Now: ${now} → new: ${time ? `${form.date.value} ${time}` : "choose a time"}`;
  }
  document.getElementById("reschedule-form").addEventListener("change", showMove);
  document.getElementById("reschedule-form").addEventListener("input", showMove);

  async function loadSlots() {
    const day = document.getElementById("reschedule-date").value;
    const box = document.getElementById("slots");
    if (!day || !current) return;
    box.replaceChildren(el("p", { class: "muted", text: "Looking for free slots…" }));
    const answer = await api("GET", `/api/sessions/available-slots?sessionId=${current.session.id}&date=${day}`);
    if (!answer.ok) { box.replaceChildren(el("p", { class: "form-error", text: answer.data.detail })); return; }
    const slots = answer.data.slots;
    box.replaceChildren(...slots.map((slot, i) => el("label", {},
      el("input", { type: "radio", name: "slot", value: slot.time, id: `slot-${i}` }), slot.time)));
    if (!slots.length) box.append(el("p", { class: "muted", text: "No free slot that day; pick another day or enter a time." }));
    if (!answer.data.calendar_checked) box.append(el("p", { class: "muted", text: "The calendar could not be read: only sessions were taken into account." }));
  }
  document.getElementById("reschedule-date").addEventListener("change", loadSlots);

  wire("reschedule-form", (form) => {
    const time = chosenTime(form);
    if (!time) { form.querySelector(".form-error").textContent = "Choose a free slot or enter a time."; return; }
    const body = { sessionId: current.session.id, newDate: form.date.value, newTime: time };
    if (form.reason.value.trim()) body.reason = form.reason.value.trim();
    return submit(form, () => current.send("PATCH", "/api/sessions", body),
      `Session ${current.session.session_number} moved to ${form.date.value} ${time}.`);
  });

  // ----- Prep: the pre-session brief with its cited events ----------------------------------------

  async function openPrep(child, s) {
    const dialog = openDialog("prep", child, s);
    dialog.querySelector("#prep-title").textContent = `Pre-session brief: ${child.name}, session ${s.session_number}`;
    const body = dialog.querySelector("#prep-body");
    body.replaceChildren(el("p", { class: "muted", text: "Preparing the brief…" }));
    const answer = await api("GET", `/api/coach/session-prep?sessionId=${s.id}`);
    if (answer.status === 404 && answer.data.error === "not_found" && answer.data.detail === "Not Found") {
      body.replaceChildren(el("p", { class: "empty", "data-prep-unavailable": "", text: "The pre-session brief is not available yet on this server." }));
      return;
    }
    if (!answer.ok) { body.replaceChildren(el("p", { class: "form-error", text: answer.data.detail })); return; }
    body.replaceChildren(renderBrief(answer.data, page.tzOf(child)));
  }

  function renderBrief(brief, tz) {
    const sources = brief.sources || [];
    const index = new Map(sources.map((src, i) => [src.id, i + 1]));
    const cites = (item) => (item.event_ids || []).map((id) => el("a", { class: "cite", href: `#source-${id}` }, `[${index.get(id) || "?"}]`));
    const items = (title, list) => (list && list.length ? [el("h3", { text: title }), el("ul", {}, list.map((item) => el("li", {},
      item.text, cites(item))))] : []);
    const focus = brief.session_focus && brief.session_focus.text ? brief.session_focus : null;  // {text, event_ids}
    return el("div", { class: "brief", "data-brief": "" },
      brief.stale ? el("p", { class: "notice", text: "Newer events exist than this brief; it may be out of date." }) : null,
      focus ? [el("h3", { text: "Focus" }), el("p", { "data-focus": "" }, focus.text, cites(focus))] : null,
      items("Challenges", brief.challenges), items("Motivators", brief.motivators),
      items("Recommended activities", brief.recommended_activities),
      sources.length ? [el("h3", { text: "Sources" }), el("ol", { class: "sources" }, sources.map((src) => el("li", { id: `source-${src.id}` },
        `${formatWhen(src.event_date, tz, false)} · ${src.event_type}: ${src.text}`)))] : null,
      el("p", { class: "muted", text: `Generated ${brief.generated_at ? formatWhen(brief.generated_at, tz) : ""}${brief.model ? " by " + brief.model : ""}` }));
  }

  function setUp(options) { page = options; }

  return { setUp, controls, statusLabel, TERMINAL };
})();
