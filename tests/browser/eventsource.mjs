// Real-browser test: a Chromium `EventSource` on Tidings' GET watch receives notifications and,
// after the server closes the stream (sse.max_duration), reconnects by itself and resumes through
// `Last-Event-ID` with neither loss nor duplicates.
//
// Usage: node tests/browser/eventsource.mjs path/to/tidings
// Env:   TIDINGS_BROWSER_DEPS  folder holding node_modules/playwright-core (run.sh sets it)
//        TIDINGS_CHROMIUM      browser executable (default /usr/bin/chromium)
//
// Everything listens on and talks to 127.0.0.1 only. Prints one line per step and closes on
// `browser: 1 passed, 0 failed` (exit 0) or `browser: 0 passed, 1 failed` (exit 1).

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';

import { HOST, freePort, launchChromium, loadPlaywright, logger, playwrightVersion, sleep, waitFor } from './lib.mjs';

const OVERALL_TIMEOUT_MS = 60_000;
const MAX_DURATION_S = 3;

const log = logger('browser');

let tidings = null;
let tidingsLog = '';
let pageServer = null;
let browser = null;
let finished = false;

function startTidings(bin, port) {
  // Only our settings: drop any inherited TIDINGS* variable (config file, store choice, ...).
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TIDINGS')));
  Object.assign(env, {
    TIDINGS__LISTEN: `${HOST}:${port}`,
    TIDINGS__BASE_URL: `http://${HOST}:${port}`,
    TIDINGS__STORE__KIND: 'memory',
    TIDINGS__SSE__MAX_DURATION: `${MAX_DURATION_S}s`,
  });
  const child = spawn(bin, [], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (chunk) => {
    tidingsLog += chunk.toString();
    if (tidingsLog.length > 200_000) tidingsLog = tidingsLog.slice(-100_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  child.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  child.on('error', (err) => { tidingsLog += `spawn error: ${err.message}\n`; });
  return child;
}

function pageHtml(watchUrl) {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>Tidings EventSource</title></head>
<body><pre id="out"></pre>
<script>
window.seen = [];        // notification ids in arrival order (duplicates kept)
window.frames = [];      // {name, id} for every notification frame
window.mismatches = [];  // frames whose lastEventId differs from the CloudEvent id
window.controls = [];    // control frames (type field) by event name
window.closings = [];    // reasons of connection-closing frames
window.opens = 0;
window.errors = 0;
window.errorStates = [];
const out = document.getElementById('out');
const es = new EventSource(${JSON.stringify(watchUrl)});
window.es = es;
es.addEventListener('open', () => { window.opens += 1; out.textContent += 'open\\n'; });
es.addEventListener('error', () => { window.errors += 1; window.errorStates.push(es.readyState); out.textContent += 'error ' + es.readyState + '\\n'; });
function onFrame(e) {
  let data = null;
  try { data = JSON.parse(e.data); } catch (_) { /* not JSON */ }
  if (data && data.specversion) {
    // A notification (CloudEvent). EventSource keeps the last id across frames, so classify by
    // the payload rather than by a non-empty lastEventId.
    window.seen.push(e.lastEventId);
    window.frames.push({ name: e.type, id: e.lastEventId });
    if (data.id !== e.lastEventId) window.mismatches.push({ name: e.type, lastEventId: e.lastEventId, id: data.id });
    out.textContent += e.type + ' ' + e.lastEventId + '\\n';
  } else {
    window.controls.push({ name: e.type, type: data && data.type });
  }
}
es.addEventListener('live-notification', onFrame);
es.addEventListener('replay', onFrame);
es.addEventListener('replay-control', onFrame);
es.addEventListener('connection-closing', (e) => {
  let reason = null;
  try { reason = JSON.parse(e.data).reason; } catch (_) { /* ignore */ }
  window.closings.push(reason);
});
</script></body></html>`;
}

function startPageServer(port, html) {
  return new Promise((resolve, reject) => {
    const srv = http.createServer((req, res) => {
      if (req.url === '/' || req.url === '/index.html') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
        res.end(html);
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not found');
      }
    });
    srv.on('error', reject);
    srv.listen(port, HOST, () => resolve(srv));
  });
}

async function publish(base, n) {
  const body = {
    event_type: 'mars',
    identifier: { class: 'od', expver: '1', domain: 'g', date: '2025-07-06', time: '12', stream: 'enfo', step: n },
    payload: { n },
  };
  const res = await fetch(`${base}/api/v1/notification`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`publish ${n}: HTTP ${res.status}: ${text}`);
  const json = JSON.parse(text);
  if (json.status !== 'success' || json.id !== `mars@${n}`) throw new Error(`publish ${n}: unexpected answer ${text}`);
  return json.id;
}

async function cleanup() {
  if (browser) {
    const b = browser;
    browser = null;
    await Promise.race([b.close().catch(() => {}), sleep(5000)]);
  }
  if (pageServer) {
    const s = pageServer;
    pageServer = null;
    s.closeAllConnections?.();
    await new Promise((resolve) => s.close(() => resolve()));
  }
  if (tidings) {
    const t = tidings;
    tidings = null;
    if (t.exitCode === null && t.signalCode === null) {
      t.kill('SIGTERM');
      const done = await Promise.race([t.exited.then(() => true), sleep(5000).then(() => false)]);
      if (!done) {
        t.kill('SIGKILL');
        await Promise.race([t.exited, sleep(2000)]);
      }
    }
  }
}

async function finish(ok, err) {
  if (finished) return;
  finished = true;
  if (!ok) {
    log(`FAIL: ${err && err.stack ? err.stack : err}`);
    const tail = tidingsLog.split('\n').slice(-20).join('\n');
    if (tail.trim()) console.log(`browser: --- tidings log (tail) ---\n${tail}\nbrowser: --- end of log ---`);
  }
  try {
    await cleanup();
  } catch (e) {
    log(`cleanup error: ${e.message}`);
  }
  console.log(ok ? 'browser: 1 passed, 0 failed' : 'browser: 0 passed, 1 failed');
  process.exit(ok ? 0 : 1);
}

async function main() {
  const bin = process.argv[2];
  if (!bin || !existsSync(bin)) throw new Error(`usage: node eventsource.mjs path/to/tidings (got ${bin})`);
  const { chromium } = loadPlaywright();

  const apiPort = await freePort();
  let pagePort = await freePort();
  while (pagePort === apiPort) pagePort = await freePort();
  const base = `http://${HOST}:${apiPort}`;
  const pageUrl = `http://${HOST}:${pagePort}/`;
  const watchUrl = `${base}/api/v1/watch/mars?class=od`;

  tidings = startTidings(bin, apiPort);
  await waitFor('tidings /health', async () => {
    if (tidings.exitCode !== null || tidings.signalCode !== null) throw new Error('tidings exited before becoming healthy');
    try {
      const res = await fetch(`${base}/health`, { signal: AbortSignal.timeout(2000) });
      return res.status === 200 && (await res.json()).status === 'ok';
    } catch {
      return false;
    }
  }, 20_000, 100);
  log(`tidings healthy on ${base} (sse.max_duration=${MAX_DURATION_S}s)`);

  pageServer = await startPageServer(pagePort, pageHtml(watchUrl));
  log(`page served from ${pageUrl} (cross-origin to the API)`);

  browser = await launchChromium(chromium);
  log(`chromium ${browser.version()} launched (playwright-core ${playwrightVersion()})`);
  const page = await browser.newPage();
  const consoleLines = [];
  page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
  // Record what the browser itself sends on each watch request (Last-Event-ID on reconnects).
  // allHeaders() includes the headers Chromium's network stack adds after the renderer.
  const watchRequests = [];
  page.on('request', (req) => {
    if (req.url().startsWith(`${base}/api/v1/watch/`)) {
      const entry = { lastEventId: req.headers()['last-event-id'] ?? null };
      watchRequests.push(entry);
      req.allHeaders().then((h) => { entry.lastEventId = h['last-event-id'] ?? entry.lastEventId; }, () => {});
    }
  });

  await page.goto(pageUrl);
  await waitFor('the first EventSource open', () => page.evaluate(() => window.opens >= 1), 10_000);
  const openedAt = Date.now();
  await sleep(300);
  log('EventSource open (1st connection)');

  const state = () => page.evaluate(() => ({
    seen: window.seen.slice(), frames: window.frames.slice(), mismatches: window.mismatches.slice(),
    opens: window.opens, errors: window.errors, closings: window.closings.slice(),
    controls: window.controls.slice(), readyState: window.es.readyState,
  }));

  for (let n = 1; n <= 5; n++) await publish(base, n);
  log('published mars@1..mars@5');
  await waitFor('5 notifications in the page', () => page.evaluate(() => window.seen.length >= 5), 5_000);
  log(`page saw ${(await state()).seen.join(' ')}`);

  // The server ends the stream after max_duration; EventSource then fires `error` and waits
  // `retry: 1000` ms before reconnecting. Publish 6..10 inside that gap.
  await waitFor('the server to close the stream (error event)',
    () => page.evaluate(() => window.errors >= 1), MAX_DURATION_S * 1000 + 7_000, 20);
  const closedAfter = ((Date.now() - openedAt) / 1000).toFixed(2);
  const atClose = await state();
  log(`stream closed by the server ${closedAfter}s after open (connection-closing reasons: ${JSON.stringify(atClose.closings)}, readyState ${atClose.readyState})`);
  if (atClose.opens !== 1) throw new Error(`expected 1 open at close time, got ${atClose.opens}`);
  for (let n = 6; n <= 10; n++) {
    await publish(base, n);
    if (n < 10) await sleep(25);
  }
  const afterGap = await state();
  log(`published mars@6..mars@10 while disconnected (opens still ${afterGap.opens}, readyState ${afterGap.readyState})`);
  if (afterGap.opens !== 1) {
    throw new Error('the browser reconnected before 6..10 were all published: the gap was not exercised (timing)');
  }

  await waitFor('the automatic reconnect (2nd open)', () => page.evaluate(() => window.opens >= 2), 10_000, 20);
  await sleep(300);
  log('EventSource reconnected by itself (2nd open)');
  for (let n = 11; n <= 15; n++) await publish(base, n);
  log('published mars@11..mars@15 live');

  await waitFor('15 notifications in the page', () => page.evaluate(() => window.seen.length >= 15), 20_000);
  await sleep(300); // let any straggling duplicate show up before judging
  const final = await state();
  log(`page saw ${final.seen.join(' ')}`);
  log(`frames: ${final.frames.map((f) => `${f.name}:${f.id.replace('mars@', '')}`).join(' ')}`);
  log(`watch requests sent by the browser: ${JSON.stringify(watchRequests)}`);

  const expected = Array.from({ length: 15 }, (_, i) => `mars@${i + 1}`);
  const problems = [];
  if (JSON.stringify(final.seen) !== JSON.stringify(expected)) {
    const dups = final.seen.filter((id, i) => final.seen.indexOf(id) !== i);
    const missing = expected.filter((id) => !final.seen.includes(id));
    problems.push(`ids are not exactly mars@1..mars@15 in order: got [${final.seen.join(', ')}]; duplicates [${dups.join(', ')}], missing [${missing.join(', ')}]`);
  }
  if (final.opens < 2) problems.push(`expected >= 2 opens (server close + automatic reconnect), got ${final.opens}`);
  if (final.mismatches.length) problems.push(`lastEventId differs from the CloudEvent id: ${JSON.stringify(final.mismatches)}`);
  if (!final.closings.includes('max_duration_reached')) problems.push(`no connection-closing frame with reason max_duration_reached (got ${JSON.stringify(final.closings)})`);
  const replayed = final.frames.filter((f) => f.name === 'replay').map((f) => f.id);
  const gap = expected.slice(5, 10);
  if (!gap.every((id) => replayed.includes(id))) problems.push(`mars@6..mars@10 were not delivered as replay frames (replay frames: [${replayed.join(', ')}])`);
  // A header the DevTools protocol did not report (null) is not held against the server: the
  // replay frames above already show where it resumed. A wrong value is.
  const resumed = watchRequests.slice(1).some((r) => r.lastEventId === 'mars@5' || r.lastEventId === null);
  if (watchRequests.length >= 2 && !resumed) problems.push(`the reconnect did not send Last-Event-ID: mars@5 (requests: ${JSON.stringify(watchRequests)})`);
  if (consoleLines.some((l) => l.startsWith('pageerror'))) problems.push(`page errors: ${consoleLines.join(' | ')}`);
  if (problems.length) throw new Error(problems.join('\n  '));

  log(`ok: mars@1..mars@15 each once in order, ${final.opens} opens, replayed after reconnect: ${replayed.join(' ')}`);
}

const overall = setTimeout(() => finish(false, new Error(`overall timeout of ${OVERALL_TIMEOUT_MS / 1000}s exceeded`)), OVERALL_TIMEOUT_MS);
process.on('SIGINT', () => finish(false, new Error('interrupted (SIGINT)')));
process.on('SIGTERM', () => finish(false, new Error('terminated (SIGTERM)')));
process.on('unhandledRejection', (e) => finish(false, e));

main().then(() => finish(true), (e) => finish(false, e));
