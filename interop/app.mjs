// The "app" layer: an XChat client built on the official SDK exactly as a
// third-party app would build it, talking HTTP (fetch) to an X API v2 chat
// server (xchatd in the interop suite).
//
// The SDK only does cryptography; everything else here is what an app must
// do around it: publish the generateKeypairs payload, fetch and check peer
// keys, post the prepare*/encrypt* outputs in the REST request bodies, page
// through conversation events, feed them to decryptEvents with the
// participants' signing keys, keep the conversation keys of verified key
// changes, and move media through the chat media endpoints with
// encryptStream/decryptStream.
//
// One App wraps one SDK Chat instance. Its methods are async and return
// JSON-friendly values (Uint8Array stays Uint8Array; the harness encodes it).

import { decodeStruct, encodeStruct } from "./thrift.mjs";

const SEGMENT_BYTES = 1 << 20; // media upload segment size
// Servers answer only the fields and expansions asked for (X's default
// field sets), so conversation lookups name what the harness reads.
const conversationQuery = "chat_conversation.fields=id,type,group_name&expansions=member_ids,admin_ids";

/** An HTTP failure from the server: status and RFC 7807 problem. */
export class HTTPError extends Error {
  constructor(method, path, status, body) {
    const detail = body && typeof body === "object" ? body.detail || body.title || JSON.stringify(body) : String(body);
    super(`app: ${method} ${path}: HTTP ${status}: ${detail}`);
    this.status = status;
    this.body = body;
  }
}

const b64 = (u8) => Buffer.from(u8).toString("base64");

