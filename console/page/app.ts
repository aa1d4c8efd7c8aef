/**
 * The console page: log in with the admin token, then every second the instance table and the
 * charts from the console's JSON API; drain and undrain buttons; a session lookup; and the tap,
 * read as a stream of JSON lines for as long as it runs.
 */
import { MethodChart, type SeriesBody } from './charts';
import { $, api, ApiError, cell, clock, fmt } from './dom';

interface InstanceRow {
  instanceId: string;
  role: string;
  host: string;
  version: string;
  draining: boolean;
  inFlight: number;
  load: number;
  callsPerSec?: number;
  p99Ms?: number;
  errorsPerSec?: number;
  errors?: number;
  problem?: string;
}

const POLL_MS = 1000;
const TAP_ROWS = 100;

let polling: number | undefined;
const calls = new MethodChart($('chart-calls'), (m) => m.callsPerSec, 'calls/s');
const p99 = new MethodChart($('chart-p99'), (m) => m.p99Ms, 'ms');

function status(text: string): void {
  $('status').textContent = text;
}

function showLogin(reason: string): void {
  if (polling !== undefined) window.clearInterval(polling);
  polling = undefined;
  $('main').hidden = true;
  $('logout').hidden = true;
  $('login').hidden = false;
  status(reason);
}

/** A 401 anywhere means the console session is gone: back to the login box. */
function onError(err: unknown, where: HTMLElement): void {
  if (err instanceof ApiError && err.status === 401) return showLogin(err.message);
  where.textContent = err instanceof Error ? err.message : String(err);
}

function renderInstances(rows: InstanceRow[]): void {
  const body = ($('instances') as HTMLTableElement).tBodies[0] as HTMLTableSectionElement;
  body.replaceChildren();
  for (const r of rows) {
    const tr = body.insertRow();
    tr.dataset.instance = r.instanceId;
    tr.dataset.role = r.role;
    if (r.draining) tr.className = 'draining';
    else if (r.problem) tr.className = 'problem';
    cell(tr, r.role);
    cell(tr, r.instanceId);
    cell(tr, r.host);
    cell(tr, r.version);
    cell(tr, fmt(r.load, 2), 'num');
    cell(tr, String(r.inFlight), 'num');
    cell(tr, fmt(r.callsPerSec), 'num');
    cell(tr, fmt(r.p99Ms, 2), 'num');
    cell(tr, fmt(r.errorsPerSec), 'num');
    cell(tr, r.errors === undefined ? '–' : String(r.errors), 'num');
    cell(tr, r.draining ? 'yes' : 'no', 'draining');
    const actions = cell(tr, r.problem ?? '');
    const button = document.createElement('button');
    button.type = 'button';
    button.className = r.draining ? 'secondary undrain' : 'drain';
    button.textContent = r.draining ? 'undrain' : 'drain';
    button.addEventListener('click', () => void drain(r.instanceId, !r.draining, button));
    actions.prepend(button);
  }
  $('instance-count').textContent = `(${rows.length})`;
}

async function drain(instanceId: string, draining: boolean, button: HTMLButtonElement): Promise<void> {
  button.disabled = true;
  $('drain-error').textContent = '';
  try {
    await api('/api/drain', { method: 'POST', body: { instanceId, draining } });
    await refresh();
  } catch (err) {
    onError(err, $('drain-error'));
  } finally {
    button.disabled = false;
  }
}

async function refresh(): Promise<void> {
  const [cluster, series] = await Promise.all([
    api<{ at: number; instances: InstanceRow[] }>('/api/cluster'),
    api<SeriesBody>('/api/series'),
  ]);
  renderInstances(cluster.instances);
  calls.update(series);
  p99.update(series);
  status(`${cluster.instances.length} instances · updated ${clock(cluster.at)} UTC`);
}

function startPolling(): void {
  $('login').hidden = true;
  $('main').hidden = false;
  $('logout').hidden = false;
  const tick = (): void => void refresh().catch((err) => onError(err, $('drain-error')));
  tick();
  polling = window.setInterval(tick, POLL_MS);
}

async function login(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  const input = $('token') as HTMLInputElement;
  $('login-error').textContent = '';
  try {
    await api('/api/login', { method: 'POST', body: { token: input.value } });
    input.value = '';
    startPolling();
  } catch (err) {
    $('login-error').textContent = err instanceof Error ? err.message : String(err);
  }
}

interface SessionView {
  sessionId: string;
  createdAt: string;
  expiresAtMs: number;
  expired: boolean;
  revoked: boolean;
  broker?: { instanceId: string; alive: boolean };
  bindings: Array<{ role: string; instanceId: string; alive: boolean }>;
  rooms: Array<{ topic: string; role: string }>;
}

