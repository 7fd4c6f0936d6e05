// Deliveries (push delivery): records by destination, status and event type, refreshed as
// outcomes arrive (the live outcome stream); one delivery with its attempt timeline (codes,
// durations, response bodies) and a retry; the failed view with retry and remove.

import { call, segment } from './api.js';
import { confirmAction } from './confirm.js';
import { EventStream } from './sse.js';
import { badge, busy, el, field, fill, json, pager, select, showInfo, table, time } from './ui.js';

const STATUSES = [['', '(any)'], 'pending', 'retrying', 'succeeded', 'failed', 'cancelled'];
const REFRESH_DEBOUNCE_MS = 400;

export async function render(view, context, [mode, argument]) {
  if (mode === 'one' && argument) return renderOne(view, argument);
  if (mode === 'failed') return renderFailed(view, argument);
  return renderList(view, context, mode === 'of' ? argument : '');
}

function tabs(current) {
  return el('div', { class: 'actions' },
    el('a', { class: 'button', href: '#/deliveries', 'aria-current': current === 'all' ? 'page' : null }, 'All deliveries'),
    el('a', { class: 'button', href: '#/deliveries/failed', 'aria-current': current === 'failed' ? 'page' : null }, 'Failed view'));
}

async function retry(id, button) {
  return busy(button, async () => {
    const answer = await call('POST', `/api/v1/deliveries/${segment(id)}/retry`);
    showInfo(answer.message || `Retry of ${id} queued`);
  }, `Retry ${id}`);
}

async function renderList(view, context, destinationId) {
  const schema = await context.schema().catch(() => ({ event_types: [] }));
  const destination = el('input', { id: 'deliveries-destination', value: destinationId, placeholder: 'dst_…', autocomplete: 'off' });
  const status = select(STATUSES, '', { id: 'deliveries-status' });
  const eventType = select([['', '(any)'], ...schema.event_types], '', { id: 'deliveries-event-type' });
  const show = el('button', { type: 'submit', class: 'primary' }, 'Show');
  const live = el('span', { id: 'deliveries-live', class: 'muted' });
  const results = el('section', { id: 'deliveries-results', 'aria-live': 'polite' });
  const form = el('form', { id: 'deliveries-form' },
    el('div', { class: 'fields' }, field('Destination id', destination, { hint: 'empty: all you may see' }), field('Status', status), field('Event type', eventType)),
    el('div', { class: 'actions' }, show, live));
  fill(view, el('h2', {}, 'Deliveries'), tabs('all'), form, results);

  let cursor = null;
  const load = async (nextCursor = cursor) => {
    cursor = nextCursor;
    const query = [['limit', '50']];
    if (destination.value.trim()) query.push(['destination_id', destination.value.trim()]);
    if (status.value) query.push(['status', status.value]);
    if (eventType.value) query.push(['event_type', eventType.value]);
    if (cursor) query.push(cursor);
    const page = await call('GET', '/api/v1/deliveries', { query });
    fill(results, table([
      ['Delivery', (d) => el('a', { class: 'mono', href: `#/deliveries/one/${encodeURIComponent(d.id)}` }, d.notification_id)],
      ['Destination', (d) => el('a', { class: 'mono', href: `#/destinations/${encodeURIComponent(d.destination_id)}` }, d.destination_id)],
      ['Status', (d) => badge(d.status)],
      ['Attempts', (d) => d.attempts, { num: true }],
      ['Last code', (d) => d.last_response_status_code ?? '—', { num: true }],
      ['Last attempt', (d) => time(d.last_attempt_at)],
      ['Next attempt', (d) => time(d.next_attempt_at)],
      ['', (d) => el('button', { type: 'button', onclick: (event) => retry(d.id, event.target).then(() => load()) }, 'Retry')],
    ], page.models, { empty: 'No delivery matches.' }), pager(page.pagination, (next) => busy(null, () => load(next), 'Deliveries')));
  };

  // Outcomes as they happen: reload the page shortly after each (one reload per burst).
  let pending = null;
  const outcomes = new EventStream('/api/v1/deliveries/events', destinationId ? [['destination_id', destinationId]] : [], {
    onFrame: (frame) => {
      if (frame.event !== 'delivery-outcome' || pending) return;
      pending = setTimeout(() => {
        pending = null;
        load().catch(() => {});
      }, REFRESH_DEBOUNCE_MS);
    },
    onState: (name) => {
      live.textContent = name === 'open' ? 'following outcomes live' : name === 'error' ? 'live outcomes unavailable' : '';
    },
  });
  outcomes.start(null);

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(show, () => load(null), 'Deliveries');
  });
  await load(null);
  return () => {
    outcomes.stop();
    if (pending) clearTimeout(pending);
  };
}

