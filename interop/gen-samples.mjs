#!/usr/bin/env node
// Generates interop/testdata/sdk-samples.json: artefacts produced by the
// official X Chat XDK (npm @xdevplatform/chat-xdk, WASM build) that the Go
// engine must accept byte for byte. Run from interop/ after `npm ci`:
//
//   node gen-samples.mjs > testdata/sdk-samples.json
//
// Everything random (keys, conversation keys, message ids, nonces) comes from
// the SDK, so each run produces different but equally valid samples. The
// server-side MessageEvent envelopes (REST `encoded_event`) are built here with
// thrift.mjs, the way the X backend wraps client payloads (event.thrift
// MessageEvent), and every one of them is decrypted back by the SDK: the
// recorded `sdk` results are what the SDK itself reported. Signed payload
// strings marked `reconstructed` were rebuilt here and verified with Node's
// crypto (OpenSSL) against the SDK signature before being written.

import crypto from "node:crypto";
import { loadSDK, SDK_VERSION } from "./sdk.mjs";
import { buildMessageEvent, decodeStruct } from "./thrift.mjs";

const sdk = await loadSDK();
const b64 = (u8) => Buffer.from(u8).toString("base64");
const nopad = (u8) => b64(u8).replace(/=+$/, "");
const N = BigInt("0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");

function fail(msg) {
  console.error(`gen-samples: ${msg}`);
  process.exit(1);
}

function verifyNode(signingSpkiB64, payload, sigB64) {
  const key = crypto.createPublicKey({ key: Buffer.from(signingSpkiB64, "base64"), format: "der", type: "spki" });
  return crypto.verify("sha256", Buffer.from(payload, "utf8"), { key, dsaEncoding: "ieee-p1363" }, Buffer.from(sigB64, "base64"));
}

function flipS(sigB64) {
  const sig = Buffer.from(sigB64, "base64");
  const s = BigInt("0x" + sig.subarray(32).toString("hex"));
  return Buffer.concat([sig.subarray(0, 32), Buffer.from((N - s).toString(16).padStart(64, "0"), "hex")]);
}

function isLowS(sigB64) {
  const sig = Buffer.from(sigB64, "base64");
  return BigInt("0x" + sig.subarray(32).toString("hex")) <= N / 2n;
}

function jsonSafe(v) {
  return JSON.parse(JSON.stringify(v, (_, x) => (x instanceof Uint8Array ? b64(x) : x)));
}

// --- accounts -------------------------------------------------------------
function makeAccount(userId) {
  const chat = new sdk.Chat();
  const reg = chat.generateKeypairs();
  chat.setIdentity(userId, reg.version);
  const pub = chat.getPublicKeys();
  const fp = crypto.createHash("sha256").update(Buffer.from(reg.publicKey.publicKey, "base64")).digest("base64url");
  if (fp !== reg.publicKey.publicKeyFingerprint) fail("fingerprint formula mismatch");
  const v = (spki, data, sig) => crypto.verify("sha256", Buffer.from(data, "base64"),
    { key: crypto.createPublicKey({ key: Buffer.from(spki, "base64"), format: "der", type: "spki" }), dsaEncoding: "ieee-p1363" },
    Buffer.from(sig, "base64"));
  if (!v(reg.publicKey.signingPublicKey, reg.publicKey.publicKey, reg.publicKey.identityPublicKeySignature)) fail("identity binding formula mismatch");
  if (!v(reg.publicKey.publicKey, reg.publicKey.signingPublicKey, reg.publicKey.signingPublicKeySignature)) fail("signing binding formula mismatch");
  return {
    chat,
    userId,
    reg,
    sample: {
      userId,
      privateKeys: b64(chat.exportKeys()),
      rawPublicKeys: { identity: pub.identity, signing: pub.signing },
      generateKeypairs: reg,
      restBody: {
        public_key: {
          public_key: reg.publicKey.publicKey,
          signing_public_key: reg.publicKey.signingPublicKey,
          identity_public_key_signature: reg.publicKey.identityPublicKeySignature,
          signing_public_key_signature: reg.publicKey.signingPublicKeySignature,
          public_key_fingerprint: reg.publicKey.publicKeyFingerprint,
          registration_method: reg.publicKey.registrationMethod,
        },
        version: reg.version,
        generate_version: reg.generateVersion,
      },
    },
  };
}

