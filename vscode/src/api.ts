// The acegit serve API as the extension uses it: status, render jobs with their progress, diff.

import type { Connection } from './connection';

export interface TrackStatus {
  name: string;
  state: 'fresh' | 'stale' | 'invalid';
  reasons: string[];
  message: string | null;
}

export interface Status {
  project: string;
  summary: { fresh: number; stale: number; invalid: number };
  tracks: TrackStatus[];
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field: string | null = null,
  ) {
    super(message);
  }
}

export type Fetch = typeof fetch;

export class Api {
  constructor(
    readonly conn: Connection,
    private readonly fetchFn: Fetch = fetch,
  ) {}

  private async send(method: string, path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = { Authorization: `Bearer ${this.conn.token}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const resp = await this.fetchFn(this.conn.url + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!resp.ok) {
      const data = (await resp.json().catch(() => ({}))) as { error?: { message?: string; field?: string } };
      throw new ApiError(resp.status, data.error?.message ?? `HTTP ${resp.status}`, data.error?.field ?? null);
    }
    return resp;
  }

  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    return (await (await this.send(method, path, body)).json()) as T;
  }

  status(): Promise<Status> {
    return this.json<Status>('GET', '/v1/status');
  }

  diff(track: string, a = 'HEAD'): Promise<DiffJson> {
    const q = new URLSearchParams({ a, track });
    return this.json<DiffJson>('GET', `/v1/diff?${q}`);
  }

  /** Render one track; onProgress gets a fraction 0..1 as the job's events arrive. Resolves with its result. */
  async render(track: string, onProgress: (fraction: number) => void): Promise<RenderResult> {
    const job = await this.json<{ id: string }>('POST', '/v1/jobs', { tracks: [track] });
    const last = await this.follow(job.id, (e) => {
      if (e.event === 'progress' && typeof e.step === 'number' && typeof e.steps === 'number') onProgress(e.step / e.steps);
    });
    if (last?.event !== 'done') {
      const why = typeof last?.error === 'string' ? last.error : JSON.stringify(last?.error ?? 'the event stream ended');
      throw new ApiError(500, `render of ${track} ${last?.event ?? 'ended'}: ${why}`);
    }
    onProgress(1);
    return (await this.json<{ result: RenderResult }>('GET', `/v1/jobs/${job.id}/result`)).result;
  }

  /** A job's Server-Sent Events until it ends; resolves with the last one. */
  async follow(jobId: string, onEvent: (e: JobEvent) => void): Promise<JobEvent | null> {
    const resp = await this.send('GET', `/v1/jobs/${encodeURIComponent(jobId)}/events`);
    let last: JobEvent | null = null;
    let buffer = '';
    const decoder = new TextDecoder();
    const emit = (blocks: string) => {
      for (const e of parseEvents(blocks)) {
        last = e;
        onEvent(e);
      }
    };
    for await (const chunk of resp.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      const cut = buffer.lastIndexOf('\n\n');
      if (cut >= 0) {
        emit(buffer.slice(0, cut));
        buffer = buffer.slice(cut + 2);
      }
    }
    emit(buffer);
    return last;
  }
}

export interface JobEvent {
  event: string;
  [key: string]: unknown;
}

/** The `data:` payloads of a text/event-stream body. */
export function parseEvents(text: string): JobEvent[] {
  return text
    .split(/\n\n/)
    .map((block) =>
      block
        .split('\n')
        .filter((l) => l.startsWith('data: '))
        .map((l) => l.slice(6))
        .join('\n'),
    )
    .filter(Boolean)
    .map((data) => JSON.parse(data) as JobEvent);
}

export interface RenderResult {
  tracks: { name: string; result: string; audio: string | null; lock: string | null; warning?: string | null }[];
}

export interface DiffJson {
  a: string;
  b: string;
  tracks: {
    name: string;
    status: string;
    verdict: string;
    params: { field: string; old: unknown; new: unknown }[];
    not_rendered?: boolean;
    latent: { change: number | string; per_second: (number | string)[]; changed_seconds: number[][] } | null;
  }[];
}
