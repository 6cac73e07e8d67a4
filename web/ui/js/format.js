// Formatting of sizes, dates and durations.

export function bytes(n) {
  if (n === null || n === undefined) return '—';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = Number(n);
  let i = 0;
  while (Math.abs(v) >= 1024 && i < u.length - 1) { v /= 1024; i += 1; }
  return `${i ? v.toFixed(v < 10 ? 2 : 1) : v} ${u[i]}`;
}

export function date(s) {
  if (!s) return '—';
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) return s;
  return d.toISOString().replace('T', ' ').slice(0, 19) + ' UTC';
}

export function ago(s) {
  if (!s) return '—';
  const secs = (Date.now() - new Date(s).getTime()) / 1000;
  const f = (n, u) => `${Math.round(n)} ${u}${Math.round(n) === 1 ? '' : 's'}`;
  const abs = Math.abs(secs);
  if (abs < 10) return 'just now';
  const txt = abs < 60 ? f(abs, 'second') : abs < 3600 ? f(abs / 60, 'minute') : abs < 86400 ? f(abs / 3600, 'hour') : f(abs / 86400, 'day');
  return secs >= 0 ? `${txt} ago` : `in ${txt}`;
}

export function duration(secs) {
  if (secs === null || secs === undefined) return '—';
  const s = Math.round(Number(secs));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

export const FINISHED = ['successful', 'failed', 'error', 'canceled'];
export const isFinished = (status) => FINISHED.includes(status);
