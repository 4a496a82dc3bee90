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
import { App, envelopeInfo, tamperer } from "./app.mjs";

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
const apps = new Map(); // account name -> App (the app layer over that account's Chat)

function app(args) {
  const name = args?.account ?? "default";
  const a = apps.get(name);
  if (!a) throw new Error(`app: account ${JSON.stringify(name)} not initialised (call app.init)`);
  return a;
}

function tamperSpec(t) {
  if (t === undefined || t === null) return undefined;
  if (typeof t !== "object" || typeof t.kind !== "string") throw new Error("tamper must be {kind, ...}");
  return tamperer(t.kind, t);
}

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
    apps.delete(name);
    account(a);
    return null;
  },
  dropAccount: (a) => {
    const name = a?.account ?? "default";
    accounts.get(name)?.free();
    apps.delete(name);
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

  // --- app layer: the SDK used by an HTTP client of an X API server (app.mjs) ---
  "app.init": (a) => {
    const name = a?.account ?? "default";
    apps.set(name, new App(account(a), { baseURL: str(a.baseURL, "baseURL"), userId: str(a.userId, "userId"), token: str(a.token, "token") }));
    return null;
  },
  "app.register": (a) => app(a).register(),
  "app.fetchKeys": (a) => app(a).fetchKeys(stringList(a.userIds, "userIds")),
  "app.startConversation": (a) => app(a).startConversation(str(a.peerId, "peerId")),
  "app.createGroup": (a) => app(a).createGroup({ memberIds: stringList(a.memberIds, "memberIds"), adminIds: a.adminIds, title: a.title, signedTitle: a.signedTitle }),
  "app.conversation": (a) => app(a).conversation(str(a.conversationId, "conversationId")),
  "app.decryptMetadata": (a) => ({ plaintext: app(a).decryptMetadata(str(a.conversationId, "conversationId"), str(a.ciphertext, "ciphertext"), a.keyVersion ?? undefined) }),
  "app.addMembers": (a) => app(a).addMembers(str(a.conversationId, "conversationId"), stringList(a.memberIds, "memberIds")),
  "app.send": (a) => app(a).send(str(a.conversationId, "conversationId"), a),
  "app.edit": (a) => app(a).edit(str(a.conversationId, "conversationId"), str(a.target, "target"), str(a.text, "text"), a.entities),
  "app.react": (a) => app(a).react(str(a.conversationId, "conversationId"), str(a.target, "target"), str(a.emoji, "emoji"), !!a.remove),
  "app.delete": (a) => app(a).deleteMessages(str(a.conversationId, "conversationId"), stringList(a.sequenceIds, "sequenceIds"), !!a.deleteForAll),
  "app.sync": (a) => app(a).sync(str(a.conversationId, "conversationId"), { tamper: tamperSpec(a.tamper) }),
  "app.rawEvent": (a) => ({ event: app(a).rawEvent(str(a.conversationId, "conversationId"), str(a.sequenceId, "sequenceId")) }),
  "app.keys": (a) => {
    const e = app(a).convKeys.get(str(a.conversationId, "conversationId"));
    return { latest: e?.latest ?? null, versions: e ? [...e.keys.keys()] : [] };
  },
  "app.uploadMedia": (a) => app(a).uploadMedia(str(a.conversationId, "conversationId"), bytes(a.data, "data")),
  "app.downloadMedia": (a) => app(a).downloadMedia(str(a.conversationId, "conversationId"), str(a.mediaHashKey, "mediaHashKey"), a.keyVersion ?? undefined, { truncate: a.truncate }),
  // Pure helpers for tests.
  tamper: (a) => ({ event: tamperSpec(a)(str(a.event, "event")) }),
  envelopeInfo: (a) => envelopeInfo(str(a.event, "event")),

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

async function handle(line) {
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
    const result = toJSON(await fn(req.args ?? {}));
    return { id, ok: true, result: result === undefined ? null : result };
  } catch (e) {
    return { id, ok: false, error: errorText(e) };
  }
}

const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of rl) {
  if (line.trim() === "") continue;
  process.stdout.write(JSON.stringify(await handle(line)) + "\n");
}
// Exit as soon as stdin closes: pending V8 background work for the WASM
// module can otherwise keep the event loop alive for seconds. Writes to a
// pipe are synchronous on Linux, so nothing queued is lost.
process.exit(0);
