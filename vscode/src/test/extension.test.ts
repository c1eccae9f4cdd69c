import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { beforeEach, test } from 'node:test';
import { editorFor, recorded, reset } from './vscode-mock'; // first: the extension's `require('vscode')` gets the mock
import { activate, deactivate } from '../extension';
import { formatDiff, statusText, trackNameOf } from '../commands';
import { studioHtml } from '../webview';
import { TOKEN, fakeAcegit, fakeApi } from './fakes';

const manifest = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'));
const context = () => ({ subscriptions: [] as { dispose(): unknown }[] });
const until = async (ok: () => boolean, ms = 5000) => {
  for (const end = Date.now() + ms; !ok(); ) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
};

beforeEach(() => reset());

test('the three commands of package.json are the ones registered, with their titles', () => {
  recorded.workspaceFolders = [{ uri: { fsPath: '/w' } }];
  recorded.config['acegit.autoStart'] = false;
  activate(context() as never);
  const contributed = manifest.contributes.commands.map((c: { command: string; category: string; title: string }) => [c.command, `${c.category}: ${c.title}`]);
  assert.deepEqual(contributed, [
    ['acegit.openStudio', 'acegit: Open Studio'],
    ['acegit.renderTrack', 'acegit: Render Track'],
    ['acegit.diffWithHead', 'acegit: Diff with HEAD'],
  ]);
  assert.deepEqual([...recorded.commands.keys()].sort(), contributed.map((c: string[]) => c[0]).sort());
  assert.ok(manifest.contributes.configuration.properties['acegit.remoteUrl'] && manifest.contributes.configuration.properties['acegit.token']);
});

test('remote mode: status bar counts stale tracks; the studio opens in a webview with a strict CSP', async () => {
  const server = await fakeApi();
  try {
    recorded.workspaceFolders = [{ uri: { fsPath: '/w' } }];
    recorded.config = { 'acegit.remoteUrl': server.url + '/', 'acegit.token': TOKEN };
    activate(context() as never);
    const item = recorded.statusItems[0];
    await until(() => item.text.includes('stale'));
    assert.equal(item.text, '$(pulse) acegit: 2 stale');
    assert.match(item.tooltip, /boss: prompt/);
    assert.equal(item.command, 'acegit.openStudio');

    await recorded.commands.get('acegit.openStudio')!();
    assert.deepEqual(recorded.errors, []);
    const [panel] = recorded.panels;
    assert.equal(panel.title, 'acegit studio');
    assert.deepEqual(recorded.externalUris, [server.url]); // remote development: the URL as the webview reaches it
    const html = panel.webview.html;
    assert.match(html, new RegExp(`content="default-src 'none'; frame-src ${server.url}; style-src 'nonce-[^']+'`));
    assert.ok(html.includes(`<iframe src="${server.url}/#token=${TOKEN}"`));
    await recorded.commands.get('acegit.openStudio')!(); // a second time reveals the same panel
    assert.equal(recorded.panels.length, 1);
  } finally {
    await deactivate();
    await server.close();
  }
});

test('Render Track renders the track in the active editor, saving it first; other files are refused', async () => {
  const server = await fakeApi();
  try {
    recorded.workspaceFolders = [{ uri: { fsPath: '/w' } }];
    recorded.config = { 'acegit.remoteUrl': server.url, 'acegit.token': TOKEN, 'acegit.autoStart': false };
    activate(context() as never);
    const editor = editorFor('/w/tracks/boss.toml', true);
    recorded.activeTextEditor = editor;
    await recorded.commands.get('acegit.renderTrack')!();
    assert.deepEqual(recorded.errors, []);
    assert.equal(editor.document.saved, 1);
    assert.deepEqual(recorded.info, ['acegit: boss rendered → build/boss.wav']);
    assert.ok(recorded.progressTitles.includes('acegit: rendering boss'));
    assert.deepEqual(JSON.parse(server.requests.find((r) => r.method === 'POST')!.body), { tracks: ['boss'] });

    recorded.activeTextEditor = editorFor('/w/tracks/boss.lock.toml');
    await recorded.commands.get('acegit.renderTrack')!();
    assert.match(recorded.errors[0], /Open a track file/);
  } finally {
    await deactivate();
    await server.close();
  }
});

