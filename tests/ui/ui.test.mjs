// Browser test of the cfaas admin UI: headless Debian chromium driven by
// playwright-core against a real gateway started by
// tests/integration/test_ui.py, which passes:
//   CFAAS_URL, CFAAS_USER, CFAAS_PASSWORD   the gateway and its credentials
//   SCREENSHOT_DIR                           where the screenshots go
//   CHROMIUM                                 the browser (default /usr/bin/chromium)
// Walks what an operator does: log in, a deploy that fails by field, a
// deploy that works, ready, invoke, rates, logs (followed live), scale
// (to 2 and to 0), an async call to completion (and its callback), a dead
// letter re-queued, a queued call cancelled, secrets, delete; and a
// narrow screen. Every step asserts DOM state. Prints "ok <step>" lines;
// exits 1 on the first failure (and saves failure.png).
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BASE = process.env.CFAAS_URL;
const USER = process.env.CFAAS_USER;
const PASS = process.env.CFAAS_PASSWORD;
const SHOTS = process.env.SCREENSHOT_DIR || 'build/ui-screenshots';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
assert.ok(BASE && USER && PASS, 'CFAAS_URL, CFAAS_USER and CFAAS_PASSWORD are required');
mkdirSync(SHOTS, { recursive: true });

const AUTH = 'Basic ' + Buffer.from(`${USER}:${PASS}`).toString('base64');
const T = 30000;  // liveness bound of one wait

async function gw(method, path, body, headers = {}) {
  const h = { Authorization: AUTH, ...headers };
  if (body !== undefined && typeof body !== 'string') { body = JSON.stringify(body); h['Content-Type'] = 'application/json'; }
  const r = await fetch(BASE + path, { method, headers: h, body, redirect: 'manual' });
  return { status: r.status, headers: r.headers, text: await r.text() };
}

const t0 = Date.now();
// Waits until the function has a ready replica (the API's view).
async function waitReady(ref) {
  let last = '';
  for (let i = 0; i < 240; i++) {
    last = (await gw('GET', `/system/function/${ref}`)).text;
    if (/"availableReplicas":[1-9]/.test(last)) return;
    await new Promise(res => setTimeout(res, 250));
  }
  throw new Error(`${ref} never became ready: ${last}`);
}

function step(name) { console.log(`ok ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`); }

// Callback receiver for the async call.
const callbacks = [];
const receiver = createServer((req, res) => {
  let data = '';
  req.on('data', c => { data += c; });
  req.on('end', () => { callbacks.push({ headers: req.headers, body: data }); res.end('ok'); });
});
await new Promise(r => receiver.listen(0, '127.0.0.1', r));
const CALLBACK = `http://127.0.0.1:${receiver.address().port}/done`;

const profile = mkdtempSync(join(tmpdir(), 'cfaas-ui-chromium-'));
let context;
const problems = [];
const pending = new Map();  // requests of the page not finished yet (for failures)

