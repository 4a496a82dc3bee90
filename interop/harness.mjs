#!/usr/bin/env node
// JSON-lines RPC server driving the official X Chat XDK (WASM `Chat` class).
//
// Protocol: one JSON request per line on stdin, one JSON response per line
// on stdout, strictly in order:
//   -> {"id": <any>, "op": "<name>", "args": {...}}
//   <- {"id": <same>, "ok": true,  "result": <value>}
//   <- {"id": <same>, "ok": false, "error": "<message>"}
// Byte strings travel as standard base64 with padding (decoders here accept
// unpadded too). Accounts are independent SDK `Chat` instances keyed by
// args.account (default "default"), created on first use.
// Nothing but responses is written to stdout; diagnostics go to stderr.
// The process exits when stdin closes.
//
// Op reference: see OPS below and interop/README.md.

import { createInterface } from "node:readline";
import v8 from "node:v8";
import { loadSDK, SDK_VERSION } from "./sdk.mjs";
import { buildMessageEvent, decodeStruct, encodeStruct } from "./thrift.mjs";

// Keep stdout clean for the protocol even if the SDK logs.
for (const k of ["log", "info", "warn", "debug"]) console[k] = (...a) => console.error(...a);

// Compile the WASM with the baseline compiler only. With optimising
// tier-up, V8 waits at exit for background recompilation, which on a busy
// machine delays exit by seconds; the SDK is fast enough either way.
// Unknown flags are ignored, so this is safe on every Node version.
v8.setFlagsFromString("--liftoff-only");

let sdk;
try {
  sdk = await loadSDK();
} catch (e) {
  console.error(`harness: ${e instanceof Error ? e.message : e}`);
  process.exit(3);
}
const accounts = new Map();

function account(args) {
  const name = args?.account ?? "default";
  if (typeof name !== "string" || name === "") throw new Error("account must be a non-empty string");
  let c = accounts.get(name);
  if (!c) {
    c = new sdk.Chat();
    accounts.set(name, c);
  }
  return c;
}

const b64 = (u8) => Buffer.from(u8).toString("base64");

function bytes(v, name) {
  if (typeof v !== "string") throw new Error(`${name} must be a base64 string`);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(v)) throw new Error(`${name} is not standard base64`);
  return new Uint8Array(Buffer.from(v, "base64"));
}

function optBytes(v, name) {
  return v === undefined || v === null ? v : bytes(v, name);
}

// Converts SDK results to JSON-safe values: Uint8Array -> base64,
// Map -> object, BigInt -> string, undefined dropped by JSON.
function toJSON(v) {
  if (v instanceof Uint8Array) return b64(v);
  if (typeof v === "bigint") return v.toString();
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), toJSON(x)]));
  if (Array.isArray(v)) return v.map(toJSON);
  if (v && typeof v === "object") {
    const o = {};
    for (const [k, x] of Object.entries(v)) o[k] = toJSON(x);
    return o;
  }
  return v;
}

// params objects for encrypt*: conversationKey arrives as base64.
function encParams(p) {
  if (!p || typeof p !== "object") throw new Error("params object required");
  const out = { ...p };
  if ("conversationKey" in out) out.conversationKey = optBytes(out.conversationKey, "conversationKey");
  return out;
}

function keyMap(m) {
  if (m === undefined || m === null) return m;
  if (typeof m !== "object") throw new Error("conversationKeys must be an object {version: base64}");
  const o = {};
  for (const [k, v] of Object.entries(m)) o[k] = bytes(v, `conversationKeys[${k}]`);
  return o;
}

function str(v, name) {
  if (typeof v !== "string") throw new Error(`${name} must be a string`);
  return v;
}

function stringList(v, name) {
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) throw new Error(`${name} must be an array of strings`);
  return v;
}

