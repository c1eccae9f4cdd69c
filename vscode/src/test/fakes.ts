// Test doubles that are real processes and sockets: an HTTP server speaking the part of the acegit API the
// extension uses, and an `acegit` executable that behaves as `acegit serve` does at start and stop.

import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

export const TOKEN = 'fake-token-123';

export interface FakeApi {
  url: string;
  requests: { method: string; url: string; auth: string | undefined; body: string }[];
  close(): Promise<void>;
}

const STATUS = {
  schema: 1,
  project: 'demo',
  summary: { fresh: 1, stale: 2, invalid: 0 },
  tracks: [
    { name: 'boss', state: 'stale', reasons: ['prompt'], message: null },
    { name: 'intro', state: 'stale', reasons: ['no snapshot'], message: null },
    { name: 'town', state: 'fresh', reasons: [], message: null },
  ],
};

const DIFF = {
  schema: 1, command: 'diff', a: 'HEAD', b: 'working tree',
  tracks: [{
    name: 'boss', status: 'modified', verdict: 'minor variation',
    params: [{ field: 'bpm', old: 120, new: 140 }],
    latent: { change: 0.21, per_second: [0.01, 0.3, 0.2], changed_seconds: [[1, 3]] },
  }],
};

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => resolve(data));
  });
}

export async function fakeApi(token = TOKEN): Promise<FakeApi> {
  const requests: FakeApi['requests'] = [];
  const server: Server = createServer(async (req, res) => {
    const text = await body(req);
    requests.push({ method: req.method ?? '', url: req.url ?? '', auth: req.headers.authorization, body: text });
    const json = (status: number, data: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(data));
    };
    if (req.headers.authorization !== `Bearer ${token}`) return json(401, { error: { status: 401, message: 'missing or wrong token', field: null } });
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/v1/status') return json(200, STATUS);
    if (url.pathname === '/v1/diff') return json(200, DIFF);
    if (req.method === 'POST' && url.pathname === '/v1/jobs') {
      const names = JSON.parse(text).tracks as string[];
      if (names[0] === 'nope') return json(404, { error: { status: 404, message: "no track named 'nope'", field: null } });
      return json(202, { id: 'job1', state: 'queued' });
    }
    if (url.pathname === '/v1/jobs/job1/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const events = [{ event: 'queued' }, { event: 'started' }, { event: 'batch', steps: 2 }, { event: 'progress', step: 1, steps: 2 }, { event: 'progress', step: 2, steps: 2 }, { event: 'track', name: 'boss', result: 'rendered' }, { event: 'done' }];
      for (const [i, e] of events.entries()) {
        res.write(`id: ${i}\nevent: ${e.event}\ndata: ${JSON.stringify({ job: 'job1', ...e })}\n\n`);
        await new Promise((r) => setTimeout(r, 5));
      }
      return res.end();
    }
    if (url.pathname === '/v1/jobs/job1/result') return json(200, { id: 'job1', state: 'done', result: { tracks: [{ name: 'boss', result: 'rendered', audio: 'build/boss.wav', lock: 'tracks/boss.lock.toml' }] } });
    json(404, { error: { status: 404, message: 'no route', field: null } });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

/** An executable that acts as `acegit serve` does: serves the fake API, prints its URL line on stderr, exits 0 on
 * SIGTERM (writing `stopped` with its arguments). `mode: 'fail'` exits 1 with a message instead. */
export function fakeAcegit(mode: 'serve' | 'fail' = 'serve'): { command: string; dir: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'fake-acegit-'));
  const fakes = JSON.stringify(path.join(__dirname, 'fakes.js'));
  const script = mode === 'fail'
    ? `#!/usr/bin/env node\nprocess.stderr.write('acegit: error: no acegit.toml here or above\\n'); process.exit(1);\n`
    : `#!/usr/bin/env node
const fs = require('fs');
const { fakeApi } = require(${fakes});
fs.writeFileSync('args.json', JSON.stringify({ argv: process.argv.slice(2), token: process.env.ACEGIT_TOKEN, cwd: process.cwd() }));
fakeApi(process.env.ACEGIT_TOKEN).then((api) => {
  process.stderr.write('loading models\\n');
  process.stderr.write('acegit serve: demo at ' + api.url + '/?token=' + process.env.ACEGIT_TOKEN + '\\n');
  process.on('SIGTERM', () => { fs.writeFileSync('stopped', 'SIGTERM'); api.close().then(() => process.exit(0)); });
});
`;
  const command = path.join(dir, 'acegit');
  writeFileSync(command, script);
  chmodSync(command, 0o755);
  return { command, dir };
}
