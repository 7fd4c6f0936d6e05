// Real-browser test of the operator console (/console/) against a real Tidings on a real
// JetStream (a nats-server this test starts on a loopback port with a temporary store):
// the live tail shows what is published, across a server-side close and a pause, each
// notification once; browse opens one and deletes it through the dry-run preview; a wipe
// needs the stream's name typed; a destination made in the console gets a delivery that
// succeeds, with its attempt timeline. A second instance with auth on: the token is pasted
// once, the live tail works through it (never in a URL), admin pages are hidden for a
// reader. Every page is saved as a screenshot (TIDINGS_CONSOLE_SCREENSHOTS, default
// target/console-screenshots).
//
// Usage: node tests/browser/console.mjs path/to/tidings
// Env:   TIDINGS_BROWSER_DEPS, TIDINGS_CHROMIUM (as run.sh sets them), NATS_SERVER_BIN

import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { HOST, freePort, launchChromium, loadPlaywright, logger, playwrightVersion, sleep, waitFor } from './lib.mjs';

const OVERALL_TIMEOUT_MS = 150_000;
const MAX_DURATION_S = 4;
const JWT_SECRET = 'console-test-secret-of-32-or-more-bytes!';
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SHOTS = path.resolve(process.env.TIDINGS_CONSOLE_SCREENSHOTS || path.join(REPO, 'target', 'console-screenshots'));

const log = logger('console');
const children = [];
const servers = [];
let browser = null;
let scratch = null;
let finished = false;

function spawnLogged(name, bin, args, env) {
  const child = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.name = name;
  child.output = '';
  const keep = (chunk) => {
    child.output += chunk.toString();
    if (child.output.length > 200_000) child.output = child.output.slice(-100_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  child.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  child.on('error', (err) => { child.output += `spawn error: ${err.message}\n`; });
  children.push(child);
  return child;
}

function natsBinary() {
  if (process.env.NATS_SERVER_BIN) return process.env.NATS_SERVER_BIN;
  return 'nats-server';
}

async function startNats() {
  const port = await freePort();
  const store = path.join(scratch, 'jetstream');
  mkdirSync(store);
  const nats = spawnLogged('nats-server', natsBinary(), ['-js', '-a', HOST, '-p', String(port), '-sd', store], process.env);
  await waitFor('nats-server', async () => {
    if (nats.exitCode !== null) throw new Error(`nats-server exited: ${nats.output}`);
    return nats.output.includes('Server is ready');
  }, 20_000, 100);
  return `nats://${HOST}:${port}`;
}

/** Tidings with only our settings (no inherited TIDINGS* variable). */
async function startTidings(bin, name, settings) {
  const port = await freePort();
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('TIDINGS')));
  Object.assign(env, { TIDINGS__LISTEN: `${HOST}:${port}`, TIDINGS__BASE_URL: `http://${HOST}:${port}` }, settings);
  const child = spawnLogged(name, bin, [], env);
  const base = `http://${HOST}:${port}`;
  await waitFor(`${name} /ready`, async () => {
    if (child.exitCode !== null) throw new Error(`${name} exited: ${child.output.slice(-2000)}`);
    try {
      const res = await fetch(`${base}/ready`, { signal: AbortSignal.timeout(2000) });
      return res.status === 200;
    } catch {
      return false;
    }
  }, 30_000, 100);
  return base;
}

/** A webhook receiver on loopback that records each request and answers 200. */
async function startReceiver() {
  const port = await freePort();
  const received = [];
  const script = { failures: 0 };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      received.push({ url: req.url, headers: req.headers, body });
      const fail = script.failures > 0;
      if (fail) script.failures -= 1;
      res.writeHead(fail ? 500 : 200, { 'content-type': 'text/plain' });
      res.end(fail ? 'receiver broken' : 'thanks');
    });
  });
  await new Promise((resolve) => server.listen(port, HOST, resolve));
  servers.push(server);
  return { url: `http://${HOST}:${port}/hook`, received, script };
}

