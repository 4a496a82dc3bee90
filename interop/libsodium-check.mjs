#!/usr/bin/env node
// Independent check of the secretbox and secretstream cases of
// testvectors/xchat.json with libsodium itself (npm libsodium-wrappers:
// libsodium compiled to WebAssembly), for testvectors' TestVectorsLibsodium.
//
// Usage: node libsodium-check.mjs PATH/TO/xchat.json
// Prints one JSON object: {"libsodium": "<version>", "results": [{"name",
// "kind", "outcome", "plaintext_hex"}]}, where outcome uses xchat.json's
// expect classes. Only the primitives come from libsodium; the XChat media
// framing (header, 1024-byte chunks of 1041 bytes on the wire, the last one
// FINAL, the header alone for empty input) is written out here from its
// description in crypto/secretstream/doc.go, not from the Go code.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const sodium = require("libsodium-wrappers");
await sodium.ready;

const hex = (s) => Uint8Array.from(Buffer.from(s, "hex"));
const toHex = (b) => Buffer.from(b).toString("hex");

function secretbox(inputs) {
  const key = hex(inputs.key_hex);
  const box = hex(inputs.box_hex);
  if (key.length !== sodium.crypto_secretbox_KEYBYTES) return { outcome: "invalid key" };
  const n = sodium.crypto_secretbox_NONCEBYTES;
  if (box.length < n + sodium.crypto_secretbox_MACBYTES) return { outcome: "decryption failed" };
  try {
    // The easy form is MAC || ciphertext, as the box after its nonce.
    const pt = sodium.crypto_secretbox_open_easy(box.subarray(n), box.subarray(0, n), key);
    return { outcome: "success", plaintext_hex: toHex(pt) };
  } catch {
    return { outcome: "decryption failed" };
  }
}

function secretstream(inputs) {
  const ss = "crypto_secretstream_xchacha20poly1305_";
  const key = hex(inputs.key_hex);
  const ct = hex(inputs.ciphertext_hex);
  const headerBytes = sodium[ss + "HEADERBYTES"];
  const frame = 1024 + sodium[ss + "ABYTES"];
  if (key.length !== sodium[ss + "KEYBYTES"]) return { outcome: "invalid key" };
  if (ct.length < headerBytes) return { outcome: "truncated stream" };
  const state = sodium[ss + "init_pull"](ct.subarray(0, headerBytes), key);
  const known = new Set([ss + "TAG_MESSAGE", ss + "TAG_PUSH", ss + "TAG_REKEY", ss + "TAG_FINAL"].map((t) => sodium[t]));
  const parts = [];
  let off = headerBytes;
  let tag = null;
  while (off < ct.length) {
    if (tag === sodium[ss + "TAG_FINAL"]) return { outcome: "data after final" };
    const r = sodium[ss + "pull"](state, ct.subarray(off, Math.min(off + frame, ct.length)), null);
    if (!r || !known.has(r.tag)) return { outcome: "decryption failed" };
    parts.push(r.message);
    tag = r.tag;
    off += frame;
  }
  if (tag !== null && tag !== sodium[ss + "TAG_FINAL"]) return { outcome: "truncated stream" };
  return { outcome: "success", plaintext_hex: parts.map(toHex).join("") };
}

const file = JSON.parse(readFileSync(process.argv[2], "utf8"));
const results = [];
for (const c of file.cases) {
  const check = { secretbox, secretstream }[c.kind];
  if (check) results.push({ name: c.name, kind: c.kind, ...check(c.inputs) });
}
process.stdout.write(JSON.stringify({ libsodium: sodium.sodium_version_string(), results }) + "\n");
