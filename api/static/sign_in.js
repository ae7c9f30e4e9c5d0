"use strict";
(() => {
  const params = new URLSearchParams(location.search);
  const reason = params.get("reason");
  if (reason) {
    const box = document.getElementById("sign-in-reason");
    box.textContent = reason;
    box.hidden = false;
  }
  const next = params.get("next");
  const target = next && next.startsWith("/coach/") ? next : "/coach/agenda";
  document.getElementById("sign-in-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = document.getElementById("token-input").value.trim().replace(/^Bearer\s+/i, "");
    sessionStorage.setItem(Coach.KEY, token);
    location.assign(target);
  });
})();
