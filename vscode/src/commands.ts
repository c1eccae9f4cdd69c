// What the commands compute, apart from VS Code: which track a file is, how a diff reads, the status-bar text.

import * as path from 'node:path';
import type { DiffJson, Status } from './api';

const NAME = /^[a-z0-9][a-z0-9_-]*$/;

/** The track a file is: `<root>/tracks/<name>.toml` (not a lock file); null for anything else. */
export function trackNameOf(file: string, tracksDir: string): string | null {
  const rel = path.relative(tracksDir, file);
  if (!rel || rel.startsWith('..') || path.isAbsolute(rel) || rel.includes(path.sep)) return null;
  if (!rel.endsWith('.toml') || rel.endsWith('.lock.toml')) return null;
  const name = rel.slice(0, -'.toml'.length);
  return NAME.test(name) ? name : null;
}

export function statusText(status: Status): { text: string; tooltip: string } {
  const { stale, invalid } = status.summary;
  const stale_ = status.tracks.filter((t) => t.state === 'stale');
  const text = `$(pulse) acegit: ${stale} stale` + (invalid ? `, ${invalid} invalid` : '');
  const lines = stale_.map((t) => `${t.name}: ${t.reasons.join(', ')}`);
  const tooltip = lines.length ? `Stale tracks of ${status.project}:\n${lines.join('\n')}` : `${status.project}: every track is fresh`;
  return { text, tooltip };
}

const show = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v) : String(v));

/** `acegit diff --json` of one track as Markdown. */
export function formatDiff(diff: DiffJson, track: string): string {
  const t = diff.tracks.find((x) => x.name === track);
  const out = [`# ${track}: ${diff.a} → ${diff.b}`, ''];
  if (!t) return [...out, 'No change.'].join('\n') + '\n';
  out.push(`**${t.verdict || t.status}**`, '');
  if (t.params.length) {
    out.push('| field | HEAD | working tree |', '| --- | --- | --- |');
    for (const p of t.params) out.push(`| ${p.field} | ${show(p.old)} | ${show(p.new)} |`);
    out.push('');
  }
  if (t.latent) {
    const changed = t.latent.changed_seconds.map(([a, b]) => `${a}–${b} s`).join(', ') || 'none';
    out.push(`Latent change ${t.latent.change}; changed: ${changed} (of ${t.latent.per_second.length} s).`);
  } else if (t.not_rendered) {
    out.push('Not rendered on one side: render the track to compare its audio.');
  }
  return out.join('\n') + '\n';
}
