// Times the official SDK (the WASM Chat class) for `go run ./cmd/xchat-bench`.
//
// Usage: node bench.mjs <fixture.json>
//
// The fixture (written by internal/bench) carries the keys, the events and
// the op list; the result is one JSON object on stdout:
//   {"sdk": "0.4.3", "node": "v20…", "results": {"<op>": {"nsPerOp": n,
//    "iters": n, "scale": s, "note": "…"} | {"error": "…"}}}
//    (nsPerOp is wall time, cpuNsPerOp process CPU time)
// Diagnostics go to stderr. Unlike harness.mjs this runs with V8's normal
// tiering (optimising WASM compiler) so the SDK is timed at full speed.

import { readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { loadSDK, SDK_VERSION } from "./sdk.mjs";

const fixture = JSON.parse(readFileSync(process.argv[2], "utf8"));
const mod = await loadSDK();
const b64 = (s) => new Uint8Array(Buffer.from(s, "base64"));
const minNs = BigInt(Math.round((fixture.minTimeMs ?? 1000) * 1e6));
const capNs = 60n * 1000000000n; // an op that would take longer than this is scaled

function account(a) {
  const c = new mod.Chat();
  c.importKeys(b64(a.backup), a.version);
  c.setIdentity(a.id, a.version);
  return c;
}

// cpuNs is the process CPU time (user + system) in nanoseconds.
function cpuNs() {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

// time runs fn once to warm up, then repeatedly until minNs has elapsed.
// A warm-up slower than minNs counts as the only sample. nsPerOp is wall
// time, cpuNsPerOp process CPU time (robust when the machine is busy).
function time(fn) {
  let c0 = cpuNs();
  let t0 = process.hrtime.bigint();
  fn();
  let dt = process.hrtime.bigint() - t0;
  if (dt >= minNs) return { nsPerOp: Number(dt), cpuNsPerOp: cpuNs() - c0, iters: 1 };
  let iters = 0;
  c0 = cpuNs();
  t0 = process.hrtime.bigint();
  do {
    fn();
    iters++;
    dt = process.hrtime.bigint() - t0;
  } while (dt < minNs);
  return { nsPerOp: Number(dt) / iters, cpuNsPerOp: (cpuNs() - c0) / iters, iters };
}

const alice = account(fixture.alice);
const bob = account(fixture.bob);
const ckey = b64(fixture.conversationKey);

function decryptCheck(events, want) {
  const out = bob.decryptEvents(events, fixture.signingKeys);
  const errs = Object.keys(out.errors ?? {});
  if (errs.length) throw new Error(`decryptEvents: ${errs.length} errors, first: ${out.errors[errs[0]]}`);
  if (out.messages.length !== want) throw new Error(`decryptEvents: ${out.messages.length} events, want ${want}`);
  for (const m of out.messages) {
    if (m.event.type === "message" && !m.event.verified) throw new Error("decryptEvents: unverified message");
  }
}

const ops = {
  send_text_1k() {
    const params = {
      conversationId: fixture.conversationId,
      text: fixture.text,
      senderId: fixture.alice.id,
      signingKeyVersion: fixture.alice.version,
      conversationKey: ckey,
      conversationKeyVersion: fixture.conversationKeyVersion,
    };
    return time(() => alice.encryptMessage(params));
  },
};

for (const [name, events] of Object.entries(fixture.histories ?? {})) {
  ops[name] = () => {
    // Probe the per-event cost on a prefix first; scale if the whole
    // history would exceed the cap.
    const probeN = Math.min(events.length, 201);
    const probe = events.slice(0, probeN);
    decryptCheck(probe, probeN);
    const t0 = process.hrtime.bigint();
    decryptCheck(probe, probeN);
    const perEvent = (process.hrtime.bigint() - t0) / BigInt(probeN);
    if (perEvent * BigInt(events.length) > capNs) {
      const n = Number(capNs / 4n / perEvent);
      const part = events.slice(0, n);
      const r = time(() => decryptCheck(part, n));
      const k = events.length / n;
      return { nsPerOp: r.nsPerOp * k, cpuNsPerOp: r.cpuNsPerOp * k, iters: r.iters, scale: k,
        note: `timed on the first ${n} of ${events.length} events and scaled linearly` };
    }
    return time(() => decryptCheck(events, events.length));
  };
}

for (const [name, kc] of Object.entries(fixture.keyChanges ?? {})) {
  ops[name] = () => {
    const params = {
      publicKeys: kc.publicKeys,
      senderId: fixture.alice.id,
      signingKeyVersion: fixture.alice.version,
      conversationId: kc.conversationId,
    };
    const r = alice.prepareConversationKeyChange(params);
    if (r.participantKeys.length !== kc.publicKeys.length) {
      throw new Error(`prepareConversationKeyChange: ${r.participantKeys.length} keys, want ${kc.publicKeys.length}`);
    }
    return time(() => alice.prepareConversationKeyChange(params));
  };
}

if (fixture.streamBytes) {
  const plain = new Uint8Array(randomBytes(fixture.streamBytes));
  let ct = null;
  ops.stream_encrypt = () => {
    ct = alice.encryptStream(plain, ckey);
    return time(() => alice.encryptStream(plain, ckey));
  };
  ops.stream_decrypt = () => {
    ct ??= alice.encryptStream(plain, ckey);
    const pt = alice.decryptStream(ct, ckey);
    if (pt.length !== plain.length) throw new Error("decryptStream: length mismatch");
    return time(() => alice.decryptStream(ct, ckey));
  };
}

const results = {};
for (const op of fixture.ops) {
  const fn = ops[op];
  if (!fn) {
    results[op] = { error: `unknown op ${op}` };
    continue;
  }
  try {
    results[op] = fn();
  } catch (e) {
    results[op] = { error: String(e?.message ?? e) };
  }
  process.stderr.write(`sdk ${op}: ${JSON.stringify(results[op])}\n`);
}
process.stdout.write(JSON.stringify({ sdk: SDK_VERSION, node: process.version, results }) + "\n");
