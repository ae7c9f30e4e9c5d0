// People and enrolments (admins): add a parent, add a child, and enrol a child after a preview of
// every session (POST /api/enrollments/preview), which flags clashes before anything is created.
// Text from data is only ever set as text.
"use strict";
(() => {
  if (!Coach.ready()) return;
  const { api, el, toast } = Coach;
  const CLASHES = {
    coach_session: "the coach has another session", calendar_busy: "busy in the coach's calendar",
    outside_working_hours: "outside working hours", in_the_past: "in the past (created as pending)",
  };

  function showError(form, answer) {
    const fields = (answer.data.fields || []).map((f) => `${f.field}: ${f.message}`).join("; ");
    form.querySelector(".form-error").textContent = answer.data.detail + (fields ? ` (${fields})` : "");
  }

  function options(select, items, label, chosen) {
    select.replaceChildren(el("option", { value: "", text: "Choose…" }),
      ...items.map((i) => el("option", { value: i.id, text: label(i), selected: i.id === chosen })));
  }

  async function loadLists(chosen = {}) {
    const [parents, coaches, children] = await Promise.all([
      api("GET", "/api/parents"), api("GET", "/api/coaches"), api("GET", "/api/coach/children"),
    ]);
    if (!parents.ok || !coaches.ok || !children.ok) { toast("Could not load people.", "error"); return; }
    const coachList = coaches.data.coaches.filter((c) => !c.deactivated_at);
    options(document.getElementById("child-parent"), parents.data.parents, (p) => `${p.name} (${p.phone})`, chosen.parent);
    options(document.getElementById("child-coach"), coachList, (c) => c.name, chosen.coach);
    options(document.getElementById("enrol-coach"), coachList, (c) => `${c.name} (${c.timezone})`, chosen.coach);
    options(document.getElementById("enrol-child"), children.data.children, (c) => `${c.name}, ${c.age}`, chosen.child);
    options(document.getElementById("change-child"), children.data.children, (c) => `${c.name}, ${c.age}`, chosen.child);
    options(document.getElementById("reassign-coach"), coachList, (c) => c.name, null);
    coachNames = Object.fromEntries(coaches.data.coaches.map((c) => [c.id, c.name]));
    people = [
      ...coaches.data.coaches.map((c) => ({ kind: "coaches", id: c.id, name: c.name, contact: c.email, off: c.deactivated_at })),
      ...parents.data.parents.map((p) => ({ kind: "parents", id: p.id, name: p.name, contact: p.phone, off: p.deactivated_at })),
    ];
    const who = document.getElementById("edit-who");
    const keep = who.value;
    who.replaceChildren(el("option", { value: "", text: "Choose…" }), ...people.map((p) =>
      el("option", { value: `${p.kind}/${p.id}`, text: `${p.kind === "coaches" ? "Coach" : "Parent"}: ${p.name}${p.off ? " (deactivated)" : ""}` })));
    who.value = keep;
    showPerson();
    await showEnrolment();
  }

  let coachNames = {};
  let people = [];
  const editForm = document.getElementById("edit-person");
  function chosenPerson() {
    const [kind, id] = (editForm.elements.who.value || "/").split("/");
    return people.find((p) => p.kind === kind && p.id === id) || null;
  }
  function showPerson() {
    const p = chosenPerson();
    editForm.elements.name.value = p ? p.name : "";
    editForm.elements.contact.value = p ? p.contact : "";
    document.getElementById("edit-state").textContent = !p ? "" : p.off
      ? `Deactivated ${new Date(p.off).toLocaleDateString()}: ${p.kind === "coaches" ? "no new enrolments" : "no messages"}.` : "Active.";
  }
  editForm.elements.who.addEventListener("change", showPerson);
  editForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const p = chosenPerson();
    if (!p) return;
    const body = { name: text(editForm, "name") };
    body[p.kind === "coaches" ? "email" : "phone"] = text(editForm, "contact");
    const answer = await api("PATCH", `/api/${p.kind}/${p.id}`, body);
    if (!answer.ok) { showError(editForm, answer); return; }
    editForm.querySelector(".form-error").textContent = "";
    toast(`Saved ${answer.data.name}.`);
    await loadLists();
  });
  document.getElementById("edit-deactivate").addEventListener("click", async () => {
    const p = chosenPerson();
    if (!p) return;
    const answer = await api("POST", `/api/${p.kind}/${p.id}/deactivate`);
    if (!answer.ok) { showError(editForm, answer); return; }
    toast(`${answer.data.name} is deactivated.`);
    await loadLists();
  });
  let activeEnrolment = null;
  const changeChild = document.getElementById("change-child");
  async function showEnrolment() {
    const line = document.getElementById("change-enrolment");
    activeEnrolment = null;
    if (!changeChild.value) { line.textContent = "Choose a child."; return; }
    const answer = await api("GET", `/api/enrollments?childId=${changeChild.value}`);
    if (!answer.ok) { line.textContent = answer.data.detail; return; }
    activeEnrolment = answer.data.enrollments.find((e) => e.status === "active") || null;
    line.textContent = activeEnrolment
      ? `Active enrolment with ${coachNames[activeEnrolment.coach_id] || "a coach"}: ${activeEnrolment.session_count} sessions from ${activeEnrolment.start_date}.`
      : "No active enrolment.";
  }
  changeChild.addEventListener("change", showEnrolment);

  document.getElementById("reassign").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const body = { coachId: form.elements.coachId.value };
    if (text(form, "reason")) body.reason = text(form, "reason");
    const answer = await api("POST", `/api/children/${changeChild.value}/reassign`, body);
    if (!answer.ok) { showError(form, answer); return; }
    form.querySelector(".form-error").textContent = "";
    toast(`Moved: ${answer.data.session_ids.length} session(s) go to ${coachNames[body.coachId] || "the new coach"}.`);
    await showEnrolment();
  });

  document.getElementById("end-enrolment").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    if (!activeEnrolment) { form.querySelector(".form-error").textContent = "This child has no active enrolment."; return; }
    const answer = await api("POST", `/api/enrollments/${activeEnrolment.id}/end`, { reason: text(form, "reason") });
    if (!answer.ok) { showError(form, answer); return; }
    form.reset();
    form.querySelector(".form-error").textContent = "";
    toast(`Enrolment ended: ${answer.data.cancelled_session_ids.length} session(s) cancelled.`);
    await showEnrolment();
  });

  const text = (form, name) => form.elements[name].value.trim();

  document.getElementById("add-coach").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const body = { name: text(form, "name"), email: text(form, "email"), timezone: text(form, "timezone") };
    const answer = await api("POST", "/api/coaches", body);
    if (!answer.ok) { showError(form, answer); return; }
    form.elements.name.value = "";
    form.elements.email.value = "";
    form.querySelector(".form-error").textContent = "";
    toast(`Added ${answer.data.name}.`);
    await loadLists({ coach: answer.data.id });
  });

  document.getElementById("add-parent").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const body = { name: text(form, "name"), phone: text(form, "phone") };
    if (text(form, "email")) body.email = text(form, "email");
    const answer = await api("POST", "/api/parents", body);
    if (!answer.ok) { showError(form, answer); return; }
    form.reset();
    form.querySelector(".form-error").textContent = "";
    toast(`Added ${answer.data.name}.`);
    await loadLists({ parent: answer.data.id });
  });

  document.getElementById("add-child").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const body = { name: text(form, "name"), age: Number(form.elements.age.value),
                   parentId: form.elements.parentId.value, coachId: form.elements.coachId.value };
    const answer = await api("POST", "/api/children", body);
    if (!answer.ok) { showError(form, answer); return; }
    form.elements.name.value = "";
    form.querySelector(".form-error").textContent = "";
    toast(`Added ${answer.data.name}.`);
    await loadLists({ child: answer.data.id, coach: body.coachId, parent: body.parentId });
  });

  const enrol = document.getElementById("enrol");
  const submit = document.getElementById("enrol-submit");
  let previewed = null;  // the plan the preview shows: Enrol sends exactly it

  function plan() {
    return {
      childId: enrol.elements.childId.value, coachId: enrol.elements.coachId.value,
      startDate: enrol.elements.startDate.value, sessionTime: enrol.elements.sessionTime.value,
      weekdays: [...enrol.querySelectorAll("input[name=weekdays]:checked")].map((b) => b.value),
      sessionCount: Number(enrol.elements.sessionCount.value), durationMinutes: Number(enrol.elements.durationMinutes.value),
    };
  }

  enrol.addEventListener("input", () => { previewed = null; submit.disabled = true; });
  document.getElementById("enrol-preview").addEventListener("click", async () => {
    const body = plan();
    const answer = await api("POST", "/api/enrollments/preview", body);
    if (!answer.ok) { showError(enrol, answer); document.getElementById("preview").hidden = true; return; }
    enrol.querySelector(".form-error").textContent = "";
    const p = answer.data;
    document.querySelector("#preview [data-rows]").replaceChildren(...p.sessions.map((s) => el("tr", { "data-session-number": s.session_number },
      el("td", { text: String(s.session_number) }), el("td", { text: s.weekday }), el("td", { text: s.local_date }),
      el("td", { text: s.local_time }),
      el("td", { class: s.clashes.length ? "sync-failed" : "", text: s.clashes.map((c) => CLASHES[c] || c).join("; ") || "none" }))));
    const clashing = p.sessions.filter((s) => s.clashes.length).length;
    document.getElementById("preview-note").textContent = `Times in ${p.timezone}. ` +
      (p.calendar_checked ? "" : "The coach's calendar could not be read: busy times are unknown. ") +
      (clashing ? `${clashing} session(s) clash: change the plan, or enrol and move those later.` : "No clash.");
    document.getElementById("preview").hidden = false;
    previewed = body;
    submit.disabled = false;
  });

  enrol.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!previewed) return;
    const answer = await api("POST", "/api/enrollments", previewed);
    if (!answer.ok) { showError(enrol, answer); return; }
    const done = document.getElementById("enrolled");
    done.replaceChildren(`Enrolled: ${answer.data.sessions.length} sessions created. `,
      el("a", { href: `/coach/agenda`, text: "Open the agenda" }), ".");
    done.hidden = false;
    submit.disabled = true;
    previewed = null;
  });

  document.getElementById("enrol-start").value = new Date().toISOString().slice(0, 10);
  loadLists();
})();