const alice = makeAccount("111");
const bob = makeAccount("222");
const carol = makeAccount("333");
const all = [alice, bob, carol];

const pubInput = (a) => ({ userId: a.userId, publicKey: a.reg.publicKey.publicKey, keyVersion: a.reg.version });
const signingEntry = (a) => ({
  userId: a.userId,
  publicKeyVersion: a.reg.version,
  publicKey: a.reg.publicKey.signingPublicKey,
  identityPublicKey: a.reg.publicKey.publicKey,
  identityPublicKeySignature: a.reg.publicKey.identityPublicKeySignature,
});
const signingKeys = all.map(signingEntry);

let seq = 1000;
let clock = 1795000000000;
function actionEnvelope(sender, conversationId, as) {
  return b64(buildMessageEvent({
    sequenceId: String(++seq), messageId: as.messageId, senderId: sender.userId, conversationId,
    createdAtMsec: String(++clock), detailB64: as.encodedMessageEventDetail,
    signature: { signature: as.signature, publicKeyVersion: as.publicKeyVersion, signatureVersion: as.signatureVersion },
  }));
}
function messageEnvelope(sender, conversationId, p, extra = {}) {
  return b64(buildMessageEvent({
    sequenceId: String(++seq), messageId: p.messageId, senderId: sender.userId, conversationId,
    createdAtMsec: String(++clock), messageCreateEventB64: p.encryptedContent, signatureB64: p.encodedEventSignature, ...extra,
  }));
}