async function renderOne(view, id) {
  const encoded = segment(id);
  const [delivery, attempts] = await Promise.all([
    call('GET', `/api/v1/deliveries/${encoded}`),
    call('GET', `/api/v1/deliveries/${encoded}/attempts`, { query: [['limit', '1000']] }).catch(() => ({ models: [] })),
  ]);
  const retryButton = el('button', { type: 'button', class: 'primary', id: 'delivery-retry' }, 'Retry now');
  retryButton.addEventListener('click', () => retry(id, retryButton).then(() => setTimeout(() => window.dispatchEvent(new HashChangeEvent('hashchange')), 800)));
  const terminal = ['succeeded', 'failed', 'cancelled'].includes(delivery.status);
  const forget = terminal ? el('button', { type: 'button', class: 'danger', id: 'delivery-forget' }, 'Delete history…') : null;
  if (forget) {
    forget.addEventListener('click', () => busy(forget, async () => {
      const request = (dryRun) => call('DELETE', '/api/v1/deliveries/history', { query: [['dry_run', String(dryRun)]], body: { ids: [id] } });
      const preview = await request(true);
      const go = await confirmAction({ title: `Delete the history of ${id}?`, facts: [['Message', preview.message], ['The notification', 'stays (only the record goes)']], details: preview, action: 'Delete history' });
      if (!go) return;
      const done = await request(false);
      showInfo(done.message);
      window.location.hash = `#/deliveries/of/${encodeURIComponent(delivery.destination_id)}`;
    }, 'Delete history'));
  }
  const timeline = attempts.models.length
    ? el('ol', { class: 'timeline', id: 'delivery-attempts' }, attempts.models.map((attempt) => el('li', { class: attempt.status === 'success' ? 'success' : 'failure' },
      el('div', {}, el('strong', {}, `Attempt ${attempt.attempt}`), ' ', badge(attempt.status), ` ${attempt.trigger} · `, time(attempt.delivered_at),
        ` · ${attempt.response_status_code ?? 'no response'} · ${attempt.duration_ms} ms`, attempt.error ? ` · ${attempt.error}` : ''),
      attempt.response_body ? el('details', {}, el('summary', {}, `Response body${attempt.response_body_truncated ? ' (truncated)' : ''}`), el('pre', { class: 'mono' }, attempt.response_body)) : null)))
    : el('p', { class: 'empty' }, 'No attempt yet.');
  fill(view,
    el('h2', {}, 'Delivery ', el('span', { class: 'mono' }, delivery.notification_id)),
    tabs(''),
    el('dl', { class: 'facts' },
      el('dt', {}, 'Id'), el('dd', { class: 'mono' }, delivery.id),
      el('dt', {}, 'Status'), el('dd', { id: 'delivery-status' }, badge(delivery.status)),
      el('dt', {}, 'Destination'), el('dd', {}, el('a', { class: 'mono', href: `#/destinations/${encodeURIComponent(delivery.destination_id)}` }, delivery.destination_id)),
      el('dt', {}, 'Notification'), el('dd', {}, el('span', { class: 'mono' }, delivery.notification_id), ' ', time(delivery.notification_time)),
      el('dt', {}, 'Next attempt'), el('dd', {}, time(delivery.next_attempt_at)),
      el('dt', {}, 'Succeeded'), el('dd', {}, time(delivery.succeeded_at))),
    el('div', { class: 'actions' }, retryButton, forget),
    el('h3', {}, 'Attempts'), timeline);
}

async function renderFailed(view, destinationId) {
  const results = el('section', { id: 'failed-results', 'aria-live': 'polite' });
  fill(view, el('h2', {}, 'Failed view'), tabs('failed'),
    el('p', { class: 'muted' }, 'Every delivery that failed at least once stays here, with where it stands now, until removed.'), results);
  const load = async (cursor) => {
    const query = [['limit', '50']];
    if (destinationId) query.push(['destination_id', destinationId]);
    if (cursor) query.push(cursor);
    const page = await call('GET', '/api/v1/failed-deliveries', { query });
    fill(results, table([
      ['Delivery', (f) => el('a', { class: 'mono', href: `#/deliveries/one/${encodeURIComponent(f.delivery_id)}` }, f.delivery_id)],
      ['Now', (f) => badge(f.status)],
      ['Failures', (f) => f.failure_count, { num: true }],
      ['Last error', (f) => f.last_error || f.last_response_status_code || '—'],
      ['First failed', (f) => time(f.first_failed_at)],
      ['', (f) => [
        el('button', { type: 'button', onclick: (event) => retry(f.delivery_id, event.target).then(() => load(cursor)) }, 'Retry'), ' ',
        el('button', {
          type: 'button',
          onclick: (event) => busy(event.target, async () => {
            await call('DELETE', `/api/v1/failed-deliveries/${segment(f.delivery_id)}`);
            showInfo(`${f.delivery_id} removed from the failed view (the delivery stays)`);
            await load(cursor);
          }, 'Remove'),
        }, 'Remove')]],
    ], page.models, { empty: 'Nothing has failed.' }), pager(page.pagination, (next) => busy(null, () => load(next), 'Failed view')));
  };
  await load(null);
}