/** Compares two decimal version strings numerically. */
export function cmpVersion(a, b) {
  const x = BigInt(a), y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The REST path form of a conversation id: "A-B" for 1:1, the group id as is. */
export function pathID(id) {
  return id.includes(":") ? id.replace(":", "-") : id;
}

/** Canonical 1:1 id as the SDK derives it: numerically sorted "min:max". */
export function oneToOneID(a, b) {
  return cmpVersion(a, b) <= 0 ? `${a}:${b}` : `${b}:${a}`;
}

function field(tree, id) {
  return tree.find((f) => f.id === id);
}

function fieldText(tree, id) {
  const f = field(tree, id);
  return f && f.type === "binary" ? f.value.utf8 ?? null : null;
}

/**
 * Reads the envelope fields an app needs from a base64 MessageEvent:
 * sequence id, message id, sender, conversation, and which detail variant.
 */
export function envelopeInfo(eventB64) {
  const t = decodeStruct(Buffer.from(eventB64, "base64"));
  const detail = field(t, 7);
  const variant = detail && detail.type === "struct" && detail.value.length > 0 ? detail.value[0].id : null;
  return {
    sequenceId: fieldText(t, 1),
    messageId: fieldText(t, 2),
    senderId: fieldText(t, 3),
    conversationId: fieldText(t, 4),
    detail: variant, // 1 message, 3 key change, 4 group change, 7 delete, ...
  };
}

/** A chat app built on one SDK Chat instance. */
export class App {
  /**
   * @param chat    an SDK Chat instance
   * @param config  {baseURL, userId, token}
   */
  constructor(chat, config) {
    if (!config || typeof config.baseURL !== "string" || typeof config.userId !== "string" || typeof config.token !== "string") {
      throw new Error("app: baseURL, userId and token are required");
    }
    this.chat = chat;
    this.baseURL = config.baseURL.replace(/\/+$/, "");
    this.userId = config.userId;
    this.token = config.token;
    this.keyVersion = null; // our registered public key version
    this.peers = new Map(); // userId -> [{publicKeyVersion, publicKey, signingPublicKey, identityPublicKeySignature}]
    this.convKeys = new Map(); // conversationId -> {keys: Map(version -> Uint8Array), latest}
    this.keyEvents = new Map(); // conversationId -> Map(version -> raw key-change event b64)
    this.events = new Map(); // conversationId -> Map(sequenceId -> raw event b64)
    this.decrypted = new Map(); // conversationId -> Map(sequenceId -> decrypted event)
  }

  // --- HTTP ---

  async request(method, path, body, { raw = false } = {}) {
    const headers = { Authorization: `Bearer ${this.token}` };
    let payload;
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    const res = await fetch(this.baseURL + path, { method, headers, body: payload });
    if (raw && res.ok) return new Uint8Array(await res.arrayBuffer());
    const text = await res.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { json = text; }
    if (!res.ok) throw new HTTPError(method, path, res.status, json);
    if (json && Array.isArray(json.errors) && json.errors.length > 0 && !json.data) {
      throw new HTTPError(method, path, res.status, json.errors[0]);
    }
    return json;
  }

  // --- keys ---

  /** generateKeypairs, POST /2/users/{id}/public_keys, setIdentity. */
  async register() {
    const reg = this.chat.generateKeypairs();
    const k = reg.publicKey;
    const body = {
      public_key: {
        public_key: k.publicKey,
        public_key_fingerprint: k.publicKeyFingerprint,
        identity_public_key_signature: k.identityPublicKeySignature,
        signing_public_key: k.signingPublicKey,
        signing_public_key_signature: k.signingPublicKeySignature,
        registration_method: k.registrationMethod,
      },
      version: reg.version,
      generate_version: reg.generateVersion,
    };
    const res = await this.request("POST", `/2/users/${this.userId}/public_keys`, body);
    const version = res?.data?.public_key_version || reg.version;
    this.keyVersion = version;
    this.chat.setIdentity(this.userId, version);
    return { version, requestBody: body, fingerprint: this.chat.getPublicKeyFingerprint() };
  }

  /**
   * Fetches users' published keys (GET /2/users/{id}/public_keys), checks
   * every key binding with verifyKeyBinding and keeps the good ones. Returns
   * {userId: [{publicKeyVersion, bindingValid, fingerprint?...}]}.
   */
  async fetchKeys(userIds) {
    const report = {};
    for (const id of userIds) {
      const res = await this.request("GET", `/2/users/${id}/public_keys`);
      const list = [];
      const good = [];
      for (const pk of res?.data ?? []) {
        let valid = false;
        try {
          valid = this.chat.verifyKeyBinding(pk.public_key, pk.signing_public_key, pk.identity_public_key_signature);
        } catch (e) {
          valid = false;
        }
        list.push({ publicKeyVersion: pk.public_key_version, bindingValid: valid, publicKey: pk.public_key, signingPublicKey: pk.signing_public_key });
        if (valid) {
          good.push({
            publicKeyVersion: pk.public_key_version,
            publicKey: pk.public_key,
            signingPublicKey: pk.signing_public_key,
            identityPublicKeySignature: pk.identity_public_key_signature,
          });
        }
      }
      good.sort((a, b) => cmpVersion(a.publicKeyVersion, b.publicKeyVersion));
      this.peers.set(id, good);
      report[id] = list;
    }
    return report;
  }

  async ensureKeys(userIds) {
    const missing = userIds.filter((id) => !this.peers.get(id)?.length);
    if (missing.length) await this.fetchKeys(missing);
    for (const id of userIds) {
      if (!this.peers.get(id)?.length) throw new Error(`app: user ${id} has no valid published keys`);
    }
  }

  /** The SDK's publicKeys input (newest key of each user). */
  publicKeyInputs(userIds) {
    return userIds.map((id) => {
      const ks = this.peers.get(id);
      const k = ks[ks.length - 1];
      return { userId: id, publicKey: k.publicKey, keyVersion: k.publicKeyVersion };
    });
  }

  /** Every known signing key, as decryptEvents takes them. */
  signingKeys() {
    const out = [];
    for (const [userId, ks] of this.peers) {
      for (const k of ks) {
        out.push({
          userId,
          publicKeyVersion: k.publicKeyVersion,
          publicKey: k.signingPublicKey,
          identityPublicKey: k.publicKey,
          identityPublicKeySignature: k.identityPublicKeySignature,
        });
      }
    }
    return out;
  }

  // --- conversation keys ---

  rememberKey(conversationId, version, key) {
    let e = this.convKeys.get(conversationId);
    if (!e) {
      e = { keys: new Map(), latest: null };
      this.convKeys.set(conversationId, e);
    }
    e.keys.set(version, key);
    if (e.latest === null || cmpVersion(version, e.latest) > 0) e.latest = version;
  }

  currentKey(conversationId) {
    const e = this.convKeys.get(conversationId);
    if (!e || e.latest === null) throw new Error(`app: no conversation key for ${conversationId}`);
    return { key: e.keys.get(e.latest), version: e.latest };
  }

  static actionSignatureBody(a) {
    const out = {
      message_id: a.messageId,
      encoded_message_event_detail: a.encodedMessageEventDetail,
      message_event_signature: {
        signature: a.signature,
        public_key_version: a.publicKeyVersion,
        signature_version: a.signatureVersion,
      },
    };
    if (a.signaturePayload) out.signature_payload = a.signaturePayload;
    return out;
  }

  static participantKeysBody(p) {
    return p.participantKeys.map((k) => ({
      user_id: k.userId,
      encrypted_conversation_key: k.encryptedKey,
      public_key_version: k.publicKeyVersion,
    }));
  }

  /**
   * Starts (or re-keys) the 1:1 conversation with peerId:
   * prepareConversationKeyChange -> POST /2/chat/conversations/{A-B}/keys.
   */
  async startConversation(peerId) {
    await this.ensureKeys([this.userId, peerId]);
    const p = this.chat.prepareConversationKeyChange({ publicKeys: this.publicKeyInputs([this.userId, peerId]) });
    const body = {
      conversation_key_version: p.conversationKeyVersion,
      conversation_participant_keys: App.participantKeysBody(p),
      action_signatures: p.actionSignatures.map(App.actionSignatureBody),
    };
    const res = await this.request("POST", `/2/chat/conversations/${pathID(p.conversationId)}/keys`, body);
    this.rememberKey(p.conversationId, p.conversationKeyVersion, p.conversationKey);
    return { conversationId: p.conversationId, keyVersion: p.conversationKeyVersion, sequenceId: res?.data?.sequence_id ?? null, requestBody: body };
  }

  /**
   * Creates a group: POST group/initialize, prepareGroupCreate,
   * POST /2/chat/conversations/group.
   */
  async createGroup({ memberIds, adminIds, title, signedTitle }) {
    const members = [...new Set([this.userId, ...memberIds])];
    await this.ensureKeys(members);
    const init = await this.request("POST", "/2/chat/conversations/group/initialize", {});
    const gid = init?.data?.conversation_id;
    if (!gid) throw new Error("app: group initialize returned no conversation id");
    const params = { publicKeys: this.publicKeyInputs(members), conversationId: gid, memberIds: members, adminIds: adminIds ?? [this.userId] };
    // signedTitle goes into the signed GroupCreate verbatim (the SDK cannot
    // encrypt it: the key does not exist before prepareGroupCreate).
    if (signedTitle !== undefined && signedTitle !== null) params.title = signedTitle;
    const p = this.chat.prepareGroupCreate(params);
    const body = {
      conversation_id: gid,
      conversation_key_version: p.conversationKeyVersion,
      conversation_participant_keys: App.participantKeysBody(p),
      group_members: members,
      group_admins: params.adminIds,
      action_signatures: p.actionSignatures.map(App.actionSignatureBody),
    };
    // A title is metadata: encrypted under the new key (SDK docs: encrypt()
    // "for metadata fields like group names before sending to the API").
    if (title !== undefined && title !== null) body.group_name = this.chat.encrypt(title, p.conversationKey);
    else if (params.title !== undefined) body.group_name = params.title;
    await this.request("POST", "/2/chat/conversations/group", body);
    this.rememberKey(gid, p.conversationKeyVersion, p.conversationKey);
    return { conversationId: gid, keyVersion: p.conversationKeyVersion, actionSignatures: p.actionSignatures.length, groupName: body.group_name ?? null };
  }

  /**
   * GET /2/chat/conversations/{id}; the group name is decrypted with each
   * held key (newest first) when possible.
   */
  async conversation(conversationId) {
    const res = await this.request("GET", `/2/chat/conversations/${pathID(conversationId)}?${conversationQuery}`);
    const d = res?.data ?? {};
    const title = d.group_name ? this.openMetadata(conversationId, d.group_name) : null;
    return { data: d, title };
  }

  /** Decrypts a metadata ciphertext (e.g. a signed group title) with the key of version (default: latest). */
  decryptMetadata(conversationId, ciphertext, keyVersion) {
    const { conversationKey } = this.keyParams(conversationId, keyVersion);
    return this.chat.decrypt(ciphertext, conversationKey);
  }

  /**
   * Adds members to a group and rotates its key: prepareGroupMembersChange,
   * POST /2/chat/conversations/{id}/members. The current roster comes from
   * GET /2/chat/conversations/{id}.
   */
  async addMembers(conversationId, newMemberIds) {
    const conv = await this.request("GET", `/2/chat/conversations/${pathID(conversationId)}?${conversationQuery}`);
    const d = conv?.data ?? {};
    const current = d.member_ids ?? d.participant_ids ?? [];
    const admins = d.admin_ids ?? [];
    const roster = [...new Set([...current, ...newMemberIds])];
    await this.ensureKeys(roster);
    const params = {
      publicKeys: this.publicKeyInputs(roster),
      conversationId,
      newMemberIds,
      currentMemberIds: current,
      currentAdminIds: admins,
      currentPendingMemberIds: [],
    };
    // The current title is signed as the server holds it (encrypted).
    if (d.group_name) params.currentTitle = d.group_name;
    const p = this.chat.prepareGroupMembersChange(params);
    const body = {
      user_ids: newMemberIds,
      conversation_key_version: p.conversationKeyVersion,
      conversation_participant_keys: App.participantKeysBody(p),
      action_signatures: p.actionSignatures.map(App.actionSignatureBody),
    };
    // Re-encrypt the title under the new key for the newcomers.
    if (d.group_name) {
      const title = this.openMetadata(conversationId, d.group_name);
      if (title !== null) body.encrypted_title = this.chat.encrypt(title, p.conversationKey);
    }
    await this.request("POST", `/2/chat/conversations/${pathID(conversationId)}/members`, body);
    this.rememberKey(conversationId, p.conversationKeyVersion, p.conversationKey);
    return { conversationId, keyVersion: p.conversationKeyVersion, actionSignatures: p.actionSignatures.length, reencryptedTitle: !!body.encrypted_title };
  }

  /** Decrypts metadata with any held key of the conversation (newest first); null if none opens it. */
  openMetadata(conversationId, ciphertext) {
    const e = this.convKeys.get(conversationId);
    if (!e) return null;
    const versions = [...e.keys.keys()].sort((a, b) => cmpVersion(b, a));
    for (const v of versions) {
      try { return this.chat.decrypt(ciphertext, e.keys.get(v)); } catch { /* next key */ }
    }
    return null;
  }

  // --- messages ---

  keyParams(conversationId, keyVersion) {
    if (keyVersion) {
      const e = this.convKeys.get(conversationId);
      const key = e?.keys.get(keyVersion);
      if (!key) throw new Error(`app: no conversation key ${keyVersion} for ${conversationId}`);
      return { conversationKey: key, conversationKeyVersion: keyVersion };
    }
    const { key, version } = this.currentKey(conversationId);
    return { conversationKey: key, conversationKeyVersion: version };
  }

  rawEvent(conversationId, sequenceId) {
    const ev = this.events.get(conversationId)?.get(sequenceId);
    if (!ev) throw new Error(`app: event ${sequenceId} of ${conversationId} not synced`);
    return ev;
  }

  async post(conversationId, payload) {
    const body = {
      message_id: payload.messageId,
      encoded_message_create_event: payload.encryptedContent,
      encoded_message_event_signature: payload.encodedEventSignature,
    };
    const res = await this.request("POST", `/2/chat/conversations/${pathID(conversationId)}/messages`, body);
    const ev = res?.data?.encoded_message_event;
    const info = ev ? envelopeInfo(ev) : {};
    if (ev && info.sequenceId) this.storeEvent(conversationId, info.sequenceId, ev);
    return { messageId: payload.messageId, sequenceId: info.sequenceId ?? null, keyVersion: payload.conversationKeyVersion, event: ev ?? null };
  }

  storeEvent(conversationId, seq, ev) {
    let m = this.events.get(conversationId);
    if (!m) {
      m = new Map();
      this.events.set(conversationId, m);
    }
    m.set(seq, ev);
  }

  /**
   * Sends a message. opts: {text, entities, attachments, keyVersion,
   * replyTo (sequence id), replyToText (forged preview override), ttlMsec, shouldNotify}.
   */
  async send(conversationId, opts) {
    const params = { conversationId, text: opts.text ?? "", ...this.keyParams(conversationId, opts.keyVersion) };
    for (const k of ["entities", "attachments", "ttlMsec", "shouldNotify"]) if (opts[k] !== undefined && opts[k] !== null) params[k] = opts[k];
    let payload;
    if (opts.replyTo) {
      params.replyToEvent = this.rawEvent(conversationId, opts.replyTo);
      const origVersion = this.eventKeyVersion(conversationId, opts.replyTo);
      if (origVersion && origVersion !== params.conversationKeyVersion) {
        const kc = this.keyEvents.get(conversationId)?.get(origVersion);
        if (kc) params.replyToCkces = [kc];
      }
      if (opts.replyToText !== undefined && opts.replyToText !== null) params.replyToText = opts.replyToText;
      payload = this.chat.encryptReply(params);
    } else {
      payload = this.chat.encryptMessage(params);
    }
    return this.post(conversationId, payload);
  }

  eventKeyVersion(conversationId, seq) {
    return this.decrypted.get(conversationId)?.get(seq)?.keyVersion ?? null;
  }

  async edit(conversationId, targetSeq, text, entities) {
    const params = { updatedText: text, targetEvent: this.rawEvent(conversationId, targetSeq), ...this.keyParams(conversationId) };
    if (entities) params.entities = entities;
    return this.post(conversationId, this.chat.encryptEdit(params));
  }

  async react(conversationId, targetSeq, emoji, remove) {
    const params = { emoji, targetEvent: this.rawEvent(conversationId, targetSeq), ...this.keyParams(conversationId) };
    const payload = remove ? this.chat.encryptRemoveReaction(params) : this.chat.encryptAddReaction(params);
    return this.post(conversationId, payload);
  }

  /** prepareMessageDelete -> POST /2/chat/conversations/{id}/messages/delete. */
  async deleteMessages(conversationId, sequenceIds, deleteForAll) {
    const a = this.chat.prepareMessageDelete({ conversationId, sequenceIds, deleteForAll: !!deleteForAll });
    const body = {
      sequence_ids: sequenceIds,
      delete_message_action: deleteForAll ? "delete_for_all" : "delete_for_self",
      action_signatures: [App.actionSignatureBody(a)],
    };
    const res = await this.request("POST", `/2/chat/conversations/${pathID(conversationId)}/messages/delete`, body);
    return { messageId: a.messageId, deleted: res?.data?.deleted ?? null };
  }

  // --- receiving ---

  /**
   * Fetches every event page of a conversation (GET .../events), oldest
   * first, plus the key-change events the server lists in meta.
   */
  async fetchEvents(conversationId) {
    const data = [];
    const keyEvents = new Set();
    let token = "";
    for (let page = 0; page < 1000; page++) {
      const q = new URLSearchParams({ max_results: "100" });
      if (token) q.set("pagination_token", token);
      const res = await this.request("GET", `/2/chat/conversations/${pathID(conversationId)}/events?${q}`);
      for (const e of res?.data ?? []) if (e.encoded_event) data.push(e.encoded_event);
      for (const k of res?.meta?.conversation_key_events ?? []) keyEvents.add(k);
      for (const k of res?.meta?.missing_conversation_key_change_events ?? []) keyEvents.add(k);
      token = res?.meta?.next_token ?? "";
      if (!token) break;
    }
    data.reverse();
    // Key changes first (deduplicated against data), then the timeline.
    const seen = new Set(data);
    const kcs = [...keyEvents].filter((k) => !seen.has(k));
    return [...kcs, ...data];
  }

  /**
   * Syncs a conversation: fetch, optionally tamper (tests), fetch the
   * senders' keys, decryptEvents, keep keys of verified key changes.
   * Returns {events: [decrypted...], errors: [{index, sequenceId, messageId, senderId, error}]}.
   */
  async sync(conversationId, { tamper } = {}) {
    let raw = await this.fetchEvents(conversationId);
    if (tamper) raw = raw.map((ev) => tamper(ev) ?? ev);
    const senders = new Set();
    const infos = raw.map((ev) => {
      try {
        const i = envelopeInfo(ev);
        if (i.senderId) senders.add(i.senderId);
        return i;
      } catch {
        return {};
      }
    });
    await this.fetchMissingKeys([...senders]);
    let res = this.chat.decryptEvents(raw, this.signingKeys());
    // A sender may have registered new keys since we fetched them: refetch
    // once and decrypt again, as an app would on "no matching signing key".
    if (Object.values(res.errors ?? {}).some((m) => /no matching signing key/.test(m))) {
      await this.fetchKeys([...senders]);
      res = this.chat.decryptEvents(raw, this.signingKeys());
    }
    const events = [];
    for (const m of res.messages) {
      const ev = m.event;
      events.push(ev);
      if (ev.sequenceId) {
        this.storeEvent(conversationId, ev.sequenceId, m.originalB64);
        this.rememberDecrypted(conversationId, ev);
      }
      if (ev.type === "keyChange" && ev.verified && ev.keyVersion) {
        const key = res.conversationKeys?.keys?.[ev.keyVersion];
        if (key) this.rememberKey(conversationId, ev.keyVersion, key);
        let m2 = this.keyEvents.get(conversationId);
        if (!m2) {
          m2 = new Map();
          this.keyEvents.set(conversationId, m2);
        }
        m2.set(ev.keyVersion, m.originalB64);
      }
    }
    const errors = Object.entries(res.errors ?? {}).map(([i, msg]) => ({ index: Number(i), ...infos[Number(i)], error: msg }));
    return { events, errors, count: raw.length };
  }

  rememberDecrypted(conversationId, ev) {
    let m = this.decrypted.get(conversationId);
    if (!m) {
      m = new Map();
      this.decrypted.set(conversationId, m);
    }
    m.set(ev.sequenceId, ev);
  }

  async fetchMissingKeys(userIds) {
    const missing = userIds.filter((id) => !this.peers.has(id));
    if (missing.length) await this.fetchKeys(missing);
  }

  // --- media ---

  /**
   * Encrypts media with encryptStream under the conversation's current key
   * and uploads it (initialize / append segments / finalize).
   */
  async uploadMedia(conversationId, plaintext) {
    const { key, version } = this.currentKey(conversationId);
    const ct = this.chat.encryptStream(plaintext, key);
    const pid = pathID(conversationId);
    const init = await this.request("POST", "/2/chat/media/upload/initialize", { conversation_id: pid, total_bytes: ct.length });
    const { session_id: sid, media_hash_key: hash } = init?.data ?? {};
    if (!sid || !hash) throw new Error("app: media initialize returned no session");
    let parts = 0;
    for (let off = 0; off < ct.length || parts === 0; off += SEGMENT_BYTES) {
      const seg = ct.subarray(off, Math.min(off + SEGMENT_BYTES, ct.length));
      await this.request("POST", `/2/chat/media/upload/${sid}/append`, {
        conversation_id: pid, media_hash_key: hash, segment_index: parts, media: b64(seg),
      });
      parts++;
    }
    await this.request("POST", `/2/chat/media/upload/${sid}/finalize`, { conversation_id: pid, media_hash_key: hash, num_parts: String(parts) });
    return { mediaHashKey: hash, keyVersion: version, ciphertextBytes: ct.length };
  }

  /** GET /2/chat/media/{conversation}/{hash} and decryptStream. */
  async downloadMedia(conversationId, mediaHashKey, keyVersion, { truncate } = {}) {
    let ct = await this.request("GET", `/2/chat/media/${pathID(conversationId)}/${mediaHashKey}`, undefined, { raw: true });
    if (truncate) ct = ct.subarray(0, Math.max(0, ct.length - truncate));
    const { conversationKey } = this.keyParams(conversationId, keyVersion);
    return { plaintext: this.chat.decryptStream(ct, conversationKey), ciphertextBytes: ct.length };
  }
}

// --- tampering (tests: a hostile server between the parties) ---

function mapField(tree, id, fn) {
  const f = field(tree, id);
  if (!f) throw new Error(`tamper: field ${id} absent`);
  fn(f);
}

/**
 * Returns a function that rewrites one base64 MessageEvent the way a hostile
 * server would. kind: "flip" (one bit of the ciphertext), "swapSignature"
 * (signature taken from another event, given as donor), "keyVersion" (the
 * signed conversation_key_version changed), "sigVersion1" (signature_version
 * "1"). match(info) selects the events to rewrite.
 */
export function tamperer(kind, { messageId, donor, keyVersion } = {}) {
  return (ev) => {
    const info = envelopeInfo(ev);
    if (messageId && info.messageId !== messageId) return ev;
    const t = decodeStruct(Buffer.from(ev, "base64"));
    switch (kind) {
      case "flip":
        mapField(t, 7, (d) => {
          const mce = field(d.value, 1);
          if (!mce) throw new Error("tamper: not a message");
          const c = field(mce.value, 100);
          const buf = Buffer.from(c.value.b64, "base64");
          buf[buf.length - 1] ^= 0x01;
          c.value = { b64: buf.toString("base64") };
        });
        break;
      case "swapSignature": {
        const dt = decodeStruct(Buffer.from(donor, "base64"));
        const ds = field(dt, 9);
        mapField(t, 9, (s) => { s.value = ds.value; });
        break;
      }
      case "keyVersion":
        mapField(t, 7, (d) => {
          const mce = field(d.value, 1);
          if (!mce) throw new Error("tamper: not a message");
          const v = field(mce.value, 101);
          v.value = keyVersion ?? String(BigInt(v.value.utf8) + 1n);
        });
        break;
      case "sigVersion1":
        mapField(t, 9, (s) => {
          const v = field(s.value, 3);
          if (v) v.value = "1";
          else s.value.push({ id: 3, type: "binary", value: "1" });
        });
        break;
      default:
        throw new Error(`tamper: unknown kind ${kind}`);
    }
    return Buffer.from(encodeStruct(t)).toString("base64");
  };
}
