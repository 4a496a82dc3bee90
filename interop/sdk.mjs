// Loader for the official X Chat XDK WebAssembly build.
//
// The npm package @xdevplatform/chat-xdk wraps its WASM core in a
// Juicebox-aware JS layer (index.js). For interop testing we want the raw
// crypto engine: the wasm-bindgen `Chat` class in pkg/chat_xdk_wasm.js,
// initialised with the bytes of pkg/chat_xdk_wasm_bg.wasm. The package's
// "exports" map only exposes ".", so the files are located on disk rather
// than imported by bare specifier.

import { readFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { webcrypto } from "node:crypto";

export const SDK_PACKAGE = "@xdevplatform/chat-xdk";
export const SDK_VERSION = "0.4.3";

const here = dirname(fileURLToPath(import.meta.url));

/** Directory of the installed SDK package. */
export const sdkDir = join(here, "node_modules", "@xdevplatform", "chat-xdk");

let loaded = null;

/**
 * Loads and initialises the WASM module once per process and returns the
 * wasm-bindgen module namespace (Chat, StreamEncryptor, bytesToBase64, ...).
 */
export async function loadSDK() {
  if (loaded) return loaded;
  const pkgJSON = join(sdkDir, "package.json");
  if (!existsSync(pkgJSON)) {
    throw new Error(`${SDK_PACKAGE} is not installed: run npm ci in ${here}`);
  }
  const version = JSON.parse(readFileSync(pkgJSON, "utf8")).version;
  if (version !== SDK_VERSION) {
    throw new Error(`${SDK_PACKAGE} ${version} installed, want ${SDK_VERSION}: run npm ci in ${here}`);
  }
  // The WASM random source (getrandom) uses globalThis.crypto.
  if (typeof globalThis.crypto === "undefined") globalThis.crypto = webcrypto;
  const mod = await import(pathToFileURL(join(sdkDir, "pkg", "chat_xdk_wasm.js")).href);
  const wasm = readFileSync(join(sdkDir, "pkg", "chat_xdk_wasm_bg.wasm"));
  await mod.default({ module_or_path: wasm });
  loaded = mod;
  return mod;
}

/** Returns a fresh SDK Chat instance (loading the module on first use). */
export async function newChat() {
  const mod = await loadSDK();
  return new mod.Chat();
}
