// Where the studio lives: a local `acegit serve` this window starts and stops, or a configured remote server.

import { ChildProcess, spawn as nodeSpawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

export interface Connection {
  url: string; // origin of the server, no trailing slash: http://127.0.0.1:PORT
  token: string;
  local: boolean;
}

export interface Settings {
  remoteUrl: string;
  token: string;
  command: string;
  device: string;
}

// `acegit serve` prints one line on stderr once it listens: "acegit serve: NAME at http://HOST:PORT/?token=T".
const LISTENING = /acegit serve: .* at (https?:\/\/[^\s/]+)\/\?token=(\S+)/;

export function parseServeLine(line: string): { url: string; token: string } | null {
  const m = LISTENING.exec(line);
  return m ? { url: m[1], token: decodeURIComponent(m[2]) } : null;
}

/** A server URL as the studio needs it: http(s), no path, query or fragment; throws a readable error otherwise. */
export function normaliseUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    throw new Error(`acegit.remoteUrl ${JSON.stringify(raw)} is not a URL (e.g. http://gpu-box.lan:8765)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new Error(`acegit.remoteUrl must be http:// or https://, not ${u.protocol}`);
  }
  if ((u.pathname !== '/' && u.pathname !== '') || u.search || u.hash) {
    throw new Error('acegit.remoteUrl is the server itself (scheme, host and port): no path, query or fragment');
  }
  return u.origin;
}

/** Remote mode when a URL is configured; it needs its token. Null: local mode. */
export function remoteConnection(settings: Settings): Connection | null {
  if (!settings.remoteUrl.trim()) return null;
  const token = settings.token.trim();
  if (!token) throw new Error('acegit.remoteUrl is set: set acegit.token to the token that server was started with');
  return { url: normaliseUrl(settings.remoteUrl), token, local: false };
}

/** A server that already runs for the project (`acegit serve` started by hand): `.acegit/serve.json`, if its process
 * lives. The extension uses it and leaves it running. */
export function runningServer(root: string): Connection | null {
  try {
    const info = JSON.parse(readFileSync(path.join(root, '.acegit', 'serve.json'), 'utf8'));
    if (typeof info.url !== 'string' || typeof info.token !== 'string' || typeof info.pid !== 'number') return null;
    process.kill(info.pid, 0); // throws when no such process
    return { url: normaliseUrl(info.url), token: info.token, local: false };
  } catch {
    return null;
  }
}

export type Spawn = typeof nodeSpawn;

/** `acegit serve --port 0` in the workspace, with a token of our own; resolves once it prints its URL. */
export class LocalServer {
  private proc: ChildProcess | null = null;
  private output = '';

  constructor(
    private readonly settings: Settings,
    private readonly cwd: string,
    private readonly spawn: Spawn = nodeSpawn,
  ) {}

  get running(): boolean {
    return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  start(timeoutMs = 120_000): Promise<Connection> {
    const token = randomBytes(24).toString('base64url');
    const args = ['serve', '--port', '0', '--device', this.settings.device || 'auto'];
    const env = { ...process.env, ACEGIT_TOKEN: token };
    const proc = this.spawn(this.settings.command || 'acegit', args, { cwd: this.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    return new Promise<Connection>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`acegit serve did not start within ${timeoutMs / 1000} s`)), timeoutMs);
      const fail = (err: Error) => {
        clearTimeout(timer);
        void this.stop();
        reject(err);
      };
      const onData = (chunk: Buffer) => {
        this.output = (this.output + chunk.toString('utf8')).slice(-8000);
        for (const line of this.output.split('\n')) {
          const found = parseServeLine(line);
          if (found) {
            clearTimeout(timer);
            resolve({ url: found.url, token, local: true });
            return;
          }
        }
      };
      proc.stdout?.on('data', onData);
      proc.stderr?.on('data', onData);
      proc.on('error', (err) => fail(new Error(`could not run ${this.settings.command}: ${err.message}`)));
      proc.on('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`acegit serve exited (${signal ?? code}): ${this.output.trim().slice(-2000)}`));
      });
    });
  }

  /** SIGTERM (the server cancels its job and exits cleanly), then SIGKILL after graceMs. */
  stop(graceMs = 10_000): Promise<void> {
    const proc = this.proc;
    this.proc = null;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      proc.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      proc.kill('SIGTERM');
    });
  }
}
