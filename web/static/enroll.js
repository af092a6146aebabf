import { openSession, sessionState, enroll, renamePasskey, removePasskey, changePasscode, resetPasscode, checkPasscode } from "/web/sdk/signet.js";
import { setStatus, busy, describe, t, lang, messages, useLanguage, fieldError, clearFieldErrors } from "./common.js";

const KEY = "signet.enrollment.session";
let session = "";
let state = null;

const $ = (id) => document.getElementById(id);

async function start() {
  await useLanguage(lang);
  const m = /(?:^#|&)token=([A-Za-z0-9_-]{43})(?:&|$)/.exec(window.location.hash);
  // Drop the secret from the address bar and history at once.
  if (window.location.hash) history.replaceState(null, "", window.location.pathname);
  try {
    if (m) {
      const s = await openSession(m[1]);
      session = s.session;
      sessionStorage.setItem(KEY, session);
    } else {
      session = sessionStorage.getItem(KEY) || "";
    }
    if (!session) {
      setStatus(t("enroll.need_link"), "error");
      return;
    }
    await refresh();
  } catch (err) {
    sessionStorage.removeItem(KEY);
    setStatus(describe(err, "session"), "error");
  }
}

async function refresh() {
  state = await sessionState(session);
  if (state.purpose === "passcode_reset") {
    // A reset link: only the reset is offered (reset.go on the server).
    $("intro").hidden = true;
    $("reset").hidden = false;
    $("reset_passcode").focus();
    return;
  }
  // First passkey: choose and repeat a passcode. Later ones: the current passcode.
  $("confirm-field").hidden = state.has_passcode;
  $("passcode-label").textContent = t(state.has_passcode ? "enroll.current_passcode" : "enroll.choose_passcode");
  $("passcode-rules").textContent = t(state.has_passcode ? "enroll.rules_current" : "enroll.rules");
  $("passcode").autocomplete = state.has_passcode ? "current-password" : "new-password";
  $("register").hidden = false;
  render(state.passkeys);
  $("change").hidden = !(state.has_passcode && state.passkeys.some((k) => k.status === "ACTIVE"));
  if (state.has_passcode && state.passcode_locked) {
    // Nothing here works with a locked passcode: say so instead of offering forms that fail.
    $("register").hidden = true;
    $("change").hidden = true;
    setStatus(t("error.locked"), "error");
  }
}

function render(passkeys) {
  const list = $("passkey-list");
  list.replaceChildren();
  $("manage").hidden = passkeys.length === 0;
  for (const k of passkeys) {
    const li = document.createElement("li");
    const name = document.createElement("strong");
    name.textContent = k.label || t("enroll.passkey");
    const meta = document.createElement("div");
    meta.className = "meta";
    const day = (iso) => new Date(iso).toLocaleDateString(lang, { dateStyle: "medium" });
    const parts = [t("enroll.added", { date: day(k.created_at) })];
    if (k.last_used_at) parts.push(t("enroll.last_used", { date: day(k.last_used_at) }));
    if (k.backup_state) parts.push(t("enroll.synced"));
    if (k.status !== "ACTIVE") parts.push(t(k.status === "BLOCKED" ? "enroll.status.BLOCKED" : "enroll.status.other"));
    meta.textContent = parts.join(" · ");
    const row = document.createElement("div");
    row.className = "row";
    const inputId = `label-${k.id}`;
    const lab = document.createElement("label");
    lab.htmlFor = inputId;
    lab.textContent = t("enroll.new_name");
    lab.className = "help";
    const input = document.createElement("input");
    input.id = inputId;
    input.type = "text";
    input.maxLength = 64;
    input.value = k.label || "";
    const rename = document.createElement("button");
    rename.type = "button";
    rename.className = "secondary";
    rename.textContent = t("enroll.rename");
    rename.addEventListener("click", () => act(async () => {
      await renamePasskey(session, k.id, input.value);
      return t("enroll.renamed");
    }));
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "danger";
    remove.textContent = t("enroll.remove");
    remove.setAttribute("aria-label", t("enroll.remove_label", { name: k.label || "" }).replace(/\s+/g, " ").trim());
    remove.addEventListener("click", () => act(async () => {
      await removePasskey(session, k.id);
      return t("enroll.removed");
    }));
    row.append(input, rename, remove);
    li.append(name, meta, lab, row);
    list.append(li);
  }
}

// act runs fn, refreshes the page state, then shows fn's success message;
// it reports whether fn succeeded.
async function act(fn, form) {
  if (form) busy(form, true);
  try {
    const done = await fn();
    await refresh();
    setStatus(done, "ok");
    return true;
  } catch (err) {
    setStatus(describe(err, "enroll"), "error");
    return false;
  } finally {
    if (form) busy(form, false);
  }
}

// showDone ends enrollment on its own step: what was done and where to go next.
function showDone() {
  $("register").hidden = true;
  $("intro").hidden = true;
  $("done").hidden = false;
  $("done").focus();
}

$("register-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const form = ev.currentTarget;
  const passcode = $("passcode").value;
  clearFieldErrors(form);
  setStatus("");
  if (state && state.has_passcode) {
    if (!/^[0-9]{6,12}$/.test(passcode)) return fieldError($("passcode"), t("enroll.enter_current"));
  } else {
    const problem = checkPasscode(passcode, messages);
    if (problem) return fieldError($("passcode"), problem);
    if (passcode !== $("passcode_confirm").value) return fieldError($("passcode_confirm"), t("enroll.differ"));
  }
  setStatus(t("enroll.follow_prompt"));
  act(async () => {
    await enroll({ session, passcode, label: $("label").value });
    $("passcode").value = "";
    $("passcode_confirm").value = "";
    $("label").value = "";
    return t("enroll.created");
  }, form).then((ok) => { if (ok) showDone(); });
});

