import { approve, reject, getOperation } from "/web/sdk/signet.js";
import { setStatus, busy, describe, terminalStatus } from "./common.js";

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

const finalMessages = {
  APPROVED: "This request has already been approved.",
  REJECTED: "This request was rejected.",
  CANCELED: "This request was canceled by your bank.",
  EXPIRED: "This request has expired. Please start again from your bank.",
  FAILED: "This request was blocked after too many failed attempts.",
};

// show puts value into the element (or into its <bdi>, which isolates text
// that could reorder what surrounds it) and shows its row when not empty.
function show(id, value) {
  const el = document.getElementById(id);
  (el.querySelector("bdi") || el).textContent = value;
  document.getElementById(id + "-row").hidden = !value;
}

// render shows the operation exactly as Signet stored it (textContent only:
// nothing reaches an HTML sink).
function render(op) {
  const title = op.type === "payment" ? "Confirm payment" : op.type === "login" ? "Confirm sign-in" : "Confirm request";
  document.getElementById("title").textContent = title;
  document.title = title + " · Signet";
  show("payee-name", (op.payee && op.payee.name) || "");
  show("payee-account", (op.payee && (op.payee.account_display || op.payee.account)) || "");
  document.getElementById("amount-value").textContent = op.amount || "";
  document.getElementById("amount-currency").textContent = op.currency || "";
  document.getElementById("amount-row").hidden = !op.amount;
  show("text", op.text || "");
  const exp = document.getElementById("expires");
  exp.dateTime = op.expires_at;
  exp.textContent = new Date(op.expires_at).toUTCString().replace(/:\d\d GMT$/, " UTC");
  document.getElementById("summary").hidden = false;
}

async function run(decision) {
  const pc = passcode.value;
  if (decision === "approve" && !/^[0-9]{6,12}$/.test(pc)) {
    setStatus("Enter your passcode: 6 to 12 digits.", "error");
    passcode.focus();
    return;
  }
  busy(form, true);
  setStatus("Confirm with your passkey…");
  try {
    const res = decision === "approve" ? await approve(operationId, pc, { capability }) : await reject(operationId, { capability });
    passcode.value = "";
    if (res.status === "APPROVED") setStatus("Approved. You can return to your bank.", "ok");
    else setStatus("Rejected. Nothing will be paid.", "ok");
    finish(res.status, true);
  } catch (err) {
    passcode.value = "";
    setStatus(describe(err, "operation"), "error");
    const st = terminalStatus(err);
    if (st) finish(st, false);
    else passcode.focus();
  } finally {
    busy(form, false);
  }
}

async function start() {
  if (app.dataset.notFound) return;
  capability = readCapability();
  if (!capability) {
    setStatus("This approval link is not valid. Please return to your bank and start again.", "error final");
    return;
  }
  let op;
  try {
    op = await getOperation(operationId, { capability });
  } catch (err) {
    setStatus(err && err.status === 404 ? "This approval link is not valid. Please return to your bank and start again."
      : describe(err, "operation"), "error final");
    return;
  }
  render(op);
  if (op.status !== "PENDING") {
    setStatus(finalMessages[op.status] || "This request can no longer be decided.", "final");
    finish(op.status, false);
    return;
  }
  setStatus("");
  form.hidden = false;
  form.addEventListener("submit", (ev) => { ev.preventDefault(); run("approve"); });
  document.getElementById("reject").addEventListener("click", () => run("reject"));
  passcode.focus();
}

start();
