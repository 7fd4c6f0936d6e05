// The console's shell: pages by URL fragment (#/browse, #/deliveries/<id>), the session's
// token, and what the caller may do (admin pages are hidden for non-admins; the server
// refuses them anyway).

import { call, onFailure, session } from './api.js';
import { clearMessages, el, fill, showError } from './ui.js';
import * as overview from './overview.js';
import * as browse from './browse.js';
import * as tail from './tail.js';
import * as admin from './admin.js';
import * as audit from './audit.js';
import * as destinations from './destinations.js';
import * as deliveries from './deliveries.js';

const PAGES = { overview, browse, tail, admin, audit, destinations, deliveries };

/** What every page may read: who the caller is, and the schema (fetched once). */
const context = {
  /** true, false, or null while unknown. */
  admin: null,
  /** The server asked for credentials. */
  needsToken: false,
  schemaPromise: null,
  schema() {
    if (!this.schemaPromise) {
      this.schemaPromise = call('GET', '/api/v1/schema').catch((error) => {
        this.schemaPromise = null;
        throw error;
      });
    }
    return this.schemaPromise;
  },
  /** Re-renders the current page (after sign-in). */
  refresh: () => route(),
};

let leave = null;

async function route() {
  const hash = window.location.hash.replace(/^#\/?/, '') || 'overview';
  const [page, ...rest] = hash.split('/');
  const name = PAGES[page] ? page : 'overview';
  for (const link of document.querySelectorAll('#nav a')) {
    if (link.dataset.page === name) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (leave) leave();
  leave = null;
  clearMessages();
  // Each visit renders into its own container: a slow page finishing after the user moved
  // on writes into a detached node instead of over the page now shown.
  const view = el('div', { class: 'page' }, el('p', { class: 'muted' }, 'Loading…'));
  fill(document.getElementById('view'), view);
  const visit = ++visits;
  if (context.admin === null) await probeRights();
  try {
    const cleanup = await PAGES[name].render(view, context, rest.map(decodeURIComponent));
    if (typeof cleanup === 'function') {
      if (visit === visits) leave = cleanup;
      else cleanup();
    }
  } catch (error) {
    if (visit !== visits) return;
    fill(view);
    showError(error, `The ${name} page could not load`);
  }
}

let visits = 0;

/** Whether the caller may use the admin routes: the stream overview answers 200 to admins. */
async function probeRights() {
  try {
    await call('GET', '/api/v1/admin/streams');
    context.admin = true;
  } catch (error) {
    context.admin = false;
    if (error.status === 401) context.needsToken = true;
  }
  for (const item of document.querySelectorAll('[data-admin]')) item.hidden = !context.admin;
  showSession();
}

/** The signed-in name, read from the token's claims for display only (the server checks it). */
function tokenName(token) {
  try {
    const payload = token.split('.')[1].replaceAll('-', '+').replaceAll('_', '/');
    const claims = JSON.parse(atob(payload));
    return claims.username || claims.sub || 'token';
  } catch {
    return 'token';
  }
}

function showSession() {
  const token = session.token();
  const who = document.getElementById('who');
  who.textContent = token
    ? `${tokenName(token)}${context.admin ? ' (admin)' : ''}`
    : context.needsToken ? 'sign-in needed' : context.admin ? 'local admin (auth off)' : '';
  document.getElementById('sign-in').hidden = Boolean(token);
  document.getElementById('sign-out').hidden = !token;
}

function askForToken() {
  const dialog = document.getElementById('token-dialog');
  const input = document.getElementById('token-input');
  input.value = '';
  dialog.returnValue = '';
  dialog.showModal();
  input.focus();
}

function wire() {
  const dialog = document.getElementById('token-dialog');
  dialog.addEventListener('close', () => {
    const token = document.getElementById('token-input').value.trim();
    document.getElementById('token-input').value = '';
    if (dialog.returnValue !== 'save' || !token) return;
    session.keep(token);
    context.admin = null;
    context.needsToken = false;
    route();
  });
  document.getElementById('sign-in').addEventListener('click', askForToken);
  document.getElementById('sign-out').addEventListener('click', () => {
    session.forget();
    context.admin = null;
    context.needsToken = false;
    route();
  });
  onFailure((error) => {
    if (error.status === 401 && !context.needsToken) {
      context.needsToken = true;
      showSession();
    }
  });
  window.addEventListener('hashchange', route);
}

wire();
route();
