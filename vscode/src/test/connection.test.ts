import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { LocalServer, normaliseUrl, parseServeLine, remoteConnection } from '../connection';
import { fakeAcegit } from './fakes';

const settings = { remoteUrl: '', token: '', command: 'acegit', device: 'cpu' };

test('the line acegit serve prints gives the URL and token', () => {
  assert.deepEqual(parseServeLine('acegit serve: my-game at http://127.0.0.1:43121/?token=a%2Bb'), { url: 'http://127.0.0.1:43121', token: 'a+b' });
  assert.equal(parseServeLine('loading models'), null);
});

test('remote URLs are normalised, and refused with a reason when they are not a server', () => {
  assert.equal(normaliseUrl('http://gpu-box.lan:8765/'), 'http://gpu-box.lan:8765');
  assert.equal(normaliseUrl(' https://music.example.com '), 'https://music.example.com');
  assert.throws(() => normaliseUrl('gpu-box:8765'), /http:\/\/ or https:\/\//);
  assert.throws(() => normaliseUrl('not a url'), /is not a URL/);
  assert.throws(() => normaliseUrl('http://h:1/studio?x=1'), /no path, query or fragment/);
});

test('remote mode needs its token; no URL means local mode', () => {
  assert.equal(remoteConnection(settings), null);
  assert.throws(() => remoteConnection({ ...settings, remoteUrl: 'http://h:8765' }), /set acegit.token/);
  assert.deepEqual(remoteConnection({ ...settings, remoteUrl: 'http://h:8765/', token: ' T ' }), { url: 'http://h:8765', token: 'T', local: false });
});

test('local mode starts `acegit serve --port 0` in the workspace with its own token, and stops it with SIGTERM', async () => {
  const fake = fakeAcegit();
  const server = new LocalServer({ ...settings, command: fake.command }, fake.dir);
  const conn = await server.start(20_000);
  assert.equal(server.running, true);
  const seen = JSON.parse(readFileSync(path.join(fake.dir, 'args.json'), 'utf8'));
  assert.deepEqual(seen.argv, ['serve', '--port', '0', '--device', 'cpu']);
  assert.equal(seen.cwd, fake.dir);
  assert.equal(conn.token, seen.token);
  assert.ok(conn.token.length >= 32 && conn.local);
  assert.match(conn.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const health = await fetch(`${conn.url}/v1/status`, { headers: { Authorization: `Bearer ${conn.token}` } });
  assert.equal(health.status, 200); // the URL parsed is the one it listens on
  await server.stop();
  assert.equal(server.running, false);
  assert.equal(readFileSync(path.join(fake.dir, 'stopped'), 'utf8'), 'SIGTERM');
  await server.stop(); // twice is harmless
});

test('a server that exits at start is reported with its own message', async () => {
  const fake = fakeAcegit('fail');
  const server = new LocalServer({ ...settings, command: fake.command }, fake.dir);
  await assert.rejects(server.start(20_000), /exited \(1\): acegit: error: no acegit.toml/);
});

test('a command that does not exist is reported', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'no-acegit-'));
  const server = new LocalServer({ ...settings, command: path.join(dir, 'missing') }, dir);
  await assert.rejects(server.start(20_000), /could not run .*missing|exited/);
  assert.equal(existsSync(path.join(dir, 'stopped')), false);
});
