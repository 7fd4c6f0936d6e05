// Live tail: notifications of one event type as they arrive (from now, or history first from
// an id or a date), with pause and resume, a counter, and resumption after a dropped
// connection through Last-Event-ID, so nothing is lost or shown twice. Pausing closes the
// stream and resuming continues after the last id: the server keeps what arrives meanwhile,
// and the page never buffers an unbounded backlog. The page keeps the newest 500 rows.

import { curlFor, segment } from './api.js';
import { localToRfc3339 } from './browse.js';
import { typedFilter } from './filter_form.js';
import { EventStream } from './sse.js';
import { badge, el, field, fill, json, select, showError, time } from './ui.js';

const MAX_ROWS = 500;
const NOTIFICATION_FRAMES = new Set(['live-notification', 'replay']);

function sequenceOf(id) {
  const at = id.lastIndexOf('@');
  return at < 0 ? NaN : Number(id.slice(at + 1));
}

export async function render(view, context, [selectedType]) {
  const schema = await context.schema();
  const filter = typedFilter(schema, { idPrefix: 'tail', selected: selectedType });
  const startKind = select([['now', 'from now'], ['id', 'from a sequence id'], ['date', 'from a date']], 'now', { id: 'tail-start-kind', 'aria-label': 'start' });
  const fromId = el('input', { id: 'tail-from-id', inputmode: 'numeric', placeholder: '1', hidden: true, 'aria-label': 'from sequence id' });
  const fromDate = el('input', { id: 'tail-from-date', type: 'datetime-local', step: 1, hidden: true, 'aria-label': 'from date' });
  startKind.addEventListener('change', () => {
    fromId.hidden = startKind.value !== 'id';
    fromDate.hidden = startKind.value !== 'date';
  });
  const start = el('button', { type: 'submit', class: 'primary', id: 'tail-start' }, 'Start');
  const pause = el('button', { type: 'button', id: 'tail-pause', disabled: true }, 'Pause');
  const stop = el('button', { type: 'button', id: 'tail-stop', disabled: true }, 'Stop');
  const state = el('span', { id: 'tail-state' }, badge('closed'));
  const counter = el('span', { class: 'counter', id: 'tail-count' }, '0');
  const lastId = el('span', { class: 'mono', id: 'tail-last-id' }, '—');
  const rows = el('tbody', { id: 'tail-rows' });
  const detail = el('section', { id: 'tail-detail' });
  const curl = el('pre', { class: 'mono', hidden: true });
  const form = el('form', { id: 'tail-form' },
    filter.node,
    el('div', { class: 'fields' }, field('Start', el('div', { class: 'range' }, startKind, fromId, fromDate))),
    el('div', { class: 'actions' }, start, pause, stop, el('span', {}, 'State: ', state), el('span', {}, 'Received: ', counter), el('span', {}, 'Last id: ', lastId)));
  const list = el('div', { class: 'table-wrap' }, el('table', {},
    el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Id'), el('th', { scope: 'col' }, 'Time'), el('th', { scope: 'col' }, 'Identifier'))), rows));
  fill(view, el('h2', {}, 'Live tail'), form, curl, el('div', { class: 'split' }, el('section', { 'aria-label': 'Received notifications' }, list), detail));

  let stream = null;
  let received = 0;
  let lastSequence = 0;
  let paused = false;

  const setState = (name, detailText) => {
    fill(state, badge(name), detailText ? el('span', { class: 'muted' }, ` ${detailText}`) : null);
  };

  const addRow = (cells, event) => {
    const row = el('tr', event ? { dataset: { id: event.id } } : {}, cells);
    if (event) {
      row.tabIndex = 0;
      row.addEventListener('click', () => fill(detail, el('h3', {}, event.id), json(event)));
      row.addEventListener('keydown', (key) => { if (key.key === 'Enter') row.click(); });
    }
    rows.prepend(row);
    while (rows.children.length > MAX_ROWS) rows.lastElementChild.remove();
  };

  const onFrame = (frame) => {
    if (NOTIFICATION_FRAMES.has(frame.event) && frame.id) {
      const sequence = sequenceOf(frame.id);
      // The server never repeats one; should a proxy replay bytes, do not count it twice.
      if (sequence <= lastSequence) return;
      lastSequence = sequence;
      let event;
      try { event = JSON.parse(frame.data); } catch { return; }
      received += 1;
      counter.textContent = received.toLocaleString();
      lastId.textContent = frame.id;
      const identifier = (event.data && event.data.identifier) || {};
      addRow([
        el('td', { class: 'mono' }, event.id),
        el('td', {}, time(event.time)),
        el('td', { class: 'mono' }, Object.entries(identifier).map(([k, v]) => `${k}=${v}`).join(' ')),
      ], event);
    } else if (frame.event === 'notification-deleted' || frame.event === 'stream-wiped' || frame.event === 'error') {
      let data = {};
      try { data = JSON.parse(frame.data); } catch { data = {}; }
      const text = frame.event === 'notification-deleted' ? `${data.id} deleted`
        : frame.event === 'stream-wiped' ? `stream ${data.stream} wiped (${data.count} removed)`
          : `server: ${data.error || 'error'}; resuming after ${lastId.textContent}`;
      addRow([el('td', { colspan: 3, class: 'muted' }, text)]);
    }
  };

  const onState = (name, detailValue) => {
    if (name === 'error') {
      showError(detailValue, 'Live tail');
      return;
    }
    if (name === 'reconnecting') setState('reconnecting', `in ${Math.round(detailValue.delayMs / 100) / 10} s, after ${detailValue.lastEventId || 'the start'}`);
    else if (name === 'open') setState('live');
    else if (name === 'connecting') setState('connecting');
    else if (name === 'closed') {
      setState(paused ? 'paused' : 'closed');
      if (!paused) {
        start.disabled = false;
        pause.disabled = true;
        stop.disabled = true;
      }
    }
  };

  const query = () => {
    const pairs = filter.form().queryPairs();
    if (startKind.value === 'id' && fromId.value.trim()) pairs.push(['from_id', fromId.value.trim()]);
    const date = localToRfc3339(fromDate.value);
    if (startKind.value === 'date' && date) pairs.push(['from_date', date]);
    return pairs;
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (stream) stream.stop();
    received = 0;
    lastSequence = 0;
    paused = false;
    counter.textContent = '0';
    lastId.textContent = '—';
    rows.replaceChildren();
    const path = `/api/v1/watch/${segment(filter.eventType())}`;
    const pairs = query();
    curl.textContent = `${curlFor('GET', path, { query: pairs })} -N`;
    curl.hidden = false;
    stream = new EventStream(path, pairs, { onFrame, onState });
    stream.start(null);
    start.disabled = true;
    pause.disabled = false;
    stop.disabled = false;
    pause.textContent = 'Pause';
  });

  pause.addEventListener('click', () => {
    if (!stream) return;
    if (!paused) {
      paused = true;
      stream.stop();
      setState('paused', `after ${stream.lastEventId || 'the start'}`);
      pause.textContent = 'Resume';
    } else {
      paused = false;
      pause.textContent = 'Pause';
      stream.start(stream.lastEventId);
    }
  });

  stop.addEventListener('click', () => {
    paused = false;
    if (stream) stream.stop();
    stream = null;
    setState('closed');
    start.disabled = false;
    pause.disabled = true;
    stop.disabled = true;
    pause.textContent = 'Pause';
  });

  return () => {
    if (stream) stream.stop();
  };
}
