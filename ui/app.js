// cfaas admin UI: a single page over the gateway's own API (same origin,
// the browser's basic-auth credentials). No framework, no build step.
import { h, clear, fmtNum, fmtTime, fmtAgo, sparkline, parsePairs, pairsText, shq } from './util.js';

const SAMPLE_MS = 3000;          // how often the gateway's counters are sampled
const HISTORY_MS = 5 * 60000;    // how much of them the page keeps
const RATE_WINDOW_MS = 60000;    // the window of the rates shown
const MAX_LOG_LINES = 2000;

// ---------------------------------------------------------------- API

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(method, path, body) {
  const opt = { method, headers: {}, cache: 'no-store' };
  if (body !== undefined) {
    opt.body = JSON.stringify(body);
    opt.headers['Content-Type'] = 'application/json';
  }
  const r = await fetch(path, opt);
  const text = await r.text();
  if (!r.ok) throw new ApiError(r.status, text.trim() || `${r.status} ${r.statusText}`);
  if (!text) return null;
  try { return JSON.parse(text); } catch { return text; }
}

const enc = encodeURIComponent;

// ---------------------------------------------------------------- toast, confirm

let toastTimer = 0;
function toast(msg, bad = false) {
  const t = document.getElementById('toast');
  t.textContent = msg;
  t.className = 'toast show' + (bad ? ' bad' : '');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.className = 'toast'; }, bad ? 6000 : 3000);
}

function confirmDialog(title, text, okLabel) {
  const d = document.getElementById('confirm');
  document.getElementById('confirm-title').textContent = title;
  document.getElementById('confirm-text').textContent = text;
  document.getElementById('confirm-ok').textContent = okLabel;
  d.returnValue = '';
  d.showModal();
  return new Promise(res => d.addEventListener('close', () => res(d.returnValue === 'ok'), { once: true }));
}

// ---------------------------------------------------------------- rates

// Samples of /system/stats: key "name.namespace" -> [{t, inv, err}], oldest first.
const samples = new Map();
let lastStats = null;
const statListeners = new Set();

async function sample() {
  const live = document.getElementById('live');
  try {
    const s = await api('GET', '/system/stats');
    const t = s.timestamp || Date.now();
    const seen = new Set();
    for (const f of s.functions || []) {
      const key = `${f.name}.${f.namespace}`;
      seen.add(key);
      let arr = samples.get(key);
      if (!arr) samples.set(key, arr = []);
      arr.push({ t, inv: f.invocations || 0, err: f.errors || 0 });
      while (arr.length > 2 && t - arr[0].t > HISTORY_MS) arr.shift();
    }
    for (const k of [...samples.keys()]) if (!seen.has(k)) samples.delete(k);
    lastStats = s;
    live.textContent = `live · updated ${new Date(t).toLocaleTimeString()}`;
    if (live.classList.contains('bad')) toast('The gateway answers again');
    live.classList.remove('bad');
    for (const fn of statListeners) fn();
  } catch (e) {
    if (!live.classList.contains('bad')) toast(`The gateway does not answer: ${e.message}`, true);
    live.textContent = `gateway unreachable: ${e.message}`;
    live.classList.add('bad');
  }
}

// Calls and errors per minute over the last RATE_WINDOW_MS (what the
// samples cover of it), and per-interval deltas for the sparkline.
function rates(key) {
  const arr = samples.get(key) || [];
  if (arr.length < 2) return { calls: null, errors: null, points: [] };
  const last = arr[arr.length - 1];
  let first = arr[0];
  for (const s of arr) if (last.t - s.t <= RATE_WINDOW_MS) { first = s; break; }
  const dt = Math.max(1, last.t - first.t) / 60000;
  const pos = x => Math.max(0, x);
  const points = [];
  for (let i = 1; i < arr.length; i++)
    points.push({ t: arr[i].t, calls: pos(arr[i].inv - arr[i - 1].inv), errors: pos(arr[i].err - arr[i - 1].err) });
  return { calls: pos(last.inv - first.inv) / dt, errors: pos(last.err - first.err) / dt, points };
}

const fmtRate = r => r === null ? '…' : (r >= 10 ? r.toFixed(0) : r.toFixed(1));

// ---------------------------------------------------------------- helpers

const DEFAULT_NS = 'openfaas-fn';
function fnKey(f) { return `${f.name}.${f.namespace || DEFAULT_NS}`; }
// How the API and the routes name a function: NAME in the default
// namespace, NAME.NAMESPACE elsewhere.
function fnRef(f) { return f.namespace && f.namespace !== DEFAULT_NS ? fnKey(f) : f.name; }

// Every function of every namespace, sorted by name then namespace.
async function listFunctions() {
  let namespaces = [DEFAULT_NS];
  try { namespaces = (await api('GET', '/system/namespaces')) || namespaces; } catch { /* the default only */ }
  const lists = await Promise.all(namespaces.map(ns => api('GET', `/system/functions?namespace=${enc(ns)}`)));
  return lists.flat().filter(Boolean).sort((a, b) => a.name.localeCompare(b.name) || (a.namespace || '').localeCompare(b.namespace || ''));
}

function readiness(f) {
  const want = f.replicas || 0, ready = f.availableReplicas || 0;
  if (want === 0) return h('span', { class: 'badge idle' }, ready ? `${ready} / 0` : 'scaled to 0');
  if (ready >= want) return h('span', { class: 'badge ok', title: 'ready / desired' }, `${ready} / ${want} ready`);
  return h('span', { class: 'badge wait', title: 'ready / desired' }, `${ready} / ${want} ready`);
}

function statusBadge(s) {
  const cls = { succeeded: 'ok', failed: 'bad', 'dead-letter': 'bad', cancelled: 'idle', queued: 'wait', running: 'wait' }[s] || 'idle';
  return h('span', { class: `badge ${cls}`, 'data-status': s }, s);
}

