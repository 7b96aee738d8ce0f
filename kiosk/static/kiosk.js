/* Kiosk touch screen: instant feedback on a tap and the screen timers.
   Every screen works without this file (plain forms, and a <noscript> refresh); this only makes
   a tap feel immediate, blocks double submits and moves on by itself. No inline script (CSP). */
(function () {
  "use strict";

  /* Coming back through the history cache must not leave a screen frozen mid-submit. */
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) { window.location.reload(); }
  });

  var screen = document.querySelector("[data-kiosk-screen]");
  if (!screen) { return; }
  var kind = screen.getAttribute("data-kiosk-screen");
  var timeout = parseInt(screen.getAttribute("data-timeout") || "0", 10);

  /* One submit per form: a second tap while the first is on its way does nothing. */
  function guard(form, onSubmit) {
    form.addEventListener("submit", function (event) {
      if (form.getAttribute("data-sent")) { event.preventDefault(); return; }
      form.setAttribute("data-sent", "1");
      if (onSubmit) { onSubmit(event); }
    });
  }

  function submitWith(form, button) {
    if (form.getAttribute("data-sent")) { return; }
    if (form.requestSubmit) { form.requestSubmit(button || undefined); }
    else { if (button) { button.click(); } else { form.submit(); } }
  }

  function after(seconds, action) {
    if (seconds > 0) { return window.setTimeout(action, seconds * 1000); }
    return null;
  }

  if (kind === "idle") {
    var rate = screen.querySelector("form.kiosk-rate");
    var status = screen.querySelector(".kiosk-sending");
    guard(rate, function (event) {
      var chosen = event.submitter;
      if (chosen) { chosen.classList.add("is-pressed"); }
      rate.classList.add("is-sending");
      screen.querySelectorAll(".kiosk-button").forEach(function (button) {
        if (button !== chosen) { button.setAttribute("aria-disabled", "true"); }
      });
      if (status) { status.textContent = status.getAttribute("data-sending-text"); }
    });
    /* pointerdown answers the finger before the click completes. */
    screen.querySelectorAll(".kiosk-button").forEach(function (button) {
      button.addEventListener("pointerdown", function () { button.classList.add("is-touched"); });
      button.addEventListener("pointerup", function () { button.classList.remove("is-touched"); });
      button.addEventListener("pointercancel", function () { button.classList.remove("is-touched"); });
    });
    var resetUrl = screen.getAttribute("data-reset-url");
    if (resetUrl) { after(timeout, function () { window.location.replace(resetUrl); }); }
  }

  if (kind === "followup") {
    var form = screen.querySelector("form");
    var countdown = screen.querySelector(".kiosk-countdown");
    var left = timeout;
    guard(form, function () { form.classList.add("is-sending"); });
    function tick() {
      if (countdown && left > 0) {
        countdown.textContent = countdown.getAttribute("data-countdown-text").replace("{s}", left);
      }
      if (left <= 0) {
        /* Time is up: send what was chosen, or skip when nothing was. */
        var chosen = form.querySelectorAll("input[name=reason]:checked").length > 0;
        submitWith(form, form.querySelector(chosen ? ".kiosk-action--send" : ".kiosk-action--skip"));
        return;
      }
      left -= 1;
      window.setTimeout(tick, 1000);
    }
    if (timeout > 0) { tick(); }
  }

  if (kind === "thanks" || kind === "error") {
    var back = screen.getAttribute("data-reset-url");
    after(timeout, function () { window.location.replace(back); });
  }

  if (kind === "staff" || kind === "status") {
    /* An open staff or status screen closes itself when nobody touches it. */
    var timer = null;
    var close = function () {
      var closer = document.querySelector("form[data-kiosk-close]");
      if (closer) { submitWith(closer); return; }
      var link = document.querySelector("a[data-kiosk-back]");
      if (link) { window.location.replace(link.getAttribute("href")); }
    };
    var restart = function () {
      if (timer) { window.clearTimeout(timer); }
      timer = after(timeout, close);
    };
    ["pointerdown", "keydown", "input"].forEach(function (name) {
      document.addEventListener(name, restart, { passive: true });
    });
    document.querySelectorAll("form").forEach(function (f) { guard(f); });
    restart();
  }
}());
