// The GraphQL client: session token, queries with field-level errors, lists in either shape
// (plain list or cursor connection), and subscriptions over the graphql-transport-ws protocol.

const TOKEN_KEY = 'cyborg.token';
const USER_KEY = 'cyborg.user';

export const session = {
  get token() { return sessionStorage.getItem(TOKEN_KEY); },
  get user() { try { return JSON.parse(sessionStorage.getItem(USER_KEY) || 'null'); } catch { return null; } },
  set(token, user) { sessionStorage.setItem(TOKEN_KEY, token); sessionStorage.setItem(USER_KEY, JSON.stringify(user)); },
  clear() { sessionStorage.removeItem(TOKEN_KEY); sessionStorage.removeItem(USER_KEY); },
};

/** A GraphQL error: `code` (VALIDATION, …) and `fields` ({field: reason}) from the extensions. */
export class ApiError extends Error {
  constructor(errors) {
    const first = errors[0] || {};
    super(first.message || 'request failed');
    const ext = first.extensions || {};
    this.code = ext.code || '';
    this.fields = {};
    for (const e of errors) {
      const x = e.extensions || {};
      for (const f of x.fields || []) if (f.field && !this.fields[f.field]) this.fields[f.field] = f.reason;
      if (x.field && !this.fields[x.field]) this.fields[x.field] = e.message;
    }
    this.errors = errors;
  }
}

let onUnauthenticated = () => {};
export function whenUnauthenticated(f) { onUnauthenticated = f; }

