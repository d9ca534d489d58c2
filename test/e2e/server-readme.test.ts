// The README's quick-start session must be what `ringkv dev` really answers: if this breaks, the README lies.
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { REPO_ROOT, runRingkv } from '@ringkv/test-utils';

it('the README quick-start session matches what ringkv dev --once answers over TCP', async () => {
  const readme = readFileSync(`${REPO_ROOT}README.md`, 'utf8');
  const block = readme.match(/```\n\$ nc localhost 4040\n([\s\S]*?)```/)?.[1];
  expect(block, 'README has a "$ nc localhost 4040" session').toBeDefined();
  // Typed lines start with a command word; everything else is the server's reply.
  const expected = block!
    .trimEnd()
    .split('\n')
    .map((l) => (/^(CREATE|PUT|GET|DELETE)\b/.test(l) ? `> ${l}` : `< ${l}`));

  const r = await runRingkv(['dev', '--once', '--transport', 'in-process'], { env: { PORT: '0', HTTP_PORT: '0' } });
  expect(r.code, r.stderr).toBe(0);
  expect(readme).toContain('nc localhost 4040');
  const transcript = r.stdout.slice(r.stdout.indexOf('$ nc localhost')).trimEnd().split('\n').slice(1);
  expect(transcript).toEqual(expected);
});
