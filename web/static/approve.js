import { approve, reject, getOperation } from "/web/sdk/signet.js";
import { setStatus, busy, describe, terminalStatus, t, lang, useLanguage, setTitle } from "./common.js";

// The page arrives as a shell without any operation data. The operation's
// capability is in the URL fragment (#c=…), which the browser never sends to
// a server; every browser API call carries it in the Authorization header.

const app = document.getElementById("app");
const returnURL = app.dataset.returnUrl || "";
let openerOrigins = [];
try { openerOrigins = JSON.parse(app.dataset.openerOrigins || "[]"); } catch { openerOrigins = []; }

const form = document.getElementById("approve-form");
const passcode = document.getElementById("passcode");
const operationId = decodeURIComponent(window.location.pathname.split("/").pop() || "");
let capability = "";

// readCapability takes the capability from the fragment, drops it from the
// address bar and history at once, and keeps it for this tab only (a reload
// of the page still works; another tab or a shared link has none).
function readCapability() {
  const key = "signet.capability." + operationId;
  const m = /(?:^#|&)c=([A-Za-z0-9_-]{43})(?:&|$)/.exec(window.location.hash);
  if (window.location.hash) history.replaceState(null, "", window.location.pathname + window.location.search);
  try {
    if (m) sessionStorage.setItem(key, m[1]);
    return (m && m[1]) || sessionStorage.getItem(key) || "";
  } catch {
    return m ? m[1] : "";
  }
}

// finish reports the outcome to the bank: postMessage to an allow-listed
// opener origin (a message to any other origin is not delivered), and a
// redirect to the allow-listed return_url, both with the operation id and status.
function finish(status, redirect) {
  done = true;
  if (form) form.hidden = true;
  if (window.opener && !window.opener.closed) {
    for (const origin of openerOrigins) {
      try { window.opener.postMessage({ type: "signet.operation", operation_id: operationId, status }, origin); } catch { /* ignore */ }
    }
  }
  if (!returnURL) return;
  const u = new URL(returnURL);
  u.searchParams.set("operation_id", operationId);
  u.searchParams.set("status", status);
  const link = document.getElementById("return-link");
  link.href = u.toString();
  document.getElementById("return").hidden = false;
  if (redirect) setTimeout(() => window.location.assign(u.toString()), 1500);
}

// show puts value into the element (or into its <bdi>, which isolates text
// that could reorder what surrounds it) and shows its row when not empty.
function show(id, value) {
  const el = document.getElementById(id);
  (el.querySelector("bdi") || el).textContent = value;
  document.getElementById(id + "-row").hidden = !value;
}

// kind is the operation's wording: a beneficiary change or a sign-in never
// speaks of paying.
function kind(type) {
  if (type === "login") return "login";
  if (/^payment([_.-]|$)/.test(type)) return "payment";
  if (/^beneficiary([_.-]|$)/.test(type)) return "beneficiary";
  return "request";
}

// formatAmount groups the amount in the page's language, keeping exactly the
// digits Signet stored (the currency's ISO 4217 minor units): Intl.NumberFormat
// formats the decimal string itself, so nothing is rounded through a float.
export function formatAmount(amount, locale) {
  const minor = (amount.split(".")[1] || "").length;
  return new Intl.NumberFormat(locale, { minimumFractionDigits: minor, maximumFractionDigits: minor }).format(amount);
}

// formatTime is a moment in the browser's time zone, in the page language's
// date format, with the zone named.
export function formatTime(iso, locale) {
  return new Intl.DateTimeFormat(locale, { year: "numeric", month: "long", day: "numeric", hour: "numeric",
    minute: "2-digit", timeZoneName: "short" }).format(new Date(iso));
}

// render shows the operation exactly as Signet stored it (textContent only:
// nothing reaches an HTML sink).
function render(op) {
  const title = t("approve.title." + kind(op.type));
  document.getElementById("title").textContent = title;
  setTitle(title);
  show("payee-name", (op.payee && op.payee.name) || "");
  show("payee-account", (op.payee && (op.payee.account_display || op.payee.account)) || "");
  document.getElementById("amount-value").textContent = op.amount ? formatAmount(op.amount, lang) : "";
  document.getElementById("amount-currency").textContent = op.currency || "";
  document.getElementById("amount-row").hidden = !op.amount;
  show("text", op.text || "");
  const exp = document.getElementById("expires");
  exp.dateTime = op.expires_at;
  exp.textContent = formatTime(op.expires_at, lang);
  exp.title = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  document.getElementById("summary").hidden = false;
}

let opKind = "request";

// While the page waits for the customer it reads the operation again every
// few seconds, so that a cancel by the bank, an expiry or an approval on
// another device shows at once, without a reload or a press. It pauses while
// a decision is in flight and while the tab is hidden.
const watchEvery = 3000;
let inFlight = false;
let done = false;

function watch() {
  setTimeout(async () => {
    if (done) return;
    if (!inFlight && !document.hidden) {
      try {
        const op = await getOperation(operationId, { capability });
        if (!done && !inFlight && op.status !== "PENDING") {
          setStatus(messagesFinal(op.status), "final");
          finish(op.status, false);
          return;
        }
      } catch { /* a failed read changes nothing: the next one may answer */ }
    }
    watch();
  }, watchEvery);
}

// triesLeft says how many wrong passcodes remain, in the language's plural form.
function triesLeft(n) {
  const key = "approve.tries_left." + new Intl.PluralRules(lang).select(n);
  return t(key, { n }) === key ? t("approve.tries_left.other", { n }) : t(key, { n });
}

// showLocked replaces the passcode and the Approve button with the locked
// state (a reload shows it too: the operation carries the passcode state);
// rejecting needs no passcode and stays possible.
function showLocked() {
  document.getElementById("passcode-field").hidden = true;
  document.getElementById("approve").hidden = true;
  setStatus(t("error.locked") + " " + t("approve.locked_reject"), "error locked");
  document.getElementById("reject").focus();
}

// afterWrongTry reads the passcode state again after a refused approval: the
// try that locks shows the lock at once, any other the tries left.
async function afterWrongTry(err) {
  let pc = null;
  try { pc = (await getOperation(operationId, { capability })).passcode || null; } catch { /* keep the plain message */ }
  if (err.status === 423 || (pc && pc.status === "LOCKED")) return showLocked();
  setStatus(describe(err, "operation") + (pc && pc.status === "SET" ? " " + triesLeft(pc.tries_left) : ""), "error");
  passcode.setAttribute("aria-invalid", "true");
  passcode.focus();
}

async function run(decision) {
  const pc = passcode.value;
  // An empty passcode asks for the passkey alone, which the bank may allow for
  // this operation type; where it does not, the SDK answers passcode_required.
  if (decision === "approve" && pc !== "" && !/^[0-9]{6,12}$/.test(pc)) {
    setStatus(t("approve.enter_passcode"), "error");
    passcode.setAttribute("aria-invalid", "true");
    passcode.focus();
    return;
  }
  busy(form, true);
  inFlight = true;
  setStatus(t("approve.confirm_passkey"));
  try {
    const res = decision === "approve" ? await approve(operationId, pc, { capability }) : await reject(operationId, { capability });
    passcode.value = "";
    if (res.status === "APPROVED") setStatus(t("approve.approved"), "ok");
    else setStatus(t("approve.rejected." + opKind), "ok");
    finish(res.status, true);
  } catch (err) {
    passcode.value = "";
    const st = terminalStatus(err);
    if (err && err.code === "passcode_required") {
      setStatus(t("approve.enter_passcode"), "error");
      passcode.setAttribute("aria-invalid", "true");
      passcode.focus();
    } else if (st) {
      setStatus(describe(err, "operation"), "error");
      finish(st, false);
    } else if (decision === "approve" && (err.status === 401 || err.status === 423)) {
      await afterWrongTry(err);
    } else {
      setStatus(describe(err, "operation"), "error");
      passcode.focus();
    }
  } finally {
    inFlight = false;
    busy(form, false);
  }
}

async function start() {
  await useLanguage(lang);
  if (app.dataset.notFound) return;
  capability = readCapability();
  if (!capability) {
    setStatus(t("approve.not_valid"), "error final");
    return;
  }
  let op;
  try {
    op = await getOperation(operationId, { capability });
  } catch (err) {
    setStatus(err && err.status === 404 ? t("approve.not_valid") : describe(err, "operation"), "error final");
    return;
  }
  // The language: ?lang= (the server chose it), else the operation's locale,
  // else the browser's Accept-Language (the server's choice again).
  if (app.dataset.langFixed !== "true" && op.locale && op.locale !== lang) await useLanguage(op.locale);
  opKind = kind(op.type);
  render(op);
  if (op.status !== "PENDING") {
    setStatus(messagesFinal(op.status), "final");
    finish(op.status, false);
    return;
  }
  setStatus("");
  form.hidden = false;
  form.addEventListener("submit", (ev) => { ev.preventDefault(); run("approve"); });
  document.getElementById("reject").addEventListener("click", () => run("reject"));
  passcode.addEventListener("input", () => passcode.removeAttribute("aria-invalid"));
  if (op.passcode && op.passcode.status === "LOCKED") showLocked();
  else passcode.focus();
  watch();
}

function messagesFinal(status) {
  const m = t("final." + status);
  return m === "final." + status ? t("final.other") : m;
}

start();
