// The one module that talks to the server: JSON requests, media as blob: URLs, job events. Same origin only.

let token = null; // a bearer token handed in the URL fragment (VS Code's webview); else the HttpOnly cookie is used

export function setToken(value) {
  token = value || null;
}

export class ApiError extends Error {
  constructor(status, error) {
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.field = error.field || null;
    this.hint = error.hint || null;
  }
}

function headers(extra = {}) {
  return token ? { ...extra, Authorization: `Bearer ${token}` } : extra;
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    for (const item of Array.isArray(v) ? v : [v]) if (item !== null && item !== undefined) q.append(k, item);
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

export const trackPath = (name, rest = '') => `/v1/tracks/${encodeURIComponent(name)}${rest}`;

async function send(method, path, body, init = {}) {
  const opts = { method, credentials: 'same-origin', headers: headers(), ...init };
  if (body !== undefined) {
    opts.headers = headers({ 'Content-Type': 'application/json' });
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(path, opts);
  if (!resp.ok) {
    const data = await resp.json().catch(() => ({}));
    throw new ApiError(resp.status, data.error || {});
  }
  return resp;
}

export async function request(method, path, body) {
  return (await send(method, path, body)).json();
}

export const get = (path) => request('GET', path);
export const put = (path, body) => request('PUT', path, body);
export const post = (path, body) => request('POST', path, body);

// Audio and images are fetched (so the bearer token can go along) and shown from memory: A/B switches instantly.
export async function blobUrl(path) {
  const resp = await send('GET', path);
  return URL.createObjectURL(await resp.blob());
}

// A job's Server-Sent Events, read with fetch (EventSource cannot send a header); calls onEvent for each one and
// resolves with the last (done, failed or cancelled).
export async function follow(jobId, onEvent) {
  const resp = await send('GET', `/v1/jobs/${encodeURIComponent(jobId)}/events`);
  const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let last = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let cut;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
      if (!data) continue;
      last = JSON.parse(data);
      onEvent(last);
    }
  }
  return last;
}

// A job from start to result: submit, follow, then its result. `renders` is how many renders the job makes (a
// sketch makes one per candidate), so the fraction passed to onProgress reaches 1 at the end of the last.
export async function runJob(path, body, onProgress, renders = 1) {
  const job = await post(path, body);
  let finished = 0;
  const last = await follow(job.id, (e) => {
    if (e.event === 'progress') onProgress?.(Math.min(1, (finished + e.step / e.steps) / renders));
    if (e.event === 'track') finished += 1;
  });
  if (!last || last.event !== 'done') {
    const why = last?.error?.message || last?.error || 'the event stream ended';
    throw new ApiError(500, { message: `job ${job.id} ${last?.event || 'ended'}: ${why}` });
  }
  onProgress?.(1);
  return (await get(`/v1/jobs/${job.id}/result`)).result;
}