async function api(base, method, route, body, token) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${base}${route}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function publishMars(base, step) {
  const answer = await api(base, 'POST', '/api/v1/notification', {
    event_type: 'mars',
    identifier: { class: 'od', expver: '1', domain: 'g', date: '2025-07-06', time: '12', stream: 'enfo', step },
    payload: { step },
  });
  if (answer.status !== 200) throw new Error(`publish step ${step}: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body.id;
}

function token(bin, username, roles) {
  return execFileSync(bin, ['token', '--secret', JWT_SECRET, '--username', username, '--realm', 'localrealm', '--roles', roles], { encoding: 'utf8' }).trim();
}

async function shot(page, name) {
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  log(`screenshot ${path.relative(REPO, file)}`);
}

/** Watches a page for script errors and for requests whose URL would carry a secret. */
function observe(page, secrets = []) {
  const problems = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && !/status of (4|5)\d\d/.test(message.text())) problems.push(`console error: ${message.text()}`);
  });
  page.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith(`http://${HOST}:`)) problems.push(`request off loopback: ${url}`);
    for (const secret of secrets) if (url.includes(secret)) problems.push(`a token in a URL: ${url.slice(0, 80)}`);
  });
  return problems;
}

const tailIds = (page) => page.$$eval('#tail-rows tr[data-id]', (rows) => rows.map((row) => row.dataset.id));

async function liveTail(page, base) {
  await page.goto(`${base}/console/#/tail/mars`);
  await page.fill('#tail-class', 'od');
  await page.click('#tail-start');
  await waitFor('the tail to be live', async () => (await page.textContent('#tail-state')).includes('live'), 10_000);
  const opened = Date.now();
  for (let step = 1; step <= 3; step++) await publishMars(base, step);
  await waitFor('3 rows in the tail', async () => (await tailIds(page)).length === 3, 10_000);
  await shot(page, '3-live-tail');
  await everyControlLabelled(page, 'live tail');
  log('live tail shows mars@1..3');

  // The server ends the stream after sse.max_duration; the console reconnects with
  // Last-Event-ID. Publish while it is away.
  await waitFor('the server-side close', async () => !(await page.textContent('#tail-state')).includes('live'), MAX_DURATION_S * 1000 + 5_000, 20);
  for (let step = 4; step <= 6; step++) await publishMars(base, step);
  await waitFor('6 rows after the reconnect', async () => (await tailIds(page)).length === 6, 15_000);
  log(`reconnected ${((Date.now() - opened) / 1000).toFixed(1)} s after opening; mars@4..6 arrived`);

  await page.click('#tail-pause');
  await waitFor('paused', async () => (await page.textContent('#tail-state')).includes('paused'), 5_000);
  await publishMars(base, 7);
  await sleep(300);
  if ((await tailIds(page)).length !== 6) throw new Error('a paused tail showed a new notification');
  await page.click('#tail-pause'); // Resume
  await waitFor('mars@7 after resuming', async () => (await tailIds(page)).length === 7, 10_000);
  const ids = await tailIds(page);
  const expected = ['mars@7', 'mars@6', 'mars@5', 'mars@4', 'mars@3', 'mars@2', 'mars@1'];
  if (JSON.stringify(ids) !== JSON.stringify(expected)) throw new Error(`tail rows ${ids.join(' ')}, expected ${expected.join(' ')}`);
  const count = await page.textContent('#tail-count');
  if (count.trim() !== '7') throw new Error(`counter says ${count}, expected 7`);
  log('pause and resume: mars@7 once, counter 7, nothing lost or repeated');
  await page.click('#tail-stop');

  await page.selectOption('#tail-start-kind', 'id');
  await page.fill('#tail-from-id', '3');
  await page.click('#tail-start');
  await waitFor('history from mars@3', async () => (await tailIds(page)).length === 5, 10_000);
  const history = await tailIds(page);
  if (history.at(-1) !== 'mars@3' || history[0] !== 'mars@7') throw new Error(`from id 3: ${history.join(' ')}`);
  await page.click('#tail-stop');
  log('a tail from sequence 3 shows mars@3..7 first');
}

/** Every form control of the page has a label a screen reader can read. */
async function everyControlLabelled(page, where) {
  const unlabelled = await page.$$eval('input:not([type=hidden]):not([hidden]), select:not([hidden]), textarea', (controls) => controls
    .filter((control) => !control.closest('dialog:not([open])'))
    .filter((control) => !(control.labels && control.labels.length) && !control.getAttribute('aria-label'))
    .map((control) => control.id || control.name || control.outerHTML.slice(0, 60)));
  if (unlabelled.length) throw new Error(`${where}: controls without a label: ${unlabelled.join(', ')}`);
}