function sdkDecrypt(chat, event, keys) {
  try {
    return { ok: true, event: jsonSafe(chat.decryptEvent(event, keys, signingKeys)) };
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
}

// --- 1:1 key change ---------------------------------------------------------
const kc = alice.chat.prepareConversationKeyChange({ publicKeys: [pubInput(alice), pubInput(bob)] });
const conv = kc.conversationId;
const kcAS = kc.actionSignatures[0];
const kcPayload = ["ConversationKeyChangeEvent", kcAS.messageId, alice.userId, conv, kc.conversationKeyVersion, nopad(kc.conversationKey)].join(",");
if (!verifyNode(alice.reg.publicKey.signingPublicKey, kcPayload, kcAS.signature)) fail("key change payload mismatch");
const kcEvent = actionEnvelope(alice, conv, kcAS);
const keys = { [kc.conversationKeyVersion]: kc.conversationKey };
const bobKeys = bob.chat.extractConversationKeys([kcEvent]);
if (b64(bobKeys.keys[kc.conversationKeyVersion]) !== b64(kc.conversationKey)) fail("bob cannot extract the key");

// --- messages -----------------------------------------------------------------
const ck = { conversationKey: kc.conversationKey, conversationKeyVersion: kc.conversationKeyVersion };
function msgSample(name, sender, payload) {
  const mce = decodeStruct(Buffer.from(payload.encryptedContent, "base64"));
  const contents = Buffer.from(mce.find((f) => f.id === 100).value.b64, "base64");
  const signed = ["MessageCreateEvent", payload.messageId, sender.userId, conv, payload.conversationKeyVersion, nopad(contents)].join(",");
  if (!verifyNode(sender.reg.publicKey.signingPublicKey, signed, payload.signature)) fail(`${name}: message payload mismatch`);
  const event = messageEnvelope(sender, conv, payload);
  const reader = sender === alice ? bob : alice;
  return {
    name,
    sender: sender.userId,
    sendPayload: payload,
    restBody: { message_id: payload.messageId, encoded_message_create_event: payload.encryptedContent, encoded_message_event_signature: payload.encodedEventSignature },
    signedPayload: signed,
    signedPayloadSource: "reconstructed",
    signatureLowS: isLowS(payload.signature),
    encodedEvent: event,
    decryptedBy: reader.userId,
    sdk: sdkDecrypt(reader.chat, event, keys),
  };
}

const m1 = alice.chat.encryptMessage({ conversationId: conv, text: "hello bob, see https://x.com", entities: [[15, 28, "url"]], ...ck });
const msg = msgSample("message", alice, m1);
const m2 = alice.chat.encryptMessage({ conversationId: conv, text: "self-destructing", ttlMsec: 60000, shouldNotify: false, ...ck });
const reply = bob.chat.encryptReply({ conversationId: conv, text: "pong", replyToEvent: msg.encodedEvent, ...ck });
const edit = alice.chat.encryptEdit({ updatedText: "hello bob (edited)", targetEvent: msg.encodedEvent, ...ck });
const react = bob.chat.encryptAddReaction({ emoji: "\u{1F44D}", targetEvent: msg.encodedEvent, ...ck });
const unreact = bob.chat.encryptRemoveReaction({ emoji: "\u{1F44D}", targetEvent: msg.encodedEvent, ...ck });
const messages = [
  msg,
  msgSample("message-ttl-silent", alice, m2),
  msgSample("reply", bob, reply),
  msgSample("edit", alice, edit),
  msgSample("reaction-add", bob, react),
  msgSample("reaction-remove", bob, unreact),
];

// --- signature variants of the first message (what the SDK accepts) ----------
function variant(name, sig) {
  const event = b64(buildMessageEvent({
    sequenceId: "5000", messageId: m1.messageId, senderId: alice.userId, conversationId: conv, createdAtMsec: "1795000099999",
    messageCreateEventB64: m1.encryptedContent, signature: sig,
  }));
  return { name, signature: sig, encodedEvent: event, sdk: sdkDecrypt(bob.chat, event, keys) };
}
const baseSig = { signature: m1.signature, publicKeyVersion: alice.reg.version, signatureVersion: "7" };
const variants = [
  variant("baseline", baseSig),
  variant("signature-padded", { ...baseSig, signature: Buffer.from(m1.signature, "base64").toString("base64") }),
  variant("signature-high-low-flipped", { ...baseSig, signature: nopad(flipS(m1.signature)) }),
  variant("signature-urlsafe", { ...baseSig, signature: Buffer.from(m1.signature, "base64").toString("base64url") }),
  variant("signature-version-1", { ...baseSig, signatureVersion: "1" }),
  variant("signature-version-2", { ...baseSig, signatureVersion: "2" }),
  variant("signature-version-8", { ...baseSig, signatureVersion: "8" }),
  variant("signature-version-07", { ...baseSig, signatureVersion: "07" }),
  variant("signature-version-empty", { ...baseSig, signatureVersion: "" }),
  variant("signature-version-absent", { signature: m1.signature, publicKeyVersion: alice.reg.version }),
  variant("public-key-version-unknown", { ...baseSig, publicKeyVersion: "1" }),
  variant("signature-zero", { ...baseSig, signature: nopad(new Uint8Array(64)) }),
  variant("signature-of-other-key", { ...baseSig, signature: bob.chat.encryptMessage({ conversationId: conv, text: "x", senderId: alice.userId, signingKeyVersion: alice.reg.version, ...ck }).signature }),
];

// --- group create, member add, delete ------------------------------------------
const gid = "g1795000000000000001";
const gc = alice.chat.prepareGroupCreate({
  publicKeys: [pubInput(alice), pubInput(bob)], conversationId: gid,
  memberIds: [alice.userId, bob.userId], adminIds: [alice.userId], title: "Team", ttlMsec: 86400000,
});
if (!verifyNode(alice.reg.publicKey.signingPublicKey, ["ConversationKeyChangeEvent", gc.actionSignatures[0].messageId, alice.userId, gid, gc.conversationKeyVersion, nopad(gc.conversationKey)].join(","), gc.actionSignatures[0].signature)) fail("group ckey payload");
if (!verifyNode(alice.reg.publicKey.signingPublicKey, gc.actionSignatures[1].signaturePayload, gc.actionSignatures[1].signature)) fail("group create payload");
const gcEvents = gc.actionSignatures.map((as) => actionEnvelope(alice, gid, as));

const ma = alice.chat.prepareGroupMembersChange({
  publicKeys: [pubInput(alice), pubInput(bob), pubInput(carol)], conversationId: gid,
  newMemberIds: [carol.userId], currentMemberIds: [alice.userId, bob.userId], currentAdminIds: [alice.userId],
  currentPendingMemberIds: [], currentTitle: "Team", currentTtlMsec: 86400000,
});
if (!verifyNode(alice.reg.publicKey.signingPublicKey, ma.actionSignatures[1].signaturePayload, ma.actionSignatures[1].signature)) fail("member add payload");
const maEvents = ma.actionSignatures.map((as) => actionEnvelope(alice, gid, as));

const del = alice.chat.prepareMessageDelete({ conversationId: conv, sequenceIds: ["1002", "1003"], deleteForAll: true });
if (!verifyNode(alice.reg.publicKey.signingPublicKey, del.signaturePayload, del.signature)) fail("delete payload");
const delEvent = actionEnvelope(alice, conv, del);

const batch = bob.chat.decryptEvents([kcEvent, ...messages.map((m) => m.encodedEvent)], signingKeys);
const carolBatch = carol.chat.decryptEvents([...gcEvents, ...maEvents], signingKeys);

// --- streams ------------------------------------------------------------------
const streamKey = kc.conversationKey;
const pattern = (n) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) & 0xff);
const streams = [0, 1, 1024, 2500].map((n) => {
  const pt = pattern(n);
  const ct = alice.chat.encryptStream(pt, streamKey);
  if (b64(bob.chat.decryptStream(ct, streamKey)) !== b64(pt)) fail("stream round trip");
  return { plaintextLength: n, plaintextPattern: "byte[i] = (7*i + 3) & 0xff", ciphertext: b64(ct) };
});
const meta = alice.chat.encrypt("Team", streamKey);