export async function gql(query, variables = {}) {
  const headers = { 'Content-Type': 'application/json' };
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  let resp;
  try {
    resp = await fetch('/graphql', { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  } catch (e) {
    throw new Error(`the server cannot be reached (${e.message})`);
  }
  let body;
  try {
    body = await resp.json();
  } catch {
    throw new Error(`the server answered ${resp.status} ${resp.statusText}`);
  }
  if (body.errors && body.errors.length) {
    const err = new ApiError(body.errors);
    if (err.code === 'UNAUTHENTICATED' && session.token && !/login\s*\(/.test(query)) {
      session.clear();
      onUnauthenticated();
    }
    throw err;
  }
  return body.data;
}

/** Like `gql`, but hands back `{data, errors}` as the server sent them (partial results). */
export async function gqlAll(query, variables = {}) {
  const headers = { 'Content-Type': 'application/json' };
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  const resp = await fetch('/graphql', { method: 'POST', headers, body: JSON.stringify({ query, variables }) })
    .catch((e) => { throw new Error(`the server cannot be reached (${e.message})`); });
  const body = await resp.json().catch(() => { throw new Error(`the server answered ${resp.status} ${resp.statusText}`); });
  const errors = body.errors && body.errors.length ? body.errors : null;
  if (errors && errors.some((e) => (e.extensions || {}).code === 'UNAUTHENTICATED') && session.token) {
    session.clear();
    onUnauthenticated();
  }
  return { data: body.data || null, errors };
}

// Which list fields are already cursor connections on this server (learned on first use).
const shapes = new Map();

const isShapeError = (e) => e instanceof ApiError && e.code !== 'VALIDATION' &&
  /nodes|totalCount|pageInfo|Unknown argument|unknown field|first|after|search|orderBy/i.test(e.message);

/**
 * Lists `field` with `fields` selected. `args` are {name: [graphqlType, value]} filters understood
 * by both shapes; `page` is {first, after, search}. Returns {nodes, totalCount, hasNextPage,
 * endCursor}; on a plain list the search is applied here (`searchIn(row)` gives the text).
 */
export async function list(field, fields, args = {}, page = {}, searchIn = null) {
  const shape = shapes.get(field);
  if (shape !== 'list') {
    const all = { ...args };
    if (page.first) all.first = ['Int', page.first];
    if (page.after) all.after = ['String', page.after];
    if (page.search) all.search = ['String', page.search];
    try {
      const d = await gql(build(field, all, `totalCount pageInfo { hasNextPage endCursor } nodes { ${fields} }`), values(all));
      shapes.set(field, 'connection');
      const c = d[field];
      return { nodes: c.nodes, totalCount: c.totalCount, hasNextPage: c.pageInfo.hasNextPage, endCursor: c.pageInfo.endCursor };
    } catch (e) {
      if (shape === 'connection' || !isShapeError(e)) throw e;
      shapes.set(field, 'list');
    }
  }
  const plain = { ...args };
  if (field === 'jobs') plain.limit = ['Int', page.first || 200];
  const d = await gql(build(field, plain, fields), values(plain));
  let rows = d[field] || [];
  if (page.search && searchIn) {
    const q = page.search.toLowerCase();
    rows = rows.filter((r) => searchIn(r).toLowerCase().includes(q));
  }
  return { nodes: rows, totalCount: rows.length, hasNextPage: false, endCursor: null };
}

function build(field, args, selection) {
  const names = Object.keys(args).filter((k) => args[k][1] !== undefined && args[k][1] !== null && args[k][1] !== '');
  const decl = names.map((k) => `$${k}: ${args[k][0]}`).join(', ');
  const pass = names.map((k) => `${k}: $${k}`).join(', ');
  return `query${decl ? `(${decl})` : ''} { ${field}${pass ? `(${pass})` : ''} { ${selection} } }`;
}

function values(args) {
  const v = {};
  for (const [k, [, val]] of Object.entries(args)) if (val !== undefined && val !== null && val !== '') v[k] = val;
  return v;
}

/** A chart as an SVG string, with the caller's token (GraphQL `chartSvg`). */
export async function chartSvg(kind, opts = {}) {
  const d = await gql(`query($k: String!, $r: Int, $c: Int, $p: Int, $d: Int!, $w: Int!, $h: Int!) {
    chartSvg(kind: $k, repository: $r, client: $c, policy: $p, days: $d, width: $w, height: $h) }`,
  { k: kind, r: opts.repository ?? null, c: opts.client ?? null, p: opts.policy ?? null, d: opts.days || 30, w: opts.width || 800, h: opts.height || 360 });
  return d.chartSvg;
}

// One websocket shared by every live view; reopened on demand.
let socket = null;
let ready = null;
let nextId = 1;
const subs = new Map();

function connect() {
  if (ready) return ready;
  ready = new Promise((resolve, reject) => {
    const proto = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${proto}://${location.host}/graphql/ws`, 'graphql-transport-ws');
    socket = ws;
    ws.onopen = () => ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${session.token}` } }));
    ws.onmessage = (ev) => {
      let m;
      try { m = JSON.parse(ev.data); } catch { return; }
      if (m.type === 'connection_ack') resolve(ws);
      else if (m.type === 'ping') ws.send(JSON.stringify({ type: 'pong' }));
      else if (m.type === 'next' && subs.has(m.id)) {
        const s = subs.get(m.id);
        if (m.payload.errors) s.onError(new ApiError(m.payload.errors)); else s.onData(m.payload.data);
      } else if (m.type === 'error' && subs.has(m.id)) subs.get(m.id).onError(new ApiError(m.payload || []));
      else if (m.type === 'complete') subs.delete(m.id);
    };
    ws.onerror = () => reject(new Error('the live connection failed'));
    ws.onclose = () => {
      ready = null;
      socket = null;
      for (const s of subs.values()) s.onClose();
      subs.clear();
      reject(new Error('the live connection closed'));
    };
  });
  return ready;
}

/**
 * Subscribes; returns a function that stops the subscription. `onOpen` runs when the
 * subscription is sent, `onClose` when the connection closes under it.
 */
export function subscribe(query, variables, { onData, onError = () => {}, onClose = () => {}, onOpen = () => {} }) {
  const id = String(nextId++);
  let stopped = false;
  subs.set(id, { onData, onError, onClose });
  connect().then((ws) => {
    if (!stopped && subs.has(id)) {
      ws.send(JSON.stringify({ id, type: 'subscribe', payload: { query, variables } }));
      onOpen();
    }
  }).catch((e) => { if (subs.has(id)) onError(e); }); // the close that follows calls onClose
  return () => {
    stopped = true;
    if (subs.delete(id) && socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ id, type: 'complete' }));
  };
}

/**
 * A subscription that outlives the connection: when the websocket closes it subscribes again
 * (after 0.5 s, doubling up to 10 s) with `variables()` evaluated anew, so that it resumes
 * after the last cursor or line it saw. `onState` hears 'live' and 'reconnecting'.
 * Returns a function that stops it.
 */
export function liveSubscribe(query, variables, { onData, onError = () => {}, onState = () => {} }) {
  let stopped = false;
  let stop = null;
  let timer = null;
  let delay = 500;
  const start = () => {
    timer = null;
    if (stopped || !session.token) return;
    stop = subscribe(query, variables(), {
      onData: (d) => { delay = 500; onData(d); },
      onError,
      onOpen: () => onState('live'),
      onClose: () => {
        if (stopped || timer) return;
        onState('reconnecting');
        timer = setTimeout(start, delay);
        delay = Math.min(delay * 2, 10000);
      },
    });
  };
  start();
  return () => { stopped = true; clearTimeout(timer); if (stop) stop(); };
}

export function closeLive() {
  if (socket) socket.close();
}