function kvList(obj) {
  const keys = Object.keys(obj || {}).sort();
  if (!keys.length) return h('span', { class: 'muted' }, 'none');
  return h('div', { class: 'tags' }, keys.map(k => h('span', { class: 'tag' }, `${k}=${obj[k]}`)));
}

function gatewayURL() { return location.origin; }

function setTitle(text) {
  document.title = text ? `${text} · cfaas` : 'cfaas';
}

// A labelled field with a hint and an error slot wired by aria-describedby.
function field(id, labelText, control, hint) {
  control.id = id;
  const err = h('p', { class: 'error', id: `${id}-error`, 'aria-live': 'polite' });
  const parts = [h('label', { for: id }, labelText), control];
  const desc = [`${id}-error`];
  if (hint) { parts.push(h('p', { class: 'hint', id: `${id}-hint` }, hint)); desc.push(`${id}-hint`); }
  parts.push(err);
  control.setAttribute('aria-describedby', desc.join(' '));
  return h('div', { class: 'field', 'data-field': id }, parts);
}

function setFieldError(form, id, msg) {
  const c = form.querySelector(`#${id}`), e = form.querySelector(`#${id}-error`);
  if (!c || !e) return false;
  e.textContent = msg || '';
  if (msg) c.setAttribute('aria-invalid', 'true'); else c.removeAttribute('aria-invalid');
  return true;
}

// ---------------------------------------------------------------- views

function viewFunctions(root) {
  setTitle('Functions');
  const tbody = h('tbody');
  const table = h('table', { id: 'fn-table' }, [
    h('caption', { class: 'muted small' }, `Calls and 5xx errors per minute over the last minute (or since this page opened), from the gateway's counters sampled every ${SAMPLE_MS / 1000} s. The sparklines show calls (blue) and errors (red) per sample over the last ${HISTORY_MS / 60000} minutes.`),
    h('thead', {}, h('tr', {}, [
      h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col', class: 'hide-narrow' }, 'Image'),
      h('th', { scope: 'col' }, 'Replicas'), h('th', { scope: 'col', class: 'num hide-narrow' }, 'Invocations'),
      h('th', { scope: 'col', class: 'num' }, 'Calls/min'), h('th', { scope: 'col', class: 'num' }, 'Errors/min'),
      h('th', { scope: 'col', class: 'hide-narrow' }, 'Last 5 min'),
    ])),
    tbody,
  ]);
  const alert = h('div', { class: 'alert', role: 'alert' });
  root.append(
    h('div', { class: 'row' }, [h('h1', { tabindex: '-1' }, 'Functions'), h('span', { class: 'spacer' }),
      h('a', { class: 'btn primary', href: '#/deploy' }, 'Deploy a function')]),
    alert, h('div', { class: 'card tablewrap' }, table));
  let fns = null;

  function renderRows() {
    if (!fns) return;
    const rows = new Map([...tbody.querySelectorAll('tr[data-key]')].map(r => [r.dataset.key, r]));
    if (!fns.length) {
      clear(tbody).append(h('tr', {}, h('td', { colspan: 7, class: 'empty' },
        ['No functions yet. ', h('a', { href: '#/deploy' }, 'Deploy one'), '.'])));
      return;
    }
    tbody.querySelector('td.empty')?.parentElement.remove();
    const keep = new Set();
    for (const f of fns) {
      const key = fnKey(f);
      keep.add(key);
      let tr = rows.get(key);
      if (!tr) {
        tr = h('tr', { 'data-key': key, 'data-name': f.name }, [
          h('td', { class: 'name' }, [h('a', { href: `#/function/${enc(fnRef(f))}` }, f.name),
            f.namespace && f.namespace !== DEFAULT_NS ? h('span', { class: 'muted small' }, ` .${f.namespace}`) : '']),
          h('td', { class: 'mono small hide-narrow c-image' }), h('td', { class: 'c-rep' }),
          h('td', { class: 'num hide-narrow c-inv' }), h('td', { class: 'num c-rate' }), h('td', { class: 'num c-err' }),
          h('td', { class: 'hide-narrow c-spark' }),
        ]);
        tbody.append(tr);
      }
      const r = rates(key);
      tr.querySelector('.c-image').textContent = f.image;
      clear(tr.querySelector('.c-rep')).append(readiness(f));
      tr.querySelector('.c-inv').textContent = fmtNum(f.invocationCount || 0);
      tr.querySelector('.c-rate').textContent = fmtRate(r.calls);
      const ce = tr.querySelector('.c-err');
      ce.textContent = fmtRate(r.errors);
      ce.classList.toggle('code5', !!r.errors);
      clear(tr.querySelector('.c-spark')).append(sparkline(r.points, HISTORY_MS,
        `${f.name}: ${fmtRate(r.calls)} calls/min, ${fmtRate(r.errors)} errors/min`));
    }
    for (const [k, tr] of rows) if (!keep.has(k)) tr.remove();
  }

  async function load() {
    try {
      fns = await listFunctions();
      alert.textContent = '';
      renderRows();
    } catch (e) { alert.textContent = `Cannot list functions: ${e.message}`; }
  }
  load();
  const timer = setInterval(load, SAMPLE_MS);
  statListeners.add(renderRows);
  return () => { clearInterval(timer); statListeners.delete(renderRows); };
}

