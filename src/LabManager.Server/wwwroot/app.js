// LabManager's page: the learner view (catalog, a lab's live session, exercises, hints, the tutor) and the operator
// view (live instances, activity, reconciliation). No build step; live status comes over SignalR from /hubs/labs.

const ACTIVE = ['starting', 'provisioning', 'pooled', 'running', 'stopping'];
const STEPS = [
  { key: 'requested', label: 'Requested' },
  { key: 'creating-vm', label: 'Creating the VM' },
  { key: 'waiting-for-vm', label: 'VM booting' },
  { key: 'waiting-for-lab', label: 'Lab starting' },
  { key: 'running', label: 'Running' },
];
const TOKEN_KEY = 'labmanager.token';

const state = {
  token: null,
  user: null,
  features: { devTokens: false, tutor: false, realtimeUrl: null },
  labs: [],
  selectedLabId: null,
  detail: null,
  instances: new Map(),
  progress: null,
  totalPoints: 0,
  chat: new Map(),
  connection: null,
  view: 'learner',
};

const $ = (selector) => document.querySelector(selector);

/** Builds an element; text children are always text, never HTML. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else el.setAttribute(key, value === true ? '' : value);
  }
  return fill(el, ...children);
}

/** Replaces an element's children; null, undefined and false are skipped, arrays are flattened, text stays text. */
function fill(el, ...children) {
  el.replaceChildren(...children.flat(2).filter((c) => c !== null && c !== undefined && c !== false).map((c) => (c instanceof Node ? c : String(c))));
  return el;
}

// ---------- the API ----------

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(method, path, body) {
  return envelopeOf(await send(method, path, body));
}

async function send(method, path, body, accept) {
  const headers = {};
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (accept) headers.Accept = accept;
  try {
    return await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, 'The server cannot be reached; check the connection and try again.');
  }
}

async function envelopeOf(response) {
  const envelope = await response.json().catch(() => null);
  if (!response.ok || !envelope?.success) {
    throw new ApiError(response.status, envelope?.message ?? `The server answered ${response.status}.`);
  }
  return envelope;
}

