// The child's progress dashboard: score trend (Chart.js, vendored), the homework list with Mark done,
// the two completion rates with their counts, and the recent learning events, all from
// GET /api/children/{id}/progress; and three forms (a score, homework, an observation) that post to the
// API and redraw the page from its next answer.
"use strict";
(() => {
  if (!Coach.ready()) return;
  const { api, el, formatWhen, keyedSender, localDate, toast } = Coach;
  const childId = document.getElementById("child-name").dataset.childId;
  const COLOURS = ["#4338ca", "#c2410c", "#15803d", "#b91c1c", "#6d28d9"];
  const percent = (rate) => (rate === null ? "–" : `${Math.round(rate * 100)}%`);

  let timezone = null;  // the coach's, from the progress answer: "today" for due dates is theirs

  async function load() {
    const answer = await api("GET", `/api/children/${childId}/progress`);
    const loading = document.getElementById("loading");
    if (!answer.ok) { loading.textContent = answer.data.detail; return false; }
    const data = answer.data;
    timezone = data.timezone;
    loading.hidden = true;
    document.getElementById("progress").hidden = false;
    document.getElementById("child-name").textContent = `${data.child.name}: progress`;
    document.title = `${data.child.name} · Progress · Coach Sessions`;
    drawScores(data);
    drawHomework(data);
    drawRates(data);
    drawEvents(data);
    setDueDateBounds();
    return true;
  }

  function drawScores(data) {
    const series = data.assessments;
    const empty = series.length === 0;
    document.getElementById("scores-empty").hidden = !empty;
    document.getElementById("chart-box").hidden = empty;
    document.getElementById("scores-table-box").hidden = empty;
    const canvas = document.getElementById("score-chart");
    const old = Chart.getChart(canvas);
    if (old) old.destroy();
    if (empty) return;
    canvas.setAttribute("aria-label", "Score trend: " + series.map((s) => `${s.kind} ${s.points.map((p) => p.score).join(", ")}`).join("; "));
    const dateLabel = (ms) => new Intl.DateTimeFormat("en-GB", { timeZone: data.timezone, day: "numeric", month: "short", year: "numeric" }).format(new Date(ms));
    const tickLabel = (ms) => new Intl.DateTimeFormat("en-GB", { timeZone: data.timezone, day: "numeric", month: "short" }).format(new Date(ms));
    const times = series.flatMap((s) => s.points.map((p) => Date.parse(p.assessed_at)));
    const [first, last] = [Math.min(...times), Math.max(...times)];
    const pad = Math.max((last - first) * 0.03, 86400000);
    new Chart(canvas, {
      type: "line",
      data: { datasets: series.map((s, i) => ({
        label: s.kind, borderColor: COLOURS[i % COLOURS.length], backgroundColor: COLOURS[i % COLOURS.length],
        data: s.points.map((p) => ({ x: Date.parse(p.assessed_at), y: p.score })), tension: 0.2, pointRadius: 4,
      })) },
      options: {
        maintainAspectRatio: false, animation: false,
        scales: {
          x: { type: "linear", min: first - pad, max: last + pad, ticks: { callback: tickLabel, maxTicksLimit: 6 } },
          y: { min: 0, max: 100, title: { display: true, text: "Score (0-100)" } },
        },
        plugins: { tooltip: { callbacks: { title: (items) => dateLabel(items[0].parsed.x) } } },
      },
    });
    const rows = series.flatMap((s) => s.points.map((p) => el("tr", {}, el("td", { text: s.kind }),
      el("td", { text: formatWhen(p.assessed_at, data.timezone, false) }), el("td", { text: String(p.score) }))));
    document.getElementById("scores-table").replaceChildren(el("table", {},
      el("thead", {}, el("tr", {}, el("th", { text: "Kind" }), el("th", { text: "Date" }), el("th", { text: "Score" }))),
      el("tbody", {}, rows)));
  }

  function drawRates(data) {
    const s = data.sessions;
    document.getElementById("session-rate").textContent = percent(s.completion_rate);
    const counts = Object.entries(s.counts).map(([status, n]) => el("li", { class: `badge st-${status}`, text: `${status}: ${n}` }));
    document.getElementById("session-counts").replaceChildren(
      el("li", { class: "muted", text: s.counted ? `${s.completed} of ${s.counted} completed or missed sessions completed (cancelled ones do not count)` : "No session completed or missed yet" }), ...counts);
    const h = data.homework;
    document.getElementById("homework-rate").textContent = percent(h.completion_rate);
    const homework = [el("li", { class: "muted", text: h.assigned ? `${h.done} of ${h.assigned} done` : "No homework assigned yet" })];
    if (h.overdue) homework.push(el("li", { class: "badge st-cancelled", text: `overdue: ${h.overdue}` }));
    document.getElementById("homework-counts").replaceChildren(...homework);
  }

  function drawEvents(data) {
    const events = data.recent_events;
    document.getElementById("events-empty").hidden = events.length > 0;
    document.getElementById("events").replaceChildren(...events.map((e) => el("li", {},
      el("time", { datetime: e.event_date, text: formatWhen(e.event_date, data.timezone, false) }),
      el("strong", { text: e.event_type.replace(/_/g, " ") }), ": ", e.text)));
  }

  // ----- homework -----------------------------------------------------------------------------------

  const today = () => localDate(new Date().toISOString(), timezone);
  function addDays(day, n) {  // YYYY-MM-DD plus n calendar days
    const [y, m, d] = day.split("-").map(Number);
    return new Date(Date.UTC(y, m - 1, d + n)).toISOString().slice(0, 10);
  }
  const dayLabel = (day) => new Intl.DateTimeFormat("en-GB", { timeZone: "UTC", weekday: "short", day: "numeric", month: "short", year: "numeric" })
    .format(new Date(`${day}T00:00:00Z`));

  function drawHomework(data) {
    const items = data.homework.items;
    const now = today();
    document.getElementById("homework-empty").hidden = items.length > 0;
    const more = document.getElementById("homework-more");
    more.hidden = data.homework.assigned <= items.length;
    more.textContent = `Showing the latest ${items.length} of ${data.homework.assigned}.`;
    document.getElementById("homework-list").replaceChildren(...items.map((h) => {
      const done = h.completed_at !== null;
      const overdue = !done && h.due_date !== null && h.due_date < now;
      const state = done ? el("span", { class: "badge st-completed", text: "done" })
        : overdue ? el("span", { class: "badge st-cancelled", text: "overdue" })
          : el("span", { class: "badge st-scheduled", text: "open" });
      const due = el("span", { class: "hw-due", text: h.due_date ? `due ${dayLabel(h.due_date)}` : "no due date" });
      const button = done ? null : el("button", { type: "button", class: "btn btn-small btn-complete", "aria-label": `Mark done: ${h.title}`, text: "Mark done" });
      if (button) {
        const send = keyedSender();
        button.addEventListener("click", async () => {
          if (button.getAttribute("aria-busy") === "true") return;  // a double click sends once
          button.setAttribute("aria-busy", "true");
          const answer = await send("POST", `/api/homework/${h.id}/complete`);
          button.removeAttribute("aria-busy");
          if (!answer.ok) { toast(answer.data.detail, "error"); return; }
          toast(`Marked done: ${h.title}`);
          await load();
          document.getElementById("homework-title").focus();
        });
      }
      return el("li", { "data-homework-id": h.id }, el("span", { class: "hw-title", text: h.title }), due, state, button);
    }));
  }

  function setDueDateBounds() {
    const input = document.getElementById("homework-due");
    const now = today();
    input.min = now;
    input.max = addDays(now, 366);
    document.getElementById("homework-due-hint").textContent =
      `From today (${dayLabel(now)}, ${timezone}) to a year from today.`;
  }

  // ----- the three forms ------------------------------------------------------------------------------

  const CONTROL = /[\x00-\x1f\x7f]/;

  // Each form's checks mirror the API's rules (api/schemas.py, api/services/progress.py); a number's
  // and a date's bounds are read from the input's own min and max attributes.
  function checkText(input, { max, single }) {
    const value = input.value.trim();
    if (value === "") return "Required.";
    if (value.length > max) return `At most ${max} characters.`;
    if (single ? CONTROL.test(value) : value.includes("\0")) return "Only printable characters, please.";
    return null;
  }
  function checkScore(input) {
    if (input.value.trim() === "") return input.validity.badInput ? "Enter a number." : "Required.";
    const n = Number(input.value);
    if (!Number.isFinite(n)) return "Enter a number.";
    if (input.min !== "" && n < Number(input.min)) return `At least ${input.min}.`;
    if (input.max !== "" && n > Number(input.max)) return `At most ${input.max}.`;
    return null;
  }
  function checkDue(input) {
    if (input.value === "") return input.validity.badInput ? "Enter a whole date." : null;
    if (input.min && input.value < input.min) return `From today (${dayLabel(input.min)}) at the earliest.`;
    if (input.max && input.value > input.max) return `By ${dayLabel(input.max)} at the latest (a year from today).`;
    return null;
  }

  const FORMS = {
    "score-form": {
      path: "/api/assessments",
      checks: { kind: (i) => checkText(i, { max: 50, single: true }), score: checkScore },
      body: (f) => ({ childId, kind: f.kind.value.trim(), score: Number(f.score.value) }),
      done: (f) => `Score ${Number(f.score.value)} added.`,
    },
    "homework-form": {
      path: "/api/homework",
      checks: { title: (i) => checkText(i, { max: 200, single: true }), dueDate: checkDue },
      body: (f) => ({ childId, title: f.title.value.trim(), ...(f.dueDate.value ? { dueDate: f.dueDate.value } : {}) }),
      done: (f) => `Homework added: ${f.title.value.trim()}`,
    },
    "observation-form": {
      path: "/api/learning-events",
      checks: { content: (i) => checkText(i, { max: 4000, single: false }) },
      body: (f) => ({ childId, eventType: f.eventType.value, content: f.content.value.trim() }),
      done: () => "Observation added.",
    },
  };

  function showError(form, field, message) {
    const box = form.querySelector(`.field-error[data-field="${field}"]`);
    const input = form.elements[field];
    if (box && input) {
      box.textContent = message;
      input.setAttribute("aria-invalid", "true");
      return input;
    }
    form.querySelector(".form-error").textContent = message;
    return null;
  }
  function clearErrors(form) {
    for (const box of form.querySelectorAll(".field-error, .form-error")) box.textContent = "";
    for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  }

  // The API's 422: pydantic's answers list {field, message}; the service's own name the field first
  // ("dueDate: must be from today …").
  function showRefusal(form, data) {
    const fields = Array.isArray(data.fields) ? data.fields : [];
    let first = null;
    for (const f of fields) first = showError(form, f.field, f.message) || first;
    if (fields.length === 0) {
      const named = /^([A-Za-z]+): (.+)$/s.exec(data.detail || "");
      first = named && form.elements[named[1]] ? showError(form, named[1], named[2]) : showError(form, "", data.detail);
    }
    if (first) first.focus();
  }

  for (const [id, spec] of Object.entries(FORMS)) {
    const form = document.getElementById(id);
    let send = keyedSender();  // one Idempotency-Key per opening of the form (a fresh one after each answer)
    let busy = false;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (busy) return;  // a double click sends once
      clearErrors(form);
      let first = null;
      for (const [field, check] of Object.entries(spec.checks)) {
        const message = check(form.elements[field]);
        if (message) first = first || showError(form, field, message);
      }
      if (first) { first.focus(); return; }
      busy = true;
      const button = form.querySelector("button[type=submit]");
      button.setAttribute("aria-busy", "true");
      const answer = await send("POST", spec.path, spec.body(form.elements));
      busy = false;
      button.removeAttribute("aria-busy");
      if (answer.status === 422) { showRefusal(form, answer.data); return; }
      if (!answer.ok) { showError(form, "", answer.data.detail); return; }
      toast(spec.done(form.elements));
      form.reset();
      send = keyedSender();
      await load();
    });
  }

  load();
})();