function viewFunction(root, name) {
  setTitle(name);
  const ctl = new AbortController();
  const alert = h('div', { class: 'alert', role: 'alert' });
  const overview = h('dl', { class: 'kv', id: 'fn-overview' });
  const config = h('dl', { class: 'kv', id: 'fn-config' });
  const scaleInput = h('input', { type: 'number', min: '0', step: '1', class: 'narrow' });
  const scaleBtn = h('button', { class: 'btn', type: 'submit' }, 'Scale');
  const scaleForm = h('form', { class: 'row', id: 'scale-form' }, [
    h('label', { for: 'scale-replicas', class: 'sr' }, 'Replicas'), scaleInput, scaleBtn,
    h('span', { class: 'muted small' }, '0 stops every replica')]);
  scaleInput.id = 'scale-replicas';
  const logs = h('pre', { class: 'logs', id: 'logs', tabindex: '0', 'aria-label': 'Logs', 'aria-live': 'off' });
  const follow = h('input', { type: 'checkbox', id: 'logs-follow', checked: true });
  const logState = h('span', { class: 'muted small', id: 'logs-state' });
  const delBtn = h('button', { class: 'btn danger', type: 'button', id: 'delete-fn' }, 'Delete…');
  root.append(
    h('div', { class: 'row' }, [
      h('h1', { tabindex: '-1' }, [h('span', { class: 'muted' }, 'Function '), name]),
      h('span', { class: 'spacer' }),
      h('a', { class: 'btn', href: `#/invoke/${enc(name)}` }, 'Invoke'),
      h('a', { class: 'btn', href: `#/deploy/${enc(name)}` }, 'Edit'),
      h('a', { class: 'btn', href: `#/calls?function=${enc(name)}` }, 'Async calls'),
      delBtn]),
    alert,
    h('div', { class: 'grid2' }, [
      h('section', { class: 'card', 'aria-labelledby': 'ov-h' }, [h('h2', { id: 'ov-h' }, 'Overview'), overview,
        h('h2', { class: 'mt' }, 'Scale'), scaleForm]),
      h('section', { class: 'card', 'aria-labelledby': 'cfg-h' }, [h('h2', { id: 'cfg-h' }, 'Configuration'), config]),
    ]),
    h('section', { class: 'card', 'aria-labelledby': 'logs-h' }, [
      h('div', { class: 'row' }, [h('h2', { id: 'logs-h' }, 'Logs'), h('span', { class: 'spacer' }),
        h('label', { class: 'radio' }, [follow, 'Follow']), logState,
        h('button', { class: 'btn small', type: 'button', onclick: () => clear(logs) }, 'Clear')]),
      logs]));

  let status = null, scaleTouched = false;
  scaleInput.addEventListener('input', () => { scaleTouched = true; });

  function renderStatus() {
    const f = status;
    // A refresh must not take the focus away from a link being used.
    if (overview.contains(document.activeElement) || config.contains(document.activeElement)) return;
    const url = `${gatewayURL()}/function/${fnRef(f)}`;
    const asyncUrl = `${gatewayURL()}/async-function/${fnRef(f)}`;
    const r = rates(fnKey(f));
    clear(overview).append(
      h('dt', {}, 'Image'), h('dd', { class: 'mono' }, f.image),
      h('dt', {}, 'Namespace'), h('dd', {}, f.namespace || DEFAULT_NS),
      h('dt', {}, 'Replicas'), h('dd', { id: 'fn-replicas' }, readiness(f)),
      h('dt', {}, 'Invocations'), h('dd', { id: 'fn-invocations' }, fmtNum(f.invocationCount || 0)),
      h('dt', {}, 'Rate'), h('dd', {}, [`${fmtRate(r.calls)} calls/min, ${fmtRate(r.errors)} errors/min `,
        sparkline(r.points, HISTORY_MS, 'calls and errors over the last 5 minutes')]),
      h('dt', {}, 'URL'), h('dd', { class: 'mono', id: 'fn-url' }, h('a', { href: url }, url)),
      h('dt', {}, 'Async URL'), h('dd', { class: 'mono', id: 'fn-async-url' }, asyncUrl),
      h('dt', {}, 'Created'), h('dd', {}, f.createdAt ? `${fmtTime(f.createdAt)} (${fmtAgo(f.createdAt)})` : '—'));
    const lim = o => o && Object.keys(o).length ? Object.entries(o).map(([k, v]) => `${k} ${v}`).join(', ') : 'none';
    clear(config).append(
      h('dt', {}, 'fprocess'), h('dd', { class: 'mono' }, f.envProcess || '—'),
      h('dt', {}, 'Labels'), h('dd', { id: 'fn-labels' }, kvList(f.labels)),
      h('dt', {}, 'Annotations'), h('dd', {}, kvList(f.annotations)),
      h('dt', {}, 'Environment'), h('dd', { id: 'fn-env' }, kvList(f.envVars)),
      h('dt', {}, 'Secrets'), h('dd', {}, f.secrets?.length ? h('div', { class: 'tags' }, f.secrets.map(s => h('span', { class: 'tag' }, s))) : h('span', { class: 'muted' }, 'none')),
      h('dt', {}, 'Limits'), h('dd', {}, lim(f.limits)),
      h('dt', {}, 'Requests'), h('dd', {}, lim(f.requests)));
    if (!scaleTouched && document.activeElement !== scaleInput) scaleInput.value = String(f.replicas || 0);
  }

  async function load() {
    try {
      status = await api('GET', `/system/function/${enc(name)}`);
      alert.textContent = '';
      renderStatus();
    } catch (e) {
      alert.textContent = e.status === 404 ? `Function '${name}' does not exist (any more).` : `Cannot read '${name}': ${e.message}`;
    }
  }

  scaleForm.addEventListener('submit', async ev => {
    ev.preventDefault();
    const n = Number(scaleInput.value);
    if (!Number.isInteger(n) || n < 0) { toast('Replicas: use a whole number, 0 or more', true); return; }
    scaleBtn.disabled = true;
    try {
      await api('POST', `/system/scale-function/${enc(name)}`, { serviceName: name, replicas: n });
      toast(`Scaling ${name} to ${n}`);
      scaleTouched = false;
      load();
    } catch (e) { toast(`Scale failed: ${e.message}`, true); }
    scaleBtn.disabled = false;
  });

  delBtn.addEventListener('click', async () => {
    if (!await confirmDialog(`Delete ${name}?`, `This stops every replica of '${name}' and removes its deployment. Its logs and call records stay until they expire.`, `Delete ${name}`)) return;
    try {
      await api('DELETE', '/system/functions', { functionName: name });
      toast(`Deleted ${name}`);
      location.hash = '#/functions';
    } catch (e) { toast(`Delete failed: ${e.message}`, true); }
  });

  // Logs: an NDJSON stream read with fetch; following keeps it open.
  let logCtl = null;
  function appendLog(e) {
    const atBottom = logs.scrollTop + logs.clientHeight >= logs.scrollHeight - 8;
    logs.append(h('span', { class: 'ts', title: e.timestamp || '' }, (e.timestamp || '').slice(11, 23)), ' ',
      h('span', { class: 'inst' }, e.instance || ''), ' ', `${e.text}\n`);
    while (logs.childNodes.length > MAX_LOG_LINES * 6) logs.removeChild(logs.firstChild);
    if (atBottom) logs.scrollTop = logs.scrollHeight;
  }
  async function streamLogs(followOn) {
    logCtl?.abort();
    const myCtl = logCtl = new AbortController();
    ctl.signal.addEventListener('abort', () => myCtl.abort());
    clear(logs);
    logState.textContent = followOn ? 'following…' : '';
    try {
      const r = await fetch(`/system/logs?name=${enc(name)}&tail=200${followOn ? '&follow=true' : ''}`, { signal: myCtl.signal, cache: 'no-store' });
      if (!r.ok) throw new Error((await r.text()).trim());
      const reader = r.body.getReader(), dec = new TextDecoder();
      let pending = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        pending += dec.decode(value, { stream: true });
        let nl;
        while ((nl = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, nl); pending = pending.slice(nl + 1);
          if (line.trim()) { try { appendLog(JSON.parse(line)); } catch { /* a partial line */ } }
        }
      }
      if (myCtl === logCtl) logState.textContent = followOn ? 'stream ended' : '';
    } catch (e) {
      if (e.name !== 'AbortError' && myCtl === logCtl) logState.textContent = `logs: ${e.message}`;
    }
  }
  follow.addEventListener('change', () => streamLogs(follow.checked));

  load().then(() => { if (status) streamLogs(true); });
  const timer = setInterval(load, SAMPLE_MS);
  return () => { clearInterval(timer); ctl.abort(); logCtl?.abort(); };
}

