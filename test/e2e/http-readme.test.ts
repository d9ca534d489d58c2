// The README's curl session must be what `ringkv dev` really answers over HTTP: if this breaks, the README lies.
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { REPO_ROOT, runRingkv } from '@ringkv/test-utils';

it('the README curl session matches what ringkv dev --once answers over HTTP', async () => {
  const readme = readFileSync(`${REPO_ROOT}README.md`, 'utf8');
  const block = readme.match(/```\n(\$ curl [\s\S]*?)```/)?.[1];
  expect(block, 'README has a "$ curl" session').toBeDefined();
  const r = await runRingkv(['dev', '--once', '--transport', 'in-process'], { env: { PORT: '0', HTTP_PORT: '0' } });
  expect(r.code, r.stderr).toBe(0);
  const start = r.stdout.indexOf('$ curl');
  const end = r.stdout.indexOf('$ nc localhost');
  expect(start).toBeGreaterThan(-1);
  // The session ran on a free port; the README shows the default one.
  const transcript = r.stdout.slice(start, end).trimEnd().replace(/localhost:\d+/g, 'localhost:8098');
  expect(transcript).toBe(block!.trimEnd());
});
