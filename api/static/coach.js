// Shared by the coach pages: the page session (an HttpOnly cookie this script never sees, and the CSRF
// token the server put in a meta tag), JSON API calls, a status line, and a tiny DOM builder that only
// ever sets text (never HTML) from data.
"use strict";
const Coach = (() => {
  const csrfToken = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const role = () => document.body.dataset.role || "";
  const isAdmin = () => role() === "admin";

  function goSignIn(reason) {
    const next = encodeURIComponent(location.pathname);
    location.assign(`/coach/sign-in?next=${next}` + (reason ? `&reason=${encodeURIComponent(reason)}` : ""));
  }

  // A development or test link carries a portal token in the fragment (#token=…), which is never sent
  // to a server: trade it for a session cookie, take it out of the address bar, and open the page.
  async function exchangeFragmentToken() {
    const token = new URLSearchParams(location.hash.slice(1)).get("token");
    if (!token) return false;
    history.replaceState(null, "", location.pathname + location.search);
    const response = await fetch("/auth/token", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ token }),
    }).catch(() => null);
    if (!response || !response.ok) {
      location.replace("/coach/sign-in?reason=bad_token");
      return true;
    }
    const onSignIn = location.pathname === "/coach/sign-in";
    const next = (document.getElementById("sign-in-next") || { dataset: {} }).dataset.next;
    location.replace(onSignIn ? (next || "/coach/agenda") : location.pathname + location.search);
    return true;
  }

  // Every answer as {ok, status, data}; refusals keep the API's sentence in data.detail.
  async function api(method, path, body, extraHeaders) {
    const headers = { "X-CSRF-Token": csrfToken(), ...extraHeaders };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(path, { method, headers, credentials: "same-origin",
                                      body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      return { ok: false, status: 0, data: { detail: "The service cannot be reached; try again." } };
    }
    let data = null;
    try { data = await response.json(); } catch (e) { data = { detail: `HTTP ${response.status}` }; }
    if (response.status === 401) goSignIn("expired");
    return { ok: response.ok, status: response.status, data };
  }

  // crypto.randomUUID exists only in secure contexts (https, localhost): plain http elsewhere gets
  // the same version-4 UUID from getRandomValues, which every browser has.
  function newKey() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  // An action sender holding one Idempotency-Key, made when a dialog opens. Every copy of the same
  // request (a double click, a retry after no answer or a 5xx) carries that key, so the API applies
  // it once and answers each copy with its one outcome. The key names one request: a changed request,
  // or any request after the API gave a final answer (the key keeps refusals too, so a lock lifted
  // since would be refused again), gets a fresh one.
  function keyedSender() {
    let key = newKey();
    let sent = null;
    return async (method, path, body) => {
      const request = JSON.stringify([method, path, body === undefined ? null : body]);
      if (sent !== null && request !== sent) key = newKey();
      sent = request;
      const used = key;
      const answer = await api(method, path, body, { "Idempotency-Key": used });
      const unknown = answer.status === 0 || answer.status >= 500 || (answer.data || {}).error === "idempotency_key_in_progress";
      if (!unknown && key === used) { key = newKey(); sent = null; }
      return answer;
    };
  }

  let toastTimer = null;
  function toast(message, kind) {
    const box = document.getElementById("toast");
    box.textContent = message;
    box.className = "toast" + (kind === "error" ? " error" : "");
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { box.textContent = ""; }, 6000);
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  // Icons drawn as SVG, not emoji: a machine without an emoji font showed 🔒 and 👤 as empty boxes.
  // Decorative only (aria-hidden): every icon sits beside a text label.
  const ICONS = {
    lock: "M7 10V7a5 5 0 0 1 10 0v3h1a1 1 0 0 1 1 1v9a1 1 0 0 1-1 1H6a1 1 0 0 1-1-1v-9a1 1 0 0 1 1-1h1zm2 0h6V7a3 3 0 0 0-6 0v3z",
    person: "M12 12a4.5 4.5 0 1 0 0-9 4.5 4.5 0 0 0 0 9zm0 2c-4.4 0-8 2.5-8 5.5V21h16v-1.5c0-3-3.6-5.5-8-5.5z",
  };
  function icon(name) {
    const NS = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("class", "icon");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    const path = document.createElementNS(NS, "path");
    path.setAttribute("d", ICONS[name]);
    svg.append(path);
    return svg;
  }

  // The zone as people say it ("IST", "EST"), not "GMT+5:30": English locales know different
  // abbreviations (en-GB has no IST), so the first that has a name wins; else the GMT offset.
  function zoneLabel(iso, timezone) {
    let offset = "";
    for (const locale of ["en-IN", "en-US", "en-GB"]) {
      const part = new Intl.DateTimeFormat(locale, { timeZone: timezone, timeZoneName: "short" })
        .formatToParts(new Date(iso)).find((p) => p.type === "timeZoneName");
      const name = part ? part.value : "";
      if (name && !/^(GMT|UTC)/.test(name)) return name;
      offset = offset || name;
    }
    return offset;
  }

  function formatWhen(iso, timezone, withZone = true) {
    const options = { timeZone: timezone, weekday: "short", day: "numeric", month: "short", year: "numeric",
                      hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
    const when = new Intl.DateTimeFormat("en-GB", options).format(new Date(iso));
    return withZone ? `${when} ${zoneLabel(iso, timezone)}` : when;
  }

  function localDate(iso, timezone) {  // YYYY-MM-DD of an instant in a timezone
    return new Intl.DateTimeFormat("en-CA", { timeZone: timezone, year: "numeric", month: "2-digit", day: "2-digit" })
      .format(new Date(iso));
  }

  // True when the page is about to be replaced (a token link being exchanged): its script waits.
  const leaving = location.hash.includes("token=");
  function init() {
    if (leaving) exchangeFragmentToken();
    const status = document.getElementById("toast");
    if (status) status.addEventListener("click", () => { status.textContent = ""; });
    for (const button of document.querySelectorAll("dialog [data-close]")) {
      button.addEventListener("click", () => button.closest("dialog").close());
    }
  }

  init();
  // A page's script runs only when it is signed in and staying (not trading a #token= link).
  const ready = () => !leaving && role() !== "";
  return { api, keyedSender, role, isAdmin, ready, toast, el, icon, formatWhen, localDate };
})();
