// Drives icevault's dashboard in Debian's headless Chromium through
// playwright-core, for cmd/icevault's dashboard_e2e_test.go: open the
// overview, browse a snapshot to a file, tick it, get the quote, start the
// restore, then watch the jobs page follow the job (its own script refreshes
// it) until it is done.
//
// Parameters come from the environment:
//   ICEVAULT_URL          the dashboard's base URL, e.g. http://127.0.0.1:8123
//   ICEVAULT_TOKEN        optional: a token the server wants
//   ICEVAULT_TOKEN_NAME   its query parameter or cookie name (default "token")
//   ICEVAULT_TOKEN_MODE   "query" (added to the first URL; default) or "cookie"
//   ICEVAULT_SCENARIO     JSON: {file, tier, days, target, timeoutMs, screenshots}
//                         file: the absolute path (as backed up) to restore;
//                         screenshots: a folder to save PNGs in, or "".
//
// Output: one JSON object per line on stdout, as things happen:
//   {"step":"overview", ...}, {"step":"storage", ...}, {"step":"browse", ...},
//   {"step":"quote", ...}, {"step":"started", ...},
//   {"step":"job", ...} each time the job's counts change, and finally
//   {"step":"done", ...}. The test reads them as they come and drives the
//   job forward. Any failure prints {"step":"error","error":...} and exits 1.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const emit = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const fail = (msg) => { emit({ step: 'error', error: String(msg) }); process.exitCode = 1; };

const base = (process.env.ICEVAULT_URL || '').replace(/\/$/, '');
const sc = JSON.parse(process.env.ICEVAULT_SCENARIO || '{}');
const token = process.env.ICEVAULT_TOKEN || '';
const tokenName = process.env.ICEVAULT_TOKEN_NAME || 'token';
const tokenMode = process.env.ICEVAULT_TOKEN_MODE || 'query';
const timeout = sc.timeoutMs || 60000;

function firstURL(p) {
  const u = new URL(base + p);
  if (token && tokenMode === 'query') u.searchParams.set(tokenName, token);
  return u.toString();
}

async function shot(page, name) {
  if (!sc.screenshots) return;
  await page.screenshot({ path: path.join(sc.screenshots, name + '.png'), fullPage: true });
}

