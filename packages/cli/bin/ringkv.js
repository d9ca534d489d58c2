#!/usr/bin/env node
// The `ringkv` command. A plain file that exists from install time on (in a checkout, before
// the TypeScript is built), so `npx ringkv` works in the repository once `npm run build` ran.
import { existsSync } from 'node:fs';

const built = new URL('../dist/bin.js', import.meta.url);
if (!existsSync(built)) {
  process.stderr.write('ringkv: the command is not built yet: run `npm run build` in the repository first\n');
  process.exit(1);
}
await import(built.href);
