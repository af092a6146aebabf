// HPKE (RFC 9180) base-mode sender for Signet passcodes, on WebCrypto only:
// DHKEM(P-256, HKDF-SHA256) (KEM 0x0010), HKDF-SHA256 (KDF 0x0001),
// AES-128-GCM (AEAD 0x0001). Single-shot: one message, sequence number 0.
// The server opens it with Go's crypto/hpke.

const subtle = globalThis.crypto.subtle;
const te = new TextEncoder();
const EMPTY = new Uint8Array(0);

export const KEM_ID = 0x0010;
export const KDF_ID = 0x0001;
export const AEAD_ID = 0x0001;
const NH = 32; // HKDF-SHA256 output size
const NK = 16; // AES-128-GCM key size
const NN = 12; // AES-128-GCM nonce size

function i2osp(n, len) { // RFC 9180 §3: I2OSP, big-endian
  const out = new Uint8Array(len);
  for (let i = len - 1; i >= 0; i--) { out[i] = n & 0xff; n = Math.floor(n / 256); }
  return out;
}

function concat(...parts) {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(len);
  let off = 0;
  for (const p of parts) { out.set(p, off); off += p.length; }
  return out;
}

// suite_id of the KEM (RFC 9180 §4.1) and of the whole suite (§5.1).
const SUITE_KEM = concat(te.encode("KEM"), i2osp(KEM_ID, 2));
const SUITE = concat(te.encode("HPKE"), i2osp(KEM_ID, 2), i2osp(KDF_ID, 2), i2osp(AEAD_ID, 2));
const VERSION = te.encode("HPKE-v1");

async function hmac(key, data) {
  // An empty HMAC key equals a block of zeros (RFC 2104 §2); WebCrypto refuses
  // empty keys, and RFC 5869 §2.2 says an absent salt is HashLen zeros.
  const k = await subtle.importKey("raw", key.length ? key : new Uint8Array(NH), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await subtle.sign("HMAC", k, data));
}

// HKDF-Extract and HKDF-Expand (RFC 5869 §2.2, §2.3).
const extract = (salt, ikm) => hmac(salt, ikm);
async function expand(prk, info, length) {
  const out = new Uint8Array(length);
  let t = EMPTY;
  for (let i = 1, off = 0; off < length; i++) {
    t = await hmac(prk, concat(t, info, Uint8Array.of(i)));
    out.set(t.subarray(0, Math.min(t.length, length - off)), off);
    off += t.length;
  }
  return out;
}

// LabeledExtract / LabeledExpand (RFC 9180 §4).
const labeledExtract = (suite, salt, label, ikm) => extract(salt, concat(VERSION, suite, te.encode(label), ikm));
const labeledExpand = (suite, prk, label, info, length) =>
  expand(prk, concat(i2osp(length, 2), VERSION, suite, te.encode(label), info), length);

// Encap (RFC 9180 §4.1): ephemeral P-256 key, DH with the recipient key, then
// ExtractAndExpand over the DH x-coordinate with kem_context = enc ‖ pkRm.
async function encap(pkRm) {
  const pkR = await subtle.importKey("raw", pkRm, { name: "ECDH", namedCurve: "P-256" }, false, []);
  const eph = await subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"]);
  const dh = new Uint8Array(await subtle.deriveBits({ name: "ECDH", public: pkR }, eph.privateKey, 256));
  const enc = new Uint8Array(await subtle.exportKey("raw", eph.publicKey)); // SerializePublicKey: uncompressed, 65 bytes
  const eaePrk = await labeledExtract(SUITE_KEM, EMPTY, "eae_prk", dh);
  const shared = await labeledExpand(SUITE_KEM, eaePrk, "shared_secret", concat(enc, pkRm), NH);
  return { shared, enc };
}

// KeySchedule in mode_base (RFC 9180 §5.1): empty psk and psk_id.
async function keySchedule(shared, info) {
  const pskIdHash = await labeledExtract(SUITE, EMPTY, "psk_id_hash", EMPTY);
  const infoHash = await labeledExtract(SUITE, EMPTY, "info_hash", info);
  const context = concat(Uint8Array.of(0), pskIdHash, infoHash);
  const secret = await labeledExtract(SUITE, shared, "secret", EMPTY);
  const key = await labeledExpand(SUITE, secret, "key", context, NK);
  const baseNonce = await labeledExpand(SUITE, secret, "base_nonce", context, NN);
  return { key, baseNonce };
}

/**
 * seal encrypts plaintext to the recipient public key pkR (65-byte
 * uncompressed P-256 point) with the given info, in HPKE base mode, and
 * returns {enc, ct} as bytes (RFC 9180 §6.1 SealBase, empty aad).
 */
export async function seal(pkR, info, plaintext) {
  if (!(pkR instanceof Uint8Array) || pkR.length !== 65 || pkR[0] !== 4) throw new TypeError("recipient key must be an uncompressed P-256 point");
  const { shared, enc } = await encap(pkR);
  const { key, baseNonce } = await keySchedule(shared, info);
  const aesKey = await subtle.importKey("raw", key, { name: "AES-GCM" }, false, ["encrypt"]);
  // Sequence number 0: the nonce is base_nonce itself (§5.2).
  const ct = new Uint8Array(await subtle.encrypt({ name: "AES-GCM", iv: baseNonce, tagLength: 128 }, aesKey, plaintext));
  return { enc, ct };
}
