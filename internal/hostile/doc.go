// Package hostile provides test-only adversaries for xchat-go: a malicious
// server that sits in front of the emulator and tampers with what it serves
// (Proxy, with helpers that rewrite JSON bodies and the Thrift MessageEvent
// envelopes they carry), and a faulty network for the client side
// (Faults, an http.RoundTripper that resets connections, times out, answers
// 5xx bursts and 429 storms, or "kills" the client between delivering a
// request and reading its answer).
//
// Nothing here is used by the engine itself; the package exists so that the
// attack and fault suites in internal/attacks (and any other test) can
// describe an adversary in a few lines. Every adversary is deterministic:
// rules run in the order they were added and Faults draws from a seeded
// generator.
package hostile