// Maps a one-line API error to the form field it concerns.
const FIELD_RULES = [
  ['f-namespace', /namespace name|'namespace'/i],
  ['f-service', /'service'|function name|already exists|not found in namespace/i],
  ['f-image', /'image'|invalid image/i],
  ['f-fprocess', /envprocess|fprocess/i],
  ['f-env', /envvars|environment/i],
  ['f-secrets', /secret/i],
  ['f-labels', /com\.openfaas\.scale|scaling labels|'labels'|\blabel/i],
  ['f-annotations', /com\.openfaas\.retry|retry annotations|annotation/i],
  ['f-memory', /memory/i],
  ['f-cpu', /cpu/i],
];
export function fieldForError(msg) {
  for (const [id, rx] of FIELD_RULES) if (rx.test(msg)) return id;
  return null;
}

function viewDeploy(root, editName) {
  setTitle(editName ? `Edit ${editName}` : 'Deploy');
  const ta = (rows, ph) => h('textarea', { rows, placeholder: ph, spellcheck: 'false' });
  const inp = (ph, type = 'text') => h('input', { type, placeholder: ph, spellcheck: 'false', autocomplete: 'off' });
  const c = {
    service: inp('my-function'), image: inp('cfaas/my-function:latest'), fprocess: inp('cat'),
    env: ta(3, 'KEY=value, one per line'), labels: ta(3, 'com.openfaas.scale.min=1'),
    annotations: ta(2, 'com.openfaas.retry.attempts=3'), secrets: inp('api-key, db-password'),
    memory: inp('128Mi'), cpu: inp('100m'), namespace: inp(DEFAULT_NS),
  };
  if (editName) {
    const dot = editName.indexOf('.');
    c.service.value = dot < 0 ? editName : editName.slice(0, dot);
    c.namespace.value = dot < 0 ? '' : editName.slice(dot + 1);
    c.service.readOnly = c.namespace.readOnly = true;
  }
  const formAlert = h('div', { class: 'alert', role: 'alert', id: 'deploy-error' });
  const submit = h('button', { class: 'btn primary', type: 'submit', id: 'deploy-submit' }, editName ? 'Update' : 'Deploy');
  const secretHint = h('span', {}, 'Comma-separated names of existing secrets.');
  const form = h('form', { id: 'deploy-form', novalidate: true }, [
    formAlert,
    h('div', { class: 'formgrid' }, [
      field('f-service', 'Name', c.service, 'a-z, 0-9 and -, up to 63 characters'),
      field('f-image', 'Image', c.image, 'A bundle uploaded by the CLI, or any name to run host tools'),
    ]),
    h('div', { class: 'formgrid' }, [
      field('f-fprocess', 'fprocess', c.fprocess, 'The command run for each request; the body arrives on stdin'),
      field('f-namespace', 'Namespace', c.namespace, `Optional; ${DEFAULT_NS} when empty`),
    ]),
    h('div', { class: 'formgrid' }, [
      field('f-env', 'Environment', c.env, 'KEY=value, one per line'),
      field('f-labels', 'Labels', c.labels, 'key=value, one per line; com.openfaas.scale.* labels set scaling'),
    ]),
    h('div', { class: 'formgrid' }, [
      field('f-annotations', 'Annotations', c.annotations, 'key=value, one per line'),
      field('f-secrets', 'Secrets', c.secrets, secretHint),
    ]),
    h('div', { class: 'formgrid' }, [
      field('f-memory', 'Memory limit', c.memory, 'e.g. 128Mi (optional)'),
      field('f-cpu', 'CPU limit', c.cpu, 'e.g. 100m (optional)'),
    ]),
    h('div', { class: 'row' }, [submit, h('a', { class: 'btn', href: editName ? `#/function/${enc(editName)}` : '#/functions' }, 'Cancel')]),
  ]);
  root.append(h('h1', { tabindex: '-1' }, editName ? `Edit ${editName}` : 'Deploy a function'), h('div', { class: 'card' }, form));

  api('GET', '/system/secrets').then(list => {
    if (list?.length) secretHint.textContent = `Comma-separated. Existing: ${list.map(s => s.name).join(', ')}.`;
  }).catch(() => {});
  if (editName) {
    api('GET', `/system/function/${enc(editName)}`).then(f => {
      c.image.value = f.image || ''; c.fprocess.value = f.envProcess || '';
      c.env.value = pairsText(f.envVars); c.annotations.value = pairsText(f.annotations);
      const labels = { ...(f.labels || {}) }; delete labels.faas_function;
      c.labels.value = pairsText(labels); c.secrets.value = (f.secrets || []).join(', ');
      c.memory.value = f.limits?.memory || ''; c.cpu.value = f.limits?.cpu || '';
    }).catch(e => { formAlert.textContent = e.message; });
  }

  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    for (const id of FIELD_RULES.map(r => r[0])) setFieldError(form, id, '');
    formAlert.textContent = '';
    const doc = { service: c.service.value.trim(), image: c.image.value.trim() };
    if (c.namespace.value.trim()) doc.namespace = c.namespace.value.trim();
    if (c.fprocess.value.trim()) doc.envProcess = c.fprocess.value.trim();
    const parsed = {};
    for (const [k, id, key] of [['env', 'f-env', 'envVars'], ['labels', 'f-labels', 'labels'], ['annotations', 'f-annotations', 'annotations']]) {
      const p = parsePairs(c[k].value);
      if (p.error) { setFieldError(form, id, p.error); c[k].focus(); return; }
      if (Object.keys(p.pairs).length) parsed[key] = p.pairs;
    }
    Object.assign(doc, parsed);
    const secrets = c.secrets.value.split(/[\s,]+/).filter(Boolean);
    if (secrets.length) doc.secrets = secrets;
    const limits = {};
    if (c.memory.value.trim()) limits.memory = c.memory.value.trim();
    if (c.cpu.value.trim()) limits.cpu = c.cpu.value.trim();
    if (Object.keys(limits).length) doc.limits = limits;
    submit.disabled = true;
    try {
      await api(editName ? 'PUT' : 'POST', '/system/functions', doc);
      toast(`${editName ? 'Updated' : 'Deployed'} ${doc.service}`);
      location.hash = `#/function/${enc(fnRef({ name: doc.service, namespace: doc.namespace }))}`;
    } catch (e) {
      const id = fieldForError(e.message);
      if (id && setFieldError(form, id, e.message)) form.querySelector(`#${id}`).focus();
      else formAlert.textContent = e.message;
    } finally { submit.disabled = false; }
  });
  (editName ? c.image : c.service).focus();
  return () => {};
}

