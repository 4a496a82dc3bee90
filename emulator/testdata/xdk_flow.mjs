// Drives the emulator with X's official Chat XDK (WASM build, npm
// @xdevplatform/chat-xdk): registration, 1:1 key change, message, delete,
// group create, member add, stale key. Usage: node xdk_flow.mjs SDK_MJS BASE_URL
// Exits non-zero with a message on the first failed expectation.
const [sdkPath, base] = process.argv.slice(2);
const { newChat } = await import(new URL("file://" + sdkPath).href);

function expect(cond, what) {
  if (!cond) {
    console.error("FAIL: " + what);
    process.exit(1);
  }
}
async function call(method, path, token, body) {
  const res = await fetch(base + path, {
    method,
    headers: { authorization: "Bearer " + token, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* binary or empty */ }
  return { status: res.status, json, text };
}
const snake = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase()), v]));
const pk = (p) => ({ user_id: p.userId, encrypted_conversation_key: p.encryptedKey, public_key_version: p.publicKeyVersion });
const asig = (s) => ({
  message_id: s.messageId,
  encoded_message_event_detail: s.encodedMessageEventDetail,
  message_event_signature: { signature: s.signature, signature_version: s.signatureVersion, public_key_version: s.publicKeyVersion },
  ...(s.signaturePayload ? { signature_payload: s.signaturePayload } : {}),
});
const pubKeys = (list) => list.map((k) => ({ userId: k.user_id, publicKey: k.public_key, keyVersion: k.public_key_version }));
const signingKeys = (list) => list.map((k) => ({
  userId: k.user_id, publicKeyVersion: k.public_key_version, publicKey: k.signing_public_key,
  identityPublicKey: k.public_key, identityPublicKeySignature: k.identity_public_key_signature,
}));

async function mkUser(name) {
  const r = await fetch(base + "/emulator/v1/users", { method: "POST", body: JSON.stringify({ username: name }) });
  const u = await r.json();
  const chat = await newChat();
  const reg = chat.generateKeypairs();
  const res = await call("POST", `/2/users/${u.id}/public_keys`, u.access_token,
    { public_key: snake(reg.publicKey), version: reg.version ?? "1", generate_version: !!reg.generateVersion });
  expect(res.status === 200, `register ${name}: ${res.status} ${res.text}`);
  chat.setIdentity(u.id, res.json.data.public_key_version);
  return { ...u, chat };
}
const send = (u, path, m) => call("POST", `/2/chat/conversations/${path}/messages`, u.access_token,
  { message_id: m.messageId, encoded_message_create_event: m.encryptedContent, encoded_message_event_signature: m.encodedEventSignature });
const batchOf = (ev) => [...(ev.meta?.conversation_key_events || []), ...(ev.data || []).map((e) => e.encoded_event)];

const a = await mkUser("alice"), b = await mkUser("bob"), c = await mkUser("carol");
// The specification's PublicKey has no user_id: fetch per user and label.
const keysOf = async (u) => (await call("GET", `/2/users/${u.id}/public_keys`, a.access_token)).json.data.map((k) => ({ ...k, user_id: u.id }));
const keys = [...await keysOf(a), ...await keysOf(b), ...await keysOf(c)];
expect(keys.length === 3, "public keys");
const pair = keys.filter((k) => k.user_id !== c.id);

// 1:1: key change, message, decrypt as bob, delete.
const kc = a.chat.prepareConversationKeyChange({ publicKeys: pubKeys(pair) });
let r = await call("POST", `/2/chat/conversations/${b.id}/keys`, a.access_token, {
  conversation_key_version: kc.conversationKeyVersion, conversation_participant_keys: kc.participantKeys.map(pk),
  action_signatures: kc.actionSignatures.map(asig) });
expect(r.status === 200, `keys: ${r.status} ${r.text}`);
const msg = a.chat.encryptMessage({ conversationId: kc.conversationId, text: "hello from the XDK",
  conversationKey: kc.conversationKey, conversationKeyVersion: kc.conversationKeyVersion });
