import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Api, ApiError, parseEvents } from '../api';
import { TOKEN, fakeApi } from './fakes';

test('every request carries the bearer token; a refusal is an ApiError with the server message', async () => {
  const server = await fakeApi();
  try {
    const status = await new Api({ url: server.url, token: TOKEN, local: false }).status();
    assert.equal(status.summary.stale, 2);
    assert.equal(server.requests[0].auth, `Bearer ${TOKEN}`);
    await assert.rejects(new Api({ url: server.url, token: 'wrong', local: false }).status(), (e: unknown) => e instanceof ApiError && e.status === 401 && /wrong token/.test(e.message));
  } finally {
    await server.close();
  }
});

test('render posts the job, follows its events to the end and returns the result', async () => {
  const server = await fakeApi();
  try {
    const api = new Api({ url: server.url, token: TOKEN, local: false });
    const seen: number[] = [];
    const result = await api.render('boss', (f) => seen.push(f));
    assert.deepEqual(seen, [0.5, 1, 1]);
    assert.equal(result.tracks[0].result, 'rendered');
    const post = server.requests.find((r) => r.method === 'POST');
    assert.deepEqual(JSON.parse(post!.body), { tracks: ['boss'] });
    await assert.rejects(api.render('nope', () => {}), /no track named 'nope'/);
  } finally {
    await server.close();
  }
});

test('diff asks for the track against HEAD', async () => {
  const server = await fakeApi();
  try {
    await new Api({ url: server.url, token: TOKEN, local: false }).diff('boss');
    assert.equal(server.requests[0].url, '/v1/diff?a=HEAD&track=boss');
  } finally {
    await server.close();
  }
});

test('event-stream bodies are parsed by their data lines', () => {
  assert.deepEqual(parseEvents('id: 0\nevent: queued\ndata: {"event":"queued"}\n\n: keep-alive\n\nid: 1\ndata: {"event":"done"}\n\n'), [{ event: 'queued' }, { event: 'done' }]);
});
