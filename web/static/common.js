// Shared helpers of the hosted pages.

export function setStatus(text, kind = "") {
  const el = document.getElementById("status");
  el.textContent = text;
  el.className = "status" + (kind ? " " + kind : "");
}

export function busy(form, on) {
  for (const b of form.querySelectorAll("button")) b.disabled = on;
  form.setAttribute("aria-busy", on ? "true" : "false");
}

// describe turns an SDK or WebAuthn error into a plain sentence.
export function describe(err, context) {
  if (err && err.name === "NotAllowedError") {
    return "The passkey was not used: it was canceled, timed out, or this device has no passkey for your account.";
  }
  if (err && err.name === "InvalidStateError") return "This device already holds a passkey for your account.";
  if (err && err.name === "SecurityError") return "Passkeys are not allowed on this page's address.";
  if (err && err.name === "SignetError") {
    const d = err.detail || "";
    switch (err.status) {
      case 0: return d;
      case 400: return d || "Please check what you entered.";
      case 401:
        if (context === "session") return "This link has expired or was already used. Ask your bank for a new one.";
        if (context === "enroll") return "That did not work. Please try again; if it keeps failing, ask your bank for a new link.";
        return "That did not work. Check your passcode and try again with your passkey.";
      case 403: return "This request cannot be approved with a passkey.";
      case 404: return context === "operation" ? "This approval link is not valid." : "Not found.";
      case 409: return conflict(d);
      case 410: return "This request has expired. Please start again from your bank.";
      case 423: return "Your passcode is locked after too many wrong tries. Ask your bank to unlock it.";
      case 429: return "Too many attempts. Please wait a moment.";
      default: return "Something went wrong on our side. Please try again.";
    }
  }
  return "Something went wrong. Please try again.";
}

function conflict(detail) {
  const m = /operation is ([A-Z_]+)/.exec(detail);
  if (m) {
    switch (m[1]) {
      case "CANCELED": return "This request was canceled by your bank.";
      case "APPROVED": return "This request has already been approved.";
      case "REJECTED": return "This request was rejected.";
      case "FAILED": return "This request was blocked after too many failed attempts.";
      case "EXPIRED": return "This request has expired. Please start again from your bank.";
    }
  }
  return detail ? detail.charAt(0).toUpperCase() + detail.slice(1) + "." : "This can no longer be done.";
}

// terminalStatus extracts an operation status from a conflict, if any.
export function terminalStatus(err) {
  if (!err || err.name !== "SignetError") return "";
  if (err.status === 410) return "EXPIRED";
  const m = err.status === 409 && /operation is ([A-Z_]+)/.exec(err.detail || "");
  return m ? m[1] : "";
}