const OPS = {
  // --- harness ---
  version: () => ({ sdk: SDK_VERSION, node: process.version }),
  accounts: () => [...accounts.keys()],
  newAccount: (a) => {
    const name = a?.account ?? "default";
    accounts.get(name)?.free();
    accounts.delete(name);
    account(a);
    return null;
  },
  dropAccount: (a) => {
    const name = a?.account ?? "default";
    accounts.get(name)?.free();
    return accounts.delete(name);
  },

  // --- keys ---
  generateKeypairs: (a) => account(a).generateKeypairs(),
  importKeys: (a) => { account(a).importKeys(bytes(a.keys, "keys"), a.version ?? undefined); return null; },
  exportKeys: (a) => ({ keys: account(a).exportKeys() }),
  getPublicKeys: (a) => account(a).getPublicKeys(),
  getPublicKeyFingerprint: (a) => account(a).getPublicKeyFingerprint(),
  setIdentity: (a) => { account(a).setIdentity(str(a.userId, "userId"), str(a.signingKeyVersion, "signingKeyVersion")); return null; },
  setSigningKeys: (a) => { account(a).setSigningKeys(a.signingKeys); return null; },
  setCacheKeys: (a) => { account(a).setCacheKeys(!!a.enabled); return null; },
  setRejectUnverified: (a) => { account(a).setRejectUnverified(!!a.reject); return null; },
  isUnlocked: (a) => account(a).isUnlocked(),
  hasIdentityKey: (a) => account(a).hasIdentityKey(),
  lock: (a) => { account(a).lock(); return null; },
  matchesRegisteredKey: (a) => account(a).matchesRegisteredKey(a.publicKey),
  verifyKeyBinding: (a) => account(a).verifyKeyBinding(a.identityPublicKey, a.signingPublicKey, a.identityPublicKeySignature),
  sign: (a) => ({ signature: account(a).sign(bytes(a.data, "data")) }),
  verify: (a) => account(a).verify(a.publicKey, bytes(a.signature, "signature"), bytes(a.data, "data")),

  // --- conversation keys and actions ---
  decryptConversationKey: (a) => ({ key: account(a).decryptConversationKey(a.encryptedKey) }),
  prepareConversationKeyChange: (a) => account(a).prepareConversationKeyChange(a.params),
  prepareGroupCreate: (a) => account(a).prepareGroupCreate(a.params),
  prepareGroupMembersChange: (a) => account(a).prepareGroupMembersChange(a.params),
  prepareMessageDelete: (a) => account(a).prepareMessageDelete(a.params),

  // --- messages ---
  encryptMessage: (a) => account(a).encryptMessage(encParams(a.params)),
  encryptReply: (a) => account(a).encryptReply(encParams(a.params)),
  encryptEdit: (a) => account(a).encryptEdit(encParams(a.params)),
  encryptAddReaction: (a) => account(a).encryptAddReaction(encParams(a.params)),
  encryptRemoveReaction: (a) => account(a).encryptRemoveReaction(encParams(a.params)),
  encrypt: (a) => ({ ciphertext: account(a).encrypt(String(a.plaintext), bytes(a.conversationKey, "conversationKey")) }),
  decrypt: (a) => ({ plaintext: account(a).decrypt(a.ciphertext, bytes(a.conversationKey, "conversationKey")) }),

  // --- events ---
  decryptEvent: (a) => account(a).decryptEvent(a.event, keyMap(a.conversationKeys) ?? undefined, a.signingKeys ?? undefined),
  decryptEvents: (a) => account(a).decryptEvents(stringList(a.events, "events"), a.signingKeys ?? undefined),
  extractConversationKeys: (a) => account(a).extractConversationKeys(stringList(a.events, "events")),

  // --- media streams ---
  encryptStream: (a) => ({ ciphertext: account(a).encryptStream(bytes(a.plaintext, "plaintext"), bytes(a.conversationKey, "conversationKey")) }),
  decryptStream: (a) => ({ plaintext: account(a).decryptStream(bytes(a.ciphertext, "ciphertext"), bytes(a.conversationKey, "conversationKey")) }),
  // Incremental API: every chunk pushed in order, then finish().
  streamEncrypt: (a) => {
    const enc = account(a).streamEncryptor(bytes(a.conversationKey, "conversationKey"));
    const parts = stringList(a.chunks ?? [], "chunks").map((c, i) => enc.push(bytes(c, `chunks[${i}]`)));
    return { parts, final: enc.finish() };
  },
  streamDecrypt: (a) => {
    const dec = account(a).streamDecryptor(bytes(a.conversationKey, "conversationKey"));
    const parts = stringList(a.chunks ?? [], "chunks").map((c, i) => dec.push(bytes(c, `chunks[${i}]`)));
    return { parts, final: dec.finish() };
  },

  // --- Thrift helpers (no SDK involved) ---
  buildMessageEvent: (a) => ({ event: b64(buildMessageEvent(a)) }),
  thriftDecode: (a) => decodeStruct(bytes(a.data, "data")),
  thriftEncode: (a) => ({ data: b64(encodeStruct(a.fields)) }),
};

function errorText(e) {
  if (e instanceof Error) return e.message;
  if (typeof e === "string") return e;
  try { return JSON.stringify(e); } catch { return String(e); }
}

function handle(line) {
  let req;
  try {
    req = JSON.parse(line);
  } catch (e) {
    return { id: null, ok: false, error: `bad request: ${errorText(e)}` };
  }
  const id = req?.id ?? null;
  if (!req || typeof req !== "object" || typeof req.op !== "string") return { id, ok: false, error: "bad request: missing op" };
  const fn = Object.hasOwn(OPS, req.op) ? OPS[req.op] : null;
  if (!fn) return { id, ok: false, error: `unknown op ${JSON.stringify(req.op)}` };
  try {
    const result = toJSON(fn(req.args ?? {}));
    return { id, ok: true, result: result === undefined ? null : result };
  } catch (e) {
    return { id, ok: false, error: errorText(e) };
  }
}

const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of rl) {
  if (line.trim() === "") continue;
  process.stdout.write(JSON.stringify(handle(line)) + "\n");
}
// Exit as soon as stdin closes: pending V8 background work for the WASM
// module can otherwise keep the event loop alive for seconds. Writes to a
// pipe are synchronous on Linux, so nothing queued is lost.
process.exit(0);
