// Minimal schema-less Thrift TBinaryProtocol codec, used by the harness to
// inspect the SDK's encoded payloads and to build the server-side
// MessageEvent envelopes the SDK decrypts (the SDK only produces the client
// halves: MessageCreateEvent, MessageEventSignature, MessageEventDetail).
//
// Tree representation (lossless, JSON friendly):
//   struct: array of fields {id, type, value}
//   type names: bool byte double i16 i32 i64 binary struct map set list
//   binary (wire type 11): value is {b64, utf8?} (utf8 only when valid UTF-8)
//   i64: value is a decimal string
//   list/set: value is {elem, items: [value...]}
//   map: value is {key, val, entries: [[k, v]...]}
// Encoding accepts the same shapes; a binary value may also be given as a
// plain string (encoded as UTF-8) or {b64}.

const TYPE_IDS = { bool: 2, byte: 3, double: 4, i16: 6, i32: 8, i64: 10, binary: 11, struct: 12, map: 13, set: 14, list: 15 };
const TYPE_NAMES = Object.fromEntries(Object.entries(TYPE_IDS).map(([k, v]) => [v, k]));
const MAX_DEPTH = 64;

const utf8 = new TextDecoder("utf-8", { fatal: true });

class Reader {
  constructor(buf) { this.b = buf; this.o = 0; }
  need(n) {
    if (n < 0 || this.o + n > this.b.length) throw new Error(`thrift: truncated at offset ${this.o} (need ${n})`);
  }
  u8() { this.need(1); return this.b[this.o++]; }
  i16() { this.need(2); const v = this.b.readInt16BE(this.o); this.o += 2; return v; }
  i32() { this.need(4); const v = this.b.readInt32BE(this.o); this.o += 4; return v; }
  i64() { this.need(8); const v = this.b.readBigInt64BE(this.o); this.o += 8; return v.toString(); }
  dbl() { this.need(8); const v = this.b.readDoubleBE(this.o); this.o += 8; return v; }
  bytes() { const n = this.i32(); if (n < 0) throw new Error("thrift: negative length"); this.need(n); const v = this.b.subarray(this.o, this.o + n); this.o += n; return v; }
}

function readValue(r, t, depth) {
  if (depth > MAX_DEPTH) throw new Error("thrift: nesting too deep");
  switch (t) {
    case 2: { const v = r.u8(); return v !== 0; }
    case 3: return (r.u8() << 24) >> 24;
    case 4: return r.dbl();
    case 6: return r.i16();
    case 8: return r.i32();
    case 10: return r.i64();
    case 11: {
      const b = r.bytes();
      const out = { b64: Buffer.from(b).toString("base64") };
      try { out.utf8 = utf8.decode(b); } catch { /* not text */ }
      return out;
    }
    case 12: return readStruct(r, depth + 1);
    case 13: {
      const kt = r.u8(), vt = r.u8(), n = r.i32();
      if (n < 0) throw new Error("thrift: negative map size");
      const entries = [];
      for (let i = 0; i < n; i++) entries.push([readValue(r, kt, depth + 1), readValue(r, vt, depth + 1)]);
      return { key: TYPE_NAMES[kt], val: TYPE_NAMES[vt], entries };
    }
    case 14: case 15: {
      const et = r.u8(), n = r.i32();
      if (n < 0) throw new Error("thrift: negative list size");
      if (!TYPE_NAMES[et]) throw new Error(`thrift: unknown element type ${et}`);
      const items = [];
      for (let i = 0; i < n; i++) items.push(readValue(r, et, depth + 1));
      return { elem: TYPE_NAMES[et], items };
    }
    default: throw new Error(`thrift: unknown type ${t}`);
  }
}

function readStruct(r, depth) {
  const fields = [];
  for (;;) {
    const t = r.u8();
    if (t === 0) return fields;
    const id = r.i16();
    if (!TYPE_NAMES[t]) throw new Error(`thrift: unknown field type ${t}`);
    fields.push({ id, type: TYPE_NAMES[t], value: readValue(r, t, depth) });
  }
}

/** Decodes one struct from buf; throws on trailing bytes. */
export function decodeStruct(buf) {
  const r = new Reader(Buffer.from(buf));
  const s = readStruct(r, 0);
  if (r.o !== r.b.length) throw new Error(`thrift: ${r.b.length - r.o} trailing bytes`);
  return s;
}

class Writer {
  constructor() { this.parts = []; }
  u8(v) { this.parts.push(Buffer.from([v & 0xff])); }
  i16(v) { const b = Buffer.alloc(2); b.writeInt16BE(v); this.parts.push(b); }
  i32(v) { const b = Buffer.alloc(4); b.writeInt32BE(v); this.parts.push(b); }
  i64(v) { const b = Buffer.alloc(8); b.writeBigInt64BE(BigInt(v)); this.parts.push(b); }
  dbl(v) { const b = Buffer.alloc(8); b.writeDoubleBE(v); this.parts.push(b); }
  raw(b) { this.parts.push(Buffer.from(b)); }
  bytes(b) { this.i32(b.length); this.raw(b); }
  out() { return Buffer.concat(this.parts); }
}