async function browseAndDelete(page, base) {
  await page.goto(`${base}/console/#/browse/mars`);
  await page.fill('#browse-class', 'od');
  await page.click('#browse-form button[type=submit]');
  await page.waitForSelector('#browse-results table');
  const shown = await page.$$eval('#browse-results tbody tr', (rows) => rows.length);
  if (shown !== 7) throw new Error(`browse shows ${shown} rows, expected 7`);
  await page.click('button[aria-label="Open mars@7"]');
  await waitFor('the CloudEvent of mars@7', async () => (await page.textContent('#browse-detail-id').catch(() => '')) === 'mars@7', 5_000);
  const curl = await page.textContent('#browse-curl');
  if (!curl.includes(`${base}/api/v1/notification/mars%407`) && !curl.includes(`${base}/api/v1/notification/mars@7`)) throw new Error(`curl command ${curl}`);
  await shot(page, '4-browse');
  await everyControlLabelled(page, 'browse');
  await page.click('#browse-delete-one');
  await page.waitForSelector('#confirm-dialog[open]');
  const preview = await page.textContent('#confirm-body');
  if (!preview.includes('Would remove') || !preview.includes('MARS')) throw new Error(`delete preview: ${preview}`);
  await shot(page, '5-delete-preview');
  if ((await api(base, 'GET', '/api/v1/notification/mars@7')).status !== 200) throw new Error('the dry run deleted mars@7');
  await page.click('#confirm-go');
  await waitFor('mars@7 deleted', async () => (await api(base, 'GET', '/api/v1/notification/mars@7')).status === 404, 5_000);
  log('browse: mars@7 opened, previewed (dry run: 1 in MARS), deleted');

  await waitFor('the page reloaded without mars@7', async () => !(await page.isVisible('button[aria-label="Open mars@7"]')), 5_000);
  await page.check('input[aria-label="Select mars@6"]');
  await page.check('input[aria-label="Select mars@5"]');
  await page.click('#browse-delete-selected');
  await page.waitForSelector('#confirm-dialog[open]');
  const bulk = await page.textContent('#confirm-body');
  if (!bulk.includes('mars@6') || !bulk.includes('mars@5')) throw new Error(`bulk preview: ${bulk}`);
  await page.click('#confirm-go');
  await waitFor('mars@5 and mars@6 deleted', async () => (await api(base, 'GET', '/api/v1/notification/mars@5')).status === 404
    && (await api(base, 'GET', '/api/v1/notification/mars@6')).status === 404, 5_000);
  log('browse: a selection of two deleted after its preview');

  await page.selectOption('#browse-step-op', 'gte');
  await page.fill('#browse-step', '3');
  await page.click('#browse-purge');
  await page.waitForSelector('#confirm-dialog[open]');
  const purge = await page.textContent('#confirm-body');
  if (!purge.includes('Would remove2') && !purge.includes('Would remove 2')) throw new Error(`purge preview: ${purge}`);
  await page.fill('#confirm-input', 'mars');
  await page.click('#confirm-go');
  await waitFor('mars@3 and mars@4 purged', async () => (await api(base, 'GET', '/api/v1/notification/mars@4')).status === 404
    && (await api(base, 'GET', '/api/v1/notification/mars@3')).status === 404, 5_000);
  if ((await api(base, 'GET', '/api/v1/notification/mars@2')).status !== 200) throw new Error('the purge removed mars@2');
  log('browse: purge of step >= 3 previewed 2 and removed exactly those');

  // A polygon schema's form: point instead of the required polygon.
  const polygon = 'POLYGON is browsed by point';
  await page.goto(`${base}/console/#/browse/test_polygon`);
  await page.fill('#browse-point', '10,10');
  await page.click('#browse-form button[type=submit]');
  await page.waitForSelector('#browse-results p.empty');
  if (await page.isVisible('#messages .message.error')) throw new Error(`${polygon}: ${await page.textContent('#messages')}`);
  log('browse: a polygon stream filtered by point');
}

