#!/usr/bin/env node
// JSON-lines RPC server driving the official Juicebox client (npm
// juicebox-sdk, the SDK's WebAssembly build) for the Go cross-check.
// Run with: node --experimental-wasm-modules jb.mjs
//
//   -> {"id": N, "op": "register"|"recover"|"delete"|"version", "args": {...}}
//   <- {"id": N, "ok": true, "result": ...}
//   <- {"id": N, "ok": false, "error": {"reason": "InvalidPin", "guesses_remaining": 19}}
//
// args: config (the SDK configuration JSON string, X's
// key_store_token_map_json), tokens ({realm id hex: token}), and base64
// pin, secret, info; guesses (number). Bytes travel as standard base64.
// Nothing but responses is written to stdout.

import { createInterface } from "node:readline";
import { readFileSync } from "node:fs";
import { Client, Configuration, RecoverErrorReason, RegisterError, DeleteError } from "juicebox-sdk";

for (const k of ["log", "info", "warn", "debug"]) console[k] = (...a) => console.error(...a);

const pkg = JSON.parse(readFileSync(new URL("./node_modules/juicebox-sdk/package.json", import.meta.url)));

// Realm tokens for the current operation (operations run one at a time).
let tokens = {};
globalThis.JuiceboxGetAuthToken = async (realmId) => {
  const hex = Buffer.from(realmId).toString("hex");
  const t = tokens[hex];
  if (typeof t !== "string") throw new Error(`no token for realm ${hex}`);
  return t;
};

const bytes = (v) => new Uint8Array(Buffer.from(v ?? "", "base64"));

function client(a) {
  if (typeof a.config !== "string") throw new Error("config must be the configuration JSON string");
  tokens = a.tokens ?? {};
  return new Client(new Configuration(a.config), []);
}

// Errors from the WASM are enum numbers (register, delete) or RecoverError
// objects; turn them into names.
function describe(e, names) {
  if (typeof e === "number") return { reason: names[e] ?? String(e) };
  if (e && typeof e === "object" && "reason" in e) {
    const out = { reason: RecoverErrorReason[e.reason] ?? String(e.reason) };
    if (e.guesses_remaining !== undefined) out.guesses_remaining = e.guesses_remaining;
    return out;
  }
  return { reason: "Exception", message: String(e?.message ?? e) };
}

const ops = {
  version: async () => ({ sdk: pkg.version, node: process.version }),
  register: async (a) => {
    try {
      await client(a).register(bytes(a.pin), bytes(a.secret), bytes(a.info), a.guesses);
      return null;
    } catch (e) {
      throw describe(e, RegisterError);
    }
  },
  recover: async (a) => {
    try {
      const s = await client(a).recover(bytes(a.pin), bytes(a.info));
      return { secret: Buffer.from(s).toString("base64") };
    } catch (e) {
      throw describe(e, RecoverErrorReason);
    }
  },
  delete: async (a) => {
    try {
      await client(a).delete();
      return null;
    } catch (e) {
      throw describe(e, DeleteError);
    }
  },
};

const rl = createInterface({ input: process.stdin, terminal: false });
for await (const line of rl) {
  let req;
  try {
    req = JSON.parse(line);
  } catch {
    process.stdout.write(JSON.stringify({ id: null, ok: false, error: { reason: "Exception", message: "bad JSON" } }) + "\n");
    continue;
  }
  const op = ops[req.op];
  let resp;
  if (!op) {
    resp = { id: req.id, ok: false, error: { reason: "Exception", message: `unknown op ${req.op}` } };
  } else {
    try {
      resp = { id: req.id, ok: true, result: await op(req.args ?? {}) };
    } catch (e) {
      resp = { id: req.id, ok: false, error: e?.reason ? e : describe(e, {}) };
    }
  }
  process.stdout.write(JSON.stringify(resp) + "\n");
}
