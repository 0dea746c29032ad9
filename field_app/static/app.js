/* The field app (城管通 / 处置通): a client of gridcase's JSON API for supervisors and department
   handlers on their phones.

   Every report and step goes through the outbox, an IndexedDB store, online or not: it is kept
   with an idempotency key made on the device and sent when there is a connection, so a report
   made in an underpass is sent once when the signal returns, and sending it again (an answer
   lost on the way) changes nothing. A step carries the time it was made on the device
   (`made_at`); the server records it beside the arrival and refuses one from the future or older
   than the profile allows. A step whose case changed meanwhile comes back as a conflict (the
   version it was made on is stale) and is shown with what happened, having changed nothing.

   Text from the server is put in the page as text (textContent), never as markup. */
'use strict';

const API = '/api/v1';
const state = {
  me: null, config: null, taxonomy: null, csrf: localStorage.getItem('field.csrf') || '',
  tab: null, tasks: [], tasksKept: null, order: 'distance', position: null, grids: null,
  outside: false, draft: null, watch: null,
};

// -- small helpers ---------------------------------------------------------------------------

function h(tag, attrs, ...children) {
  const node = tag === 'svg' || attrs?.svg ? document.createElementNS('http://www.w3.org/2000/svg', tag) : document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (name === 'svg' || value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else if (name === 'text') node.textContent = value;
    else node.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svg(tag, attrs) { return h(tag, { ...attrs, svg: true }); }

function show(...nodes) {
  const view = document.getElementById('view');
  view.replaceChildren(...nodes.flat().filter((n) => n !== null && n !== undefined && n !== false));
}

function toast(text) {
  document.querySelectorAll('.toast').forEach((n) => n.remove());
  const node = h('div', { class: 'toast', role: 'status', text });
  document.body.append(node);
  setTimeout(() => node.remove(), 4000);
}

function key() {
  // crypto.randomUUID needs a secure context; getRandomValues does not
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return 'field-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function when(iso) {
  if (!iso) return '';
  const zone = state.config?.timezone || 'Asia/Shanghai';
  return new Intl.DateTimeFormat('zh-CN', {
    timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false,
  }).format(new Date(iso)).replace(/\//g, '-');
}

function today() {
  const zone = state.config?.timezone || 'Asia/Shanghai';
  return new Intl.DateTimeFormat('en-CA', { timeZone: zone }).format(new Date());
}

function metres(m) { return m >= 1000 ? (m / 1000).toFixed(1) + ' 公里' : Math.round(m) + ' 米'; }

function left(deadline) {
  if (!deadline) return '无时限';
  const minutes = Math.round((new Date(deadline) - Date.now()) / 60000);
  const span = (m) => (m >= 1440 ? Math.floor(m / 1440) + '天' : '') + (m % 1440 >= 60 ? Math.floor((m % 1440) / 60) + '小时' : '') + (m < 60 ? m + '分' : '');
  return minutes >= 0 ? '剩 ' + span(minutes) : '超时 ' + span(-minutes);
}

function roles() { return new Set(state.me?.roles || []); }
function isSupervisor() { return roles().has('supervisor'); }
function isHandler() { return roles().has('department'); }
function stateName(workflow, code) { return state.config?.workflows?.[workflow]?.states?.[code] || code; }
function stepName(code) {
  for (const w of Object.values(state.config?.workflows || {})) if (w.transitions[code]) return w.transitions[code];
  return code;
}
function stateNameAny(code) {
  for (const w of Object.values(state.config?.workflows || {})) if (w.states[code]) return w.states[code];
  return code;
}

// -- the JSON API ----------------------------------------------------------------------------

async function api(path, options = {}) {
  const headers = { ...(options.headers || {}) };
  if (options.method && options.method !== 'GET') headers['X-CSRF-Token'] = state.csrf;
  if (options.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    options.body = JSON.stringify(options.json);
  }
  const answer = await fetch(path, { method: options.method || 'GET', headers, body: options.body, credentials: 'same-origin' });
  let body = null;
  try { body = await answer.json(); } catch (notJson) { body = null; }
  return { status: answer.status, ok: answer.ok, body, kept: answer.headers.get('X-Field-Offline') };
}

const MESSAGES = {
  device_time_future: (d) => `设备时间（${when(d.made_at)}）比服务器时间（${when(d.now)}）还晚：请校准手机时间后重新办理。`,
  device_time_too_old: (d) => `设备时间（${when(d.made_at)}）早于服务器时间（${when(d.now)}）超过本市允许的离线时长（${span(d.max_age)}）：未被受理，请重新办理。`,
  conflict: () => '案件在你离线期间已有变化，此操作未执行。',
  illegal_transition: () => '案件当前状态下不能办理此操作。',
  forbidden: () => '你无权办理这个案件。',
  csrf: () => '登录已失效，请重新登录。',
  unauthorized: () => '登录已失效，请重新登录。',
  out_of_grid: () => '这个位置不在你负责的网格内（越界）。',
  evidence_too_large: () => '照片超过本市的大小限制。',
  invalid_evidence: () => '照片文件无法识别。',
  missing_requirements: () => '缺少必填内容（照片、原因或字段）。',
  invalid_field: (d) => `填写有误${d.field ? '（' + (FIELDS[d.field] || '内容') + '）' : ''}。`,
  rate_limited: () => '提交过于频繁，请稍后再试。',
};

// the fields a step's refusal may name, as the person filled them in
const FIELDS = {
  units: '单位', reason: '原因', amount: '延期时长', category: '类别', kind: '类别', point: '位置',
  description: '描述', address: '地址', made_at: '设备时间', version: '案件版本', item: '巡查事项',
};

function span(duration) {
  // '8 hour' in the city's own words: '8 小时'
  const [value, unit] = String(duration || '').split(' ');
  const name = (state.config?.time_units || []).find((u) => u.code === unit)?.name;
  return name ? `${value} ${name}` : duration;
}

function message(body, status) {
  const error = body?.error;
  if (!error) return `服务器错误（${status}），稍后会重试。`;
  const say = MESSAGES[error.code];
  if (say) return say(error.details || {});
  // the server's own words only when they are Chinese: an English engine message stays off the screen
  return /[\u4e00-\u9fff]/.test(error.message || '') ? `服务器拒绝了此操作：${error.message}` : '服务器拒绝了此操作。';
}

// -- the outbox (IndexedDB) ------------------------------------------------------------------

let dbPromise = null;
function db() {
  dbPromise ||= new Promise((resolve, reject) => {
    const request = indexedDB.open('gridcase-field', 1);
    request.onupgradeneeded = () => {
      const d = request.result;
      d.createObjectStore('outbox', { keyPath: 'key' });
      d.createObjectStore('track', { autoIncrement: true }).createIndex('day', 'day');
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  return dbPromise;
}

async function store(name, mode, work) {
  const d = await db();
  return new Promise((resolve, reject) => {
    const t = d.transaction(name, mode);
    const request = work(t.objectStore(name));
    t.oncomplete = () => resolve(request?.result);
    t.onerror = () => reject(t.error);
  });
}

const KEEP_SENT = 24 * 3600 * 1000; // what was sent stays a day on the phone, photos and all

const outbox = {
  put: (item) => store('outbox', 'readwrite', (s) => s.put(item)),
  async prune() {
    const old = (await outbox.all()).filter((i) => i.status === 'sent' && Date.now() - Date.parse(i.sent_at) > KEEP_SENT);
    for (const item of old) await store('outbox', 'readwrite', (s) => s.delete(item.key));
    // the days before yesterday's points, once they reached the centre (or it refused them)
    const before = new Intl.DateTimeFormat('en-CA', { timeZone: state.config?.timezone || 'Asia/Shanghai' }).format(new Date(Date.now() - KEEP_SENT));
    const days = IDBKeyRange.upperBound(before, true);
    for (const { key: k } of await trackWhere((p) => p.sent, days)) await store('track', 'readwrite', (s) => s.delete(k));
  },
  async all() {
    const items = (await store('outbox', 'readonly', (s) => s.getAll())) || [];
    return items.filter((i) => i.person === state.me?.id).sort((a, b) => a.seq - b.seq);
  },
  async add(item) {
    const full = { key: key(), person: state.me.id, seq: Date.now() + Math.random(), status: 'pending', created: new Date().toISOString(), ...item };
    await outbox.put(full);
    await badge();
    sync();
    return full;
  },
};

async function badge() {
  const items = await outbox.all();
  const pending = items.filter((i) => i.status === 'pending').length;
  const troubled = items.filter((i) => i.status === 'conflict' || i.status === 'refused').length;
  const button = document.getElementById('sync');
  button.hidden = !state.me;
  document.getElementById('pending').textContent = String(pending) + (troubled ? ` · ${troubled} 需处理` : '');
}

// A round cut short (no connection after all, the server busy) is tried again by itself, soon at
// first and then less often: the 'online' event is not sent when a weak signal drops a request,
// and a handler's phone has no other round to wait for.
const LOGGED_OUT = '登录已失效：请重新登录，待发送的内容会保留。';
const RETRY_FIRST = 3000;
const RETRY_MOST = 60000;
let retry = null;
let retryWait = RETRY_FIRST;
function retryLater() {
  if (retry) return;
  retry = setTimeout(() => { retry = null; sync(); }, retryWait);
  retryWait = Math.min(retryWait * 2, RETRY_MOST);
}

function stopRetrying() {
  clearTimeout(retry);
  retry = null;
  retryWait = RETRY_FIRST;
}

let syncing = null;
let again = false;
function sync() {
  if (syncing) {
    again = true; // something queued while sending: one more round after this one
    return syncing;
  }
  // a round that failed on its way (the connection lost while settling) was cut short too
  syncing = sendAll().catch(() => true).then((cutShort) => {
    if (cutShort) retryLater();
    else stopRetrying();
  }).finally(() => {
    syncing = null;
    if (again) {
      again = false;
      sync();
    }
    badge();
    if (state.tab === 'outbox') renderOutbox();
    if (state.tab === 'tasks') loadTasks();
  });
  return syncing;
}

// true when the round was cut short and what is left should be tried again
async function sendAll() {
  if (!state.me || !navigator.onLine) return false; // the 'online' event starts the next round
  for (const item of await outbox.all()) {
    if (item.status !== 'pending') continue;
    if (item.after) {
      const first = (await outbox.all()).find((i) => i.key === item.after);
      if (first && first.status === 'pending') continue;
      if (!first || first.status !== 'sent') {
        await outbox.put({ ...item, status: 'refused', message: '所依附的上报未被受理，此操作未发送。' });
        continue;
      }
      item.case_id = first.result.case_id;
      item.number = first.result.number;
    }
    let answer;
    try {
      answer = await send(item);
    } catch (offline) {
      return true; // no connection after all: the rest wait for the next round
    }
    if (answer.status === 401 || (answer.status === 403 && answer.body?.error?.code === 'csrf')) {
      alertBar(LOGGED_OUT);
      return false; // nothing goes until the person logs in again
    }
    if (answer.status >= 500 || answer.status === 429) return true;
    await settle(item, answer);
  }
  try {
    return !(await sendTrack());
  } catch (offline) {
    return true; // the points wait on the phone
  }
}

// -- the day's track to the centre: the points kept on the phone, a batch at a time -----------

const TRACK_BATCH = 200;

async function trackWhere(test, range, most = Infinity) {
  // the person's points that pass `test`, with their keys (the store has no key path)
  const d = await db();
  return new Promise((resolve, reject) => {
    const found = [];
    const t = d.transaction('track', 'readonly');
    const source = range ? t.objectStore('track').index('day') : t.objectStore('track');
    source.openCursor(range).onsuccess = (event) => {
      const cursor = event.target.result;
      if (!cursor || found.length >= most) return;
      if (cursor.value.person === state.me?.id && test(cursor.value)) found.push({ key: cursor.primaryKey, point: cursor.value });
      cursor.continue();
    };
    t.oncomplete = () => resolve(found);
    t.onerror = () => reject(t.error);
  });
}

// false when the round was cut short (the server busy) and the points should be sent again soon
async function sendTrack() {
  if (!isSupervisor()) return true;
  for (;;) {
    const batch = await trackWhere((p) => !p.sent, null, TRACK_BATCH);
    if (!batch.length) return true;
    const points = batch.map(({ point: p }) => ({ made_at: p.at, lon: p.lon, lat: p.lat, accuracy: p.accuracy ?? null }));
    const answer = await api(`${API}/track`, { method: 'POST', json: { points } });
    if (answer.status === 401) alertBar(LOGGED_OUT);
    // the server busy: this round is cut short; logged out: the points wait for the login
    if (!answer.ok) return answer.status < 500 && answer.status !== 429;
    // a point the centre refused (a fix from a wrong clock) is not sent again: it never will be taken
    const refused = new Map(answer.body.refused.map((r) => [r.index, r.message]));
    await store('track', 'readwrite', (s) => {
      batch.forEach(({ key: k, point }, i) => s.put({ ...point, sent: refused.has(i) ? 'refused' : 'sent', message: refused.get(i) }, k));
    });
    if (batch.length < TRACK_BATCH) return true;
  }
}

async function send(item) {
  const form = new FormData();
  for (const photo of item.photos || []) form.append(photo.phase || 'photo', photo.blob, photo.name);
  let path;
  if (item.kind === 'report') {
    form.append('report', JSON.stringify(item.body));
    path = API + '/cases';
  } else {
    const body = { payload: item.payload || {}, reason: item.reason || null, made_at: item.made_at };
    if (item.version) body.version = item.version;
    form.append('payload', JSON.stringify(body));
    path = `${API}/cases/${item.case_id}/transitions/${encodeURIComponent(item.code)}`;
  }
  const answer = await fetch(path, {
    method: 'POST', body: form, credentials: 'same-origin',
    headers: { 'Idempotency-Key': item.key, 'X-CSRF-Token': state.csrf },
  });
  let body = null;
  try { body = await answer.json(); } catch (notJson) { body = null; }
  return { status: answer.status, body };
}

async function settle(item, answer) {
  const done = { ...item, sent_at: new Date().toISOString() };
  if (answer.status === 200 || answer.status === 201) {
    const b = answer.body || {};
    done.status = 'sent';
    done.result = item.kind === 'report'
      ? { case_id: b.case_id, number: b.number, duplicate: b.duplicate }
      : { state: b.state, version: b.version };
    if (item.kind === 'report') done.number = b.number;
  } else if (answer.status === 409) {
    done.status = 'conflict';
    done.message = message(answer.body, answer.status);
    done.happened = await happenedSince(item);
  } else {
    done.status = 'refused';
    done.message = message(answer.body, answer.status);
  }
  await outbox.put(done);
}

async function happenedSince(item) {
  // the case's steps after the version the action was made on: what the person did not see
  const answer = await api(`${API}/cases/${item.case_id}`).catch(() => null);
  if (!answer?.ok) return [];
  const events = (answer.body.events || []).filter((e) => !item.version || e.seq > item.version);
  const now = { state: answer.body.state, name: stateNameAny(answer.body.state) };
  return [
    ...events.map((e) => ({ at: e.at, step: stepName(e.transition), reason: e.reason, to: stateNameAny(e.to_state) })),
    { now },
  ];
}

// -- photos: compressed on the device, with time and place on them ----------------------------

async function photo(file, label) {
  const limit = (state.config?.evidence_max_bytes || 10485760) - 2048;
  const bitmap = await createImageBitmap(file);
  const where = state.position;
  const stamp = [
    `${label} ${when(new Date().toISOString())}`,
    where ? `${where.lon.toFixed(5)}, ${where.lat.toFixed(5)} ±${Math.round(where.accuracy)}米` : '位置未知',
    `${state.config?.city || ''} ${state.me?.username || ''}`,
  ];
  let scale = Math.min(1, 1600 / Math.max(bitmap.width, bitmap.height));
  for (let attempt = 0; attempt < 8; attempt += 1) {
    const canvas = document.createElement('canvas');
    canvas.width = Math.max(1, Math.round(bitmap.width * scale));
    canvas.height = Math.max(1, Math.round(bitmap.height * scale));
    const ctx = canvas.getContext('2d');
    ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    const size = Math.max(12, Math.round(canvas.width / 40));
    ctx.fillStyle = 'rgba(0,0,0,.55)';
    ctx.fillRect(0, canvas.height - size * 3.9, canvas.width, size * 3.9);
    ctx.fillStyle = '#fff';
    ctx.font = `${size}px sans-serif`;
    stamp.forEach((line, i) => ctx.fillText(line, size / 2, canvas.height - size * (2.9 - i * 1.2)));
    for (const quality of [0.85, 0.7, 0.55, 0.4]) {
      const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', quality));
      if (blob && blob.size <= limit) {
        return { blob, name: `${label}.jpg`, size: blob.size, taken_at: new Date().toISOString(), where, url: URL.createObjectURL(blob) };
      }
    }
    scale *= 0.7;
  }
  throw new Error('照片无法压缩到本市的大小限制以内');
}

function camera(label, onPhoto, caption) {
  const input = h('input', { type: 'file', accept: 'image/*', capture: 'environment', 'aria-label': caption || label });
  input.addEventListener('change', async () => {
    const file = input.files[0];
    if (!file) return;
    try {
      onPhoto(await photo(file, label));
    } catch (error) {
      toast(error.message || '照片无法读取');
    }
    input.value = '';
  });
  return h('div', { class: 'btn block camera' }, caption || label, input);
}

// -- where the person is: the fix, the day's track and their grids (越界) -------------------------

function locate() {
  return new Promise((resolve) => {
    if (!navigator.geolocation) return resolve(null);
    navigator.geolocation.getCurrentPosition(
      (p) => resolve(place(p)),
      () => resolve(null),
      { enableHighAccuracy: true, timeout: 10000, maximumAge: 5000 },
    );
  });
}

function place(p) {
  state.position = { lon: p.coords.longitude, lat: p.coords.latitude, accuracy: p.coords.accuracy, at: new Date().toISOString() };
  record(state.position);
  return state.position;
}

function watch() {
  if (state.watch !== null || !navigator.geolocation) return;
  state.watch = navigator.geolocation.watchPosition((p) => {
    place(p);
    if (state.tab === 'patrol') renderPatrol();
  }, () => {}, { enableHighAccuracy: true, maximumAge: 10000 });
}

let lastKept = null;
async function record(point) {
  if (!isSupervisor()) return;
  checkGrids(point);
  if (lastKept && distance(lastKept, point) < 5 && Date.now() - lastKept.t < 30000) return;
  lastKept = { ...point, t: Date.now() };
  await store('track', 'readwrite', (s) => s.add({ day: today(), person: state.me.id, ...point }));
}

async function track() {
  const points = (await store('track', 'readonly', (s) => s.index('day').getAll(today()))) || [];
  return points.filter((p) => p.person === state.me.id);
}

function distance(a, b) {
  const r = Math.PI / 180;
  const dp = (b.lat - a.lat) * r;
  const dl = (b.lon - a.lon) * r;
  const x = Math.sin(dp / 2) ** 2 + Math.cos(a.lat * r) * Math.cos(b.lat * r) * Math.sin(dl / 2) ** 2;
  return 2 * 6371000 * Math.asin(Math.sqrt(Math.min(1, x)));
}

function rings(geometry) {
  if (geometry.type === 'Polygon') return [geometry.coordinates];
  if (geometry.type === 'MultiPolygon') return geometry.coordinates;
  return [];
}

function inside(point, polygon) {
  const inRing = (ring) => {
    let hit = false;
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i, i += 1) {
      const [xi, yi] = ring[i];
      const [xj, yj] = ring[j];
      if ((yi > point.lat) !== (yj > point.lat) && point.lon < ((xj - xi) * (point.lat - yi)) / (yj - yi) + xi) hit = !hit;
    }
    return hit;
  };
  return inRing(polygon[0]) && !polygon.slice(1).some(inRing);
}

async function loadGrids() {
  if (!isSupervisor() || !(state.me.grids || []).length) return;
  const query = state.me.grids.map((g) => 'code=' + encodeURIComponent(g)).join('&');
  const answer = await api(`${API}/grids?${query}`).catch(() => null);
  if (answer?.ok) state.grids = answer.body.features;
  if (state.position) checkGrids(state.position);
}

function checkGrids(point) {
  if (!state.grids || !state.grids.length) return;
  const outside = !state.grids.some((f) => rings(f.geometry).some((poly) => inside(point, poly)));
  if (outside && !state.outside && navigator.vibrate) navigator.vibrate(300);
  state.outside = outside;
  alertBar(outside ? '越界提醒：你已离开负责网格（' + state.grids.map((f) => f.properties.name || f.properties.code).join('、') + '）' : null, 'warn');
}

function alertBar(text, kind) {
  const bar = document.getElementById('alert');
  bar.hidden = !text;
  bar.className = 'alert' + (kind ? ' ' + kind : '');
  bar.textContent = text || '';
}

// -- screens ---------------------------------------------------------------------------------

function tabs() {
  const list = [];
  if (isSupervisor()) list.push(['report', '上报'], ['tasks', '任务'], ['patrol', '巡查']);
  else if (isHandler()) list.push(['tasks', '我的任务']);
  list.push(['outbox', '待发送']);
  const nav = document.getElementById('tabs');
  nav.hidden = false;
  nav.replaceChildren(...list.map(([code, name]) => h('button', {
    type: 'button', 'aria-current': state.tab === code ? 'page' : null, onclick: () => go(code),
  }, name)));
  return list;
}

function go(tab) {
  state.tab = tab;
  tabs();
  ({ report: renderReport, tasks: renderTasks, patrol: renderPatrol, outbox: renderOutbox })[tab]();
}

function renderLogin(problem) {
  document.getElementById('tabs').hidden = true;
  const user = h('input', { type: 'text', id: 'username', autocomplete: 'username', autocapitalize: 'off' });
  const pass = h('input', { type: 'password', id: 'password', autocomplete: 'current-password' });
  const error = h('p', { class: 'error', role: 'alert', text: problem || '' });
  const form = h('form', { class: 'card', onsubmit: async (event) => {
    event.preventDefault();
    if (!navigator.onLine) { error.textContent = '离线时不能登录：请在有信号处登录一次，之后离线也能用。'; return; }
    const answer = await api(`${API}/session`, { method: 'POST', json: { username: user.value, password: pass.value } }).catch(() => null);
    if (answer?.body?.error?.code === 'password_change_required') return renderNewPassword(user.value, pass.value);
    if (!answer?.ok) { error.textContent = answer?.status === 429 ? '尝试次数过多，请稍后再试。' : '用户名或密码不对。'; return; }
    loggedIn(answer.body);
  } },
  h('h2', { text: '登录' }),
  h('label', { class: 'field', for: 'username', text: '用户名' }), user,
  h('label', { class: 'field', for: 'password', text: '密码' }), pass,
  error,
  h('button', { class: 'btn primary block', type: 'submit' }, '登录'));
  show(form);
}

function loggedIn(session) {
  state.csrf = session.csrf_token;
  localStorage.setItem('field.csrf', state.csrf);
  start();
}

// a temporary password (an administrator's), right as it was typed: the person's own in its place
function renderNewPassword(username, temporary) {
  const fresh = h('input', { type: 'password', id: 'new-password', autocomplete: 'new-password', minlength: 10 });
  const again = h('input', { type: 'password', id: 'repeat', autocomplete: 'new-password', minlength: 10 });
  const error = h('p', { class: 'error', role: 'alert' });
  show(h('form', { class: 'card', onsubmit: async (event) => {
    event.preventDefault();
    if (fresh.value !== again.value) { error.textContent = '两次输入的新密码不一样。'; return; }
    const body = { username, password: temporary, new_password: fresh.value };
    const answer = await api(`${API}/session/password`, { method: 'POST', json: body }).catch(() => null);
    if (answer?.ok) return loggedIn(answer.body);
    const code = answer?.body?.error?.code;
    error.textContent = !answer ? '暂时无法连接服务器。'
      : code === 'weak_password' ? '新密码太短：至少要 10 个字符。'
        : code === 'password_reused' ? '新密码不能和临时密码一样。'
          : '未能设置新密码，请重新登录后再试。';
  } },
  h('h2', { text: '设置自己的密码' }),
  h('p', { class: 'muted small', text: '管理员为你设置的是临时密码，只能用来设置自己的密码。' }),
  h('label', { class: 'field', for: 'new-password', text: '新密码（至少 10 个字符）' }), fresh,
  h('label', { class: 'field', for: 'repeat', text: '再输一次新密码' }), again,
  error,
  h('button', { class: 'btn primary block', type: 'submit' }, '保存并登录')));
}

// a report in three taps: the photo, the class, send (the GPS fix is taken by itself)
function renderReport() {
  const draft = state.draft ||= { photos: [], after: [], choice: null, description: '', selfHandled: false };
  const located = state.position;
  const fix = h('p', { class: 'small', id: 'fix' }, located
    ? [`经度 ${located.lon.toFixed(5)}，纬度 ${located.lat.toFixed(5)}，精度 ±${Math.round(located.accuracy)} 米`,
      located.accuracy > 50 ? h('span', { class: 'error', text: '（精度较差，可稍候重新定位）' }) : null]
    : '正在定位…');
  const search = h('input', { type: 'search', id: 'class-search', placeholder: '搜索类别或巡查事项，如 井盖', 'aria-label': '搜索类别' });
  const choices = h('div', { class: 'choices', id: 'choices' });
  const fill = () => {
    const words = search.value.trim();
    const found = classChoices(words).slice(0, words ? 40 : 12);
    choices.replaceChildren(...found.map((c) => h('button', {
      type: 'button', class: 'btn' + (draft.choice && draft.choice.id === c.id ? ' chosen' : ''),
      onclick: () => { draft.choice = c; renderReport(); },
    }, c.label)));
  };
  search.addEventListener('input', fill);
  fill();
  const description = h('textarea', { id: 'description', placeholder: '补充描述（可不填）', 'aria-label': '描述' });
  description.value = draft.description;
  description.addEventListener('input', () => { draft.description = description.value; });
  const selfBox = h('input', { type: 'checkbox', id: 'self-handled', checked: draft.selfHandled, onchange: (e) => { draft.selfHandled = e.target.checked; renderReport(); } });
  const ready = draft.photos.length && draft.choice && state.position && (!draft.selfHandled || draft.after.length);
  show(
    h('div', { class: 'card' },
      h('div', { class: 'step' + (draft.photos.length ? ' done' : '') }, h('span', { class: 'n', text: '1' }),
        h('div', { class: 'grow' }, camera('现场', (p) => { draft.photos.push(p); renderReport(); }, draft.photos.length ? '再拍一张' : '拍照'),
          thumbs(draft.photos))),
      h('div', { class: 'step' + (located ? ' done' : '') }, h('span', { class: 'n', text: '2' }),
        h('div', { class: 'grow' }, fix, h('button', { type: 'button', class: 'btn', onclick: async () => { await locate(); renderReport(); } }, '重新定位'))),
      h('div', { class: 'step' + (draft.choice ? ' done' : '') }, h('span', { class: 'n', text: '3' }),
        h('div', { class: 'grow' },
          h('p', { class: 'small', text: draft.choice ? '类别：' + draft.choice.label : '选择类别（或巡查清单事项）' }),
          search, choices)),
      h('label', { class: 'field', for: 'description', text: '描述' }), description,
      h('p', { class: 'row' }, selfBox, h('label', { for: 'self-handled', text: '已当场自行处置（需处置后照片）' })),
      draft.selfHandled ? [camera('处置后', (p) => { draft.after.push(p); renderReport(); }, '拍处置后照片'), thumbs(draft.after)] : null,
      h('button', { type: 'button', class: 'btn primary block', id: 'send-report', disabled: !ready, onclick: submitReport }, '提交上报'),
      ready ? null : h('p', { class: 'muted small', text: '拍照、定位、选类别后即可提交；离线时先存在手机上，有信号自动发送。' }),
    ),
  );
  if (!located) locate().then((p) => { if (p && state.tab === 'report') renderReport(); });
}

function thumbs(photos) {
  return h('div', { class: 'thumbs' }, photos.map((p) => h('img', { src: p.url, alt: p.name })));
}

function classChoices(words) {
  const out = [];
  const match = (text) => !words || text.includes(words);
  for (const list of state.taxonomy?.checklists || []) {
    if (list.channels && !list.channels.includes('patrol')) continue;
    for (const item of list.items) {
      const name = typeof item.name === 'string' ? item.name : item.name?.zh;
      if (match(name) || match(item.code)) out.push({ id: 'item:' + item.code, label: `清单 ${item.code} ${name}`, item: item.code });
    }
  }
  for (const c of state.taxonomy?.classes || []) {
    if (!c.enabled) continue;
    const name = typeof c.name === 'string' ? c.name : c.name?.zh || '';
    if (match(name) || match(c.code)) out.push({ id: c.kind + ':' + c.code, label: `${c.kind === 'event' ? '事件' : '部件'} ${c.code} ${name}`, kind: c.kind, category: c.code });
  }
  // classes before items when nothing is typed: the checklist has its own screen
  return words ? out : out.filter((c) => !c.item).concat(out.filter((c) => c.item));
}

async function submitReport(event) {
  event.target.disabled = true; // a second tap is not a second report
  const draft = state.draft;
  const where = state.position;
  const body = {
    channel: 'patrol', point: [where.lon, where.lat], description: draft.description || draft.choice.label,
    made_at: new Date().toISOString(), // kept beside its arrival: it may wait on the phone
  };
  if (draft.choice.item) body.item = draft.choice.item;
  else Object.assign(body, { category: draft.choice.category, kind: draft.choice.kind });
  const title = draft.choice.label;
  const report = await outbox.add({ kind: 'report', title, body, photos: draft.photos.map((p) => strip(p)) });
  if (draft.selfHandled) {
    await outbox.add({
      kind: 'transition', code: 'self_handle', title: '自行处置：' + title, after: report.key,
      made_at: new Date().toISOString(), photos: draft.after.map((p) => strip(p, 'after')),
    });
  }
  state.draft = null;
  toast(navigator.onLine ? '已提交，正在发送' : '已保存在手机上，有信号时自动发送');
  renderReport();
}

// a photo's side of the handling ('before', 'after'), sent as its form field's name; none: the step's
function strip(p, phase) { return { blob: p.blob, name: p.name, size: p.size, phase }; }

async function loadTasks() {
  const where = state.position;
  const query = where ? `?lon=${where.lon}&lat=${where.lat}&order=${state.order}` : `?order=deadline`;
  const answer = await api(`${API}/tasks${query}`).catch(() => null);
  if (answer?.ok) {
    state.tasks = answer.body.items;
    state.tasksKept = answer.kept;
  } else if (!answer) {
    state.tasksKept = state.tasksKept || 'none';
  }
  if (state.tab === 'tasks') drawTasks();
}

function renderTasks() {
  drawTasks();
  (state.position ? Promise.resolve() : locate()).then(loadTasks);
}

async function drawTasks() {
  const pending = new Set((await outbox.all()).filter((i) => i.status === 'pending').map((i) => i.case_id));
  const items = [...state.tasks];
  if (state.order === 'distance') items.sort((a, b) => (a.distance_m ?? 1e12) - (b.distance_m ?? 1e12));
  else items.sort((a, b) => (a.deadline ? Date.parse(a.deadline) : 1e15) - (b.deadline ? Date.parse(b.deadline) : 1e15));
  const order = (code, name) => h('button', {
    type: 'button', class: 'btn' + (state.order === code ? ' chosen' : ''),
    onclick: () => { state.order = code; drawTasks(); },
  }, name);
  show(
    h('div', { class: 'row' }, h('h2', { class: 'grow', text: isSupervisor() ? '附近的核实、核查任务' : '我的任务' }), order('distance', '按距离'), order('deadline', '按期限')),
    state.tasksKept ? h('p', { class: 'muted small', text: '离线：显示上次取得的任务，办理后先存在手机上。' }) : null,
    items.length ? null : h('p', { class: 'muted', text: '暂无任务' }),
    ...items.map((t) => taskCard(t, pending.has(t.id))),
  );
}

// the steps a handset offers: those whose fields it knows how to ask for
const ASKED = new Set(['amount']);

function taskCard(task, waiting) {
  const steps = task.transitions.filter((t) => t.fields.every((f) => ASKED.has(f)));
  return h('div', { class: 'card task', 'data-case': task.number },
    h('div', { class: 'row' },
      h('strong', { class: 'grow', text: task.number }),
      h('span', { class: 'tag', text: task.state_name })),
    h('div', { text: task.class_name || task.class_code }),
    h('div', { class: 'small muted', text: task.address || task.description || '' }),
    h('div', { class: 'row small' },
      h('span', {}, h('span', { class: 'light ' + task.light }), left(task.deadline)),
      task.distance_m !== null ? h('span', { text: '距你 ' + metres(task.distance_m) }) : null),
    waiting ? h('p', { class: 'tag pending', text: '已办理，待发送' }) : h('div', { class: 'row' },
      steps.map((s) => h('button', { type: 'button', class: 'btn' + (s.reason && !s.evidence.length ? ' danger' : ' primary'), onclick: () => act(task, s) }, s.name))));
}

function act(task, step) {
  const handling = step.code === 'handle';
  const before = [];
  const after = [];
  const reason = h('textarea', { id: 'reason', 'aria-label': '原因' });
  const amount = h('select', { id: 'amount', 'aria-label': '延期时长' },
    // in the city's own units of time, whatever their codes
    [1, 2, 3, 5].flatMap((n) => (state.config?.time_units || [])
      .map((u) => h('option', { value: `${n} ${u.code}`, text: `${n} ${u.name}` }))));
  const error = h('p', { class: 'error', role: 'alert' });
  const sheet = h('div', { class: 'sheet', role: 'dialog', 'aria-label': step.name });
  const close = () => sheet.remove();
  const photos = () => {
    const box = h('div', {});
    if (!step.evidence.length) return box;
    if (handling) {
      box.append(camera('处置前', (p) => { before.push(p); redraw(); }, '拍处置前照片'), thumbs(before),
        camera('处置后', (p) => { after.push(p); redraw(); }, '拍处置后照片'), thumbs(after));
    } else {
      box.append(camera('现场', (p) => { after.push(p); redraw(); }, '拍现场照片'), thumbs(after));
    }
    return box;
  };
  let holder = h('div', {});
  const redraw = () => { const next = photos(); holder.replaceWith(next); holder = next; };
  redraw();
  const confirm = async (event) => {
    if (step.evidence.length && !after.length) { error.textContent = handling ? '请拍处置后照片。' : '请拍现场照片。'; return; }
    if (step.reason && !reason.value.trim()) { error.textContent = '请填写原因。'; return; }
    event.target.disabled = true; // a second tap is not a second step
    const payload = {};
    if (step.fields.includes('amount')) payload.amount = amount.value;
    await outbox.add({
      kind: 'transition', case_id: task.id, number: task.number, code: step.code, version: task.version,
      title: `${step.name}：${task.number}`, payload, reason: reason.value.trim() || null,
      made_at: new Date().toISOString(),
      photos: [...before.map((p) => strip(p, 'before')), ...after.map((p) => strip(p, handling ? 'after' : undefined))],
    });
    close();
    toast(navigator.onLine ? '已办理，正在发送' : '已保存在手机上，有信号时自动发送');
    drawTasks();
  };
  sheet.append(h('div', { class: 'card' },
    h('h2', { text: `${step.name} · ${task.number}` }),
    holder,
    step.fields.includes('amount') ? [h('label', { class: 'field', for: 'amount', text: '延期时长' }), amount] : null,
    step.reason || !step.evidence.length ? [h('label', { class: 'field', for: 'reason', text: step.reason ? '原因（必填）' : '说明' }), reason] : null,
    error,
    h('div', { class: 'row' },
      h('button', { type: 'button', class: 'btn grow', onclick: close }, '取消'),
      h('button', { type: 'button', class: 'btn primary grow', id: 'confirm', onclick: confirm }, '确认' + step.name))));
  document.body.append(sheet);
}

async function renderPatrol() {
  const points = await track();
  const walked = points.slice(1).reduce((sum, p, i) => sum + distance(points[i], p), 0);
  const waiting = points.filter((p) => !p.sent).length;
  const search = h('input', { type: 'search', id: 'checklist-search', placeholder: '搜索巡查事项', 'aria-label': '搜索巡查事项' });
  const items = (state.taxonomy?.checklists || []).filter((l) => !l.channels || l.channels.includes('patrol'));
  const count = items.reduce((n, l) => n + l.items.length, 0);
  const list = h('div', { class: 'choices', id: 'checklist' });
  const fill = () => {
    const words = search.value.trim();
    list.replaceChildren(...items.flatMap((l) => l.items).map((item) => ({ item, name: typeof item.name === 'string' ? item.name : item.name?.zh }))
      .filter(({ item, name }) => !words || name.includes(words) || item.code.includes(words))
      .map(({ item, name }) => h('button', {
        type: 'button', class: 'btn',
        onclick: () => {
          state.draft = { photos: [], after: [], description: '', selfHandled: false, choice: { id: 'item:' + item.code, label: `清单 ${item.code} ${name}`, item: item.code } };
          go('report');
        },
      }, `${item.code} ${name}`)));
  };
  search.addEventListener('input', fill);
  fill();
  show(
    h('div', { class: 'card' },
      h('h2', { text: '今日巡查轨迹' }),
      map(points),
      h('p', { class: 'small', id: 'track-summary' },
        points.length ? `${points.length} 个位置点，约 ${metres(walked)}，${when(points[0].at)} 起` : '今天还没有位置点',
        waiting ? `，${waiting} 个待上传` : (points.length ? '，已全部上传' : ''),
        state.outside ? h('span', { class: 'error', text: '　当前在负责网格外' }) : null)),
    count ? h('div', { class: 'card' },
      h('h2', { text: `巡查清单（${count} 项）` }), search, list) : null,
  );
}

function map(points) {
  const shapes = (state.grids || []).flatMap((f) => rings(f.geometry).map((poly) => poly[0]));
  const all = [...shapes.flat(), ...points.map((p) => [p.lon, p.lat])];
  const box = h('svg', { svg: true, class: 'map', viewBox: '0 0 100 100', preserveAspectRatio: 'xMidYMid meet', role: 'img', 'aria-label': '负责网格与今日轨迹' });
  if (!all.length) return box;
  const xs = all.map((c) => c[0]);
  const ys = all.map((c) => c[1]);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const span = Math.max(x1 - x0, y1 - y0) || 0.001;
  const xy = ([x, y]) => `${(5 + ((x - x0) / span) * 90).toFixed(2)},${(95 - ((y - y0) / span) * 90).toFixed(2)}`;
  for (const ring of shapes) box.append(svg('polygon', { class: 'grid', points: ring.map(xy).join(' ') }));
  if (points.length > 1) box.append(svg('polyline', { class: 'track', points: points.map((p) => xy([p.lon, p.lat])).join(' ') }));
  if (points.length) {
    const [cx, cy] = xy([points.at(-1).lon, points.at(-1).lat]).split(',');
    box.append(svg('circle', { class: 'here', cx, cy, r: 2 }));
  }
  return box;
}

async function renderOutbox() {
  const items = (await outbox.all()).reverse();
  const label = { pending: '待发送', sent: '已发送', conflict: '冲突', refused: '未受理' };
  show(
    h('div', { class: 'row' }, h('h2', { class: 'grow', text: '待发送与已发送' }),
      h('button', { type: 'button', class: 'btn', id: 'send-now', onclick: () => sync() }, '立即发送')),
    items.length ? null : h('p', { class: 'muted', text: '没有内容' }),
    h('button', { type: 'button', class: 'btn block', id: 'logout', onclick: logout }, `退出登录（${state.me.username}）`),
    ...items.map((i) => h('div', { class: 'card outbox-item', 'data-status': i.status },
      h('div', { class: 'row' }, h('strong', { class: 'grow', text: i.title || i.code }), h('span', { class: 'tag ' + i.status, text: label[i.status] })),
      h('div', { class: 'small muted' }, `办理时间 ${when(i.made_at || i.created)}`, i.sent_at ? `，送达 ${when(i.sent_at)}` : '',
        (i.photos || []).length ? `，照片 ${i.photos.length} 张` : ''),
      i.status === 'sent' && i.number ? h('div', { class: 'small', text: '案件号 ' + i.number }) : null,
      i.message ? h('p', { class: 'error', text: i.message }) : null,
      i.happened?.length ? h('div', { class: 'small' }, h('div', { text: '期间发生：' }), h('ul', { class: 'happened' },
        i.happened.map((e) => h('li', { text: e.now ? `案件现在：${e.now.name}` : `${when(e.at)} ${e.step} → ${e.to}${e.reason ? '（' + e.reason + '）' : ''}` })))) : null)),
  );
}

async function logout() {
  const waiting = (await outbox.all()).filter((i) => i.status === 'pending').length;
  if (waiting && !window.confirm(`还有 ${waiting} 条未发送，退出后要等你再次登录才会发送。仍要退出吗？`)) return;
  await api(`${API}/session`, { method: 'DELETE' }).catch(() => null);
  navigator.serviceWorker?.controller?.postMessage('forget');
  localStorage.removeItem('field.csrf');
  Object.assign(state, { me: null, csrf: '', tasks: [], grids: null, draft: null });
  stopRetrying();
  alertBar(null);
  document.getElementById('sync').hidden = true;
  renderLogin();
}

// -- start -----------------------------------------------------------------------------------

function online() {
  const net = document.getElementById('net');
  net.textContent = navigator.onLine ? '在线' : '离线';
  net.classList.toggle('offline', !navigator.onLine);
}

let ticking = null; // a round of sending every minute while patrolling: the track goes up as it is walked
async function start() {
  online();
  const [me, config] = await Promise.all([api(`${API}/me`).catch(() => null), api('/m/config.json').catch(() => null)]);
  if (config?.ok) state.config = config.body;
  if (!me) return renderLogin('离线且尚未登录过：请在有信号处登录一次。');
  if (me.status === 401) return renderLogin();
  if (!me.ok) return renderLogin('暂时无法连接服务器。');
  state.me = me.body;
  document.getElementById('title').textContent = (isSupervisor() ? '城管通' : '处置通') + (state.config?.city ? ' · ' + state.config.city : '');
  const taxonomy = await api(`${API}/taxonomy`).catch(() => null);
  if (taxonomy?.ok) state.taxonomy = taxonomy.body;
  await loadGrids();
  await outbox.prune();
  if (isSupervisor()) {
    watch();
    ticking ||= setInterval(() => sync(), 60000);
  }
  await badge();
  const list = tabs();
  go(list[0][0]);
  sync();
}

window.addEventListener('online', () => { online(); sync(); });
window.addEventListener('offline', online);
document.addEventListener('DOMContentLoaded', () => {
  document.getElementById('sync').addEventListener('click', () => go('outbox'));
  if ('serviceWorker' in navigator) navigator.serviceWorker.register('/m/sw.js', { scope: '/m/' }).catch(() => {});
  start();
});
// for the tests and for support: what is queued, and sending it now
window.fieldApp = { outbox, sync, state };
