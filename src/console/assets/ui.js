// Small DOM helpers shared by the pages: elements without innerHTML (nothing the server or
// a notification says is ever parsed as HTML), messages, tables, pagers.

/** An element: `el('td', {class: 'num'}, 'text', child)`. `on*` attributes become listeners. */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') node.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(node.dataset, value);
    else if (value === true) node.setAttribute(name, '');
    else node.setAttribute(name, String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces the children of `node`. */
export function fill(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

const messages = () => document.getElementById('messages');

/** Shows an error with the server's message, code and request id; the newest is on top. */
export function showError(error, context) {
  const requestId = error && error.requestId;
  const status = error && error.status ? `${error.status}${error.code ? ` ${error.code}` : ''}: ` : '';
  const text = `${context ? `${context}: ` : ''}${status}${(error && error.message) || error}`;
  show('error', text, requestId);
}

/** Shows a short confirmation of something that happened. */
export function showInfo(text) {
  show('info', text, null);
}

function show(kind, text, requestId) {
  const box = el('div', { class: `message ${kind}` },
    el('p', {}, text, requestId ? el('span', { class: 'request-id mono' }, `request id ${requestId}`) : null),
    el('button', { type: 'button', 'aria-label': 'Dismiss', onclick: () => box.remove() }, '×'));
  messages().prepend(box);
  while (messages().children.length > 5) messages().lastElementChild.remove();
  if (kind === 'info') setTimeout(() => box.remove(), 6000);
}

/** Removes every message (on page change). */
export function clearMessages() {
  messages().replaceChildren();
}

/** A status badge: the text doubles as its style class. */
export function badge(text) {
  return el('span', { class: `status ${String(text).toLowerCase()}` }, text);
}

/**
 * A table: `columns` are [heading, cell(row) → node or text, {num: true}?]. An empty list
 * says so instead of showing empty headings.
 */
export function table(columns, rows, { empty = 'Nothing here.', caption, rowAttributes } = {}) {
  if (!rows.length) return el('p', { class: 'empty' }, empty);
  const head = el('tr', {}, columns.map(([heading, , options]) =>
    el('th', { scope: 'col', class: options && options.num ? 'num' : null }, heading)));
  const body = rows.map((row) => el('tr', rowAttributes ? rowAttributes(row) : {},
    columns.map(([, cell, options]) => el('td', { class: options && options.num ? 'num' : null }, cell(row)))));
  return el('div', { class: 'table-wrap' },
    el('table', {}, caption ? el('caption', { class: 'muted' }, caption) : null, el('thead', {}, head), el('tbody', {}, body)));
}

/** Next/previous buttons for the API's `pagination: {next, prev}` cursors. */
export function pager(pagination, go) {
  const prev = pagination && pagination.prev;
  const next = pagination && pagination.next;
  return el('div', { class: 'pager' },
    el('button', { type: 'button', disabled: !prev, onclick: () => go(['prev', prev]) }, '← Previous'),
    el('button', { type: 'button', disabled: !next, onclick: () => go(['next', next]) }, 'Next →'));
}

/** `bytes` as B, KiB, MiB or GiB. */
export function formatBytes(bytes) {
  if (bytes === null || bytes === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return `${unit ? value.toFixed(1) : value} ${units[unit]}`;
}

/** An RFC 3339 time in the reader's locale, the exact value as its title. */
export function time(text) {
  if (!text) return '—';
  const parsed = new Date(text);
  if (Number.isNaN(parsed.getTime())) return text;
  return el('time', { datetime: text, title: text }, parsed.toLocaleString());
}

/** Pretty-printed JSON in a <pre>. */
export function json(value) {
  return el('pre', { class: 'mono' }, JSON.stringify(value, null, 2));
}

/** A button that copies `text` to the clipboard. */
export function copyButton(text, label = 'Copy') {
  return el('button', {
    type: 'button',
    onclick: async (event) => {
      try {
        await navigator.clipboard.writeText(text);
        event.target.textContent = 'Copied';
      } catch {
        event.target.textContent = 'Select and copy by hand';
      }
    },
  }, label);
}

/** A labelled form field around `control`. */
export function field(label, control, { hint, required } = {}) {
  if (!control.id) control.id = `field-${Math.random().toString(36).slice(2, 10)}`;
  return el('div', { class: 'field' },
    el('label', { for: control.id }, label, required ? el('span', { class: 'required', title: 'required' }, ' *') : null),
    control,
    hint ? el('span', { class: 'hint' }, hint) : null);
}

/** A <select> of `options` ([value, label] or value), with `selected` chosen. */
export function select(options, selected, attributes = {}) {
  return el('select', attributes, options.map((option) => {
    const [value, label] = Array.isArray(option) ? option : [option, option];
    return el('option', { value, selected: value === selected }, label);
  }));
}

/** Runs `work` with `button` disabled, showing any error. */
export async function busy(button, work, context) {
  if (button) button.disabled = true;
  try {
    return await work();
  } catch (error) {
    if (error.name !== 'AbortError') showError(error, context);
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}