const out = {
  _note: [
    `Produced by interop/gen-samples.mjs with @xdevplatform/chat-xdk ${SDK_VERSION} (WASM) on Node ${process.version}, ${new Date().toISOString()}.`,
    "All keys are throwaway test keys. Byte strings are standard base64 (with padding unless the SDK emitted otherwise).",
    "encodedEvent values are server MessageEvent envelopes built by gen-samples (thrift.mjs) from the SDK outputs; `sdk` records what the SDK's decryptEvent returned for them (decrypting account, signingKeys = all three accounts).",
    "signedPayload strings were reconstructed by gen-samples and verified against the SDK signature with Node crypto before writing.",
  ],
  sdkVersion: SDK_VERSION,
  accounts: all.map((a) => a.sample),
  signingKeys,
  keyChange: {
    prepared: jsonSafe(kc),
    signedPayload: kcPayload,
    signedPayloadSource: "reconstructed",
    restBody: {
      conversation_key_version: kc.conversationKeyVersion,
      conversation_participant_keys: kc.participantKeys.map((p) => ({ user_id: p.userId, encrypted_conversation_key: p.encryptedKey, public_key_version: p.publicKeyVersion })),
      action_signatures: kc.actionSignatures.map((as) => ({
        message_id: as.messageId, encoded_message_event_detail: as.encodedMessageEventDetail,
        message_event_signature: { signature: as.signature, public_key_version: as.publicKeyVersion, signature_version: as.signatureVersion },
      })),
    },
    encodedEvent: kcEvent,
    sdk: sdkDecrypt(bob.chat, kcEvent, undefined),
  },
  messages,
  signatureVariants: variants,
  batchDecryptByBob: jsonSafe({ ...batch, messages: batch.messages.map((m) => m.event) }),
  groupCreate: { prepared: jsonSafe(gc), encodedEvents: gcEvents },
  groupMembersChange: { prepared: jsonSafe(ma), encodedEvents: maEvents },
  batchDecryptByCarol: jsonSafe({ ...carolBatch, messages: carolBatch.messages.map((m) => m.event) }),
  messageDelete: { prepared: del, encodedEvent: delEvent, sdk: sdkDecrypt(bob.chat, delEvent, keys) },
  streams: { conversationKey: b64(streamKey), samples: streams },
  metadata: { conversationKey: b64(streamKey), plaintext: "Team", ciphertext: meta },
};
process.stdout.write(JSON.stringify(out, null, 2) + "\n");
