// Shared by the coach pages: the token (URL fragment → this tab's session storage), JSON API calls,
// a status line, and a tiny DOM builder that only ever sets text (never HTML) from data.
"use strict";
const Coach = (() => {
  const KEY = "coachSessionsToken";

  function takeTokenFromFragment() {
    const params = new URLSearchParams(location.hash.slice(1));
    const token = params.get("token");
    if (token) {
      sessionStorage.setItem(KEY, token);
      history.replaceState(null, "", location.pathname + location.search); // the token leaves the address bar
    }
  }

  const token = () => sessionStorage.getItem(KEY);

  function claims() {
    try {
      const part = token().split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(atob(part));
    } catch (e) {
      return null;
    }
  }

  function signOut(reason) {
    sessionStorage.removeItem(KEY);
    const next = encodeURIComponent(location.pathname);
    location.assign(`/coach/sign-in?next=${next}` + (reason ? `&reason=${encodeURIComponent(reason)}` : ""));
  }

  function requireSignIn() {
    if (!token() || !claims()) {
      signOut("");
      return false;
    }
    return true;
  }

  // Every answer as {ok, status, data}; refusals keep the API's sentence in data.detail.
  async function api(method, path, body) {
    const headers = { Authorization: `Bearer ${token()}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      return { ok: false, status: 0, data: { detail: "The service cannot be reached; try again." } };
    }
    let data = null;
    try { data = await response.json(); } catch (e) { data = { detail: `HTTP ${response.status}` }; }
    if (response.status === 401) signOut("Your sign-in has expired or the token is not valid.");
    return { ok: response.ok, status: response.status, data };
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

  function formatWhen(iso, timezone, withZone = true) {
    const options = { timeZone: timezone, weekday: "short", day: "numeric", month: "short", year: "numeric",
                      hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
    if (withZone) options.timeZoneName = "short";
    return new Intl.DateTimeFormat("en-GB", options).format(new Date(iso));
  }

  function localDate(iso, timezone) {  // YYYY-MM-DD of an instant in a timezone
    return new Intl.DateTimeFormat("en-CA", { timeZone: timezone, year: "numeric", month: "2-digit", day: "2-digit" })
      .format(new Date(iso));
  }

  function init() {
    takeTokenFromFragment();
    const who = claims();
    if (who && document.getElementById("who")) {
      document.getElementById("who").textContent = who.role === "admin" ? "Signed in as admin" : "Signed in as coach";
      const out = document.getElementById("sign-out");
      out.hidden = false;
      out.addEventListener("click", () => signOut("You signed out."));
    }
    for (const button of document.querySelectorAll("dialog [data-close]")) {
      button.addEventListener("click", () => button.closest("dialog").close());
    }
  }

  init();
  return { api, token, claims, toast, el, formatWhen, localDate, requireSignIn, signOut, KEY };
})();