async function lookup(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  const q = ($('session-query') as HTMLInputElement).value;
  const out = $('session-result');
  $('session-error').textContent = '';
  out.replaceChildren();
  try {
    const a = await api<{ user?: { userId: string; username: string; guest: boolean }; sessions: SessionView[] }>(
      `/api/session?q=${encodeURIComponent(q)}`,
    );
    if (!a.user) {
      $('session-error').textContent = `no user or session matches ${JSON.stringify(q)}`;
      return;
    }
    const head = document.createElement('p');
    head.textContent = `${a.user.username} · user ${a.user.userId}${a.user.guest ? ' · guest' : ''} · ${a.sessions.length} session(s)`;
    const table = document.createElement('table');
    table.id = 'sessions';
    const hr = table.createTHead().insertRow();
    for (const h of ['session', 'state', 'created', 'broker', 'bindings', 'rooms']) {
      const th = document.createElement('th');
      th.textContent = h;
      hr.append(th);
    }
    const body = table.createTBody();
    const alive = (id: string, ok: boolean): string => `${id}${ok ? '' : ' (gone)'}`;
    for (const s of a.sessions) {
      const tr = body.insertRow();
      tr.dataset.session = s.sessionId;
      cell(tr, s.sessionId);
      cell(tr, s.revoked ? 'revoked' : s.expired ? 'expired' : 'valid');
      cell(tr, s.createdAt);
      cell(tr, s.broker ? alive(s.broker.instanceId, s.broker.alive) : '–', 'broker');
      cell(tr, s.bindings.map((b) => `${b.role} → ${alive(b.instanceId, b.alive)}`).join(', ') || '–', 'bindings');
      cell(tr, s.rooms.map((r) => `${r.topic} (${r.role})`).join(', ') || '–', 'rooms');
    }
    out.append(head, table);
  } catch (err) {
    onError(err, $('session-error'));
  }
}

let tapAbort: AbortController | undefined;

function tapRow(from: string, call: Record<string, unknown>): void {
  const body = ($('tap') as HTMLTableElement).tBodies[0] as HTMLTableSectionElement;
  const tr = document.createElement('tr');
  tr.dataset.method = String(call.method ?? '');
  cell(tr, clock(call.time));
  cell(tr, String(call.method ?? ''), 'method');
  cell(tr, String(call.outcome ?? ''), 'outcome');
  cell(tr, call.latency_ms === undefined ? '' : String(call.latency_ms), 'num');
  cell(tr, from);
  const rest = Object.entries(call)
    .filter(([k]) => !['time', 'method', 'outcome', 'latency_ms'].includes(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  cell(tr, rest.join('  '));
  body.prepend(tr);
  while (body.rows.length > TAP_ROWS) body.deleteRow(-1);
}

async function tap(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  tapAbort?.abort();
  const abort = new AbortController();
  tapAbort = abort;
  const q = ($('tap-query') as HTMLInputElement).value;
  $('tap-error').textContent = '';
  (($('tap') as HTMLTableElement).tBodies[0] as HTMLTableSectionElement).replaceChildren();
  ($('tap-stop') as HTMLButtonElement).disabled = false;
  const notes = $('tap-status');
  let shown = 0;
  try {
    const res = await fetch(`/api/tap?q=${encodeURIComponent(q)}`, {
      credentials: 'same-origin',
      signal: abort.signal,
    });
    if (!res.ok || !res.body) {
      const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
      const why = String(body.pointed ?? body.error ?? `HTTP ${res.status}`);
      throw new ApiError(res.status, why, body);
    }
    notes.textContent = 'tapping…';
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let rest = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      rest += decoder.decode(value, { stream: true });
      let nl: number;
      while ((nl = rest.indexOf('\n')) >= 0) {
        const line = JSON.parse(rest.slice(0, nl)) as Record<string, unknown>;
        rest = rest.slice(nl + 1);
        const from = String(line.from ?? '');
        if (line.type === 'call') {
          shown++;
          tapRow(from, (line.call ?? {}) as Record<string, unknown>);
        } else if (line.type === 'started') notes.textContent = `tapping ${String(line.brokers)} broker(s)`;
        else if (line.type === 'refused') $('tap-error').textContent = `${from}: ${String(line.error)}`;
        else if (line.type === 'dropped')
          notes.textContent = `${from} dropped ${String(line.rate)} over the rate cap, ${String(line.queue)} for a slow reader`;
        if (line.type === 'call') $('tap').dataset.calls = String(shown);
      }
    }
    notes.textContent = `the tap ended after ${shown} call(s)`;
  } catch (err) {
    if (abort.signal.aborted) notes.textContent = `stopped after ${shown} call(s)`;
    else onError(err, $('tap-error'));
  } finally {
    if (tapAbort === abort) ($('tap-stop') as HTMLButtonElement).disabled = true;
  }
}

async function logout(): Promise<void> {
  tapAbort?.abort();
  await api('/api/logout', { method: 'POST', body: {} }).catch(() => undefined);
  showLogin('logged out');
}

($('login-form') as HTMLFormElement).addEventListener('submit', (e) => void login(e));
($('session-form') as HTMLFormElement).addEventListener('submit', (e) => void lookup(e));
($('tap-form') as HTMLFormElement).addEventListener('submit', (e) => void tap(e));
$('tap-stop').addEventListener('click', () => tapAbort?.abort());
$('logout').addEventListener('click', () => void logout());
window.addEventListener('resize', () => {
  calls.resize();
  p99.resize();
});

// Already logged in (a reload)? The API says; a 401 shows the login box.
api('/api/cluster').then(startPolling, (err: unknown) =>
  showLogin(err instanceof ApiError && err.status === 401 ? 'log in to continue' : String(err)),
);
