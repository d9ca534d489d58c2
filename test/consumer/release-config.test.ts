/**
 * The changesets setup keeps covering every published package: they version together (one
 * fixed group), publish publicly, and pending changesets name only packages that exist.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { publishablePackages, repoRoot } from './pack.js';

const root = repoRoot();
const config = JSON.parse(readFileSync(join(root, '.changeset', 'config.json'), 'utf8')) as {
  fixed: string[][];
  access: string;
  privatePackages?: { version?: boolean; tag?: boolean };
};
const published = publishablePackages(root).map((p) => p.manifest.name).sort();

describe('.changeset/config.json', () => {
  it('versions every published package together in one fixed group', () => {
    expect(config.fixed).toHaveLength(1);
    expect([...(config.fixed[0] ?? [])].sort()).toEqual(published);
  });

  it('publishes with public access and leaves private workspaces unversioned', () => {
    expect(config.access).toBe('public');
    expect(config.privatePackages).toEqual({ version: false, tag: false });
  });

  it('has pending changesets that name only published packages', () => {
    const problems: string[] = [];
    for (const file of readdirSync(join(root, '.changeset')).filter((f) => f.endsWith('.md') && f !== 'README.md')) {
      const text = readFileSync(join(root, '.changeset', file), 'utf8');
      const front = /^---\n([\s\S]*?)\n---/.exec(text)?.[1];
      if (front === undefined) {
        problems.push(`${file}: no front matter`);
        continue;
      }
      for (const line of front.split('\n').filter((l) => l.trim() !== '')) {
        const m = /^\s*"?([^":]+)"?\s*:\s*(major|minor|patch)\s*$/.exec(line);
        if (!m) problems.push(`${file}: cannot read "${line}"`);
        else if (!published.includes(m[1]!)) problems.push(`${file}: ${m[1]} is not a published package`);
      }
    }
    expect(problems).toEqual([]);
  });
});