function viewInvoke(root, preset) {
  setTitle('Invoke');
  const fnSel = h('select', {});
  const method = h('select', {}, ['POST', 'GET', 'PUT', 'PATCH', 'DELETE'].map(m => h('option', {}, m)));
  const path = h('input', { type: 'text', placeholder: '/optional/sub/path', spellcheck: 'false' });
  const query = h('input', { type: 'text', placeholder: 'a=1&b=2', spellcheck: 'false' });
  const headers = h('textarea', { rows: 3, placeholder: 'Content-Type: text/plain', spellcheck: 'false' });
  const body = h('textarea', { rows: 5, spellcheck: 'false' });
  const modeSync = h('input', { type: 'radio', name: 'mode', value: 'sync', checked: true, id: 'mode-sync' });
  const modeAsync = h('input', { type: 'radio', name: 'mode', value: 'async', id: 'mode-async' });
  const callback = h('input', { type: 'url', placeholder: 'http://host/callback (optional)', spellcheck: 'false' });
  const cbField = field('i-callback', 'Callback URL', callback, 'Where the result is POSTed when the call finishes');
  const submit = h('button', { class: 'btn primary', type: 'submit', id: 'invoke-submit' }, 'Send');
  const result = h('section', { class: 'card', id: 'invoke-result', 'aria-live': 'polite', hidden: true });
  const cmds = h('section', { class: 'card', id: 'invoke-cmds' });
  const form = h('form', { id: 'invoke-form' }, [
    h('div', { class: 'formgrid' }, [field('i-fn', 'Function', fnSel), field('i-method', 'Method', method)]),
    h('div', { class: 'formgrid' }, [field('i-path', 'Path', path), field('i-query', 'Query', query)]),
    field('i-headers', 'Headers', headers, 'Name: value, one per line'),
    field('i-body', 'Body', body),
    h('fieldset', {}, [h('legend', {}, 'Mode'),
      h('label', { class: 'radio' }, [modeSync, 'Sync (wait for the answer)']),
      h('label', { class: 'radio' }, [modeAsync, 'Async (queue, answer 202)'])]),
    cbField,
    h('div', { class: 'row' }, [submit]),
  ]);
  root.append(h('h1', { tabindex: '-1' }, 'Invoke a function'), h('div', { class: 'card' }, form), result, cmds);

  const isAsync = () => modeAsync.checked;
  const syncCb = () => { cbField.hidden = !isAsync(); renderCmds(); };
  modeSync.addEventListener('change', syncCb); modeAsync.addEventListener('change', syncCb);
  form.addEventListener('input', renderCmds);

  function parseHeaders() {
    const out = [];
    for (const line of headers.value.split('\n')) {
      if (!line.trim()) continue;
      const i = line.indexOf(':');
      if (i <= 0) throw new Error(`header line '${line}' is not Name: value`);
      out.push([line.slice(0, i).trim(), line.slice(i + 1).trim()]);
    }
    return out;
  }
  function target() {
    const p = path.value.trim(), q = query.value.trim().replace(/^\?/, '');
    return `/${isAsync() ? 'async-function' : 'function'}/${fnSel.value}${p && !p.startsWith('/') ? '/' : ''}${p}${q ? '?' + q : ''}`;
  }
  function renderCmds() {
    let hs = [];
    try { hs = parseHeaders(); setFieldError(form, 'i-headers', ''); } catch (e) { setFieldError(form, 'i-headers', e.message); }
    if (isAsync() && callback.value.trim()) hs.push(['X-Callback-Url', callback.value.trim()]);
    const curl = ['curl', '-i', '-X', method.value, ...hs.flatMap(([k, v]) => ['-H', shq(`${k}: ${v}`)])];
    if (body.value) curl.push('--data-binary', shq(body.value));
    curl.push(shq(gatewayURL() + target()));
    const cli = [];
    if (body.value) cli.push('printf', '%s', shq(body.value), '|');
    cli.push('cfaas', 'invoke', fnSel.value || 'NAME', '--gateway', shq(gatewayURL()));
    if (method.value !== 'POST') cli.push('--method', method.value);
    for (const [k, v] of parseHeadersSafe()) {
      if (k.toLowerCase() === 'content-type') cli.push('--content-type', shq(v));
      else cli.push('--header', shq(`${k}=${v}`));
    }
    const q = query.value.trim().replace(/^\?/, '');
    if (q) for (const kv of q.split('&')) cli.push('--query', shq(decodeURIComponentSafe(kv)));
    if (isAsync()) { cli.push('--async'); if (callback.value.trim()) cli.push('--callback-url', shq(callback.value.trim())); }
    if (!body.value) cli.push('</dev/null');
    if (path.value.trim()) cli.push(`# the sub-path ${path.value.trim()} needs curl`);
    const copyRow = (id, label, text) => [
      h('div', { class: 'row' }, [h('h2', {}, label), h('span', { class: 'spacer' }),
        h('button', { class: 'btn small', type: 'button', id: `copy-${id}`, onclick: () => copy(text, label) }, `Copy ${label}`)]),
      h('pre', { class: 'cmd', id: `cmd-${id}` }, text)];
    clear(cmds).append(...copyRow('curl', 'curl', curl.join(' ')), ...copyRow('cli', 'cfaas invoke', cli.join(' ')));
  }
  function parseHeadersSafe() { try { return parseHeaders(); } catch { return []; } }

  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    let hs;
    try { hs = parseHeaders(); } catch (e) { setFieldError(form, 'i-headers', e.message); headers.focus(); return; }
    if (!fnSel.value) { setFieldError(form, 'i-fn', 'Deploy a function first'); return; }
    const hdrs = new Headers();
    for (const [k, v] of hs) hdrs.append(k, v);
    if (isAsync() && callback.value.trim()) hdrs.set('X-Callback-Url', callback.value.trim());
    const opt = { method: method.value, headers: hdrs, cache: 'no-store', redirect: 'manual' };
    if (!['GET', 'HEAD'].includes(method.value)) opt.body = body.value;
    submit.disabled = true;
    const t0 = performance.now();
    try {
      const r = await fetch(target(), opt);
      const text = await r.text();
      const ms = performance.now() - t0;
      const hl = [...r.headers.entries()].map(([k, v]) => `${k}: ${v}`).join('\n');
      const cls = `code${String(r.status)[0]}`;
      const callId = r.headers.get('X-Call-Id');
      clear(result).append(
        h('h2', {}, 'Answer'),
        h('p', { class: 'status-line' }, [h('span', { class: cls, id: 'res-status' }, `${r.status} ${r.statusText}`),
          ' in ', h('span', { id: 'res-duration' }, ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(2)} s`)]),
        isAsync() && r.status === 202 && callId ? h('p', {}, ['Queued as ', h('a', { href: `#/call/${enc(callId)}`, id: 'res-call' }, callId), '.']) : '',
        h('h3', { class: 'small muted' }, 'Headers'), h('pre', { class: 'out', id: 'res-headers' }, hl),
        h('h3', { class: 'small muted' }, 'Body'), h('pre', { class: 'out', id: 'res-body' }, text || '(empty)'));
      result.hidden = false;
    } catch (e) {
      clear(result).append(h('div', { class: 'alert', role: 'alert' }, `Request failed: ${e.message}`));
      result.hidden = false;
    } finally { submit.disabled = false; }
  });

  if (preset) fnSel.append(h('option', { selected: true }, preset));
  listFunctions().then(list => {
    clear(fnSel).append(...(list || []).map(fnRef).map(n => h('option', { selected: n === preset }, n)));
    if (!list?.length) fnSel.append(h('option', { value: '' }, '(no functions)'));
    renderCmds();
  }).catch(e => toast(e.message, true));
  syncCb();
  return () => {};
}

