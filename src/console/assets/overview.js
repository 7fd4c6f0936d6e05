// Overview: instance readiness and NATS connection, and every stream with its event types,
// counts, bytes, first/last sequence and time and storage policy, refreshed every few
// seconds while the tab is visible.

import { call } from './api.js';
import { badge, el, fill, formatBytes, showError, table, time } from './ui.js';

const REFRESH_MS = 5000;

function policyText(policy) {
  if (!policy) return '—';
  const parts = [];
  if (policy.max_messages_per_subject) parts.push(`${policy.max_messages_per_subject} per subject`);
  if (policy.max_age_seconds) parts.push(`max age ${policy.max_age_seconds} s`);
  if (policy.max_messages) parts.push(`max ${policy.max_messages} messages`);
  if (policy.max_bytes) parts.push(`max ${formatBytes(policy.max_bytes)}`);
  parts.push(`${policy.replicas} replica${policy.replicas === 1 ? '' : 's'}`);
  if (policy.compression) parts.push('compressed');
  if (policy.duplicate_window_seconds) parts.push(`duplicate window ${policy.duplicate_window_seconds} s`);
  return parts.join(', ');
}

function streamsTable(streams) {
  return table([
    ['Stream', (s) => el('strong', {}, s.name)],
    ['Event types', (s) => s.event_types.map((type, index) => [index ? ', ' : '', el('a', { href: `#/browse/${encodeURIComponent(type)}` }, type)])],
    ['Messages', (s) => s.messages.toLocaleString(), { num: true }],
    ['Bytes', (s) => formatBytes(s.bytes), { num: true }],
    ['First seq', (s) => (s.messages ? s.first_sequence : '—'), { num: true }],
    ['Last seq', (s) => (s.messages ? s.last_sequence : '—'), { num: true }],
    ['First', (s) => time(s.first_time)],
    ['Last', (s) => time(s.last_time)],
    ['Policy', (s) => el('span', { class: 'muted' }, policyText(s.policy))],
  ], streams, { empty: 'The schema defines no streams.' });
}

export async function render(view, context) {
  const cards = el('div', { class: 'cards' });
  const streams = el('section', { 'aria-labelledby': 'streams-title' });
  const stamp = el('p', { class: 'muted', 'aria-live': 'off' });
  fill(view, el('h2', {}, 'Overview'), cards, el('h3', { id: 'streams-title' }, 'Streams'), streams, stamp);

  const refresh = async () => {
    const [ready, schema, overview] = await Promise.all([
      fetch(new URL('../ready', window.location.href), { cache: 'no-store' })
        .then((response) => response.json().then((body) => ({ ok: response.ok, body })))
        .catch(() => ({ ok: false, body: { status: 'unreachable', backend_connected: false } })),
      context.schema().catch(() => null),
      context.admin ? call('GET', '/api/v1/admin/streams').catch((error) => ({ error })) : Promise.resolve(null),
    ]);
    const types = schema ? schema.event_types : [];
    fill(cards,
      card('Instance', badge(ready.ok ? 'ready' : String(ready.body.status || 'not ready'))),
      card('NATS connection', badge(ready.body.backend_connected ? 'ok' : 'error'), ready.body.backend_connected ? 'connected' : 'not connected'),
      card('Event types', String(types.length)),
      overview && overview.streams ? card('Notifications', overview.streams.reduce((sum, s) => sum + s.messages, 0).toLocaleString()) : null);
    if (overview && overview.streams) {
      fill(streams, streamsTable(overview.streams));
    } else if (overview && overview.error) {
      fill(streams);
      showError(overview.error, 'Stream overview');
    } else {
      fill(streams,
        el('p', { class: 'muted' }, 'Stream statistics need admin rights. Event types you can browse:'),
        el('ul', {}, types.map((type) => el('li', {}, el('a', { href: `#/browse/${encodeURIComponent(type)}` }, type)))));
    }
    stamp.textContent = `Updated ${new Date().toLocaleTimeString()}; refreshed every ${REFRESH_MS / 1000} s.`;
  };

  await refresh();
  const timer = setInterval(() => {
    if (!document.hidden) refresh().catch((error) => showError(error, 'Refresh'));
  }, REFRESH_MS);
  return () => clearInterval(timer);
}

function card(label, value, note) {
  return el('div', { class: 'card' }, el('div', { class: 'label' }, label), el('div', { class: 'value' }, value), note ? el('div', { class: 'muted' }, note) : null);
}
