// The child's progress dashboard: score trend (Chart.js, vendored), the two completion rates with
// their counts, and the recent learning events, all from GET /api/children/{id}/progress.
"use strict";
(() => {
  if (!Coach.requireSignIn()) return;
  const { api, el, formatWhen } = Coach;
  const childId = document.getElementById("child-name").dataset.childId;
  const COLOURS = ["#4338ca", "#c2410c", "#15803d", "#b91c1c", "#6d28d9"];
  const percent = (rate) => (rate === null ? "–" : `${Math.round(rate * 100)}%`);

  async function load() {
    const answer = await api("GET", `/api/children/${childId}/progress`);
    const loading = document.getElementById("loading");
    if (!answer.ok) { loading.textContent = answer.data.detail; return; }
    const data = answer.data;
    loading.hidden = true;
    document.getElementById("progress").hidden = false;
    document.getElementById("child-name").textContent = `${data.child.name}: progress`;
    document.title = `${data.child.name} · Progress · Coach Sessions`;
    drawScores(data);
    drawRates(data);
    drawEvents(data);
  }

  function drawScores(data) {
    const series = data.assessments;
    const empty = series.length === 0;
    document.getElementById("scores-empty").hidden = !empty;
    document.getElementById("chart-box").hidden = empty;
    document.getElementById("scores-table-box").hidden = empty;
    if (empty) return;
    const canvas = document.getElementById("score-chart");
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
      el("li", { class: "muted", text: s.resolved ? `${s.completed} of ${s.resolved} resolved sessions completed` : "No session resolved yet" }), ...counts);
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

  load();
})();
