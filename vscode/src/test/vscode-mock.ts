// A stand-in for the `vscode` module (which exists only inside VS Code): it records what the extension asks of the
// editor, so the tests can check commands, the webview, the status bar and messages. Import it before the extension.

import Module from 'node:module';
import { pathToFileURL } from 'node:url';

export interface Recorded {
  commands: Map<string, (...args: unknown[]) => unknown>;
  statusItems: { text: string; tooltip: string; command?: string; shown: boolean; disposed: boolean }[];
  panels: { viewType: string; title: string; options: unknown; webview: { html: string }; disposed: boolean }[];
  info: string[];
  errors: string[];
  documents: { content: string; language: string }[];
  shown: unknown[];
  config: Record<string, unknown>;
  activeTextEditor: unknown;
  workspaceFolders: { uri: { fsPath: string } }[] | undefined;
  progressTitles: string[];
  externalUris: string[];
}

export const recorded: Recorded = {
  commands: new Map(),
  statusItems: [],
  panels: [],
  info: [],
  errors: [],
  documents: [],
  shown: [],
  config: {},
  activeTextEditor: undefined,
  workspaceFolders: undefined,
  progressTitles: [],
  externalUris: [],
};

export function reset(): void {
  recorded.commands.clear();
  for (const key of ['statusItems', 'panels', 'info', 'errors', 'documents', 'shown', 'progressTitles', 'externalUris'] as const) {
    recorded[key].length = 0;
  }
  recorded.config = {};
  recorded.activeTextEditor = undefined;
  recorded.workspaceFolders = undefined;
}

const uri = (s: string) => ({ toString: () => s, fsPath: s.startsWith('file://') ? new URL(s).pathname : s });

export function editorFor(file: string, dirty = false) {
  const doc = { uri: { fsPath: file, toString: () => pathToFileURL(file).href }, isDirty: dirty, saved: 0, save: async () => ((doc.saved += 1), true) };
  return { document: doc };
}

const vscode = {
  StatusBarAlignment: { Left: 1, Right: 2 },
  ViewColumn: { Active: -1 },
  ProgressLocation: { Window: 10, Notification: 15 },
  Uri: { parse: uri },
  env: {
    asExternalUri: async (u: { toString(): string }) => {
      recorded.externalUris.push(u.toString());
      return u;
    },
  },
  commands: {
    registerCommand(id: string, fn: (...args: unknown[]) => unknown) {
      recorded.commands.set(id, fn);
      return { dispose: () => recorded.commands.delete(id) };
    },
  },
  window: {
    get activeTextEditor() {
      return recorded.activeTextEditor;
    },
    createStatusBarItem() {
      const item = { text: '', tooltip: '', command: undefined, shown: false, disposed: false, show() { item.shown = true; }, dispose() { item.disposed = true; } };
      recorded.statusItems.push(item);
      return item;
    },
    createWebviewPanel(viewType: string, title: string, _column: unknown, options: unknown) {
      const listeners: (() => void)[] = [];
      const panel = {
        viewType, title, options, webview: { html: '' }, disposed: false,
        reveal() {},
        onDidDispose(fn: () => void) { listeners.push(fn); },
        dispose() { panel.disposed = true; listeners.forEach((f) => f()); },
      };
      recorded.panels.push(panel);
      return panel;
    },
    async withProgress<T>(options: { title: string }, task: (p: { report(v: unknown): void }) => Promise<T>) {
      recorded.progressTitles.push(options.title);
      return task({ report() {} });
    },
    async showInformationMessage(m: string) { recorded.info.push(m); },
    async showErrorMessage(m: string) { recorded.errors.push(m); },
    async showTextDocument(doc: unknown) { recorded.shown.push(doc); },
  },
  workspace: {
    get workspaceFolders() {
      return recorded.workspaceFolders;
    },
    getConfiguration(section: string) {
      return { get: <T>(key: string, dflt: T): T => (`${section}.${key}` in recorded.config ? (recorded.config[`${section}.${key}`] as T) : dflt) };
    },
    onDidSaveTextDocument() {
      return { dispose() {} };
    },
    async openTextDocument(init: { content: string; language: string }) {
      recorded.documents.push(init);
      return init;
    },
  },
};

// Resolve `require('vscode')` to the object above.
const M = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
const load = M._load;
M._load = function (request: string, ...rest: unknown[]) {
  return request === 'vscode' ? vscode : load.call(this, request, ...rest);
};
