// The sessions page: each child with its sessions, and the note's seven buttons per row
// [Prep] [Missed*] [Reschedule] [Cancel] [Complete] [Join] [👤]. Every action calls the JSON API and
// redraws that child's rows (the row and its neighbours: a completion can unlock the next one).
"use strict";
(() => {
  if (!Coach.requireSignIn()) return;
  const { api, keyedSender, el, toast, formatWhen, localDate } = Coach;
  const isAdmin = (Coach.claims() || {}).role === "admin";
  const TERMINAL = new Set(["completed", "missed", "cancelled"]);
  const coaches = new Map();
  const children = new Map();
  let current = null; // {session, child, send} the open dialog acts on; send carries its Idempotency-Key

  const CHILDREN_IN_FLIGHT = 6;
  const tzOf = (child) => (coaches.get(child.coach_id) || {}).timezone || "UTC";

  async function load() {
    const coachAnswer = await api("GET", "/api/coaches");
    if (!coachAnswer.ok) return failLoad(coachAnswer);
    for (const coach of coachAnswer.data.coaches) coaches.set(coach.id, coach);
    if (isAdmin) setUpFilter();
    await loadChildren();
  }

  function failLoad(answer) {
    document.getElementById("loading").textContent = answer.data.detail || "Could not load.";
  }

  function setUpFilter() {
    const select = document.getElementById("coach-filter");
    for (const coach of coaches.values()) select.append(el("option", { value: coach.id, text: coach.name }));
    document.getElementById("coach-filter-box").hidden = false;
    select.addEventListener("change", loadChildren);
  }

  async function loadChildren() {
    const coachId = isAdmin ? document.getElementById("coach-filter").value : "";
    const answer = await api("GET", "/api/coach/children" + (coachId ? `?coachId=${coachId}` : ""));
    if (!answer.ok) return failLoad(answer);
    const box = document.getElementById("children");
    box.replaceChildren();
    children.clear();
    document.getElementById("loading").hidden = true;
    if (!answer.data.children.length) {
      box.append(el("p", { class: "empty", text: "No children yet. An admin registers them and their enrollment (POST /api/children, POST /api/enrollments)." }));
    }
    for (const child of answer.data.children) {
      children.set(child.id, child);
      // The child's name at once; its sessions as their answer comes.
      box.append(el("section", { class: "card", id: `child-${child.id}`, "aria-labelledby": `child-name-${child.id}` },
        childHead(child), el("p", { class: "muted", text: "Loading sessions…" })));
    }
    // A few requests in flight at once, not one per child: an admin's "all coaches" view can hold
    // hundreds of children, and Chromium refuses requests past its budget (ERR_INSUFFICIENT_RESOURCES).
    const waiting = answer.data.children.map((child) => child.id);
    const loadNext = async () => { while (waiting.length) await refreshChild(waiting.shift()); };
    await Promise.all(Array.from({ length: Math.min(CHILDREN_IN_FLIGHT, waiting.length) }, loadNext));
  }

  function childHead(child) {
    const coach = coaches.get(child.coach_id);
    return el("div", { class: "child-head" },
      el("h2", { id: `child-name-${child.id}`, text: child.name }),
      el("span", { class: "muted", text: `Age ${child.age}` + (isAdmin && coach ? ` · coach ${coach.name}` : "") + ` · times in ${tzOf(child)}` }));
  }

  async function refreshChild(childId) {
    const child = children.get(childId);
    if (!child) return;
    const answer = await api("GET", `/api/sessions?childId=${childId}`);
    const section = document.getElementById(`child-${childId}`);
    if (!section || !child) return; // the list was redrawn (coach filter) while this answer was on its way
    const head = childHead(child);
    if (!answer.ok) {
      section.replaceChildren(head, el("p", { class: "empty", text: answer.data.detail }));
      return;
    }
    const list = el("ol", { class: "sessions", "aria-label": `Sessions of ${child.name}` });
    for (const session of answer.data.sessions) list.append(row(child, session));
    if (!answer.data.sessions.length) list.append(el("li", { class: "empty", text: "No sessions yet." }));
    section.replaceChildren(head, list);
  }

  function row(child, s) {
    const tz = tzOf(child);
    const n = s.session_number;
    const sr = (text) => el("span", { class: "sr", text });
    const line = el("div", { class: "session-line" },
      el("span", { class: "num", text: `#${n}` }),
      el("span", { class: "when", text: formatWhen(s.scheduled_at, tz) }),
      el("span", { class: `badge st-${s.status}`, "data-status": s.status, text: s.status }),
      syncState(s));
    const parts = [line];
    if (s.cancellation_status === "pending") {
      parts.push(el("div", { class: "awaiting", "data-awaiting": "" },
        el("strong", { text: "Cancellation awaiting parent" }),
        el("span", { text: `auto-approves ${formatWhen(s.cancellation_expires_at, tz)}` }),
        el("button", { type: "button", class: "btn btn-small", onclick: withdrawer(child, s) }, "Withdraw", sr(` cancellation of session ${n}`))));
    }
    const done = TERMINAL.has(s.status);
    // Each button follows the API's own flag (can_*) and, when refused, says the API's reason.
    const why = (action) => ((s.unavailable_reasons || {})[action] || {}).detail || `Session ${n} cannot be changed now.`;
    const cancelAction = isAdmin ? "cancel" : "request_cancel";
    const buttons = el("div", { class: "buttons" },
      el("button", { type: "button", class: "btn btn-prep", onclick: () => openPrep(child, s) }, "Prep", sr(` for session ${n}`)),
      s.can_mark_missed ? el("button", { type: "button", class: "btn btn-missed", onclick: () => openDialog("missed", child, s) }, "Missed", sr(` session ${n}`)) : null,
      actionButton("btn-reschedule", "Reschedule", n, done || s.can_reschedule === false, why("reschedule"),
        () => openReschedule(child, s)),
      actionButton("btn-cancel", "Cancel", n, done || s[`can_${cancelAction}`] === false, why(cancelAction),
        () => openCancel(child, s)),
      completeButton(child, s),
      /^https:\/\//.test(s.meet_link || "") ? el("a", { class: "btn btn-join", href: s.meet_link, target: "_blank", rel: "noopener" }, "Join", sr(` session ${n} (Meet)`)) : null,
      el("a", { class: "btn btn-profile", href: `/coach/children/${child.id}/progress` }, "👤", sr(`Progress of ${child.name}`)));
    parts.push(buttons);
    return el("li", { class: "session", id: `session-${s.id}`, "data-session-number": n }, parts);
  }

  function syncState(s) {
    if (s.calendar_sync_status === "synced") return el("span", { class: "sync", text: "calendar synced" });
    if (s.calendar_sync_status === "failed") {
      return el("span", { class: "sync sync-failed", title: s.calendar_sync_error || "", text: `calendar failed${s.calendar_sync_error ? ": " + s.calendar_sync_error : ""}` });
    }
    return el("span", { class: "sync sync-pending", text: "calendar pending" });
  }

  // aria-disabled (not disabled) keeps the button focusable, so keyboard users reach its reason too.
  function actionButton(cls, label, n, off, why, action) {
    return el("button", { type: "button", class: `btn ${cls}`, "aria-disabled": off ? "true" : null, title: off ? why : null,
      onclick: () => (off ? toast(why, "error") : action()) }, label, el("span", { class: "sr", text: ` session ${n}` }));
  }

  function completeButton(child, s) {
    const n = s.session_number;
    if (s.is_locked) {
      const id = `lock-${s.id}`;
      // The reason sits beside the button (described-by, not part of its name) and in its tooltip.
      return [el("button", { type: "button", class: "btn btn-complete", "aria-disabled": "true", "data-locked": "",
        title: s.lock_reason, "aria-describedby": id, onclick: () => toast(s.lock_reason, "error") },
        "🔒 Complete", el("span", { class: "sr", text: ` session ${n}` })), el("span", { class: "sr", id, text: s.lock_reason })];
    }
    return actionButton("btn-complete", "Complete", n, TERMINAL.has(s.status), `Session ${n} is ${s.status}.`,
      () => openDialog("complete", child, s));
  }

  // ----- dialogs --------------------------------------------------------------------------------

  function openDialog(name, child, s) {
    current = { child, session: s, send: keyedSender() };  // one key per opening
    const dialog = document.getElementById(`${name}-dialog`);
    const form = dialog.querySelector("form");
    if (form) { form.reset(); form.querySelector(".form-error").textContent = ""; }
    dialog.showModal();
    return dialog;
  }

  async function submit(form, call, success) {
    const error = form.querySelector(".form-error");
    error.textContent = "";
    const button = form.querySelector("[type=submit]");
    button.setAttribute("aria-disabled", "true");
    try {
      const answer = await call();
      if (!answer.ok) { error.textContent = answer.data.detail || `Refused (${answer.status}).`; return; }
      form.closest("dialog").close();
      toast(success);
      await refreshChild(current.child.id);
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

  wire("missed-form", (form) => submit(form, () => current.send("POST", "/api/sessions/missed", {
    sessionId: current.session.id, notes: form.notes.value.trim() || null, notifyParent: form.notifyParent.checked,
  }), `Session ${current.session.session_number} marked missed.`));

  wire("complete-form", (form) => submit(form, async () => {
    const s = current.session;
    const opened = current;
    const done = await opened.send("POST", "/api/sessions/complete", { sessionId: s.id, notes: form.notes.value.trim() || null });
    // Homework and scores take no Idempotency-Key: they go once per dialog opening, even when a
    // double click has two completions answered (with the one outcome).
    if (!done.ok || opened.extrasSent) return done;
    opened.extrasSent = true;
    const extras = [];
    if (form.homework.value.trim()) {
      extras.push(api("POST", "/api/homework", { childId: current.child.id, sessionId: s.id, title: form.homework.value.trim(), dueDate: form.due.value || null }));
    }
    if (form.score.value !== "") {
      extras.push(api("POST", "/api/assessments", { childId: current.child.id, sessionId: s.id, kind: "reading", score: Number(form.score.value) }));
    }
    const failed = (await Promise.all(extras)).find((a) => !a.ok);
    if (failed) toast(`Session completed, but: ${failed.data.detail}`, "error");
    return done;
  }, `Session ${current.session.session_number} completed.`));

  function openCancel(child, s) {
    const dialog = openDialog("cancel", child, s);
    dialog.querySelector("#cancel-explain").textContent = isAdmin
      ? "As an admin you cancel directly; the calendar event is removed."
      : "The parent is asked on WhatsApp; with no answer the cancellation is approved automatically.";
    dialog.querySelector("[type=submit]").textContent = isAdmin ? "Cancel session" : "Request cancellation";
  }

  wire("cancel-form", (form) => {
    const s = current.session;
    const reason = form.reason.value.trim();
    return submit(form, () => (isAdmin
      ? current.send("DELETE", "/api/sessions", { sessionId: s.id, reason })  // in the body: query strings get logged
      : current.send("POST", "/api/sessions/request-cancel", { sessionId: s.id, reason })),
    isAdmin ? `Session ${s.session_number} cancelled.` : `Cancellation of session ${s.session_number} sent to the parent.`);
  });

  // Withdraw has no dialog: its key is made with the button, so a double click is one request.
  function withdrawer(child, s) {
    const send = keyedSender();
    return async () => {
      const answer = await send("POST", "/api/sessions/withdraw-cancel", { sessionId: s.id });
      if (!answer.ok) return toast(answer.data.detail, "error");
      toast(`Cancellation of session ${s.session_number} withdrawn.`);
      await refreshChild(child.id);
    };
  }

  function openReschedule(child, s) {
    const dialog = openDialog("reschedule", child, s);
    const tz = tzOf(child);
    const tomorrow = localDate(new Date(Date.now() + 86400000).toISOString(), tz);
    const own = localDate(s.scheduled_at, tz);
    dialog.querySelector("#reschedule-date").value = own > tomorrow ? own : tomorrow;
    dialog.querySelector("#slots-tz").textContent = `(${tz})`;
    loadSlots();
  }

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
    const chosen = form.querySelector("input[name=slot]:checked");
    const time = form.time.value || (chosen && chosen.value);
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
    body.replaceChildren(renderBrief(answer.data, tzOf(child)));
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

  load();
})();