test('Diff with HEAD opens the diff of the active track as Markdown', async () => {
  const server = await fakeApi();
  try {
    recorded.workspaceFolders = [{ uri: { fsPath: '/w' } }];
    recorded.config = { 'acegit.remoteUrl': server.url, 'acegit.token': TOKEN, 'acegit.autoStart': false };
    activate(context() as never);
    recorded.activeTextEditor = editorFor('/w/tracks/boss.toml');
    await recorded.commands.get('acegit.diffWithHead')!();
    assert.deepEqual(recorded.errors, []);
    const [doc] = recorded.documents;
    assert.equal(doc.language, 'markdown');
    assert.match(doc.content, /# boss: HEAD → working tree/);
    assert.match(doc.content, /\| bpm \| 120 \| 140 \|/);
    assert.match(doc.content, /changed: 1–3 s \(of 3 s\)/);
  } finally {
    await deactivate();
    await server.close();
  }
});

test('a remote URL without a token is an error message, not a crash', async () => {
  recorded.workspaceFolders = [{ uri: { fsPath: '/w' } }];
  recorded.config = { 'acegit.remoteUrl': 'http://h:8765', 'acegit.autoStart': false };
  activate(context() as never);
  await recorded.commands.get('acegit.openStudio')!();
  assert.match(recorded.errors[0], /set acegit.token/);
  await deactivate();
});

test('local mode: the first command starts acegit serve for the workspace; closing the window stops it', async () => {
  const fake = fakeAcegit();
  recorded.workspaceFolders = [{ uri: { fsPath: fake.dir } }];
  recorded.config = { 'acegit.command': fake.command, 'acegit.autoStart': false };
  activate(context() as never);
  await recorded.commands.get('acegit.openStudio')!();
  assert.deepEqual(recorded.errors, []);
  const seen = JSON.parse(readFileSync(path.join(fake.dir, 'args.json'), 'utf8'));
  assert.equal(seen.cwd, fake.dir);
  assert.ok(recorded.panels[0].webview.html.includes(`#token=${encodeURIComponent(seen.token)}`));
  assert.equal(recorded.statusItems[0].text, '$(pulse) acegit: 2 stale');
  assert.equal(existsSync(path.join(fake.dir, 'stopped')), false);
  await deactivate();
  assert.equal(readFileSync(path.join(fake.dir, 'stopped'), 'utf8'), 'SIGTERM');
  assert.equal(recorded.statusItems[0].disposed, true);
});

test('local mode uses an acegit serve that already runs for the project, and leaves it running', async () => {
  const server = await fakeApi();
  const root = mkdtempSync(path.join(tmpdir(), 'proj-'));
  try {
    mkdirSync(path.join(root, '.acegit'));
    writeFileSync(path.join(root, '.acegit', 'serve.json'), JSON.stringify({ url: server.url, token: TOKEN, pid: process.pid }));
    recorded.workspaceFolders = [{ uri: { fsPath: root } }];
    recorded.config = { 'acegit.command': path.join(root, 'no-such-acegit'), 'acegit.autoStart': false };
    activate(context() as never);
    await recorded.commands.get('acegit.openStudio')!();
    assert.deepEqual(recorded.errors, []);
    assert.ok(recorded.panels[0].webview.html.includes(`<iframe src="${server.url}/#token=${TOKEN}"`));
    // A dead pid: the file is stale, so the extension starts its own (here: a command that does not exist).
    writeFileSync(path.join(root, '.acegit', 'serve.json'), JSON.stringify({ url: server.url, token: TOKEN, pid: 2 ** 22 + 7 }));
    await deactivate();
    reset();
    recorded.workspaceFolders = [{ uri: { fsPath: root } }];
    recorded.config = { 'acegit.command': path.join(root, 'no-such-acegit'), 'acegit.autoStart': false };
    activate(context() as never);
    await recorded.commands.get('acegit.openStudio')!();
    assert.match(recorded.errors[0], /no-such-acegit/);
  } finally {
    await deactivate();
    await server.close();
  }
});

test('pure helpers: track names, status text, diff text, webview page', () => {
  assert.equal(trackNameOf('/w/tracks/boss.toml', '/w/tracks'), 'boss');
  assert.equal(trackNameOf('/w/tracks/boss.lock.toml', '/w/tracks'), null);
  assert.equal(trackNameOf('/w/tracks/sub/boss.toml', '/w/tracks'), null);
  assert.equal(trackNameOf('/w/acegit.toml', '/w/tracks'), null);
  assert.equal(trackNameOf('/w/tracks/Boss.toml', '/w/tracks'), null);
  const fresh = statusText({ project: 'p', summary: { fresh: 1, stale: 0, invalid: 1 }, tracks: [] });
  assert.deepEqual(fresh, { text: '$(pulse) acegit: 0 stale, 1 invalid', tooltip: 'p: every track is fresh' });
  assert.match(formatDiff({ a: 'HEAD', b: 'working tree', tracks: [] }, 'x'), /No change/);
  const html = studioHtml({ url: 'http://127.0.0.1:9/', token: 'a"b&<', nonce: 'n' });
  assert.ok(html.includes('src="http://127.0.0.1:9/#token=a%22b%26%3C"'));
  assert.ok(!html.includes('<script'));
});
