// The sessions page (per child): each child with its sessions, and the note's seven buttons per row
// [Prep] [Missed*] [Reschedule] [Cancel] [Complete] [Join] [👤] (api/static/actions.js). Every action
// calls the JSON API and redraws that child's rows (a completion can unlock the next one). A search
// box filters the children by name.
"use strict";
(() => {
  if (!Coach.ready()) return;
  const { api, el, formatWhen } = Coach;
  const isAdmin = Coach.isAdmin();
  const coaches = new Map();
  const children = new Map();

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
    applySearch();
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
    const n = s.session_number;
    const line = el("div", { class: "session-line" },
      el("span", { class: "num", text: `#${n}` }),
      el("span", { class: "when", text: formatWhen(s.scheduled_at, tzOf(child)) }),
      el("span", { class: `badge st-${s.status}`, "data-status": s.status, text: Actions.statusLabel(s.status) }),
      syncState(s));
    return el("li", { class: "session", id: `session-${s.id}`, "data-session-number": n }, line, Actions.controls(child, s));
  }

  function syncState(s) {
    if (s.calendar_sync_status === "synced") return el("span", { class: "sync", text: "calendar synced" });
    if (s.calendar_sync_status === "failed") {
      return el("span", { class: "sync sync-failed", title: s.calendar_sync_error || "", text: `calendar failed${s.calendar_sync_error ? ": " + s.calendar_sync_error : ""}` });
    }
    return el("span", { class: "sync sync-pending", text: "calendar pending" });
  }

  Actions.setUp({ isAdmin, tzOf, refresh: (child) => refreshChild(child.id) });
  // The name search: hides the children whose name does not contain what is typed.
  const search = document.getElementById("child-search");
  function applySearch() {
    const wanted = search.value.trim().toLocaleLowerCase();
    let shown = 0;
    for (const child of children.values()) {
      const section = document.getElementById(`child-${child.id}`);
      const match = !wanted || child.name.toLocaleLowerCase().includes(wanted);
      if (section) section.hidden = !match;
      if (match) shown += 1;
    }
    document.getElementById("search-none").hidden = shown > 0 || !children.size;
  }
  search.addEventListener("input", applySearch);

  load();
})();
