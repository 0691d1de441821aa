// Small DOM and formatting helpers for the cfaas admin UI.

const SVG = 'http://www.w3.org/2000/svg';

// h('tag', {attr: value, onclick: fn, ...}, children...): an element.
// Children may be strings, nodes, arrays, or null/''/false (skipped).
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, c) {
  if (c === null || c === undefined || c === false || c === '') return;
  if (Array.isArray(c)) { for (const x of c) append(el, x); return; }
  el.append(c instanceof Node ? c : document.createTextNode(String(c)));
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export const fmtNum = n => Number(n).toLocaleString('en-US');

export function fmtTime(s) {
  const d = new Date(s);
  return isNaN(d) ? s : d.toLocaleString();
}

export function fmtAgo(s) {
  const sec = Math.round((Date.now() - new Date(s).getTime()) / 1000);
  if (!isFinite(sec)) return s;
  if (sec < 5) return 'just now';
  if (sec < 90) return `${sec} s ago`;
  if (sec < 5400) return `${Math.round(sec / 60)} min ago`;
  if (sec < 129600) return `${Math.round(sec / 3600)} h ago`;
  return `${Math.round(sec / 86400)} d ago`;
}

// An SVG sparkline of calls per sample (area and line) with errors on top,
// on a time axis that ends at the last sample and spans what was collected
// (at least a minute, at most span ms), scaled to the largest value; points
// are [{t, calls, errors}], label its accessible name.
export function sparkline(points, span, label) {
  const w = 120, hgt = 28, pad = 2;
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${w} ${hgt}`);
  svg.setAttribute('class', 'spark');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  const base = document.createElementNS(SVG, 'path');
  base.setAttribute('d', `M${pad},${hgt - pad - 0.5}H${w - pad}`);
  base.setAttribute('class', 'base');
  svg.append(base);
  if (points.length < 2) return svg;
  const end = points[points.length - 1].t;
  span = Math.min(span, Math.max(60000, end - points[0].t));
  const max = Math.max(1, ...points.map(p => Math.max(p.calls, p.errors)));
  const x = t => w - pad - ((end - t) * (w - 2 * pad)) / span;
  const y = v => hgt - pad - (v * (hgt - 2 * pad)) / max;
  const line = key => points.map((p, i) => `${i ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p[key]).toFixed(1)}`).join('');
  const mk = (d, cls) => {
    const p = document.createElementNS(SVG, 'path');
    p.setAttribute('d', d);
    p.setAttribute('class', cls);
    return p;
  };
  svg.append(mk(`${line('calls')}L${x(end).toFixed(1)},${hgt - pad}L${x(points[0].t).toFixed(1)},${hgt - pad}Z`, 'area'),
    mk(line('calls'), 'calls'));
  if (points.some(p => p.errors > 0)) svg.append(mk(line('errors'), 'errs'));
  return svg;
}

// "KEY=value" lines -> {pairs} or {error}.
export function parsePairs(text) {
  const pairs = {};
  let lineNo = 0;
  for (const raw of text.split('\n')) {
    lineNo++;
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const i = line.indexOf('=');
    if (i <= 0) return { error: `line ${lineNo}: '${line}' is not KEY=value` };
    pairs[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return { pairs };
}

export function pairsText(obj) {
  return Object.entries(obj || {}).sort().map(([k, v]) => `${k}=${v}`).join('\n');
}

// Quotes s for a POSIX shell when it needs it.
export function shq(s) {
  return /^[A-Za-z0-9_\-.,:/=@%+]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
