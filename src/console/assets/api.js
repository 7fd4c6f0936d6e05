// The one way the console talks to Tidings: the public API, with the session's bearer token
// as an Authorization header (never in a URL), JSON in and out, and errors that keep the
// server's message and request id.

const TOKEN_KEY = 'tidings.console.token';

/** The bearer token of this tab's session, if the user gave one. */
export const session = {
  token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  keep(token) {
    sessionStorage.setItem(TOKEN_KEY, token.trim());
  },
  forget() {
    sessionStorage.removeItem(TOKEN_KEY);
  },
};

/** A refused or failed call: the HTTP status, the server's code and message, its request id. */
export class ApiError extends Error {
  constructor(status, body, requestId) {
    const message = (body && (body.message || body.details || body.error)) || `HTTP ${status}`;
    super(message);
    this.status = status;
    this.code = body && (body.code || body.error) ? String(body.code || body.error) : null;
    this.requestId = requestId || (body && body.request_id) || null;
    this.body = body;
  }
}

/** The API's absolute URL for `path` (`/api/v1/...`), resolved against the console's own. */
export function apiUrl(path, query) {
  const url = new URL(`..${path}`, window.location.href);
  for (const [key, value] of query || []) url.searchParams.append(key, value);
  return url;
}

/** The request headers every call sends. */
export function authHeaders() {
  const token = session.token();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/**
 * Calls the API. `query` is a list of [key, value] pairs, `body` any JSON value.
 * Resolves to the parsed answer (or null without a body); rejects with an ApiError.
 */
export async function call(method, path, { query, body, signal } = {}) {
  const headers = { Accept: 'application/json', ...authHeaders() };
  const init = { method, headers, signal, cache: 'no-store', credentials: 'omit' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(apiUrl(path, query), init);
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiError(0, { message: `Tidings cannot be reached (${error.message})` }, null);
  }
  const requestId = response.headers.get('X-Request-ID');
  const text = await response.text();
  let parsed = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = { message: text.slice(0, 500) };
    }
  }
  if (!response.ok) {
    const error = new ApiError(response.status, parsed, requestId);
    for (const listener of failureListeners) listener(error);
    throw error;
  }
  return parsed;
}

const failureListeners = new Set();

/** Called with every ApiError (the shell asks for a token on a 401). */
export function onFailure(listener) {
  failureListeners.add(listener);
}

/** The curl command that makes the same call, with a $TOKEN placeholder when signed in. */
export function curlFor(method, path, { query, body } = {}) {
  const parts = ['curl -s'];
  if (method !== 'GET') parts.push(`-X ${method}`);
  parts.push(shellQuote(apiUrl(path, query).toString()));
  if (session.token()) parts.push(`-H "Authorization: Bearer $TOKEN"`);
  if (body !== undefined) {
    parts.push(`-H 'Content-Type: application/json'`);
    parts.push(`-d ${shellQuote(JSON.stringify(body))}`);
  }
  return parts.join(' ');
}

function shellQuote(text) {
  return `'${text.replaceAll("'", "'\\''")}'`;
}

/** A path segment for an id: escaped, but keeping the `@` and `:` of notification and delivery ids readable. */
export function segment(text) {
  return encodeURIComponent(text).replaceAll('%40', '@').replaceAll('%3A', ':');
}
