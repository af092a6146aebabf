// Shared helpers of the hosted pages.

import { loadMessages } from "/web/sdk/signet.js";

// The page's language and its catalogue (web/i18n/<lang>.json, shared with
// the SDK). The server chose the language (?lang=, else Accept-Language) and
// rendered the static text in it; scripts take every other text from here.
const app = document.getElementById("app");
export let lang = app.dataset.lang || "en";
export let messages = {};

export async function useLanguage(l) {
  messages = await loadMessages(l);
  lang = l;
  document.documentElement.lang = l;
  app.lang = l;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-label]")) el.setAttribute("aria-label", t(el.dataset.i18nLabel));
}

// t is the message for key with each {name} replaced from vars.
export function t(key, vars = {}) {
  const s = messages[key];
  if (s === undefined) return key;
  return s.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
}

// setTitle names the tab: the page's heading, then the bank.
export function setTitle(text) {
  document.title = app.dataset.brand ? `${text} · ${app.dataset.brand}` : text;
}

export function setStatus(text, kind = "") {
  const el = document.getElementById("status");
  el.textContent = text;
  el.className = "status" + (kind ? " " + kind : "");
}

// fieldError puts a message at the field it is about: a paragraph right
// after the input, linked by aria-describedby, the input marked aria-invalid
// and focused (WCAG 2.2 SC 3.3.1).
export function fieldError(input, message) {
  const id = input.id + "-error";
  let p = document.getElementById(id);
  if (!p) {
    p = document.createElement("p");
    p.id = id;
    p.className = "field-error";
    input.after(p);
  }
  p.textContent = message;
  p.hidden = false;
  input.setAttribute("aria-invalid", "true");
  const ids = (input.getAttribute("aria-describedby") || "").split(/\s+/).filter((x) => x && x !== id);
  input.setAttribute("aria-describedby", [id, ...ids].join(" "));
  input.focus();
}

// clearFieldErrors removes the field errors of a form.
export function clearFieldErrors(form) {
  for (const input of form.querySelectorAll("[aria-invalid]")) {
    input.removeAttribute("aria-invalid");
    const id = input.id + "-error";
    const ids = (input.getAttribute("aria-describedby") || "").split(/\s+/).filter((x) => x && x !== id);
    if (ids.length) input.setAttribute("aria-describedby", ids.join(" "));
    else input.removeAttribute("aria-describedby");
    const p = document.getElementById(id);
    if (p) p.hidden = true;
  }
}

export function busy(form, on) {
  for (const b of form.querySelectorAll("button")) b.disabled = on;
  form.setAttribute("aria-busy", on ? "true" : "false");
}

// describe turns an SDK or WebAuthn error into a plain sentence.
export function describe(err, context) {
  if (err && err.name === "NotAllowedError") return t("error.not_allowed");
  if (err && err.name === "InvalidStateError") return t("error.invalid_state");
  if (err && err.name === "SecurityError") return t("error.security");
  if (err && err.name === "SignetError") {
    const d = err.detail || "";
    switch (err.status) {
      case 0: return err.code === "unsupported" ? t("error.unsupported") : d;
      case 400: return (lang === "en" && d) || t("error.check_input"); // Signet's details are English
      case 401:
        if (context === "session") return t("error.session_expired");
        if (context === "enroll") return t("error.enroll_failed");
        return t("error.approve_failed");
      case 403: return t("error.forbidden");
      case 404: return context === "operation" ? t("approve.not_valid") : t("error.not_found");
      case 409: return conflict(d);
      case 410: return t("final.EXPIRED");
      case 423: return t("error.locked");
      case 429: return t("error.too_many");
      default: return t("error.server");
    }
  }
  return t("error.generic");
}

function conflict(detail) {
  const m = /operation is ([A-Z_]+)/.exec(detail);
  if (m && messages["final." + m[1]]) return t("final." + m[1]);
  if (lang === "en" && detail) return detail.charAt(0).toUpperCase() + detail.slice(1) + ".";
  return t("error.conflict");
}

// terminalStatus extracts an operation status from a conflict, if any.
export function terminalStatus(err) {
  if (!err || err.name !== "SignetError") return "";
  if (err.status === 410) return "EXPIRED";
  const m = err.status === 409 && /operation is ([A-Z_]+)/.exec(err.detail || "");
  return m ? m[1] : "";
}
