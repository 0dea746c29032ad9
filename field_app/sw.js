/* The field app's service worker: the shell from its cache (so the app opens without a
   connection), and the person's data (who they are, their tasks, the taxonomy, their grids)
   from the network when there is one, else from the last answer kept. Reports and steps are not
   sent from here: the page keeps them in IndexedDB and sends them, each with its idempotency key,
   when the connection returns (app.js). */
'use strict';

const VERSION = '__VERSION__';
const SHELL = __SHELL__;
const SHELL_CACHE = 'field-shell-' + VERSION;
const DATA_CACHE = 'field-data';
// the answers a person needs on the street; anything else under /api/ goes to the network only
const KEPT = [/^\/api\/v1\/(me|taxonomy|tasks|grids)$/, /^\/api\/v1\/cases\/\d+$/, /^\/m\/config\.json$/];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(SHELL_CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((n) => n.startsWith('field-shell-') && n !== SHELL_CACHE)
        .map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

async function shellFirst(request) {
  const cache = await caches.open(SHELL_CACHE);
  const kept = await cache.match(request, { ignoreSearch: true });
  if (kept) return kept;
  return fetch(request);
}

async function pageOrShell(request) {
  try {
    const answer = await fetch(request);
    if (answer.ok) (await caches.open(SHELL_CACHE)).put('/m/', answer.clone());
    return answer;
  } catch (offline) {
    const kept = await caches.match('/m/');
    if (kept) return kept;
    throw offline;
  }
}

async function networkThenKept(request, url) {
  const cache = await caches.open(DATA_CACHE);
  // the tasks asked from another place are still the person's tasks: one entry, whatever the query
  const key = url.pathname === '/api/v1/tasks' ? '/api/v1/tasks' : request;
  try {
    const answer = await fetch(request);
    if (answer.ok) await cache.put(key, answer.clone());
    return answer;
  } catch (offline) {
    const kept = await cache.match(key);
    if (!kept) throw offline;
    const headers = new Headers(kept.headers);
    headers.set('X-Field-Offline', kept.headers.get('date') || 'kept');
    return new Response(await kept.blob(), { status: kept.status, headers });
  }
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === 'navigate' && url.pathname.startsWith('/m/')) {
    event.respondWith(pageOrShell(request));
  } else if (url.pathname.startsWith('/m/static/') || url.pathname === '/m/manifest.webmanifest') {
    event.respondWith(shellFirst(request));
  } else if (KEPT.some((pattern) => pattern.test(url.pathname))) {
    event.respondWith(networkThenKept(request, url));
  }
});

self.addEventListener('message', (event) => {
  // a person logs out: what was kept for them goes
  if (event.data === 'forget') event.waitUntil(caches.delete(DATA_CACHE));
});