async function main() {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
    httpCredentials: { username: USER, password: PASS },
    viewport: { width: 1280, height: 860 },
    timeout: T,
  });
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(T);
  page.on('pageerror', e => problems.push(`page error: ${e.message}`));
  page.on('request', q => pending.set(q, `${q.method()} ${q.url()}`));
  page.on('requestfinished', q => pending.delete(q));
  page.on('requestfailed', q => { pending.delete(q); });
  // Answers the test provokes (400, 404, 409) are logged by the browser as
  // failed loads; anything else on the console is a fault of the page.
  page.on('console', m => {
    if (m.type() === 'error' && !/^Failed to load resource: the server responded with a status of 4\d\d/.test(m.text()))
      problems.push(`console error: ${m.text()}`);
  });
  const shot = name => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  const text = sel => page.locator(sel).innerText();
  const waitText = async (sel, rx) => {
    await page.waitForFunction(([s, src]) => {
      const el = document.querySelector(s);
      return el && new RegExp(src).test(el.textContent);
    }, [sel, rx.source], { timeout: T }).catch(async e => {
      const got = await page.locator(sel).first().textContent().catch(() => '(absent)');
      throw new Error(`${sel} never matched ${rx}: it shows ${JSON.stringify(got)}`);
    });
  };

  // -- log in: / redirects to /ui/, the credentials open the page.
  await page.goto(BASE + '/');
  assert.match(page.url(), /\/ui\/(#.*)?$/);
  await page.waitForSelector('h1');
  assert.equal(await text('h1'), 'Functions');
  await waitText('#live', /^live/);
  await waitText('#fn-table tbody', /No functions yet/);
  step('log in: / redirects to /ui/, empty function list');

  // -- keyboard: the first Tab lands on the skip link, Enter goes to main.
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Skip to content');
  step('keyboard: skip link first in tab order');

  // -- a deploy the API refuses shows its error next to the field.
  await page.click('a[data-nav=deploy]');
  await page.waitForSelector('#deploy-form');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'f-service');
  await page.fill('#f-service', 'Bad_Name');
  await page.fill('#f-image', 'cfaas/ui-echo:latest');
  await page.fill('#f-fprocess', 'cat');
  await page.click('#deploy-submit');
  await waitText('#f-service-error', /invalid function name 'Bad_Name'/);
  assert.equal(await page.getAttribute('#f-service', 'aria-invalid'), 'true');
  assert.match(await page.getAttribute('#f-service', 'aria-describedby'), /f-service-error/);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'f-service');
  assert.equal(await text('#f-image-error'), '');
  await shot('deploy-error');
  await page.fill('#f-service', 'ui-echo');
  await page.fill('#f-secrets', 'no-such-secret');
  await page.click('#deploy-submit');
  await waitText('#f-secrets-error', /unknown secret 'no-such-secret'/);
  assert.equal(await page.getAttribute('#f-service', 'aria-invalid'), null);
  await page.fill('#f-image', '');
  await page.fill('#f-secrets', '');
  await page.click('#deploy-submit');
  await waitText('#f-image-error', /'image'/);
  step('failed deploys: name, secret and image errors shown by their fields');

  // -- deploy through the form and see it become ready.
  await page.fill('#f-image', 'cfaas/ui-echo:latest');
  await page.fill('#f-env', 'GREETING=hello\nMODE=test');
  await page.fill('#f-labels', 'team=ui');
  await page.fill('#f-annotations', 'owner=ops');
  await page.fill('#f-memory', '64Mi');
  await page.click('#deploy-submit');
  await page.waitForURL(/#\/function\/ui-echo$/);
  await waitText('#fn-replicas', /1 \/ 1 ready/);
  await waitText('#fn-labels', /team=ui/);
  await waitText('#fn-env', /GREETING=hello/);
  assert.match(await text('#fn-url'), /\/function\/ui-echo$/);
  assert.match(await text('#fn-async-url'), /\/async-function\/ui-echo$/);
  step('deploy through the form: ready 1 / 1, labels, env, URLs shown');

  // -- edit it: the form comes back filled, PUT updates it.
  await page.click('a[href="#/deploy/ui-echo"]');
  await page.waitForFunction(() => document.querySelector('#f-image')?.value === 'cfaas/ui-echo:latest');
  assert.equal(await page.inputValue('#f-env'), 'GREETING=hello\nMODE=test');
  assert.equal(await page.inputValue('#f-labels'), 'team=ui');
  assert.equal(await page.getAttribute('#f-service', 'readonly'), '');
  await page.fill('#f-env', 'GREETING=hello\nMODE=edited');
  await page.click('#deploy-submit');
  await page.waitForURL(/#\/function\/ui-echo$/);
  await waitText('#fn-env', /MODE=edited/);
  await waitText('#fn-replicas', /1 \/ 1 ready/);
  step('edit: the form is filled from the function, the update is shown');

  // -- invoke it and read the answer; the command lines match.
  await page.click('a[href="#/invoke/ui-echo"]');
  await page.waitForSelector('#invoke-form');
  assert.equal(await page.inputValue('#i-fn'), 'ui-echo');
  await page.fill('#i-query', 'a=1&b=two');
  await page.fill('#i-headers', 'Content-Type: text/plain\nX-Test: yes');
  await page.fill('#i-body', 'hello from the browser');
  await page.click('#invoke-submit');
  await waitText('#res-status', /^200/);
  assert.equal(await text('#res-body'), 'hello from the browser');
  assert.match(await text('#res-headers'), /x-call-id: [0-9a-f-]{36}/i);
  assert.match(await text('#res-duration'), /\d+ (ms|s)/);
  const curl = await text('#cmd-curl');
  assert.match(curl, /^curl -i -X POST -H 'Content-Type: text\/plain' -H 'X-Test: yes' --data-binary 'hello from the browser' /);
  assert.ok(curl.endsWith(`${BASE}/function/ui-echo?a=1&b=two'`), curl);
  const cli = await text('#cmd-cli');
  assert.match(cli, /\| cfaas invoke ui-echo --gateway \S+ --content-type text\/plain --header X-Test=yes --query a=1 --query b=two$/);
  await shot('invoke');
  step('invoke: 200, body, headers, duration; curl and cfaas invoke lines');

  // -- traffic for the rates: calls to ui-echo, and errors from ui-fail.
  let r = await gw('POST', '/system/functions', { service: 'ui-fail', image: 'cfaas/ui-fail', envProcess: 'false',
    annotations: { 'com.openfaas.retry.attempts': '1' } });
  assert.equal(r.status, 202, r.text);
  await waitReady('ui-fail');
  await page.click('a[data-nav=functions]');
  await page.waitForSelector('#fn-table tr[data-key="ui-echo.openfaas-fn"]');
  // Answers that did not come from the function (a 503 while a replica is
  // being replaced on a loaded machine) are not counted: call again.
  let oks = 0, fails = 0;
  for (let i = 0; i < 60 && (oks < 12 || fails < 4); i++) {
    if (oks < 12 && (await gw('POST', '/function/ui-echo', `call ${i}`)).status === 200) oks++;
    if (i % 3 === 0 && fails < 4) {
      await waitReady('ui-fail');
      if ((await gw('POST', '/function/ui-fail', 'x')).status === 500) fails++;
    }
    await new Promise(res => setTimeout(res, 300));
  }
  assert.ok(oks === 12 && fails === 4, `traffic: ${oks} answers of 200 from ui-echo, ${fails} of 500 from ui-fail`);
  const row = 'tr[data-key="ui-echo.openfaas-fn"]';
  await waitText(`${row} .c-inv`, /^(1[3-9]|[2-9][0-9])$/);
  await waitText(`${row} .c-rate`, /^[1-9][0-9.]*$/);
  await waitText('tr[data-key="ui-fail.openfaas-fn"] .c-err', /^[1-9][0-9.]*$/);
  assert.match(await text(`${row} .c-rep`), /1 \/ 1 ready/);
  assert.equal(await text(`${row} .c-image`), 'cfaas/ui-echo:latest');
  await page.waitForSelector(`${row} svg.spark path.calls`);
  await page.waitForSelector('tr[data-key="ui-fail.openfaas-fn"] svg.spark path.errs');
  await page.waitForTimeout(3500);  // one more sample, so the sparkline has a few points
  await shot('functions');
  step('function list: replicas, invocations, call and error rates, sparklines, refreshed live');

  // -- logs, followed live.
  await page.click(`${row} td.name a`);
  await waitText('#logs', /Forking fprocess/);
  await waitText('#logs-state', /following/);
  const before = await page.locator('#logs .ts').count();
  await gw('POST', '/function/ui-echo', 'one more');
  await page.waitForFunction(n => document.querySelectorAll('#logs .ts').length > n, before, { timeout: T });
  step('logs: recent lines, new ones arrive while following');

  // -- scale to 2, then to 0, then back to 1.
  await page.fill('#scale-replicas', '2');
  await page.click('#scale-form button[type=submit]');
  await waitText('#fn-replicas', /2 \/ 2 ready/);
  await page.waitForTimeout(600);
  await shot('function');
  await page.fill('#scale-replicas', '0');
  await page.press('#scale-replicas', 'Enter');
  await waitText('#fn-replicas', /scaled to 0/);
  await page.fill('#scale-replicas', '1');
  await page.click('#scale-form button[type=submit]');
  await waitText('#fn-replicas', /1 \/ 1 ready/);
  step('scale: 2 ready, 0 (scaled to 0), back to 1');

  // -- an async call with a callback, followed to completion.
  await page.click('a[href="#/invoke/ui-echo"]');
  await page.waitForSelector('#invoke-form');
  await page.check('#mode-async');
  assert.equal(await page.isVisible('#i-callback'), true);
  await page.fill('#i-callback', CALLBACK);
  await page.fill('#i-body', 'async hello');
  await page.click('#invoke-submit');
  await page.waitForSelector('#res-status');
  const st = await text('#res-status');
  if (/^503/.test(st)) throw new Error(`async calls are unavailable on the gateway (503): ${await text('#res-body')}`);
  assert.match(st, /^202/);
  assert.match(await text('#cmd-cli'), /--async --callback-url/);
  const callId = await text('#res-call');
  await page.click('#res-call');
  await page.waitForURL(new RegExp(`#/call/${callId}$`));
  await waitText('#call-status', /succeeded/);
  assert.equal(await text('#call-attempts'), '1');
  assert.equal(await text('#call-code'), '200');
  assert.equal(await text('#call-result'), 'async hello');
  await shot('call');
  for (let i = 0; i < 100 && !callbacks.length; i++) await new Promise(res => setTimeout(res, 100));
  assert.equal(callbacks.length, 1, 'the callback never arrived');
  assert.equal(callbacks[0].headers['x-call-id'], callId);
  assert.equal(callbacks[0].body, 'async hello');
  step('async: 202, call record succeeded with result, callback received');

  // -- a dead letter, re-queued from the UI; the list filters.
  r = await gw('POST', '/async-function/ui-fail', 'doomed');
  assert.equal(r.status, 202, r.text);
  const deadId = r.headers.get('x-call-id');
  await page.goto(`${BASE}/ui/#/calls?function=ui-fail`);
  await page.waitForSelector(`#calls-table tr[data-id="${deadId}"]`);
  await waitText(`#calls-table tr[data-id="${deadId}"]`, /dead-letter/);
  assert.equal(await page.locator('#calls-table tbody tr[data-id]').count(), 1);
  await page.selectOption('#c-fn', 'ui-echo');
  await page.selectOption('#c-status', 'succeeded');
  await page.waitForSelector(`#calls-table tr[data-id="${callId}"]`);
  await waitText('#calls-table tbody', /succeeded/);
  assert.match(page.url(), /#\/calls\?function=ui-echo&status=succeeded$/);
  await shot('calls');
  await page.goto(`${BASE}/ui/#/call/${deadId}`);
  await waitText('#call-status', /dead-letter/);
  const firstEnd = JSON.parse((await gw('GET', `/system/calls/${deadId}`)).text).finishedAt;
  await page.click('#call-retry');
  await waitText('#toast', /Re-queued/);
  // The re-queued call runs again from scratch and fails again.
  for (let i = 0; i < 100; i++) {
    const rec = JSON.parse((await gw('GET', `/system/calls/${deadId}`)).text);
    if (rec.status === 'dead-letter' && rec.finishedAt !== firstEnd) break;
    await new Promise(res => setTimeout(res, 100));
  }
  assert.notEqual(JSON.parse((await gw('GET', `/system/calls/${deadId}`)).text).finishedAt, firstEnd,
    'the re-queued call never ran again');
  await waitText('#call-status', /dead-letter/);
  await page.waitForSelector('#call-retry');
  step('async list: filter by function and status; dead letter re-queued and failed again');

  // -- cancel a queued call. The gateway runs one async call at a time
  // (--queue-max-inflight 1), so a second call to a slow function waits.
  r = await gw('POST', '/system/functions', { service: 'ui-slow', image: 'cfaas/ui-slow', envProcess: 'sleep 8' });
  assert.equal(r.status, 202, r.text);
  await waitReady('ui-slow');
  r = await gw('POST', '/async-function/ui-slow', 'first');
  assert.equal(r.status, 202, r.text);
  r = await gw('POST', '/async-function/ui-slow', 'second');
  const waitingId = r.headers.get('x-call-id');
  await page.goto(`${BASE}/ui/#/call/${waitingId}`);
  await waitText('#call-status', /queued/);
  await page.click('#call-cancel');
  await waitText('#call-status', /cancelled/);
  assert.equal(JSON.parse((await gw('GET', `/system/calls/${waitingId}`)).text).status, 'cancelled');
  assert.equal(await page.locator('#call-cancel').count(), 0);
  step('async: a queued call cancelled');

  // -- secrets: create, update, delete; the value never appears.
  await page.click('a[data-nav=secrets]');
  await page.waitForSelector('#secret-form');
  await page.fill('#s-name', 'ui-token');
  await page.fill('#s-value', 'sup3r-s3cret-value');
  await page.click('#secret-submit');
  await page.waitForSelector('#secrets-table tr[data-name="ui-token"]');
  assert.equal(await page.inputValue('#s-value'), '');
  assert.ok(!(await page.content()).includes('sup3r-s3cret-value'), 'the secret value is on the page');
  await page.fill('#s-name', 'ui-token');
  await page.fill('#s-value', 'again');
  await page.click('#secret-submit');
  await waitText('#s-name-error', /already exists/);
  await page.click('button[aria-label="Update ui-token"]');
  assert.equal(await page.evaluate(() => document.activeElement.id), 's-value');
  await page.fill('#s-value', 'new-value');
  await page.click('#secret-submit');
  await waitText('#toast', /Updated secret ui-token/);
  await gw('POST', '/system/secrets', { name: 'db-password', value: 'x' });
  await page.click('a[data-nav=functions]');
  await page.click('a[data-nav=secrets]');
  await page.waitForSelector('#secrets-table tr[data-name="db-password"]');
  await shot('secrets');
  await page.click('button[aria-label="Delete ui-token"]');
  await page.waitForSelector('#confirm[open]');
  await page.click('#confirm-ok');
  await page.waitForSelector('#secrets-table tr[data-name="ui-token"]', { state: 'detached' });
  r = await gw('GET', '/system/secrets');
  assert.deepEqual(JSON.parse(r.text).map(s => s.name), ['db-password']);
  step('secrets: create, duplicate refused by field, update, delete with confirmation');

  // -- a function in another namespace: listed, opened, scaled, deleted.
  r = await gw('POST', '/system/functions', { service: 'ui-ns', image: 'cfaas/ui-ns', envProcess: 'cat', namespace: 'team-a' });
  assert.equal(r.status, 202, r.text);
  await page.goto(`${BASE}/ui/#/functions`);
  await page.click('tr[data-key="ui-ns.team-a"] td.name a');
  await page.waitForURL(/#\/function\/ui-ns\.team-a$/);
  await waitText('#fn-replicas', /1 \/ 1 ready/);
  assert.match(await text('#fn-url'), /\/function\/ui-ns\.team-a$/);
  await waitText('#logs', /Listening on/);
  await page.fill('#scale-replicas', '0');
  await page.click('#scale-form button[type=submit]');
  await waitText('#fn-replicas', /scaled to 0/);
  await page.click('#delete-fn');
  await page.click('#confirm-ok');
  await page.waitForURL(/#\/functions$/);
  assert.equal((await gw('GET', '/system/function/ui-ns.team-a')).status, 404);
  step('another namespace: listed, opened, logs, scaled to 0, deleted');

  // -- delete the function, with a confirmation (Escape cancels).
  await page.goto(`${BASE}/ui/#/function/ui-echo`);
  await page.click('#delete-fn');
  await page.waitForSelector('#confirm[open]');
  await page.keyboard.press('Escape');
  await page.waitForSelector('#confirm:not([open])', { state: 'attached' });
  assert.equal((await gw('GET', '/system/function/ui-echo')).status, 200);
  await page.click('#delete-fn');
  await page.waitForSelector('#confirm[open]');
  await shot('delete-confirm');
  await page.click('#confirm-ok');
  await page.waitForURL(/#\/functions$/);
  await page.waitForSelector('#fn-table tr[data-key="ui-echo.openfaas-fn"]', { state: 'detached' });
  assert.equal((await gw('GET', '/system/function/ui-echo')).status, 404);
  step('delete: Escape cancels, confirm deletes, the row goes');

  // -- a narrow screen: no sideways scrolling of the page.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${BASE}/ui/#/functions`);
  await page.waitForSelector('#fn-table tr[data-key="ui-fail.openfaas-fn"]');
  await page.waitForTimeout(300);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `the page scrolls sideways by ${overflow}px at 390px`);
  await shot('functions-narrow');
  await page.goto(`${BASE}/ui/#/deploy`);
  await page.waitForSelector('#deploy-form');
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth) <= 1);
  await shot('deploy-narrow');
  step('narrow screen: no horizontal overflow');

  // -- page weight: every resource the UI loaded.
  const weight = await page.evaluate(() => performance.getEntriesByType('resource')
    .concat(performance.getEntriesByType('navigation'))
    .filter(e => new URL(e.name).pathname.startsWith('/ui/'))
    .reduce((n, e) => n + (e.decodedBodySize || 0), 0));
  assert.ok(weight > 0 && weight < 200 * 1024, `page weight ${weight} bytes`);
  console.log(`page weight ${weight} bytes`);

  assert.deepEqual(problems, [], problems.join('\n'));
}

let rc = 0;
try {
  await main();
  console.log('ALL OK');
} catch (e) {
  rc = 1;
  console.error(`FAIL: ${e.stack || e}`);
  if (problems.length) console.error(problems.join('\n'));
  const open = [...pending.values()].filter(u => !/\/system\/logs\?.*follow=true/.test(u));
  if (open.length) console.error(`requests still open:\n  ${open.join('\n  ')}`);
  try {
    const p = context?.pages()[0];
    if (p) { await p.screenshot({ path: join(SHOTS, 'failure.png'), fullPage: true }); console.error(`at ${p.url()}`); }
  } catch { /* best effort */ }
} finally {
  await Promise.race([context?.close().catch(() => {}), new Promise(res => setTimeout(res, 10000))]);
  receiver.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(rc);
