// The extension: commands, the studio webview, the status bar. The logic lives in connection.ts, api.ts,
// commands.ts and webview.ts; this file only wires it to VS Code.

import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { Api } from './api';
import { formatDiff, statusText, trackNameOf } from './commands';
import { Connection, LocalServer, Settings, remoteConnection, runningServer } from './connection';
import { studioHtml } from './webview';

const STATUS_SECONDS = 10;

export class Studio implements vscode.Disposable {
  private local: LocalServer | null = null;
  private connecting: Promise<Api> | null = null;
  private panel: vscode.WebviewPanel | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  readonly statusItem: vscode.StatusBarItem;

  private disposed = false;

  constructor(readonly root: string) {
    this.statusItem = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 50);
    this.statusItem.command = 'acegit.openStudio';
    this.statusItem.text = '$(pulse) acegit';
    this.statusItem.tooltip = 'acegit: open the studio';
    this.statusItem.show();
  }

  settings(): Settings {
    const c = vscode.workspace.getConfiguration('acegit');
    return {
      remoteUrl: c.get<string>('remoteUrl', ''),
      token: c.get<string>('token', ''),
      command: c.get<string>('command', 'acegit'),
      device: c.get<string>('device', 'auto'),
    };
  }

  /** The server: the configured remote one, else a local `acegit serve` started once for this window. */
  connect(): Promise<Api> {
    if (!this.connecting) {
      this.connecting = this.open().catch((err: Error) => {
        this.connecting = null;
        throw err;
      });
    }
    return this.connecting;
  }

  private async open(): Promise<Api> {
    const settings = this.settings();
    let conn: Connection | null = remoteConnection(settings) ?? runningServer(this.root);
    if (!conn) {
      this.local = new LocalServer(settings, this.root);
      conn = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Window, title: 'acegit: starting acegit serve' },
        () => this.local!.start(),
      );
    }
    const api = new Api(conn);
    await this.refreshStatus(api);
    this.timer = setInterval(() => void this.refreshStatus(api), STATUS_SECONDS * 1000);
    return api;
  }

  async refreshStatus(api?: Api): Promise<void> {
    try {
      const status = await (api ?? (await this.connect())).status();
      const { text, tooltip } = statusText(status);
      this.statusItem.text = text;
      this.statusItem.tooltip = tooltip;
    } catch (err) {
      this.statusItem.text = '$(warning) acegit';
      this.statusItem.tooltip = `acegit: ${(err as Error).message}`;
    }
  }

  async openStudio(): Promise<void> {
    const api = await this.connect();
    if (this.panel) {
      this.panel.reveal();
      return;
    }
    const external = await vscode.env.asExternalUri(vscode.Uri.parse(api.conn.url));
    const panel = vscode.window.createWebviewPanel('acegitStudio', 'acegit studio', vscode.ViewColumn.Active, {
      enableScripts: true, // for the framed studio; the page's own CSP allows no script
      retainContextWhenHidden: true, // the player keeps its place when the tab is hidden
    });
    const nonce = randomBytes(16).toString('base64url');
    panel.webview.html = studioHtml({ url: external.toString(true), token: api.conn.token, nonce });
    panel.onDidDispose(() => (this.panel = null));
    this.panel = panel;
  }

  private activeTrack(): string {
    const doc = vscode.window.activeTextEditor?.document;
    const name = doc ? trackNameOf(doc.uri.fsPath, path.join(this.root, 'tracks')) : null;
    if (!name) throw new Error('Open a track file (tracks/<name>.toml) in the editor first.');
    return name;
  }

  async renderTrack(): Promise<void> {
    const name = this.activeTrack();
    const doc = vscode.window.activeTextEditor?.document;
    if (doc?.isDirty) await doc.save(); // render what is on screen
    const api = await this.connect();
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `acegit: rendering ${name}` },
      async (progress) => {
        let done = 0;
        return api.render(name, (f) => {
          const pct = Math.round(f * 100);
          progress.report({ increment: pct - done, message: `${pct}%` });
          done = pct;
        });
      },
    );
    const t = result.tracks[0];
    void vscode.window.showInformationMessage(`acegit: ${name} ${t?.result ?? 'done'}${t?.audio ? ` → ${t.audio}` : ''}`);
    await this.refreshStatus(api);
  }

  async diffWithHead(): Promise<void> {
    const name = this.activeTrack();
    const api = await this.connect();
    const content = formatDiff(await api.diff(name, 'HEAD'), name);
    const doc = await vscode.workspace.openTextDocument({ content, language: 'markdown' });
    await vscode.window.showTextDocument(doc, { preview: true });
  }

  /** A track file was saved: its status may have changed (only when connected: saving never starts a server). */
  onSaved(file: string): void {
    if (this.connecting && trackNameOf(file, path.join(this.root, 'tracks'))) void this.refreshStatus();
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    if (this.timer) clearInterval(this.timer);
    this.panel?.dispose();
    this.statusItem.dispose();
    await this.local?.stop(); // local mode: the server lives as long as the window
    this.local = null;
  }
}

let studio: Studio | null = null;

function guarded(fn: () => Promise<void>): () => Promise<void> {
  return async () => {
    try {
      await fn();
    } catch (err) {
      void vscode.window.showErrorMessage(`acegit: ${(err as Error).message}`);
    }
  };
}

export function activate(context: vscode.ExtensionContext): Studio | null {
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder) return null;
  const s = new Studio(folder.uri.fsPath);
  studio = s;
  context.subscriptions.push(
    vscode.commands.registerCommand('acegit.openStudio', guarded(() => s.openStudio())),
    vscode.commands.registerCommand('acegit.renderTrack', guarded(() => s.renderTrack())),
    vscode.commands.registerCommand('acegit.diffWithHead', guarded(() => s.diffWithHead())),
    vscode.workspace.onDidSaveTextDocument((doc) => s.onSaved(doc.uri.fsPath)),
    { dispose: () => void s.dispose() },
  );
  if (vscode.workspace.getConfiguration('acegit').get<boolean>('autoStart', true)) void s.refreshStatus();
  return s;
}

export async function deactivate(): Promise<void> {
  await studio?.dispose();
  studio = null;
}