async function wipe(page, base) {
  await page.goto(`${base}/console/#/admin`);
  await page.selectOption('#admin-wipe-stream', 'MARS');
  await page.click('#admin-wipe-form button[type=submit]');
  await page.waitForSelector('#confirm-dialog[open]');
  const preview = await page.textContent('#confirm-body');
  if (!preview.includes('Would remove2') && !preview.includes('Would remove 2')) throw new Error(`wipe preview does not say 2: ${preview}`);
  if (!(await page.isDisabled('#confirm-go'))) throw new Error('wipe could be confirmed without typing the name');
  await page.fill('#confirm-input', 'mars');
  if (!(await page.isDisabled('#confirm-go'))) throw new Error('the wrong name unlocked the wipe');
  await page.fill('#confirm-input', 'MARS');
  await shot(page, '6-wipe-confirm');
  await page.click('#confirm-go');
  await waitFor('MARS empty', async () => {
    const overview = await api(base, 'GET', '/api/v1/admin/streams');
    return overview.body.streams.find((stream) => stream.name === 'MARS').messages === 0;
  }, 10_000);
  log('wipe: previewed 2, locked until MARS was typed, stream empty');

  await publishMars(base, 50);
  await page.fill('#admin-delete-id', 'mars@abc');
  await page.click('#admin-delete-form button[type=submit]');
  await page.waitForSelector('#messages .message.error .request-id');
  const error = await page.textContent('#messages .message.error');
  if (!error.includes('400')) throw new Error(`error message: ${error}`);
  log(`a refused dry run is shown with the server's message and request id: ${error.replace('×', '').trim().slice(0, 120)}`);

  await page.click('#admin-wipe-all');
  await page.waitForSelector('#confirm-dialog[open]');
  await page.fill('#confirm-input', 'wipe all');
  await page.click('#confirm-go');
  await waitFor('every stream empty', async () => (await api(base, 'GET', '/api/v1/admin/streams')).body.streams.every((stream) => stream.messages === 0), 10_000);
  log('wipe all: confirmed by typing "wipe all", every stream empty');
  await page.goto(`${base}/console/#/audit`);
  await page.waitForSelector('#view table');
  const trail = await page.textContent('#view table');
  if (!trail.includes('wipe_stream') || !trail.includes('delete')) throw new Error('the audit page lacks the wipe or the delete');
  await page.selectOption('#audit-dry-run', 'true');
  await page.click('#view form button[type=submit]');
  await sleep(300);
  const dryRows = await page.$$eval('#view tbody tr', (rows) => rows.map((row) => row.cells[3].textContent));
  if (!dryRows.length || dryRows.some((cell) => cell !== 'yes')) throw new Error(`the dry-run filter shows ${dryRows.join(',')}`);
  await page.selectOption('#audit-dry-run', '');
  await page.click('#view form button[type=submit]');
  await sleep(300);
  await shot(page, '7-audit');
  await everyControlLabelled(page, 'audit');
}