function decodeURIComponentSafe(s) { try { return decodeURIComponent(s.replace(/\+/g, ' ')); } catch { return s; } }

async function copy(text, what) {
  try { await navigator.clipboard.writeText(text); toast(`Copied the ${what} command`); }
  catch {
    const t = h('textarea', {}, text); document.body.append(t); t.select();
    try { document.execCommand('copy'); toast(`Copied the ${what} command`); } catch { toast('Copy failed: select the text', true); }
    t.remove();
  }
}

const STATUSES = ['queued', 'running', 'succeeded', 'failed', 'dead-letter', 'cancelled'];

function viewCalls(root, params) {
  setTitle('Async calls');
  const fnSel = h('select', { id: 'c-fn' }, h('option', { value: '' }, 'all functions'));
  const stSel = h('select', { id: 'c-status' }, [h('option', { value: '' }, 'any status'), ...STATUSES.map(s => h('option', { selected: s === params.get('status') }, s))]);
  const tbody = h('tbody');
  const alert = h('div', { class: 'alert', role: 'alert' });
  root.append(
    h('h1', { tabindex: '-1' }, 'Async calls'),
    h('form', { class: 'card row', id: 'calls-filter' }, [
      h('label', { for: 'c-fn' }, 'Function'), fnSel, h('label', { for: 'c-status' }, 'Status'), stSel,
      h('span', { class: 'muted small' }, 'newest first, refreshed live')]),
    alert,
    h('div', { class: 'card tablewrap' }, h('table', { id: 'calls-table' }, [
      h('thead', {}, h('tr', {}, ['Call', 'Function', 'Status', 'Attempts', 'Code', 'Queued', 'Duration']
        .map((t, i) => h('th', { scope: 'col', class: i >= 3 && i !== 5 ? 'num' : '' }, t)))), tbody])));
  const want = params.get('function') || '';
  if (want) fnSel.append(h('option', { selected: true }, want));
  listFunctions().then(list => {
    for (const n of list.map(fnRef)) if (n !== want) fnSel.append(h('option', {}, n));
  }).catch(() => {});

  const syncHash = () => {
    const q = new URLSearchParams();
    if (fnSel.value) q.set('function', fnSel.value);
    if (stSel.value) q.set('status', stSel.value);
    historyReplace(`#/calls${q.toString() ? '?' + q : ''}`);
    load();
  };
  fnSel.addEventListener('change', syncHash); stSel.addEventListener('change', syncHash);

  let shown = '';
  async function load() {
    const q = new URLSearchParams({ limit: '100' });
    if (fnSel.value) q.set('function', fnSel.value);
    if (stSel.value) q.set('status', stSel.value);
    try {
      const calls = (await api('GET', `/system/calls?${q}`)) || [];
      alert.textContent = '';
      const key = JSON.stringify(calls) + Math.floor(Date.now() / 30000);
      if (key === shown) return;  // unchanged: keep the rows (and the focus)
      shown = key;
      clear(tbody);
      if (!calls.length) tbody.append(h('tr', {}, h('td', { colspan: 7, class: 'empty' }, 'No calls match.')));
      for (const c of calls) {
        tbody.append(h('tr', { 'data-id': c.id }, [
          h('td', { class: 'mono small' }, h('a', { href: `#/call/${enc(c.id)}` }, c.id.slice(0, 8) + '…')),
          h('td', {}, fnRef({ name: c.function, namespace: c.namespace })), h('td', {}, statusBadge(c.status)), h('td', { class: 'num' }, String(c.attempts)),
          h('td', { class: 'num' }, c.statusCode ? String(c.statusCode) : '—'),
          h('td', { class: 'small' }, c.queuedAt ? fmtAgo(c.queuedAt) : '—'),
          h('td', { class: 'num' }, c.durationSeconds ? `${c.durationSeconds.toFixed(3)} s` : '—')]));
      }
    } catch (e) {
      alert.textContent = e.status === 503 ? 'Async calls are off on this gateway (no NATS).' : `Cannot list calls: ${e.message}`;
    }
  }
  load();
  const timer = setInterval(load, SAMPLE_MS);
  return () => clearInterval(timer);
}

