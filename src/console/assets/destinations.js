// Destinations (push delivery): the list; a new one with subscriptions made by the same
// schema-driven filter form as browse; one destination's settings, state, signing keys and
// test send. A signing secret is shown once, when it is made, and never again.

import { call, segment } from './api.js';
import { confirmAction } from './confirm.js';
import { typedFilter } from './filter_form.js';
import { badge, busy, copyButton, el, field, fill, json, pager, select, showInfo, table, time } from './ui.js';

/** `Name: value` lines as a headers object. */
function parseHeaders(text) {
  const headers = {};
  for (const line of text.split('\n').map((item) => item.trim()).filter(Boolean)) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`header line "${line}" has no "Name: value" form`);
    headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return headers;
}

/** `5s, 5m, 30m` as a schedule list. */
function parseSchedule(text) {
  return text.split(/[\s,]+/).map((item) => item.trim()).filter(Boolean);
}

function secretBox(secret, title) {
  return el('div', { class: 'secret', id: 'destination-secret', role: 'status' },
    el('strong', {}, title), el('p', {}, 'Shown only now: store it where the receiver can read it.'),
    el('p', { class: 'mono' }, secret), copyButton(secret, 'Copy secret'));
}

export async function render(view, context, [id]) {
  if (id) return renderOne(view, context, id);
  const list = el('section', { 'aria-live': 'polite', id: 'destinations-list' });
  const creator = el('section', { id: 'destination-create' });
  const newButton = el('button', { type: 'button', class: 'primary', id: 'destination-new' }, 'New destination');
  fill(view, el('h2', {}, 'Destinations'), el('div', { class: 'actions' }, newButton), creator, list);

  const load = async (cursor) => {
    const page = await call('GET', '/api/v1/destinations', { query: [['limit', '50'], ...(cursor ? [cursor] : [])] });
    fill(list, table([
      ['Name', (d) => el('a', { href: `#/destinations/${encodeURIComponent(d.id)}` }, d.name || d.id)],
      ['URL', (d) => el('span', { class: 'mono' }, d.url)],
      ['State', (d) => badge(d.state)],
      ['Subscriptions', (d) => d.subscriptions.map((s) => s.event_type).join(', ')],
      ['Ordering', (d) => d.ordering],
      ['Backlog', (d) => d.backlog, { num: true }],
      ['Created', (d) => time(d.created_at)],
    ], page.models, { empty: 'No destination yet.' }), pager(page.pagination, (next) => busy(null, () => load(next), 'Destinations')));
  };

  newButton.addEventListener('click', async () => {
    newButton.disabled = true;
    const schema = await context.schema();
    fill(creator, createForm(schema, async (made) => {
      fill(creator, secretBox(made.secret, `Destination ${made.name || made.id} created`),
        el('p', {}, el('a', { href: `#/destinations/${encodeURIComponent(made.id)}` }, 'Open it')));
      newButton.disabled = false;
      await load(null);
    }, () => { fill(creator); newButton.disabled = false; }));
  });
  await load(null);
}

function createForm(schema, created, cancelled) {
  const url = el('input', { id: 'destination-url', type: 'url', required: true, placeholder: 'https://receiver.example/hook', autocomplete: 'off' });
  const name = el('input', { id: 'destination-name', maxlength: 200, autocomplete: 'off' });
  const ordering = select(['unordered', 'ordered'], 'unordered', { id: 'destination-ordering' });
  const format = select(['structured', 'binary'], 'structured', { id: 'destination-format' });
  const timeout = el('input', { id: 'destination-timeout', placeholder: '15s', autocomplete: 'off' });
  const schedule = el('input', { id: 'destination-schedule', placeholder: '5s 5m 30m 2h 5h 10h 10h', autocomplete: 'off' });
  const headers = el('textarea', { id: 'destination-headers', rows: 2, placeholder: 'X-Team: ops', spellcheck: 'false' });
  const subscriptions = el('div', { id: 'destination-subscriptions' });
  const editors = [];
  const addSubscription = () => {
    const index = editors.length;
    const editor = typedFilter(schema, { idPrefix: `subscription-${index}` });
    editors.push(editor);
    subscriptions.append(el('fieldset', {}, el('legend', {}, `Subscription ${index + 1}`), editor.node));
  };
  addSubscription();
  const submit = el('button', { type: 'submit', class: 'primary', id: 'destination-create-submit' }, 'Create');
  const form = el('form', { id: 'destination-form' },
    el('h3', {}, 'New destination'),
    el('div', { class: 'fields' }, field('URL', url, { required: true }), field('Name', name), field('Ordering', ordering), field('Format', format),
      field('Timeout', timeout, { hint: '1s to 60s, default 15s' }), field('Retry schedule', schedule, { hint: 'delays, default shown' })),
    field('Headers', headers, { hint: 'one "Name: value" per line' }),
    subscriptions,
    el('div', { class: 'actions' },
      el('button', { type: 'button', onclick: addSubscription }, 'Add subscription'),
      submit, el('button', { type: 'button', onclick: cancelled }, 'Cancel')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(submit, async () => {
      const body = {
        url: url.value.trim(),
        ordering: ordering.value,
        format: format.value,
        subscriptions: editors.map((editor) => ({ event_type: editor.eventType(), identifier: editor.form().identifier() })),
      };
      if (name.value.trim()) body.name = name.value.trim();
      if (timeout.value.trim()) body.timeout = timeout.value.trim();
      if (schedule.value.trim()) body.retry = { schedule: parseSchedule(schedule.value) };
      if (headers.value.trim()) body.headers = parseHeaders(headers.value);
      const made = await call('POST', '/api/v1/destinations', { body });
      await created(made);
    }, 'Create destination');
  });
  return form;
}