async function delivery(page, base, receiver) {
  await page.goto(`${base}/console/#/destinations`);
  await page.click('#destination-new');
  await page.fill('#destination-url', receiver.url);
  await page.fill('#destination-name', 'console-receiver');
  await page.selectOption('#subscription-0-event-type', 'mars');
  await page.fill('#subscription-0-class', 'od');
  await page.fill('#destination-schedule', '1h');
  await everyControlLabelled(page, 'new destination');
  await page.click('#destination-create-submit');
  await page.waitForSelector('#destination-secret');
  const secret = await page.textContent('#destination-secret');
  if (!secret.includes('whsec_')) throw new Error('no secret shown after creating');
  await shot(page, '8-destination-created');
  const id = await publishMars(base, 42);
  await page.goto(`${base}/console/#/deliveries`);
  await waitFor('a succeeded delivery in the list', async () => (await page.textContent('#deliveries-results')).includes('succeeded'), 15_000, 100);
  await shot(page, '9-deliveries');
  await page.click(`#deliveries-results a:text("${id}")`);
  await page.waitForSelector('#delivery-attempts');
  const timeline = await page.textContent('#delivery-attempts');
  if (!timeline.includes('200') || !timeline.includes('success')) throw new Error(`attempt timeline: ${timeline}`);
  await shot(page, '10-delivery-attempts');
  if (!receiver.received.some((request) => request.headers['webhook-id'] === id)) throw new Error(`the receiver did not get ${id}`);
  log(`delivery: destination made in the console, ${id} delivered (200), attempts shown`);

  // A receiver that fails once: the delivery lands in the failed view; retry it, remove it.
  receiver.script.failures = 1;
  const failing = await publishMars(base, 43);
  await page.goto(`${base}/console/#/deliveries/failed`);
  await waitFor(`${failing} in the failed view`, async () => {
    await page.reload();
    await page.waitForSelector('#failed-results :is(table, p)');
    return (await page.textContent('#failed-results')).includes(failing);
  }, 15_000, 300);
  await shot(page, '10b-failed-view');
  await page.click('#failed-results button:text("Retry")');
  await waitFor(`${failing} succeeded after the retry`, async () => {
    const list = await api(base, 'GET', '/api/v1/deliveries?status=succeeded');
    return list.body.models.some((item) => item.notification_id === failing);
  }, 15_000, 200);
  await page.reload();
  await page.waitForSelector('#failed-results table');
  await page.click('#failed-results button:text("Remove")');
  await waitFor('the failed view empty', async () => (await page.textContent('#failed-results')).includes('Nothing has failed'), 10_000);
  log(`failed view: ${failing} failed once (500), retried from the console (succeeded), removed`);

  const destinations = await api(base, 'GET', '/api/v1/destinations');
  const destination = destinations.body.models[0];
  await page.goto(`${base}/console/#/destinations/${destination.id}`);
  await page.click('#destination-test');
  await waitFor('the test send answer', async () => (await page.textContent('#destination-result')).includes('success'), 10_000);
  await page.click('#destination-rotate');
  await page.waitForSelector('#confirm-dialog[open]');
  await page.click('#confirm-go');
  await page.waitForSelector('#destination-secret');
  const rotated = await api(base, 'GET', `/api/v1/destinations/${destination.id}`);
  if (rotated.body.secret_ids.length !== 2 || 'secret' in rotated.body) throw new Error(`after rotation: ${JSON.stringify(rotated.body)}`);
  await shot(page, '10c-destination');
  await page.click('#destination-toggle');
  await waitFor('disabled', async () => (await api(base, 'GET', `/api/v1/destinations/${destination.id}`)).body.state === 'disabled', 5_000);
  await page.waitForSelector('#destination-toggle:text("Enable")');
  await page.click('#destination-toggle');
  await waitFor('enabled again', async () => (await api(base, 'GET', `/api/v1/destinations/${destination.id}`)).body.state === 'enabled', 5_000);
  log('destination: test send succeeded, secret rotated (shown once, two keys in force), disabled and enabled');
  await page.goto(`${base}/console/#/destinations`);
  await page.waitForSelector('#destinations-list table');
  await shot(page, '11-destinations');
}

async function withAuth(bin, context) {
  const config = path.join(scratch, 'auth.yaml');
  writeFileSync(config, [
    'auth:', '  enabled: true', `  jwt_secret: "${JWT_SECRET}"`, '  admin_roles:', '    localrealm: [admin]',
    'schema:', `  paths: ["${path.join(REPO, 'tests', 'fixtures', 'auth_schema.yaml')}"]`, '',
  ].join('\n'));
  const base = await startTidings(bin, 'tidings-auth', { TIDINGS_CONFIG: config, TIDINGS__STORE__KIND: 'memory', TIDINGS__SSE__MAX_DURATION: `${MAX_DURATION_S}s` });
  const reader = token(bin, 'rita', 'reader');
  const admin = token(bin, 'ada', 'admin');
  const page = await context.newPage();
  const problems = observe(page, [reader, admin]);
  await page.goto(`${base}/console/#/tail/role_reader`);
  await waitFor('the sign-in prompt', async () => (await page.textContent('#who')).includes('sign-in needed'), 10_000);
  await page.click('#sign-in');
  await page.fill('#token-input', reader);
  await page.click('#token-form button[value=save]');
  await waitFor('signed in as rita', async () => (await page.textContent('#who')).includes('rita'), 10_000);
  if (await page.isVisible('a[data-page=admin]')) throw new Error('a reader sees the admin pages');
  await page.waitForSelector('#tail-name');
  await page.fill('#tail-name', 'x');
  await page.click('#tail-start');
  await waitFor('the authenticated tail to be live', async () => (await page.textContent('#tail-state')).includes('live'), 10_000);
  const stored = await api(base, 'POST', '/api/v1/notification', { event_type: 'role_reader', identifier: { name: 'x' } }, admin);
  if (stored.status !== 200) throw new Error(`publish with auth: ${stored.status}`);
  await waitFor('role_reader@1 in the authenticated tail', async () => (await tailIds(page)).includes('role_reader@1'), 10_000);
  await shot(page, '12-auth-live-tail');
  const refused = await api(base, 'GET', '/api/v1/watch/role_reader?name=x');
  if (refused.status !== 401) throw new Error(`an anonymous watch answered ${refused.status}`);
  await page.click('#tail-stop');
  await page.click('#sign-out');
  const kept = await page.evaluate(() => sessionStorage.length);
  if (kept !== 0) throw new Error('the token outlived sign-out');
  if (problems.length) throw new Error(problems.join('\n  '));
  log('auth on: token pasted once, live tail through it, admin pages hidden for a reader, no token in any URL');
}