function historyReplace(hash) { window.history.replaceState(null, '', hash); }

function viewCall(root, id) {
  setTitle(`Call ${id.slice(0, 8)}`);
  const alert = h('div', { class: 'alert', role: 'alert' });
  const dl = h('dl', { class: 'kv', id: 'call-record' });
  const actions = h('div', { class: 'row' });
  const out = h('div', {});
  root.append(h('h1', { tabindex: '-1' }, [h('span', { class: 'muted' }, 'Call '), h('span', { class: 'mono' }, id)]),
    alert, h('div', { class: 'grid2' }, [
      h('section', { class: 'card' }, [h('h2', {}, 'Record'), dl, actions]),
      h('section', { class: 'card' }, [h('h2', {}, 'Result'), out])]));
  let timer = 0, lastStatus = '';

  async function act(method, path, what) {
    try { await api(method, path); toast(what); load(); } catch (e) { toast(`${e.message}`, true); }
  }
  async function load() {
    let c;
    try { c = await api('GET', `/system/calls/${enc(id)}`); alert.textContent = ''; }
    catch (e) { alert.textContent = e.status === 404 ? `Call '${id}' not found.` : e.message; return; }
    const row = (k, v, attrs = {}) => [h('dt', {}, k), h('dd', attrs, v)];
    clear(dl).append(
      ...row('Function', h('a', { href: `#/function/${enc(fnRef({ name: c.function, namespace: c.namespace }))}` }, fnRef({ name: c.function, namespace: c.namespace }))),
      ...row('Status', statusBadge(c.status), { id: 'call-status' }),
      ...row('Attempts', String(c.attempts), { id: 'call-attempts' }),
      ...row('Status code', c.statusCode ? String(c.statusCode) : '—', { id: 'call-code' }),
      ...row('Queued', c.queuedAt ? fmtTime(c.queuedAt) : '—'),
      ...row('Started', c.startedAt ? fmtTime(c.startedAt) : '—'),
      ...row('Finished', c.finishedAt ? fmtTime(c.finishedAt) : '—'),
      ...row('Duration', c.durationSeconds ? `${c.durationSeconds.toFixed(3)} s` : '—'),
      ...row('Callback', c.callbackUrl || '—', { class: 'mono' }),
      ...(c.error ? row('Error', c.error, { class: 'code5' }) : []));
    if (c.status !== lastStatus) {
      lastStatus = c.status;
      clear(actions);
      if (c.status === 'queued')
        actions.append(h('button', { class: 'btn danger', type: 'button', id: 'call-cancel', onclick: () => act('DELETE', `/system/calls/${enc(id)}`, 'Cancelled') }, 'Cancel call'));
      if (c.status === 'dead-letter')
        actions.append(h('button', { class: 'btn', type: 'button', id: 'call-retry', onclick: () => act('POST', `/system/calls/${enc(id)}/retry`, 'Re-queued') }, 'Re-queue'));
    }
    const headers = Object.entries(c.resultHeaders || {}).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : v}`).join('\n');
    clear(out).append(
      c.result !== undefined ? h('pre', { class: 'out', id: 'call-result' }, c.resultEncoding === 'base64' ? `(base64) ${c.result}` : c.result)
        : h('p', { class: 'muted' }, ['queued', 'running'].includes(c.status) ? 'Not finished yet.' : 'No result body.'),
      headers ? h('h3', { class: 'small muted' }, 'Headers') : '', headers ? h('pre', { class: 'out' }, headers) : '');
    if (['queued', 'running'].includes(c.status)) timer = setTimeout(load, 1000);
  }
  load();
  return () => clearTimeout(timer);
}

function viewSecrets(root) {
  setTitle('Secrets');
  const name = h('input', { type: 'text', spellcheck: 'false', autocomplete: 'off' });
  const value = h('textarea', { rows: 3, spellcheck: 'false', autocomplete: 'off' });
  const submit = h('button', { class: 'btn primary', type: 'submit', id: 'secret-submit' }, 'Create');
  const mode = { update: false };
  const cancelEdit = h('button', { class: 'btn', type: 'button', hidden: true }, 'Cancel');
  const formTitle = h('h2', {}, 'New secret');
  const form = h('form', { id: 'secret-form', autocomplete: 'off' }, [formTitle,
    field('s-name', 'Name', name, 'a-z, 0-9 and -'),
    field('s-value', 'Value', value, 'Stored with mode 0600; never shown again'),
    h('div', { class: 'row' }, [submit, cancelEdit])]);
  const tbody = h('tbody');
  const alert = h('div', { class: 'alert', role: 'alert' });
  root.append(h('h1', { tabindex: '-1' }, 'Secrets'), alert, h('div', { class: 'grid2' }, [
    h('section', { class: 'card tablewrap' }, [h('h2', {}, 'Secrets'),
      h('table', { id: 'secrets-table' }, [h('thead', {}, h('tr', {}, [h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Actions')])), tbody])]),
    h('section', { class: 'card' }, form)]));

  function setMode(update, n = '') {
    mode.update = update;
    formTitle.textContent = update ? `New value for ${n}` : 'New secret';
    name.value = n; name.readOnly = update; value.value = '';
    submit.textContent = update ? 'Update' : 'Create';
    cancelEdit.hidden = !update;
    (update ? value : name).focus();
  }
  cancelEdit.addEventListener('click', () => setMode(false));

  async function load() {
    try {
      const list = (await api('GET', '/system/secrets')) || [];
      clear(tbody);
      if (!list.length) tbody.append(h('tr', {}, h('td', { colspan: 2, class: 'empty' }, 'No secrets.')));
      for (const s of list.sort((a, b) => a.name.localeCompare(b.name))) {
        tbody.append(h('tr', { 'data-name': s.name }, [h('td', { class: 'mono' }, s.name), h('td', {}, h('div', { class: 'row' }, [
          h('button', { class: 'btn small', type: 'button', onclick: () => setMode(true, s.name), 'aria-label': `Update ${s.name}` }, 'Update'),
          h('button', { class: 'btn small danger', type: 'button', 'aria-label': `Delete ${s.name}`, onclick: async () => {
            if (!await confirmDialog(`Delete secret ${s.name}?`, 'Functions that use it will fail to start until it exists again.', 'Delete')) return;
            try { await api('DELETE', '/system/secrets', { name: s.name }); toast(`Deleted ${s.name}`); load(); }
            catch (e) { toast(e.message, true); }
          } }, 'Delete')]))]));
      }
    } catch (e) { alert.textContent = `Cannot list secrets: ${e.message}`; }
  }
  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    setFieldError(form, 's-name', ''); setFieldError(form, 's-value', '');
    const n = name.value.trim();
    try {
      await api(mode.update ? 'PUT' : 'POST', '/system/secrets', { name: n, value: value.value });
      toast(`${mode.update ? 'Updated' : 'Created'} secret ${n}`);
      setMode(false); load();
    } catch (e) {
      setFieldError(form, /value/i.test(e.message) ? 's-value' : 's-name', e.message);
    }
  });
  load();
  return () => {};
}

// ---------------------------------------------------------------- router

const routes = [
  [/^#\/functions$/, (r) => viewFunctions(r), 'functions'],
  [/^#\/function\/([^/?]+)$/, (r, m) => viewFunction(r, decodeURIComponent(m[1])), 'functions'],
  [/^#\/deploy$/, (r) => viewDeploy(r), 'deploy'],
  [/^#\/deploy\/([^/?]+)$/, (r, m) => viewDeploy(r, decodeURIComponent(m[1])), 'functions'],
  [/^#\/invoke(?:\/([^/?]+))?$/, (r, m) => viewInvoke(r, m[1] && decodeURIComponent(m[1])), 'invoke'],
  [/^#\/calls(?:\?(.*))?$/, (r, m) => viewCalls(r, new URLSearchParams(m[1] || '')), 'calls'],
  [/^#\/call\/([^/?]+)$/, (r, m) => viewCall(r, decodeURIComponent(m[1])), 'calls'],
  [/^#\/secrets$/, (r) => viewSecrets(r), 'secrets'],
];

let cleanup = null;
// On navigation the heading takes the focus, so keyboard and screen-reader
// users start at the new view; the first load keeps the natural order.
function route(ev) {
  const hash = location.hash || '#/functions';
  cleanup?.();
  cleanup = null;
  const main = clear(document.getElementById('main'));
  for (const [rx, view, nav] of routes) {
    const m = hash.match(rx);
    if (!m) continue;
    for (const a of document.querySelectorAll('[data-nav]'))
      if (a.dataset.nav === nav) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
    cleanup = view(main, m);
    if (ev && !main.contains(document.activeElement)) (main.querySelector('h1') || main).focus({ preventScroll: true });
    return;
  }
  location.replace('#/functions');
}

window.addEventListener('hashchange', route);
sample();
setInterval(sample, SAMPLE_MS);
route(null);
