// The agenda, the coach's landing page: Needs you (with why), Today and This week, from one call
// (GET /api/coach/agenda). Each row has the session's own buttons (api/static/actions.js), enabled
// exactly as its can_* flags say; after an action the agenda is read again.
"use strict";
(() => {
  if (!Coach.ready()) return;
  const { api, el, formatWhen } = Coach;
  const isAdmin = Coach.isAdmin();
  const status = document.getElementById("agenda-status");
  const select = document.getElementById("coach-filter");
  let timezone = "UTC";

  const time = (iso) => new Intl.DateTimeFormat("en-GB", { timeZone: timezone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(new Date(iso));

  function needText(need, s) {
    if (need === "ended_unresolved") return "ended: complete it or mark it missed";
    if (need === "rescheduled_unresolved") return "rescheduled, its new time has passed: complete it or mark it missed";
    if (need === "awaiting_parent") return "the parent has not answered the cancellation request yet";
    if (need === "calendar_sync_failed") return `calendar sync failed${s.calendar_sync_error ? ": " + s.calendar_sync_error : ""}`;
    return need;
  }

  function row(s, withDay) {
    const child = { id: s.child_id, name: s.child_name };
    const line = el("div", { class: "session-line" },
      el("span", { class: "when", text: withDay ? formatWhen(s.scheduled_at, timezone) : time(s.scheduled_at) }),
      el("strong", { class: "child", text: s.child_name }),
      el("span", { class: "num", text: `session ${s.session_number}` }),
      el("span", { class: `badge st-${s.status}`, "data-status": s.status, text: Actions.statusLabel(s.status) }));
    const needs = (s.needs || []).length
      ? el("ul", { class: "needs", "aria-label": "Why it needs you" }, s.needs.map((need) => el("li", { "data-need": need, text: needText(need, s) })))
      : null;
    return el("li", { class: "session agenda-row", "data-session-id": s.id, "data-session-number": s.session_number },
      line, needs, Actions.controls(child, s));
  }

  function fill(sectionId, sessions, empty, withDay) {
    const list = document.querySelector(`#${sectionId} [data-list]`);
    list.replaceChildren(...sessions.map((s) => row(s, withDay)));
    if (!sessions.length) list.append(el("li", { class: "empty", text: empty }));
  }

  async function load() {
    const coachId = isAdmin ? select.value : "";
    if (isAdmin && !coachId) {
      status.textContent = "Choose a coach to see their agenda.";
      document.getElementById("agenda").hidden = true;
      return;
    }
    performance.mark("agenda-asked");
    const answer = await api("GET", "/api/coach/agenda" + (coachId ? `?coachId=${coachId}` : ""));
    if (!answer.ok) { status.textContent = answer.data.detail || "Could not load the agenda."; return; }
    const a = answer.data;
    timezone = a.timezone;
    status.textContent = `Today is ${a.today}; times in ${a.timezone}.`;
    const today = new Set(a.today_sessions.map((s) => s.id));
    fill("needs-you", a.needs_you, "Nothing needs you: every past session is resolved.", true);
    fill("today", a.today_sessions, "No sessions today.", false);
    fill("week", a.range_sessions.filter((s) => !today.has(s.id)), "No more sessions this week.", true);
    document.getElementById("week-title").textContent = `This week (to ${a.to_date})`;
    document.getElementById("agenda").hidden = false;
    void document.body.offsetHeight;  // lay the page out, so the figure covers it
    performance.measure("agenda", "agenda-asked");  // the call, the drawing and its layout (tests read it)
  }

  async function setUpFilter() {
    const answer = await api("GET", "/api/coaches");
    if (!answer.ok) { status.textContent = answer.data.detail; return; }
    for (const coach of answer.data.coaches) select.append(el("option", { value: coach.id, text: coach.name }));
    const wanted = new URLSearchParams(location.search).get("coachId");
    if (wanted && answer.data.coaches.some((c) => c.id === wanted)) select.value = wanted;
    document.getElementById("coach-filter-box").hidden = false;
    select.addEventListener("change", () => {
      history.replaceState(null, "", select.value ? `?coachId=${select.value}` : location.pathname);
      load();
    });
  }

  Actions.setUp({ isAdmin, tzOf: () => timezone, refresh: load });
  (isAdmin ? setUpFilter() : Promise.resolve()).then(load);
})();