/** The server-sent events of a response, each { type, data } as it arrives (data parsed as JSON). */
async function* events(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      buffer += read.value.replace(/\r/g, '');
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const lines = buffer.slice(0, end).split('\n');
        buffer = buffer.slice(end + 2);
        const type = lines.find((l) => l.startsWith('event:'))?.slice(6).trim() ?? 'message';
        const data = lines.filter((l) => l.startsWith('data:')).map((l) => l.slice(5).replace(/^ /, '')).join('\n');
        yield { type, data: JSON.parse(data) };
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

/** Shows an API error as the API's sentence (quotas and rate limits say how long to wait); a refused token signs out. */
function showError(error) {
  if (!(error instanceof ApiError)) {
    console.error(error);
    return showAlert('Something went wrong in this page; reload it and try again.');
  }
  if (error.status === 401) {
    signOut(`Your sign-in is no longer valid (${error.message}). Sign in again.`);
    return;
  }
  showAlert(error.message);
}

function showAlert(text, kind = 'error') {
  const alert = $('#alert');
  fill(alert, h('span', null, text), h('button', { type: 'button', onclick: () => { alert.hidden = true; } }, 'Dismiss'));
  alert.className = kind === 'info' ? 'alert info' : 'alert';
  alert.hidden = false;
}

async function run(button, action) {
  if (button) button.disabled = true;
  try {
    return await action();
  } catch (error) {
    showError(error);
  } finally {
    if (button) button.disabled = false;
  }
}

// ---------- time ----------

function duration(ms) {
  const total = Math.max(0, Math.round(ms / 1000));
  const hours = Math.floor(total / 3600), minutes = Math.floor((total % 3600) / 60), seconds = total % 60;
  const mm = String(minutes).padStart(hours ? 2 : 1, '0'), ss = String(seconds).padStart(2, '0');
  return hours ? `${hours}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** Every element with data-since (elapsed) or data-until (remaining) is kept current, once a second. */
function tick() {
  const now = Date.now();
  for (const el of document.querySelectorAll('[data-since]')) el.textContent = duration(now - Date.parse(el.dataset.since));
  for (const el of document.querySelectorAll('[data-until]')) {
    const left = Date.parse(el.dataset.until) - now;
    el.textContent = left > 0 ? duration(left) : 'now';
  }
  if (state.user && state.user.exp * 1000 <= now) signOut('Your token has expired. Sign in again.');
}

/** A .NET TimeSpan as JSON ("[d.]hh:mm:ss[.fffffff]") in milliseconds. */
function milliseconds(span) {
  const [days, rest] = span.includes('.') && span.indexOf('.') < span.indexOf(':') ? span.split(/\.(.*)/s) : ['0', span];
  const [hours, minutes, seconds] = rest.split(':').map(Number);
  return (((Number(days) * 24 + hours) * 60 + minutes) * 60 + seconds) * 1000;
}

// ---------- signing in ----------

function decodeToken(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const claims = JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), '=')));
    const roles = [claims.role, claims.roles].flat().filter(Boolean);
    return { id: claims.sub, name: claims.name ?? claims.email ?? 'learner', admin: roles.includes('admin'), exp: claims.exp ?? Infinity };
  } catch {
    return null;
  }
}

async function signIn(token) {
  const user = decodeToken(token.trim());
  if (!user) {
    showAlert('That is not a token: a JWT has three parts separated by dots.');
    return;
  }
  state.token = token.trim();
  state.user = user;
  try {
    await loadPoints();
  } catch (error) {
    state.token = state.user = null;
    if (error.status === 401) showAlert(`The server refused this token: ${error.message}`);
    else showError(error);
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, state.token);
  $('#alert').hidden = true;
  $('#signin').hidden = true;
  $('#views').hidden = false;
  $('#views [data-view="operator"]').hidden = !user.admin;
  renderAccount();
  connect();
  await Promise.all([loadCatalog(true), loadInstances()]);
  show(location.hash === '#operator' && user.admin ? 'operator' : 'learner');
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  const connection = state.connection;
  state.connection = null;
  connection?.stop();
  state.token = state.user = state.selectedLabId = state.detail = state.progress = null;
  state.instances.clear();
  state.chat.clear();
  fill($('#lab-detail'), h('p', { class: 'muted' }, 'Choose a lab to see its details and start it.'));
  $('#views').hidden = true;
  $('#learner').hidden = $('#operator').hidden = true;
  fill($('#account'));
  $('#signin').hidden = false;
  setLive(false, 'offline');
  if (message) showAlert(message);
}

async function devToken(admin) {
  const name = $('#dev-name').value.trim() || (admin ? 'Operator' : 'Learner');
  const { data } = await api('POST', '/api/dev/token', { name, admin });
  await signIn(data.token);
}

function renderAccount() {
  fill($('#account'),
    h('span', null, state.user.name),
    state.user.admin ? h('span', { class: 'badge' }, 'operator') : null,
    h('span', { class: 'points', id: 'total-points' }, `${state.totalPoints} pts`),
    h('button', { type: 'button', onclick: () => signOut() }, 'Sign out'));
}

function show(view) {
  state.view = view;
  for (const button of document.querySelectorAll('#views button')) button.setAttribute('aria-pressed', String(button.dataset.view === view));
  $('#learner').hidden = view !== 'learner';
  $('#operator').hidden = view !== 'operator';
  history.replaceState(null, '', view === 'operator' ? '#operator' : '#');
  if (view === 'operator') run(null, loadOperator);
}

// ---------- live updates ----------

function setLive(on, text) {
  const live = $('#live');
  live.classList.toggle('on', on);
  live.textContent = on ? 'Live updates on' : text;
}

function connect() {
  if (!window.signalR) {
    setLive(false, 'Live updates unavailable: the SignalR client did not load');
    return;
  }
  if (!state.features.realtimeUrl) {
    setLive(false, 'Live updates are not offered by this deployment');
    return;
  }
  // The Server's hub, or (on Functions) /api/realtime, whose negotiate hands the client over to Azure SignalR Service.
  const connection = new signalR.HubConnectionBuilder()
    .withUrl(state.features.realtimeUrl, { accessTokenFactory: () => state.token })
    .withAutomaticReconnect()
    .configureLogging(signalR.LogLevel.Warning)
    .build();
  connection.on('lab:status', onStatus);
  connection.on('lab:notification', onNotification);
  connection.onreconnecting(() => setLive(false, 'Reconnecting…'));
  connection.onreconnected(() => { setLive(true); run(null, loadInstances); });
  connection.onclose(() => { if (state.connection === connection) setLive(false, 'Live updates stopped'); });
  state.connection = connection;
  setLive(false, 'Connecting…');
  connection.start().then(() => setLive(true)).catch((error) => setLive(false, `Live updates failed: ${error.message}`));
}

let operatorRefresh = null;

function onNotification(n) {
  const instanceId = n.metadata?.instanceId;
  const kind = n.metadata?.kind;
  if (['restarted', 'degraded', 'recovered'].includes(kind) && instanceId) loadContainers(instanceId, true);
  if (kind === 'degraded' && instanceId && state.instances.get(instanceId)?.userId === state.user?.id) {
    // The lab keeps failing: a fresh VM is what fixes it.
    const alert = $('#alert');
    fill(alert, h('span', null, n.message),
      h('button', { type: 'button', id: 'reset-degraded', onclick: (e) => confirm('Reset replaces the VM with a fresh one: everything changed in the lab is lost. Reset?')
        && run(e.currentTarget, async () => { await act(state.instances.get(instanceId), 'reset', undefined, 'Resetting: a fresh VM is on its way'); }) }, 'Reset'),
      h('button', { type: 'button', class: 'secondary', onclick: () => { alert.hidden = true; } }, 'Dismiss'));
    alert.className = 'alert';
    alert.hidden = false;
    return;
  }
  if (kind !== 'idle' || !instanceId) {
    showAlert(n.message, 'info');
    return;
  }
  // About to stop for lack of use: one press keeps it.
  const alert = $('#alert');
  fill(alert, h('span', null, n.message),
    h('button', { type: 'button', id: 'keep-it', onclick: (e) => run(e.currentTarget, async () => { await keepAlive(instanceId, true); alert.hidden = true; }) }, 'Keep it'),
    h('button', { type: 'button', class: 'secondary', onclick: () => { alert.hidden = true; } }, 'Dismiss'));
  alert.className = 'alert info';
  alert.hidden = false;
}

// The lab counts as used while its learner works on this page (a visible tab, a click or a key), at most one keep-alive a minute.
let lastKeepAlive = 0;

async function keepAlive(instanceId, now = false) {
  if (!now && Date.now() - lastKeepAlive < 60_000) return;
  lastKeepAlive = Date.now();
  await api('POST', `/api/labs/instances/${instanceId}/activity`);
}

function onInteraction() {
  const instance = currentInstance();
  if (document.visibilityState === 'visible' && instance?.status === 'running') keepAlive(instance.id).catch(() => {});
}

for (const event of ['pointerdown', 'keydown']) document.addEventListener(event, onInteraction, { passive: true });

function onStatus(message) {
  if (state.view === 'operator') {
    clearTimeout(operatorRefresh);
    operatorRefresh = setTimeout(() => run(null, loadOperator), 300);
  }
  // Operators hear every instance; their own lab view follows only the instances it already knows.
  if (state.instances.has(message.instanceId) || !state.user?.admin) {
    const known = state.instances.get(message.instanceId) ?? { id: message.instanceId, labId: message.labId, createdAt: new Date().toISOString() };
    // Replicas may deliver one instance's messages out of order: an older one than what is shown changes nothing.
    if (known.statusAt && message.at < known.statusAt) return;
    state.instances.set(message.instanceId, {
      ...known,
      statusAt: message.at,
      status: message.status,
      accessUrl: message.accessUrl ?? known.accessUrl,
      expiresAt: message.expiresAt ?? known.expiresAt,
      progress: { ...(known.progress ?? {}), step: message.step ?? known.progress?.step, message: message.message ?? known.progress?.message },
    });
    afterInstanceChange(message.labId);
    // The push carries the step; the instance is read again for any other change (its IPs, restarts, expiry, cost, the points).
    const stepOnly = message.status === known.status && message.expiresAt === known.expiresAt && message.step !== known.progress?.step;
    if (!known.userId || !stepOnly) refreshInstance(message.instanceId);
  }
}

async function refreshInstance(id) {
  try {
    const { data } = await api('GET', `/api/labs/instances/${id}`);
    state.instances.set(id, data);
    afterInstanceChange(data.labId);
    if (!ACTIVE.includes(data.status)) await Promise.all([loadPoints(), state.selectedLabId === data.labId ? loadProgress() : null]);
  } catch (error) {
    if (error.status !== 404) showError(error);
  }
}

function afterInstanceChange(labId) {
  renderLabList();
  if (labId === state.selectedLabId) renderSession();
}

// ---------- learner: catalog ----------

async function loadCatalog(first = false) {
  const query = new URLSearchParams();
  for (const [name, id] of [['search', '#filter-search'], ['category', '#filter-category'], ['difficulty', '#filter-difficulty']]) {
    const value = $(id).value.trim();
    if (value) query.set(name, value);
  }
  const { data } = await api('GET', `/api/labs?${query}`);
  state.labs = data;
  if (first) {
    const categories = [...new Set(data.map((lab) => lab.category))].sort();
    fill($('#filter-category'), h('option', { value: '' }, 'All'), ...categories.map((c) => h('option', { value: c }, c)));
  }
  renderLabList();
}

async function loadInstances() {
  const { data } = await api('GET', '/api/labs/instances/list');
  state.instances = new Map(data.map((i) => [i.id, i]));
  renderLabList();
  if (state.selectedLabId) renderSession();
}

async function loadPoints() {
  const { data } = await api('GET', '/api/users/me/progress');
  state.totalPoints = data.totalPoints;
  const el = $('#total-points');
  if (el) el.textContent = `${data.totalPoints} pts`;
}

/** The lab's active instance for this learner, else the latest one (to show how it ended). */
function sessionOf(labId) {
  return [...state.instances.values()]
    .filter((i) => i.labId === labId)
    .sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt))
    .find((i, index) => ACTIVE.includes(i.status) || index === 0);
}

function currentInstance() {
  return state.selectedLabId ? sessionOf(state.selectedLabId) : null;
}

function renderLabList() {
  const list = $('#lab-list');
  if (!state.labs.length) {
    fill(list, h('li', { class: 'muted' }, 'No lab matches these filters.'));
    return;
  }
  fill(list, ...state.labs.map((lab) => {
    const instance = sessionOf(lab.id);
    const live = instance && ACTIVE.includes(instance.status);
    return h('li', { class: 'lab-card', 'aria-current': lab.id === state.selectedLabId ? 'true' : null },
      h('h3', null, lab.name),
      h('div', { class: 'tags' },
        h('span', { class: 'badge' }, lab.difficulty), h('span', null, lab.category),
        h('span', null, `~${lab.estimatedTimeMinutes} min`), h('span', null, `${lab.points} pts`),
        live ? h('span', { class: `badge ${instance.status}` }, instance.status) : null),
      h('button', { type: 'button', class: 'secondary', 'aria-label': `Open ${lab.name}`, onclick: () => selectLab(lab.id) }, 'Open'));
  }));
}

// ---------- learner: one lab ----------

async function selectLab(labId) {
  state.selectedLabId = labId;
  renderLabList();
  await run(null, async () => {
    const [{ data: detail }] = await Promise.all([api('GET', `/api/labs/${labId}`), loadProgress()]);
    for (const instance of detail.userInstances) state.instances.set(instance.id, instance);
    state.detail = detail;
    renderDetail(detail);
    $('#lab-detail h2').focus();
  });
}

async function loadProgress() {
  const labId = state.selectedLabId;
  const { data } = await api('GET', `/api/labs/${labId}/progress`);
  if (labId !== state.selectedLabId) return;
  state.progress = data;
  if ($('#exercises')) renderExercises();
}

function renderDetail(lab) {
  fill($('#lab-detail'),
    h('h2', { tabindex: '-1' }, lab.name),
    h('div', { class: 'tags' }, h('span', { class: 'badge' }, lab.difficulty), h('span', null, lab.category),
      h('span', null, `~${lab.estimatedTimeMinutes} min`), h('span', null, `up to ${lab.timeoutMinutes} min per session`)),
    h('p', null, lab.description),
    (lab.learningObjectives.length ? [h('h3', null, 'You will learn'), h('ul', null, lab.learningObjectives.map((o) => h('li', null, o)))] : []),
    h('div', { id: 'session', class: 'session', 'aria-live': 'polite' }),
    h('section', { 'aria-labelledby': 'exercises-title' },
      h('div', { class: 'panel-head' }, h('h3', { id: 'exercises-title' }, 'Exercises'), h('span', { id: 'lab-points', class: 'points' })),
      h('div', { id: 'exercises' })),
    renderTutorPanel(lab));
  renderSession();
  renderExercises();
}

const STATUS_TEXT = {
  starting: 'Your lab is being requested…',
  provisioning: 'Your lab is being prepared…',
  pooled: 'A ready lab from the warm pool is being handed to you…',
  running: 'Your lab is running',
  stopping: 'Stopping: the VM is being destroyed…',
  stopped: 'This session ended: stopped.',
  expired: 'This session ended: its time was up.',
  error: 'This session ended with an error.',
};

function renderSession() {
  const box = $('#session');
  if (!box) return;
  const lab = state.detail;
  const instance = currentInstance();
  if (!instance || !ACTIVE.includes(instance.status)) {
    fill(box,
      instance ? h('p', { class: instance.status === 'error' ? 'result bad' : 'muted' },
        STATUS_TEXT[instance.status] ?? instance.status, instance.errorMessage ? ` ${instance.errorMessage}` : '') : null,
      h('button', { type: 'button', id: 'start', onclick: (e) => run(e.currentTarget, () => startLab(lab.id)) }, instance ? 'Start again' : 'Start lab'));
    return;
  }

  const header = h('div', { class: 'line' },
    h('span', { class: `badge ${instance.status}`, id: 'status' }, instance.status),
    h('span', null, STATUS_TEXT[instance.status]),
    h('span', { class: 'muted' }, 'Elapsed ', h('span', { 'data-since': instance.createdAt }, duration(Date.now() - Date.parse(instance.createdAt)))),
    instance.restartCount ? h('span', { class: 'muted', id: 'restarts' }, `Restarted ${instance.restartCount}×`) : null);
  if (instance.status !== 'running') {
    const step = instance.status === 'stopping' ? -1 : stepIndex(instance);
    const percent = step < 0 ? 100 : Math.round(((step + 1) / STEPS.length) * 100);
    fill(box, header,
      step >= 0 ? h('ol', { class: 'steps', 'aria-label': 'Progress' },
        STEPS.map((s, i) => h('li', { class: i < step ? 'done' : i === step ? 'current' : null, 'aria-current': i === step ? 'step' : null }, s.label))) : null,
      h('div', { class: 'meter', role: 'progressbar', 'aria-label': 'Lab start progress', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': String(percent) },
        bar(percent)),
      h('p', { class: 'muted' }, instance.progress?.message ?? ''));
    return;
  }

  fill(box, header,
    instance.accessUrl ? h('p', null, h('button', { type: 'button', class: 'access', id: 'access-link', onclick: (e) => run(e.currentTarget, () => openLab(instance)) }, 'Open the lab ↗'),
      ' ', h('span', { class: 'muted' }, instance.accessUrl)) : null,
    instance.expiresAt ? h('p', null, 'Time left ', h('strong', { 'data-until': instance.expiresAt, id: 'countdown' }, duration(Date.parse(instance.expiresAt) - Date.now()))) : null,
    h('div', { class: 'actions' },
      h('button', { type: 'button', onclick: (e) => run(e.currentTarget, () => act(instance, 'extend', { minutes: 15 }, 'Extended by 15 minutes')) }, 'Extend 15 min'),
      h('button', { type: 'button', class: 'secondary', onclick: (e) => run(e.currentTarget, () => act(instance, 'restart', undefined, 'Restarting the VM; the lab is back in a minute')) }, 'Restart'),
      h('button', { type: 'button', class: 'secondary', onclick: (e) => confirm('Reset replaces the VM with a fresh one: everything changed in the lab is lost. Reset?') && run(e.currentTarget, () => act(instance, 'reset', undefined, 'Resetting: a fresh VM is on its way')) }, 'Reset'),
      h('button', { type: 'button', class: 'danger', onclick: (e) => confirm('Stop this lab? Its VM is destroyed.') && run(e.currentTarget, () => act(instance, 'stop', undefined, null)) }, 'Stop')),
    h('div', { id: 'containers', 'aria-live': 'polite' }),
    h('details', { id: 'logs', ontoggle: (e) => e.currentTarget.open && run(null, () => loadLogs(instance.id)) },
      h('summary', null, 'Logs'), h('pre', { id: 'logs-text' }, 'Loading…')));
  renderContainers(instance.id);
  loadContainers(instance.id);
}

// ---------- learner: inside the lab (what its agent reports) ----------

const containerStats = new Map();

/** Reads the lab's containers from its agent's last heartbeat, at most every 10 s unless asked now. */
async function loadContainers(instanceId, now = false) {
  const known = containerStats.get(instanceId);
  if (!now && known && Date.now() - known.at < 10_000) return;
  containerStats.set(instanceId, { at: Date.now(), stats: known?.stats ?? null });
  try {
    const { data } = await api('GET', `/api/labs/instances/${instanceId}/stats`);
    containerStats.set(instanceId, { at: Date.now(), stats: data });
  } catch (error) {
    if (error.status !== 404) return;
  }
  renderContainers(instanceId);
}

const mib = (bytes) => (bytes == null ? '—' : `${Math.round(bytes / 1048576)} MiB`);

function renderContainers(instanceId) {
  const box = $('#containers');
  if (!box || currentInstance()?.id !== instanceId) return;
  const stats = containerStats.get(instanceId)?.stats;
  if (!stats) {
    fill(box, h('p', { class: 'muted' }, 'No report from inside the lab yet.'));
    return;
  }
  fill(box,
    h('h3', null, 'Containers', stats.degraded ? h('span', { class: 'badge error' }, 'not working') : null),
    h('ul', { class: 'containers' }, stats.containers.map((c) => h('li', { 'data-container': c.name },
      h('strong', null, c.name), ' ', h('span', { class: `badge ${c.state === 'running' ? 'running' : 'error'}` }, c.state === 'exited' ? `exited (${c.exitCode})` : c.state),
      c.cpuPercent == null ? null : h('span', { class: 'muted' }, ` CPU ${c.cpuPercent.toFixed(1)} % · memory ${mib(c.memoryUsed)} of ${mib(c.memoryLimit)}`)))));
}

/** The containers' last log lines, shown as text only. */
async function loadLogs(instanceId) {
  const { data } = await api('GET', `/api/labs/instances/${instanceId}/logs?lines=100`);
  $('#logs-text').textContent = data.containers.length
    ? data.containers.map((c) => `== ${c.name}\n${c.text}`).join('\n')
    : 'No log lines reported yet.';
}

/** The meter's filled part (set through the style object: the page's CSP allows no inline style attributes). */
function bar(percent) {
  const filled = h('div');
  filled.style.width = `${percent}%`;
  return filled;
}

function stepIndex(instance) {
  if (instance.status === 'starting' && !instance.progress?.step) return 0;
  const index = STEPS.findIndex((s) => s.key === instance.progress?.step);
  return index >= 0 ? Math.min(index, STEPS.length - 2) : instance.status === 'provisioning' ? 2 : 1;
}

async function startLab(labId) {
  const { data, message } = await api('POST', `/api/labs/${labId}/start`, {});
  state.instances.set(data.id, data);
  afterInstanceChange(labId);
  if (message && !message.startsWith('Lab start')) showAlert(message, 'info');
  refreshInstance(data.id);
}

/**
 * Opens the lab: the server answers a link with a one-use ticket (the gateway trades it for a cookie of the lab's own host), or, for a
 * lab reached by TCP, the address to connect to, opened to this computer's address.
 */
async function openLab(instance) {
  // The tab is opened at the click, so no popup blocker stops it; it is sent to the lab once the link is known.
  const tab = window.open('', '_blank');
  try {
    const { data } = await api('POST', `/api/labs/instances/${instance.id}/access`);
    lastKeepAlive = Date.now();
    if (tab && /^https?:/.test(data.url)) {
      tab.opener = null;
      tab.location.href = data.url;
    } else {
      tab?.close();
      showAlert(`Connect to ${data.url} from this computer: it is open to your address only.`, 'info');
    }
  } catch (error) {
    tab?.close();
    throw error;
  }
}

async function act(instance, verb, body, info) {
  const { data, message } = await api('POST', `/api/labs/instances/${instance.id}/${verb}`, body);
  if (verb === 'stop') state.instances.set(instance.id, { ...state.instances.get(instance.id), status: 'stopping' });
  afterInstanceChange(instance.labId);
  showAlert(info ?? message, 'info');
  if (data?.id) refreshInstance(data.id);
}

// ---------- learner: exercises and hints ----------

function renderExercises() {
  const lab = state.detail;
  const box = $('#exercises');
  if (!lab || !box) return;
  const progress = new Map((state.progress?.exercises ?? []).map((e) => [e.exerciseId, e]));
  $('#lab-points').textContent = `Your points in this lab: ${state.progress?.points ?? 0}`;
  fill(box, ...lab.exercises.map((exercise, index) => {
    const mine = progress.get(exercise.id) ?? { completed: false, pointsAwarded: 0, attempts: 0, hintsRevealed: [] };
    const revealed = new Map(mine.hintsRevealed.map((r) => [r.hintId, r]));
    const inputId = `answer-${exercise.id}`;
    return h('article', { class: 'exercise', 'data-exercise': exercise.id },
      h('header', null,
        h('h4', null, `${index + 1}. ${exercise.title}`),
        mine.completed ? h('span', { class: 'solved' }, `Solved · ${mine.pointsAwarded} pts`) : h('span', { class: 'muted' }, `${exercise.points} pts`)),
      h('p', null, exercise.description),
      h('div', { class: 'hints' }, exercise.hints.map((hint, n) => revealed.has(hint.id)
        ? h('div', { class: 'hint' }, h('strong', null, `Hint ${n + 1}: `), revealed.get(hint.id).text, h('span', { class: 'muted' }, ` (−${hint.cost} pts)`))
        : h('button', { type: 'button', class: 'secondary', onclick: (e) => run(e.currentTarget, () => revealHint(exercise, hint)) },
          `Reveal hint ${n + 1} (−${hint.cost} pts)`))),
      exercise.answerable && !mine.completed
        ? h('form', { onsubmit: (e) => { e.preventDefault(); run(e.submitter, () => submitAnswer(exercise, e.currentTarget)); } },
          h('label', { for: inputId, class: 'sr-only' }, `Answer to ${exercise.title}`),
          h('input', { id: inputId, name: 'answer', autocomplete: 'off', required: true, placeholder: 'Your answer or flag' }),
          h('button', { type: 'submit' }, 'Submit'))
        : null,
      !exercise.answerable ? h('p', { class: 'muted' }, 'Nothing to submit for this exercise.') : null,
      h('p', { class: 'result', 'aria-live': 'polite' }, mine.attempts && !mine.completed ? `${mine.attempts} attempt(s) so far` : ''));
  }));
}

async function revealHint(exercise, hint) {
  await api('POST', `/api/labs/${state.selectedLabId}/exercises/${exercise.id}/hints/${hint.id}`);
  await loadProgress();
}

async function submitAnswer(exercise, form) {
  const { data } = await api('POST', `/api/labs/${state.selectedLabId}/exercises/${exercise.id}/submit`, { answer: form.answer.value });
  if (data.correct) {
    await Promise.all([loadProgress(), loadPoints()]);
    const result = $(`[data-exercise="${exercise.id}"] .result`);
    result.textContent = data.alreadyCompleted ? 'Correct, already solved: no new points.' : `Correct! +${data.pointsAwarded} points.`;
    result.className = 'result good';
  } else {
    const result = form.parentElement.querySelector('.result');
    result.textContent = 'Not quite: try again.';
    result.className = 'result bad';
    form.answer.select();
  }
}

// ---------- learner: the tutor ----------

function renderTutorPanel(lab) {
  const section = h('section', { class: 'tutor', 'aria-labelledby': 'tutor-title' }, h('h3', { id: 'tutor-title' }, 'AI tutor'));
  if (!state.features.tutor) {
    section.append(h('p', { class: 'muted', id: 'tutor-off' }, 'The AI tutor is not enabled on this server (it needs a Tutor:Provider). Everything else works without it.'));
    return section;
  }
  const chat = h('ul', { class: 'chat', 'aria-live': 'polite', id: 'chat' });
  const drawChat = () => fill(chat, ...(state.chat.get(lab.id) ?? []).map((m) => h('li', { class: m.who }, m.text)));
  drawChat();
  const form = h('form', {
    onsubmit: (e) => {
      e.preventDefault();
      const question = form.question.value.trim();
      if (!question) return;
      run(e.submitter, async () => {
        const messages = state.chat.get(lab.id) ?? [];
        state.chat.set(lab.id, messages);
        messages.push({ who: 'me', text: question });
        drawChat();
        form.question.value = '';
        // The answer shows as it is written (a word at a time: the server holds back a word until it is whole, so a flag
        // is redacted before any of it is shown); "…" until the first word.
        const answer = { who: 'tutor', text: '' };
        messages.push(answer);
        drawChat();
        const shown = chat.lastElementChild;
        shown.textContent = '…';
        const show = (text) => {
          answer.text = text;
          shown.textContent = text;
          chat.scrollTop = chat.scrollHeight;
        };
        try {
          show(await askTutor(lab.id, question, show));
        } catch (error) {
          if (!answer.text) messages.splice(messages.indexOf(answer), 1);
          throw error;
        } finally {
          drawChat();
          chat.scrollTop = chat.scrollHeight;
        }
      });
    },
  },
  h('label', { for: 'tutor-question' }, 'Ask the tutor about this lab (it guides; it never gives flags)'),
  h('textarea', { id: 'tutor-question', name: 'question', rows: '2', required: true }),
  h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Ask')));
  section.append(chat, form);
  return section;
}

/** Asks the tutor; onText(text so far) as the answer streams in. Answers the whole answer (a server without streaming sends it at once). */
async function askTutor(labId, question, onText) {
  const response = await send('POST', `/api/labs/${labId}/tutor`, { question }, 'text/event-stream');
  if (!response.ok || !response.headers.get('Content-Type')?.startsWith('text/event-stream')) {
    return (await envelopeOf(response)).data.answer;
  }
  let text = '';
  for await (const { type, data } of events(response)) {
    if (type === 'delta') onText(text += data.text);
    if (type === 'done') return data.answer;
    if (type === 'error') throw new ApiError(502, data.message);
  }
  throw new ApiError(502, 'The answer was cut off; try again shortly.');
}

// ---------- operator ----------

async function loadOperator() {
  const [instances, activity, runs, pools, labs] = await Promise.all([
    api('GET', '/api/admin/instances'), api('GET', '/api/admin/activity'), api('GET', '/api/admin/reconciliation'), api('GET', '/api/admin/pools'),
    api('GET', '/api/admin/labs')]);
  renderOperatorInstances(instances.data);
  renderCatalog(labs.data);
  renderPools(pools.data);
  renderChart(activity.data);
  renderRuns(runs.data);
}

const short = (id) => (id ? String(id).slice(0, 8) : '—');

function renderOperatorInstances(instances) {
  const cost = instances.reduce((sum, i) => sum + (i.costSoFar ?? 0), 0);
  $('#ops-summary').textContent = `${instances.length} live · $${cost.toFixed(3)} of VM time so far`;
  const body = $('#ops-instances tbody');
  if (!instances.length) {
    fill(body, h('tr', null, h('td', { colspan: '12', class: 'muted' }, 'No live instances.')));
    return;
  }
  fill(body, ...instances.map((i) => h('tr', { 'data-instance': i.id },
    h('td', { title: i.id }, short(i.id)),
    h('td', { title: i.userId }, i.userName ?? short(i.userId)),
    h('td', null, i.labName ?? short(i.labId)),
    h('td', null, h('span', { class: `badge ${i.status}` }, i.status)),
    h('td', { 'data-since': i.createdAt }, duration(Date.now() - Date.parse(i.createdAt))),
    i.expiresAt ? h('td', { 'data-until': i.expiresAt }, duration(Date.parse(i.expiresAt) - Date.now())) : h('td', null, '—'),
    h('td', { title: i.cloudInstanceId ?? '' }, short(i.cloudInstanceId)),
    h('td', null, i.costSoFar === undefined ? '—' : `$${i.costSoFar.toFixed(3)}`),
    h('td', null, i.agent?.cpuPercent == null ? '—' : `${i.agent.cpuPercent.toFixed(1)} %`),
    h('td', null, i.agent?.memoryUsed == null ? '—' : `${mib(i.agent.memoryUsed)} / ${mib(i.agent.memoryLimit)}`),
    h('td', { class: 'agent' }, !i.agent ? h('span', { class: 'muted' }, 'none yet')
      : i.agent.silent ? h('span', { class: 'badge error' }, 'no heartbeat')
      : i.agent.degraded ? h('span', { class: 'badge error' }, 'degraded') : h('span', { class: 'badge running' }, 'ok')),
    h('td', null, i.status === 'stopping' ? h('span', { class: 'muted' }, 'stopping') : h('button', {
      type: 'button', class: 'danger', 'aria-label': `Force stop instance ${short(i.id)}`,
      onclick: (e) => confirm(`Force stop instance ${short(i.id)} of ${i.labName}? Its VM is destroyed.`)
        && run(e.currentTarget, async () => { await api('POST', `/api/admin/instances/${i.id}/stop`); showAlert(`Force-stopping ${short(i.id)}`, 'info'); await loadOperator(); }),
    }, 'Force stop')))));
}

// The catalog: each lab with its state, version, live instances and last change; a JSON editor whose Save is enabled only once the
// server's dry run of exactly the text shown has passed.
const catalog = { editing: null, checked: null };

function renderCatalog(labs) {
  fill($('#ops-labs tbody'), ...labs.map((l) => h('tr', { 'data-lab': l.id },
    h('td', { title: l.slug }, l.name),
    h('td', null, h('span', { class: `badge ${l.isActive ? 'running' : 'stopped'}` }, l.isActive ? 'active' : 'inactive')),
    h('td', null, `v${l.version}`),
    h('td', null, String(l.liveInstances)),
    h('td', { title: l.updatedBy }, `${new Date(l.updatedAt).toLocaleString()} · ${l.updatedBy.split(' ')[0]}`),
    h('td', null,
      h('button', { type: 'button', class: 'secondary', 'aria-label': `Edit ${l.name}`, onclick: (e) => run(e.currentTarget, () => editLab(l.id)) }, 'Edit'),
      h('button', {
        type: 'button', class: l.isActive ? 'danger' : 'secondary', 'aria-label': `${l.isActive ? 'Deactivate' : 'Activate'} ${l.name}`,
        onclick: (e) => run(e.currentTarget, async () => {
          const done = await api('POST', `/api/admin/labs/${l.id}/${l.isActive ? 'deactivate' : 'activate'}`);
          showAlert(`${l.name}: ${done.message}`, 'info');
          await loadOperator();
        }),
      }, l.isActive ? 'Deactivate' : 'Activate')))));
}

async function editLab(id) {
  const text = id ? JSON.stringify((await api('GET', `/api/admin/labs/${id}`)).data.lab, null, 2)
    : JSON.stringify({ slug: 'new-lab', name: 'New lab', category: 'web', containerConfig: { containers: [{ name: 'web', image: 'nginx:1.27', ports: [{ hostPort: 8080, containerPort: 80 }] }] } }, null, 2);
  catalog.editing = id;
  $('#catalog-json').value = text;
  $('#catalog-editor').hidden = false;
  setChecked(null);
  fill($('#catalog-result'), h('p', { class: 'muted' }, id ? 'Editing: check the change before saving it.' : 'A new lab: check it before saving it.'));
  $('#catalog-json').focus();
}

function setChecked(text) {
  catalog.checked = text;
  $('#catalog-save').disabled = text === null || text !== $('#catalog-json').value;
}

async function checkLab() {
  const text = $('#catalog-json').value;
  let lab;
  try {
    lab = JSON.parse(text);
  } catch (error) {
    fill($('#catalog-result'), h('p', { class: 'error', role: 'alert' }, `Not valid JSON: ${error.message}`));
    return setChecked(null);
  }
  const result = (await api('POST', '/api/admin/labs/validate', lab)).data;
  fill($('#catalog-result'), result.valid
    ? h('div', null, h('p', { class: 'badge running' }, 'Valid: this is the VM\'s user_data'), h('pre', { id: 'catalog-user-data', tabindex: '0', 'aria-label': 'Rendered user_data' }, result.userData))
    : h('ul', { id: 'catalog-problems', class: 'error' }, ...result.problems.map((p) => h('li', null, p))));
  setChecked(result.valid ? text : null);
}

async function saveLab() {
  const lab = JSON.parse($('#catalog-json').value);
  const saved = catalog.editing ? await api('PUT', `/api/admin/labs/${catalog.editing}`, lab) : await api('POST', '/api/admin/labs', lab);
  showAlert(`${lab.name}: ${saved.message}${saved.data.changes?.length ? ` (${saved.data.changes.join(', ')})` : ''}`, 'info');
  catalog.editing = saved.data.id;
  setChecked(null);
  await loadOperator();
}

function renderChart(activity) {
  const counts = activity.active;
  const peak = Math.max(1, ...counts);
  const width = Math.max(300, $('#ops-chart').clientWidth), height = 160, left = 28, bottom = 18, barWidth = (width - left) / counts.length;
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('width', width);
  svg.setAttribute('height', height);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', `Active instances per minute over the last hour: now ${counts.at(-1)}, peak ${Math.max(...counts)}`);
  const add = (tag, attrs, text) => {
    const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    if (text !== undefined) el.textContent = text;
    svg.append(el);
  };
  counts.forEach((count, i) => {
    const barHeight = ((height - bottom - 8) * count) / peak;
    add('rect', { class: 'bar', x: left + i * barWidth + 1, y: height - bottom - barHeight, width: Math.max(1, barWidth - 2), height: barHeight });
  });
  add('text', { class: 'axis', x: 0, y: 14 }, String(peak));
  add('text', { class: 'axis', x: 0, y: height - bottom }, '0');
  add('text', { class: 'axis', x: left, y: height - 4 }, `−${counts.length - 1} min`);
  add('text', { class: 'axis', x: width - 24, y: height - 4 }, 'now');
  fill($('#ops-chart'), svg);
}

function renderPools(pools) {
  const body = $('#ops-pools tbody');
  if (!pools.length) {
    fill(body, h('tr', null, h('td', { colspan: '7', class: 'muted' }, 'No lab has a warm pool (PUT /api/admin/labs/{id}/pool).')));
    return;
  }
  fill(body, ...pools.map((p) => h('tr', null,
    h('td', null, p.name),
    h('td', null, `${p.min}–${p.max}`),
    h('td', null, p.ready),
    h('td', null, p.booting),
    h('td', null, `${p.claimedLastHour} (and ${p.coldLastHour} cold)`),
    h('td', null, p.hitRate === null ? '—' : `${Math.round(p.hitRate * 100)} %`),
    h('td', null, p.idleCostPerHour === null ? '—' : `$${p.idleCostPerHour.toFixed(3)}`))));
}

function renderRuns(runs) {
  const body = $('#ops-runs tbody');
  if (!runs.length) {
    fill(body, h('tr', null, h('td', { colspan: '5', class: 'muted' }, 'No reconciliation has run yet.')));
    return;
  }
  const kinds = [['orphansDestroyed', 'orphan VMs destroyed'], ['expiredEnded', 'expired sessions ended'], ['vanishedVms', 'vanished VMs'],
    ['lostWorkflows', 'lost workflows'], ['stopsResent', 'stops resent']];
  fill(body, ...runs.map((r) => {
    const did = kinds.filter(([key]) => r[key] > 0).map(([key, text]) => `${r[key]} ${text}`);
    // What it saw but may not touch, and what it could not do (tried again next run).
    const also = [];
    if (r.foreignVms > 0) also.push(`${r.foreignVms} VM${r.foreignVms === 1 ? '' : 's'} not ours left alone`);
    for (const f of r.failures || []) also.push(`failed: ${f.subject}: ${f.error}`);
    return h('tr', null,
      h('td', null, new Date(r.startedAt).toLocaleString()),
      h('td', null, `${Math.round(milliseconds(r.duration))} ms`),
      h('td', null, r.taggedVms),
      h('td', null, r.activeInstances),
      h('td', { class: 'wrap' }, [did.length ? did.join(', ') : 'nothing to repair', ...also].join('; ')));
  }));
}

// ---------- start ----------

function wire() {
  $('#token-form').addEventListener('submit', (e) => { e.preventDefault(); run(e.submitter, () => signIn($('#token-input').value)); });
  $('#dev-learner').addEventListener('click', (e) => run(e.currentTarget, () => devToken(false)));
  $('#dev-operator').addEventListener('click', (e) => run(e.currentTarget, () => devToken(true)));
  for (const button of document.querySelectorAll('#views button')) button.addEventListener('click', () => show(button.dataset.view));
  let searchTimer = null;
  $('#filter-search').addEventListener('input', () => { clearTimeout(searchTimer); searchTimer = setTimeout(() => run(null, loadCatalog), 250); });
  $('#filters').addEventListener('submit', (e) => e.preventDefault());
  for (const id of ['#filter-category', '#filter-difficulty']) $(id).addEventListener('change', () => run(null, loadCatalog));
  $('#ops-refresh').addEventListener('click', (e) => run(e.currentTarget, loadOperator));
  $('#catalog-new').addEventListener('click', (e) => run(e.currentTarget, () => editLab(null)));
  $('#catalog-check').addEventListener('click', (e) => run(e.currentTarget, checkLab));
  $('#catalog-save').addEventListener('click', (e) => run(e.currentTarget, saveLab));
  $('#catalog-close').addEventListener('click', () => { $('#catalog-editor').hidden = true; catalog.editing = null; });
  $('#catalog-json').addEventListener('input', () => setChecked(catalog.checked));
  $('#ops-reconcile').addEventListener('click', (e) => run(e.currentTarget, async () => {
    const { data } = await api('POST', '/api/admin/cleanup');
    showAlert(`Reconciliation ran: ${data.actions} repair(s)`, 'info');
    await loadOperator();
  }));
  setInterval(tick, 1000);
  setInterval(() => { const instance = currentInstance(); if (instance?.status === 'running' && state.token) loadContainers(instance.id); }, 5000);
  setInterval(() => { if (state.view === 'operator' && state.token) run(null, loadOperator); }, 15000);
}

async function main() {
  wire();
  try {
    state.features = (await api('GET', '/api/features')).data;
  } catch (error) {
    showError(error);
  }
  $('#dev-signin').hidden = !state.features.devTokens;
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) await signIn(saved);
  if (!state.token) $('#signin').hidden = false;
}

main();
