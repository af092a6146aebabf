import { approve, reject } from "/web/sdk/signet.js";
import { setStatus, busy, describe, terminalStatus } from "./common.js";

const app = document.getElementById("app");
const operationId = app.dataset.operationId;
const returnURL = app.dataset.returnUrl || "";
let openerOrigins = [];
try { openerOrigins = JSON.parse(app.dataset.openerOrigins || "[]"); } catch { openerOrigins = []; }

const form = document.getElementById("approve-form");
const passcode = document.getElementById("passcode");

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
    const res = decision === "approve" ? await approve(operationId, pc) : await reject(operationId);
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

if (form) {
  form.addEventListener("submit", (ev) => { ev.preventDefault(); run("approve"); });
  document.getElementById("reject").addEventListener("click", () => run("reject"));
  passcode.focus();
} else if (app.dataset.status && app.dataset.status !== "PENDING") {
  finish(app.dataset.status, false);
}