async function renderOne(view, context, id) {
  const path = `/api/v1/destinations/${segment(id)}`;
  const destination = await call('GET', path);
  const notice = el('div', { id: 'destination-notice' });
  const result = el('section', { id: 'destination-result', 'aria-live': 'polite' });

  const name = el('input', { id: 'edit-name', value: destination.name || '', maxlength: 200 });
  const url = el('input', { id: 'edit-url', type: 'url', value: destination.url, required: true });
  const timeout = el('input', { id: 'edit-timeout', value: destination.timeout });
  const schedule = el('input', { id: 'edit-schedule', value: destination.retry.schedule.join(' ') });
  const save = el('button', { type: 'submit', class: 'primary' }, 'Save changes');
  const edit = el('form', { id: 'destination-edit' },
    el('h3', {}, 'Settings'),
    el('div', { class: 'fields' }, field('Name', name), field('URL', url, { required: true }), field('Timeout', timeout), field('Retry schedule', schedule)),
    el('div', { class: 'actions' }, save));
  edit.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(save, async () => {
      await call('PATCH', path, { body: { name: name.value.trim(), url: url.value.trim(), timeout: timeout.value.trim(), retry: { schedule: parseSchedule(schedule.value) } } });
      showInfo('Saved');
      context.refresh();
    }, 'Save destination');
  });

  const enabled = destination.state === 'enabled';
  const toggle = el('button', { type: 'button', id: 'destination-toggle' }, enabled ? 'Disable' : 'Enable');
  toggle.addEventListener('click', () => busy(toggle, async () => {
    await call('POST', `${path}/${enabled ? 'disable' : 'enable'}`);
    showInfo(enabled ? 'Disabled: deliveries wait until it is enabled' : 'Enabled');
    context.refresh();
  }, enabled ? 'Disable' : 'Enable'));

  const grace = el('input', { id: 'rotate-grace', value: '24h', size: 6, 'aria-label': 'grace period of the old key' });
  const rotate = el('button', { type: 'button', id: 'destination-rotate' }, 'Rotate secret…');
  rotate.addEventListener('click', () => busy(rotate, async () => {
    const go = await confirmAction({ title: 'Rotate the signing secret?', facts: [['Old keys keep signing for', grace.value]], action: 'Rotate', danger: false });
    if (!go) return;
    const rotated = await call('POST', `${path}/rotate-secret`, { body: { grace: grace.value.trim() } });
    fill(notice, secretBox(rotated.secret, 'New signing secret'));
  }, 'Rotate secret'));

  const test = el('button', { type: 'button', id: 'destination-test' }, 'Send test event');
  test.addEventListener('click', () => busy(test, async () => {
    const attempt = await call('POST', `${path}/test`);
    fill(result, el('h3', {}, 'Test send'), el('p', {}, badge(attempt.status), ` ${attempt.response_status_code ?? attempt.error ?? ''} in ${attempt.duration_ms} ms`), json(attempt));
  }, 'Test send'));

  const remove = el('button', { type: 'button', class: 'danger', id: 'destination-delete' }, 'Delete…');
  remove.addEventListener('click', () => busy(remove, async () => {
    const preview = await call('DELETE', path, { query: [['dry_run', 'true']] });
    const go = await confirmAction({
      title: `Delete destination ${destination.name || destination.id}?`,
      facts: [['Open deliveries cancelled', preview.cancelled], ['Message', preview.message]],
      details: preview,
      typed: destination.name || destination.id,
      action: 'Delete',
    });
    if (!go) return;
    const done = await call('DELETE', path, { query: [['dry_run', 'false']] });
    showInfo(done.message);
    window.location.hash = '#/destinations';
  }, 'Delete destination'));

  fill(view,
    el('h2', {}, 'Destination ', el('span', { class: 'mono' }, destination.name || destination.id)),
    el('dl', { class: 'facts' },
      el('dt', {}, 'Id'), el('dd', { class: 'mono' }, destination.id),
      el('dt', {}, 'State'), el('dd', {}, badge(destination.state), destination.disabled_reason ? ` (${destination.disabled_reason})` : ''),
      el('dt', {}, 'Backlog'), el('dd', {}, String(destination.backlog)),
      el('dt', {}, 'Ordering, format'), el('dd', {}, `${destination.ordering}, ${destination.format}`),
      el('dt', {}, 'Signing keys'), el('dd', { class: 'mono' }, destination.secret_ids.join(' ')),
      el('dt', {}, 'Owner'), el('dd', {}, destination.owner || '—'),
      el('dt', {}, 'Updated'), el('dd', {}, time(destination.updated_at))),
    el('div', { class: 'actions' },
      el('a', { class: 'button', href: `#/deliveries/of/${encodeURIComponent(destination.id)}` }, 'Its deliveries'),
      toggle, test, el('span', {}, rotate, ' grace ', grace), remove),
    notice, result, edit,
    el('h3', {}, 'Subscriptions'), json(destination.subscriptions),
    destination.headers && Object.keys(destination.headers).length ? [el('h3', {}, 'Headers'), json(destination.headers)] : null);
}