const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'icevault-chromium-'));
let context;
let page;
try {
  if (!base) throw new Error('ICEVAULT_URL is not set');
  if (!sc.file) throw new Error('ICEVAULT_SCENARIO has no file');
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1200, height: 900 },
    timeout,
  });
  context.setDefaultTimeout(Math.min(timeout, 15000)); // one step; the job gets timeout
  if (token && tokenMode === 'cookie') {
    await context.addCookies([{ name: tokenName, value: token, url: base }]);
  }
  page = context.pages()[0] || await context.newPage();

  // Everything the page logs as an error (a CSP refusal is one), every
  // uncaught exception, and any request that leaves the dashboard's origin.
  const problems = [];
  const origin = new URL(base).origin;
  page.on('console', (m) => { if (m.type() === 'error') problems.push('console: ' + m.text()); });
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('request', (r) => { if (!r.url().startsWith(origin + '/') && !r.url().startsWith('data:')) problems.push('request elsewhere: ' + r.url()); });

  // 1. The overview.
  let res = await page.goto(firstURL('/'));
  if (!res || res.status() !== 200) throw new Error('overview: HTTP ' + (res && res.status()));
  const csp = res.headers()['content-security-policy'] || '';
  const state = await page.locator('#agent-state').getAttribute('data-state');
  const stateText = (await page.locator('#agent-state .big').innerText()).trim();
  const repos = await page.locator('#repos tbody tr').evaluateAll((rows) => rows.map((r) => ({
    name: r.dataset.repo, cells: [...r.cells].map((c) => c.innerText.trim()) })));
  await shot(page, 'overview');
  emit({ step: 'overview', state, stateText, repos, csp, title: await page.title() });

  // 2. Storage and cost: the SVG charts, drawn on the server.
  await page.getByRole('link', { name: 'Storage & cost' }).click();
  const storedNow = (await page.locator('#stored-now').innerText()).trim();
  const monthlyNow = (await page.locator('#monthly-now').innerText()).trim();
  const charts = await page.locator('svg.chart path.line').count();
  await shot(page, 'storage');
  emit({ step: 'storage', storedNow, monthlyNow, charts });

  // 3. Snapshots, then the newest one.
  await page.getByRole('link', { name: 'Snapshots & restore' }).click();
  const snapLink = page.locator('#snapshots tbody tr a').first();
  const snapshot = await page.locator('#snapshots tbody tr').first().getAttribute('data-snapshot');
  await snapLink.click();

  // 4. Down to the file's folder: the backed-up folder that holds it, then
  // each folder below.
  const roots = await page.locator('#files tbody tr[data-path]').evaluateAll((rows) => rows.map((r) => r.dataset.path));
  const root = roots.find((r) => sc.file === r || sc.file.startsWith(r.replace(/\/$/, '') + '/'));
  if (!root) throw new Error(`no backed-up folder holds ${sc.file}; the snapshot has ${roots.join(', ')}`);
  const dirs = [root];
  for (let d = path.posix.dirname(sc.file); d !== root && d.startsWith(root); d = path.posix.dirname(d)) dirs.splice(1, 0, d);
  for (const d of dirs) {
    await page.locator(`#files tr[data-path="${d}"] a.entry`).click();
    await page.locator(`#files tr[data-path]`).first().waitFor();
  }
  const listed = await page.locator('#files tbody tr[data-path]').evaluateAll((rows) => rows.map((r) => ({
    path: r.dataset.path, type: r.dataset.type, cells: [...r.cells].slice(1).map((c) => c.innerText.trim()) })));

  // 5. Tick the file, choose tier, days and destination, get the quote.
  await page.locator(`#files tr[data-path="${sc.file}"] input[type=checkbox]`).check();
  const ticked = (await page.locator('[data-selected-count]').innerText()).trim();
  await page.locator(`input[name=tier][value="${sc.tier}"]`).check();
  await page.locator('input[name=days]').fill(String(sc.days));
  await page.locator('input[name=target]').fill(sc.target);
  await shot(page, 'browse');
  emit({ step: 'browse', snapshot, dirs, listed, ticked });
  await page.locator('#get-quote').click();

  // 6. The quote.
  await page.locator('#q-total').waitFor();
  const text = async (sel) => (await page.locator(sel).innerText()).trim();
  const quote = {
    files: await text('#q-files'), packs: await text('#q-packs'), total: await text('#q-total'), readyBy: await text('#q-ready'),
    standard: await text('[data-total=standard]'), bulk: await text('[data-total=bulk]'),
    paths: await page.locator('#start-form input[name=path]').evaluateAll((els) => els.map((e) => e.value)),
  };
  await shot(page, 'quote');
  emit({ step: 'quote', ...quote });

  // 7. Start it: the jobs page says so.
  await page.locator('#start-restore').click();
  const started = page.locator('[data-restore-started]');
  await started.waitFor();
  const job = await started.getAttribute('data-restore-started');
  await shot(page, 'started');
  emit({ step: 'started', job: Number(job), url: page.url().replace(base, '') });

  // 8. Watch the job: the page refreshes itself; a marker on window shows
  // it was never reloaded.
  await page.evaluate(() => { window.icevaultMarker = 'still here'; });
  const card = page.locator(`#job-${job}`);
  const deadline = Date.now() + timeout;
  let last = '';
  let seen;
  for (;;) {
    seen = await card.evaluate((el) => ({
      state: el.dataset.state, pending: +el.dataset.pending, thawing: +el.dataset.thawing, ready: +el.dataset.ready,
      downloaded: +el.dataset.downloaded, filesRestored: +el.dataset.filesRestored,
      files: el.querySelector('.files').innerText.trim(),
      badge: el.querySelector('.badge').innerText.trim(),
      progress: el.querySelector('progress').value / (el.querySelector('progress').max || 1),
    })).catch(() => null); // between swaps the card may be detached
    const key = JSON.stringify(seen);
    if (seen && key !== last) {
      last = key;
      emit({ step: 'job', job: Number(job), ...seen });
    }
    if (seen && seen.state !== 'active') break;
    if (Date.now() > deadline) throw new Error(`job ${job} still ${last} after ${timeout} ms`);
    await page.waitForTimeout(100);
  }
  const marker = await page.evaluate(() => window.icevaultMarker);
  await shot(page, 'done');
  emit({ step: 'done', job: Number(job), state: seen.state, reloaded: marker !== 'still here', problems });
} catch (e) {
  // Say where the browser was and what it showed.
  let where = '';
  if (page) {
    where = `\nat ${page.url()}:\n` + (await page.locator('body').innerText({ timeout: 2000 }).catch(() => '(no page)')).slice(0, 2000);
    await shot(page, 'error').catch(() => {});
  }
  fail((e && e.stack ? e.stack : e) + where);
} finally {
  if (context) await context.close().catch(() => {});
  fs.rmSync(userDataDir, { recursive: true, force: true });
}
