// What the browser tests share: loopback ports, waiting, Playwright from the deps folder,
// a headless Chromium that reaches nothing but what the test started.

import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';

export const HOST = '127.0.0.1';

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A logger prefixing seconds since `started`. */
export function logger(prefix) {
  const started = Date.now();
  return (msg) => console.log(`${prefix}: [${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${msg}`);
}

export function loadPlaywright() {
  const deps = process.env.TIDINGS_BROWSER_DEPS;
  const require = createRequire(deps ? path.join(path.resolve(deps), 'package.json') : import.meta.url);
  return require('playwright-core');
}

export function playwrightVersion() {
  try {
    const deps = process.env.TIDINGS_BROWSER_DEPS;
    const require = createRequire(deps ? path.join(path.resolve(deps), 'package.json') : import.meta.url);
    return require('playwright-core/package.json').version;
  } catch {
    return '?';
  }
}

/** A port free on the loopback interface right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export async function waitFor(what, predicate, timeoutMs, intervalMs = 50) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** Headless Chromium with background traffic off: it talks only to the pages it is sent to. */
export function launchChromium(chromium) {
  return chromium.launch({
    executablePath: process.env.TIDINGS_CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--no-proxy-server'],
  });
}