r = await send(a, b.id, msg);
expect(r.status === 201, `send: ${r.status} ${r.text}`);
let ev = (await call("GET", `/2/chat/conversations/${a.id}/events`, b.access_token)).json;
let dec = b.chat.decryptEvents(batchOf(ev), signingKeys(keys));
expect(Object.keys(dec.errors).length === 0, "bob decrypt errors: " + JSON.stringify(dec.errors));
const got = dec.messages.find((m) => m.event.type === "message");
expect(got && got.event.verified && got.event.content.text === "hello from the XDK", "bob reads the message");
const del = a.chat.prepareMessageDelete({ conversationId: kc.conversationId, sequenceIds: [ev.data[0].id], deleteForAll: true });
r = await call("POST", `/2/chat/conversations/${b.id}/messages/delete`, a.access_token,
  { sequence_ids: [ev.data[0].id], delete_message_action: "delete_for_all", action_signatures: [asig(del)] });
expect(r.status === 200, `delete: ${r.status} ${r.text}`);
ev = (await call("GET", `/2/chat/conversations/${a.id}/events`, b.access_token)).json;
dec = b.chat.decryptEvents(batchOf(ev), signingKeys(keys));
expect(dec.messages.some((m) => m.event.type === "messageDeleted" && m.event.verified), "verified delete event");
expect(!dec.messages.some((m) => m.event.type === "message"), "deleted message still served");

// Group: create (two signatures), member add (two signatures), messages.
const gid = (await call("POST", "/2/chat/conversations/group/initialize", a.access_token, {})).json.data.conversation_id;
const gc = a.chat.prepareGroupCreate({ publicKeys: pubKeys(pair), conversationId: gid, memberIds: [a.id, b.id], adminIds: [a.id], title: "Team" });
r = await call("POST", "/2/chat/conversations/group", a.access_token, {
  conversation_id: gid, conversation_key_version: gc.conversationKeyVersion, conversation_participant_keys: gc.participantKeys.map(pk),
  group_members: [a.id, b.id], group_admins: [a.id], action_signatures: gc.actionSignatures.map(asig) });
expect(r.status === 201, `group create: ${r.status} ${r.text}`);
await new Promise((res) => setTimeout(res, 5)); // the next key version is a later millisecond
const ma = a.chat.prepareGroupMembersChange({ publicKeys: pubKeys(keys), conversationId: gid, newMemberIds: [c.id],
  currentMemberIds: [a.id, b.id], currentAdminIds: [a.id], currentPendingMemberIds: [], currentTitle: "Team" });
r = await call("POST", `/2/chat/conversations/${gid}/members`, a.access_token, { user_ids: [c.id],
  conversation_key_version: ma.conversationKeyVersion, conversation_participant_keys: ma.participantKeys.map(pk),
  action_signatures: ma.actionSignatures.map(asig) });
expect(r.status === 200, `member add: ${r.status} ${r.text}`);
c.chat.setCacheKeys(true);
ev = (await call("GET", `/2/chat/conversations/${gid}/events`, c.access_token)).json;
dec = c.chat.decryptEvents(batchOf(ev), signingKeys(keys));
expect(Object.keys(dec.errors).length === 0 && dec.messages.every((m) => m.event.verified), "carol's view: " + JSON.stringify(dec.errors));
const gm = c.chat.encryptMessage({ conversationId: gid, text: "hi group" });
r = await send(c, gid, gm);
expect(r.status === 201, `carol send: ${r.status} ${r.text}`);
ev = (await call("GET", `/2/chat/conversations/${gid}/events`, a.access_token)).json;
dec = a.chat.decryptEvents(batchOf(ev), signingKeys(keys));
expect(dec.messages.some((m) => m.event.type === "message" && m.event.verified && m.event.content.text === "hi group"), "alice reads carol");
expect(dec.messages.filter((m) => m.event.type === "groupChange" && m.event.verified).length === 2, "two verified group changes");

// A message under the pre-add key is refused with a failure event the XDK parses.
const stale = b.chat.encryptMessage({ conversationId: gid, text: "stale", conversationKey: gc.conversationKey, conversationKeyVersion: gc.conversationKeyVersion });
r = await send(b, gid, stale);
expect(r.status === 400 && r.json?.data?.encoded_message_event, `stale send: ${r.status}`);
b.chat.setRejectUnverified(false);
const failure = b.chat.decryptEvent(r.json.data.encoded_message_event, null, signingKeys(keys));
expect(failure.type === "failure" && failure.failure === "nonLatestKeyVersion", "failure event: " + JSON.stringify(failure));
console.log("ok");