$("change-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const form = ev.currentTarget;
  const oldPasscode = $("old_passcode").value;
  const newPasscode = $("new_passcode").value;
  const problem = checkPasscode(newPasscode, messages);
  clearFieldErrors(form);
  setStatus("");
  if (!/^[0-9]{6,12}$/.test(oldPasscode)) return fieldError($("old_passcode"), t("enroll.enter_current"));
  if (problem) return fieldError($("new_passcode"), problem);
  if (newPasscode !== $("new_passcode_confirm").value) return fieldError($("new_passcode_confirm"), t("enroll.new_differ"));
  setStatus(t("approve.confirm_passkey"));
  act(async () => {
    await changePasscode({ session, oldPasscode, newPasscode });
    for (const id of ["old_passcode", "new_passcode", "new_passcode_confirm"]) $(id).value = "";
    return t("enroll.changed");
  }, form);
});

start();

$("reset-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = ev.currentTarget;
  const newPasscode = $("reset_passcode").value;
  clearFieldErrors(form);
  setStatus("");
  const problem = checkPasscode(newPasscode, messages);
  if (problem) return fieldError($("reset_passcode"), problem);
  if (newPasscode !== $("reset_passcode_confirm").value) return fieldError($("reset_passcode_confirm"), t("enroll.new_differ"));
  setStatus(t("approve.confirm_passkey"));
  busy(form, true);
  try {
    await resetPasscode({ session, newPasscode, messages });
    // The reset session ended with the reset: nothing more to do here.
    sessionStorage.removeItem(KEY);
    $("reset").hidden = true;
    setStatus(t("enroll.changed"), "ok");
    $("reset-done").hidden = false;
    $("reset-done").focus();
  } catch (err) {
    setStatus(describe(err, "enroll"), "error");
  } finally {
    busy(form, false);
    for (const id of ["reset_passcode", "reset_passcode_confirm"]) $(id).value = "";
  }
});