async function main() {
  const bin = process.argv[2];
  if (!bin || !existsSync(bin)) throw new Error(`usage: node console.mjs path/to/tidings (got ${bin})`);
  scratch = mkdtempSync(path.join(os.tmpdir(), 'tidings-console-'));
  rmSync(SHOTS, { recursive: true, force: true });
  mkdirSync(SHOTS, { recursive: true });
  const nats = await startNats();
  const receiver = await startReceiver();
  const base = await startTidings(bin, 'tidings', {
    TIDINGS__STORE__KIND: 'jetstream',
    TIDINGS__STORE__JETSTREAM__URL: nats,
    TIDINGS__SSE__MAX_DURATION: `${MAX_DURATION_S}s`,
    TIDINGS__DELIVERY__ALLOW_PRIVATE_NETWORKS: 'true',
  });
  log(`tidings on ${base}, JetStream at ${nats}, receiver at ${receiver.url}`);

  const { chromium } = loadPlaywright();
  browser = await launchChromium(chromium);
  log(`chromium ${browser.version()} (playwright-core ${playwrightVersion()})`);
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  const problems = observe(page);

  await page.goto(`${base}/`);
  await page.click('a[href="/console/"]');
  await page.waitForSelector('#view table');
  const overview = await page.textContent('#view');
  if (!overview.includes('MARS') || !overview.includes('ready')) throw new Error(`overview: ${overview.slice(0, 300)}`);
  await shot(page, '1-overview');
  await page.setViewportSize({ width: 390, height: 844 });
  await shot(page, '2-overview-phone');
  await page.setViewportSize({ width: 1280, height: 860 });

  await liveTail(page, base);
  await browseAndDelete(page, base);
  await wipe(page, base);
  await delivery(page, base, receiver);
  await page.goto(`${base}/console/#/overview`);
  await page.waitForSelector('#view table');
  await shot(page, '0-overview-after');
  if (problems.length) throw new Error(problems.join('\n  '));
  await withAuth(bin, await browser.newContext({ viewport: { width: 1280, height: 860 } }));
}

async function cleanup() {
  if (browser) {
    const b = browser;
    browser = null;
    await Promise.race([b.close().catch(() => {}), sleep(5000)]);
  }
  for (const server of servers.splice(0)) {
    server.closeAllConnections?.();
    await new Promise((resolve) => server.close(() => resolve()));
  }
  for (const child of children.splice(0).reverse()) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    child.kill('SIGTERM');
    const done = await Promise.race([child.exited.then(() => true), sleep(5000).then(() => false)]);
    if (!done) child.kill('SIGKILL');
  }
  if (scratch) rmSync(scratch, { recursive: true, force: true });
}

async function finish(ok, err) {
  if (finished) return;
  finished = true;
  if (!ok) {
    log(`FAIL: ${err && err.stack ? err.stack : err}`);
    for (const child of children) {
      const tail = child.output.split('\n').slice(-15).join('\n');
      if (tail.trim()) console.log(`console: --- ${child.name} log (tail) ---\n${tail}`);
    }
  }
  try {
    await cleanup();
  } catch (e) {
    log(`cleanup error: ${e.message}`);
  }
  console.log(ok ? 'console: 1 passed, 0 failed' : 'console: 0 passed, 1 failed');
  process.exit(ok ? 0 : 1);
}

setTimeout(() => finish(false, new Error(`overall timeout of ${OVERALL_TIMEOUT_MS / 1000}s exceeded`)), OVERALL_TIMEOUT_MS).unref();
process.on('SIGINT', () => finish(false, new Error('interrupted (SIGINT)')));
process.on('SIGTERM', () => finish(false, new Error('terminated (SIGTERM)')));
process.on('unhandledRejection', (e) => finish(false, e));

main().then(() => finish(true), (e) => finish(false, e));