function toBytes(v) {
  if (typeof v === "string") return Buffer.from(v, "utf8");
  if (v instanceof Uint8Array) return Buffer.from(v);
  if (v && typeof v.b64 === "string") return Buffer.from(v.b64, "base64");
  if (v && typeof v.utf8 === "string") return Buffer.from(v.utf8, "utf8");
  throw new Error("thrift: binary value must be a string, {b64} or {utf8}");
}

function writeValue(w, type, v) {
  switch (type) {
    case "bool": w.u8(v ? 1 : 0); break;
    case "byte": w.u8(v); break;
    case "double": w.dbl(v); break;
    case "i16": w.i16(v); break;
    case "i32": w.i32(v); break;
    case "i64": w.i64(v); break;
    case "binary": case "string": w.bytes(toBytes(v)); break;
    case "struct":
      // A pre-encoded struct may be spliced in as {raw: base64}.
      if (v && typeof v.raw === "string") { w.raw(Buffer.from(v.raw, "base64")); break; }
      writeFields(w, v); break;
    case "list": case "set":
      w.u8(TYPE_IDS[v.elem]); w.i32(v.items.length);
      for (const it of v.items) writeValue(w, v.elem, it);
      break;
    case "map":
      w.u8(TYPE_IDS[v.key]); w.u8(TYPE_IDS[v.val]); w.i32(v.entries.length);
      for (const [k, x] of v.entries) { writeValue(w, v.key, k); writeValue(w, v.val, x); }
      break;
    default: throw new Error(`thrift: unknown type ${type}`);
  }
}

function writeFields(w, fields) {
  for (const f of fields) {
    const type = f.type === "string" ? "binary" : f.type;
    if (!TYPE_IDS[type]) throw new Error(`thrift: unknown type ${f.type}`);
    w.u8(TYPE_IDS[type]); w.i16(f.id);
    writeValue(w, type, f.value);
  }
  w.u8(0);
}

/** Encodes a struct given as an array of {id, type, value}. */
export function encodeStruct(fields) {
  const w = new Writer();
  writeFields(w, fields);
  return w.out();
}

/**
 * Builds a server-side MessageEvent envelope (event.thrift MessageEvent).
 * opts: sequenceId, messageId, senderId, conversationId, conversationToken,
 * createdAtMsec, previousSequenceId (strings), isTrusted (bool), relaySource
 * (i32), and the detail as one of: detailB64 (encoded MessageEventDetail union),
 * messageCreateEventB64 (encoded MessageCreateEvent, wrapped as union field 1);
 * signature as signatureB64 (encoded MessageEventSignature) or signature
 * fields {signature, publicKeyVersion, signatureVersion, signingPublicKey}.
 */
export function buildMessageEvent(opts) {
  const f = [];
  const str = (id, v) => { if (v !== undefined && v !== null) f.push({ id, type: "binary", value: String(v) }); };
  str(1, opts.sequenceId);
  str(2, opts.messageId);
  str(3, opts.senderId);
  str(4, opts.conversationId);
  str(5, opts.conversationToken);
  str(6, opts.createdAtMsec);
  if (opts.detailB64) {
    f.push({ id: 7, type: "struct", value: { raw: opts.detailB64 } });
  } else if (opts.messageCreateEventB64) {
    f.push({ id: 7, type: "struct", value: [{ id: 1, type: "struct", value: { raw: opts.messageCreateEventB64 } }] });
  }
  if (opts.relaySource !== undefined && opts.relaySource !== null) f.push({ id: 8, type: "i32", value: opts.relaySource });
  if (opts.signatureB64) {
    f.push({ id: 9, type: "struct", value: { raw: opts.signatureB64 } });
  } else if (opts.signature) {
    const s = opts.signature, sf = [];
    if (s.signature != null) sf.push({ id: 1, type: "binary", value: s.signature });
    if (s.publicKeyVersion != null) sf.push({ id: 2, type: "binary", value: s.publicKeyVersion });
    if (s.signatureVersion != null) sf.push({ id: 3, type: "binary", value: s.signatureVersion });
    if (s.signingPublicKey != null) sf.push({ id: 4, type: "binary", value: s.signingPublicKey });
    f.push({ id: 9, type: "struct", value: sf });
  }
  str(10, opts.previousSequenceId);
  if (opts.isTrusted !== undefined && opts.isTrusted !== null) f.push({ id: 11, type: "bool", value: !!opts.isTrusted });
  return encodeStruct(f);
}
