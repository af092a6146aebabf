// Signet browser SDK: an ES module, no build step. Enroll a passkey and a
// passcode, approve or reject operations, manage passkeys.
//
//   import { approve } from "https://sca.bank.example/web/sdk/signet.js";
//   const { status } = await approve(operationId, passcode, { capability });
//
// An operation id alone opens nothing: every operation call needs the
// operation's capability (the "capability" field of the operation, or the
// #c= fragment of its approval_url; see parseApprovalURL).
//
// Loaded from Signet's origin it talks to that origin; pass { baseURL } to
// talk to another. The page's origin must be one of Signet's configured
// WebAuthn origins (SIGNET_RP_ORIGINS). See docs/web-sdk.md.

import { seal } from "./hpke.js";

const DEFAULT_BASE = new URL(import.meta.url).origin;

/** SignetError is a failed API call: HTTP status, problem code and detail. */
export class SignetError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.name = "SignetError";
    this.status = status;
    this.code = (problem && problem.code) || "error";
    this.detail = (problem && problem.detail) || "";
    this.problem = problem || null;
  }
}

function b64urlDecode(s) {
  const b = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4));
  return Uint8Array.from(b, (c) => c.charCodeAt(0));
}

function b64urlEncode(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

async function api(method, path, { body, session, capability, baseURL } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (session) headers.Authorization = `Bearer ${session}`;
  if (capability) headers.Authorization = `Signet-Capability ${capability}`;
  const res = await fetch(new URL(path, baseURL || DEFAULT_BASE), {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit", cache: "no-store", redirect: "error",
  });
  if (res.status === 204) return null;
  let data = null;
  try { data = await res.json(); } catch { /* not JSON */ }
  if (!res.ok) throw new SignetError(res.status, data);
  return data;
}

/**
 * loadMessages returns Signet's message catalogue for a language (en, de, fr,
 * cs, es): the texts the hosted pages show, keyed as in web/i18n/en.json.
 * Pass it to checkPasscode to get its messages in that language.
 */
export async function loadMessages(lang = "en", { baseURL } = {}) {
  if (!/^[a-z]{2}$/.test(lang)) throw new Error(`not a catalogue language: ${lang}`);
  const res = await fetch(new URL(`/web/i18n/${lang}.json`, baseURL || DEFAULT_BASE), { credentials: "omit" });
  if (!res.ok) throw new SignetError(res.status, null);
  return res.json();
}

const passcodeMessages = {
  "passcode.digits": "Use 6 to 12 digits.",
  "passcode.repeated": "Do not repeat one digit.",
  "passcode.run": "Do not use a run of consecutive digits.",
};

/**
 * checkPasscode applies Signet's passcode policy locally (the server applies
 * it again): 6 to 12 digits, not one digit repeated, not a straight run such
 * as 123456 or 987654. It returns a message (from messages, a catalogue of
 * loadMessages, else English), or "" when the passcode is fine.
 */
export function checkPasscode(p, messages = passcodeMessages) {
  const msg = (key) => messages[key] || passcodeMessages[key];
  if (typeof p !== "string" || !/^[0-9]{6,12}$/.test(p)) return msg("passcode.digits");
  let same = true, up = true, down = true;
  for (let i = 1; i < p.length; i++) {
    const d = (p.charCodeAt(i) - p.charCodeAt(i - 1) + 10) % 10;
    same &&= d === 0; up &&= d === 1; down &&= d === 9;
  }
  if (same) return msg("passcode.repeated");
  if (up || down) return msg("passcode.run");
  return "";
}

/** encryptPasscode seals a passcode with HPKE for one field of one ceremony. */
export async function encryptPasscode(hpke, field, passcode) {
  if (!hpke || hpke.kem_id !== 0x10 || hpke.kdf_id !== 1 || hpke.aead_id !== 1) throw new Error("unsupported passcode encryption suite");
  const info = hpke.info && hpke.info[field];
  if (!info) throw new Error(`no HPKE info for ${field}`);
  const { enc, ct } = await seal(b64urlDecode(hpke.public_key), b64urlDecode(info), new TextEncoder().encode(passcode));
  return { enc: b64urlEncode(enc), ct: b64urlEncode(ct) };
}

function supported() {
  if (!globalThis.PublicKeyCredential || typeof PublicKeyCredential.parseRequestOptionsFromJSON !== "function") {
    throw new SignetError(0, { code: "unsupported", detail: "This browser does not support passkeys." });
  }
}

async function getAssertion(options) {
  supported();
  const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(options.publicKey);
  const cred = await navigator.credentials.get({ publicKey });
  return cred.toJSON();
}

// paymentCreation adapts creation options that ask for the SPC "payment"
// extension (Signet asks when it offers Secure Payment Confirmation) to this
// browser: browsers only create payment credentials on a user-verifying
// platform authenticator (Chromium refuses the extension otherwise), so where
// SPC and such an authenticator are available the passkey is created there,
// and elsewhere the extension is dropped and any authenticator will do. The
// extension is a hint: Signet verifies every SPC assertion on its own.
async function paymentCreation(options) {
  const ext = options.extensions || {};
  if (!ext.payment) return options;
  const out = { ...options, extensions: { ...ext }, authenticatorSelection: { ...(options.authenticatorSelection || {}) } };
  let platform = false;
  try { platform = await PublicKeyCredential.isUserVerifyingPlatformAuthenticatorAvailable(); } catch { /* no */ }
  if (platform && await spcAvailable()) out.authenticatorSelection.authenticatorAttachment = "platform";
  else delete out.extensions.payment;
  return out;
}

/** openSession exchanges an enrollment link's secret for a management session. */
export async function openSession(token, { baseURL } = {}) {
  return api("POST", "/v1/web/enrollment/session", { body: { token }, baseURL });
}

/** sessionState returns the user's passcode state and passkeys. */
export async function sessionState(session, { baseURL } = {}) {
  return api("GET", "/v1/web/enrollment/session", { session, baseURL });
}

/**
 * enroll creates a discoverable passkey. Pass either { token } (the enrollment
 * link secret, opened here) or an open { session }, and the passcode: for the
 * first passkey the new passcode to set, afterwards the current passcode
 * (a link alone cannot add a device that signs). Returns { session, passkey }.
 */
export async function enroll({ token, session, passcode, label, baseURL } = {}) {
  supported();
  if (!session) session = (await openSession(token, { baseURL })).session;
  const begin = await api("POST", "/v1/web/enrollment/passkeys/begin", { session, baseURL });
  if (begin.passcode === "new") {
    const problem = checkPasscode(passcode);
    if (problem) throw new SignetError(400, { code: "invalid_request", detail: problem });
  } else if (typeof passcode !== "string" || !/^[0-9]{6,12}$/.test(passcode)) {
    throw new SignetError(400, { code: "invalid_request", detail: "Enter your current passcode to add a passkey." });
  }
  const sealed = await encryptPasscode(begin.hpke, "passcode", passcode);
  const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(await paymentCreation(begin.public_key.publicKey));
  const cred = await navigator.credentials.create({ publicKey });
  const passkey = await api("POST", "/v1/web/enrollment/passkeys/finish", {
    session, baseURL, body: { ceremony_id: begin.ceremony_id, credential: cred.toJSON(), passcode: sealed, label: label || "" },
  });
  return { session, passkey };
}

/** listPasskeys, renamePasskey, removePasskey manage the session user's passkeys. */
export async function listPasskeys(session, opts = {}) { return (await sessionState(session, opts)).passkeys; }
export async function renamePasskey(session, id, label, { baseURL } = {}) {
  return api("PATCH", `/v1/web/enrollment/passkeys/${encodeURIComponent(id)}`, { session, baseURL, body: { label } });
}
export async function removePasskey(session, id, { baseURL } = {}) {
  return api("DELETE", `/v1/web/enrollment/passkeys/${encodeURIComponent(id)}`, { session, baseURL });
}

/** changePasscode proves the passkey and the current passcode, and sets a new one. */
export async function changePasscode({ session, oldPasscode, newPasscode, baseURL } = {}) {
  const problem = checkPasscode(newPasscode);
  if (problem) throw new SignetError(400, { code: "invalid_request", detail: problem });
  const begin = await api("POST", "/v1/web/enrollment/passcode/begin", { session, baseURL });
  const passcode = await encryptPasscode(begin.hpke, "passcode", oldPasscode);
  const newSealed = await encryptPasscode(begin.hpke, "new_passcode", newPasscode);
  const credential = await getAssertion(begin.public_key);
  await api("POST", "/v1/web/enrollment/passcode/finish", {
    session, baseURL, body: { ceremony_id: begin.ceremony_id, credential, passcode, new_passcode: newSealed },
  });
}

/**
 * resetPasscode sets a new passcode on a session opened by a passcode-reset
 * link (the bank issues it: POST /v1/users/{id}/passcode/reset): a passkey
 * assertion proves possession, the old passcode is not needed. The lock
 * clears and the session ends.
 */
export async function resetPasscode({ session, newPasscode, messages, baseURL } = {}) {
  const problem = checkPasscode(newPasscode, messages);
  if (problem) throw new SignetError(400, { code: "invalid_request", detail: problem });
  const begin = await api("POST", "/v1/web/enrollment/passcode/reset/begin", { session, baseURL });
  const newSealed = await encryptPasscode(begin.hpke, "new_passcode", newPasscode);
  const credential = await getAssertion(begin.public_key);
  await api("POST", "/v1/web/enrollment/passcode/reset/finish", {
    session, baseURL, body: { ceremony_id: begin.ceremony_id, credential, new_passcode: newSealed },
  });
}

/**
 * parseApprovalURL splits an approval_url into the operation id and its
 * capability (from the #c= fragment, which browsers never send to a server).
 */
export function parseApprovalURL(url) {
  const u = new URL(url, globalThis.location ? globalThis.location.href : undefined);
  const m = /^\/web\/approve\/([^/]+)$/.exec(u.pathname);
  const c = /(?:^#|&)c=([A-Za-z0-9_-]{43})(?:&|$)/.exec(u.hash);
  if (!m || !c) throw new Error("not a Signet approval URL with a capability");
  return { operationId: decodeURIComponent(m[1]), capability: c[1] };
}

function needCapability(capability) {
  if (typeof capability !== "string" || !/^[A-Za-z0-9_-]{43}$/.test(capability)) {
    throw new SignetError(0, { code: "invalid_request", detail: "The operation's capability is missing (see parseApprovalURL)." });
  }
}

/**
 * getOperation returns what the user is asked to approve, as Signet stored it.
 * Needs the operation's capability; without the right one Signet answers 404,
 * exactly as for an operation that does not exist.
 */
export async function getOperation(operationId, { capability, baseURL } = {}) {
  needCapability(capability);
  return api("GET", `/v1/web/operations/${encodeURIComponent(operationId)}`, { capability, baseURL });
}

async function decide(operationId, decision, passcode, capability, baseURL) {
  needCapability(capability);
  const path = `/v1/web/operations/${encodeURIComponent(operationId)}/approval`;
  const begin = await api("POST", `${path}/begin`, { capability, baseURL, body: { decision } });
  const body = { ceremony_id: begin.ceremony_id };
  // Encrypt first: the passcode is bound to this ceremony and its challenge
  // (the operation's dynamic-linking digest) and never leaves in clear. The
  // bank's policy may let a passkey with user verification approve this
  // operation type alone (begin.passcode_optional); a passcode given anyway is sent.
  if (decision === "approve" && passcode) body.passcode = await encryptPasscode(begin.hpke, "passcode", passcode);
  else if (decision === "approve" && !begin.passcode_optional) {
    throw new SignetError(400, { code: "passcode_required", detail: "Enter your passcode (6 to 12 digits)." });
  }
  body.credential = (begin.spc && await spcAssertion(begin.spc)) || await getAssertion(begin.public_key);
  return api("POST", `${path}/finish`, { capability, baseURL, body });
}

/**
 * spcAvailable reports whether this browser can show a payment through
 * Secure Payment Confirmation (W3C SPC): the Payment Request API with the
 * "secure-payment-confirmation" method and a passkey registered with the
 * payment extension on a user-verifying platform authenticator.
 */
export async function spcAvailable() {
  if (!globalThis.PaymentRequest || !globalThis.PublicKeyCredential) return false;
  try {
    if (typeof PaymentRequest.securePaymentConfirmationAvailability === "function") {
      return (await PaymentRequest.securePaymentConfirmationAvailability()) === "available";
    }
    if (typeof PublicKeyCredential.getClientCapabilities === "function") {
      return (await PublicKeyCredential.getClientCapabilities())["extension:payment"] === true;
    }
  } catch { /* not available */ }
  return false;
}

// spcAssertion asks for the assertion through Secure Payment Confirmation:
// the browser shows the payee, the amount and the bank's instrument itself,
// and its clientDataJSON (type "payment.get") carries what it showed, which
// Signet checks against the operation. It returns null where SPC is not
// available (the caller falls back to navigator.credentials.get); a user who
// cancels the browser's dialog gets the error.
async function spcAssertion(spc) {
  if (!(await spcAvailable())) return null;
  const request = new PaymentRequest([{
    supportedMethods: "secure-payment-confirmation",
    data: {
      rpId: spc.rp_id,
      credentialIds: spc.credential_ids.map(b64urlDecode),
      challenge: b64urlDecode(spc.challenge),
      payeeName: spc.payee_name,
      instrument: spc.instrument,
      timeout: spc.timeout,
    },
  }], { total: { label: "Total", amount: { currency: spc.total.currency, value: spc.total.value } } });
  try {
    if (!(await request.canMakePayment())) return null;
  } catch {
    return null;
  }
  let res;
  try {
    res = await request.show();
  } catch (err) {
    // NotSupportedError: SPC cannot run here; NotAllowedError: no payment
    // credential matched, or the customer chose to verify another way. Both
    // fall back to the plain passkey assertion (the ceremony is still open).
    // AbortError (the customer closed the dialog) is theirs to see.
    if (err && (err.name === "NotSupportedError" || err.name === "NotAllowedError")) return null;
    throw err;
  }
  // PaymentResponse.toJSON() drops the assertion: read details.response.
  const d = res.details;
  const cred = {
    id: d.id, rawId: b64urlEncode(new Uint8Array(d.rawId)), type: "public-key",
    authenticatorAttachment: d.authenticatorAttachment || undefined,
    clientExtensionResults: {},
    response: {
      clientDataJSON: b64urlEncode(new Uint8Array(d.response.clientDataJSON)),
      authenticatorData: b64urlEncode(new Uint8Array(d.response.authenticatorData)),
      signature: b64urlEncode(new Uint8Array(d.response.signature)),
      userHandle: d.response.userHandle ? b64urlEncode(new Uint8Array(d.response.userHandle)) : undefined,
    },
  };
  try { await res.complete("success"); } catch { /* the dialog is already closed */ }
  return cred;
}

/**
 * approve approves an operation with the user's passkey and passcode. The
 * WebAuthn challenge is the operation's dynamic-linking digest. An empty
 * passcode approves with the passkey alone where the bank's policy allows it
 * for the operation's type; elsewhere it throws SignetError code
 * "passcode_required" (status 400) before asking for the passkey. Resolves to
 * { id, status }; the bank reads the transaction token through its API.
 */
export async function approve(operationId, passcode, { capability, baseURL } = {}) {
  if (passcode === undefined || passcode === null) passcode = "";
  if (typeof passcode !== "string" || (passcode !== "" && !/^[0-9]{6,12}$/.test(passcode))) {
    throw new SignetError(400, { code: "invalid_request", detail: "Enter your passcode (6 to 12 digits)." });
  }
  return decide(operationId, "approve", passcode, capability, baseURL);
}

/** reject rejects an operation with the user's passkey (no passcode needed). */
export async function reject(operationId, { capability, baseURL } = {}) {
  return decide(operationId, "reject", "", capability, baseURL);
}
