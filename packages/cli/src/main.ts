/**
 * `ringkv`: the command. Dispatches `ringkv <command> [...]` to the files in commands/.
 *
 * @example
 * await main(['route', 'hello', 'Kernel', 'node', '--via', 'foo@computer-name'], defaultIO());
 */
import { readFileSync } from 'node:fs';
import { clusterCommands } from './commands/cluster.js';
import { devCommand } from './commands/dev.js';
import { nodeStartCommand } from './commands/node-start.js';
import { routeCommand } from './commands/route.js';
import { planCommand } from './commands/plan.js';
import { simulateCommand } from './commands/simulate.js';
import { type Command, type CommandIO, UsageError } from './command.js';

export const COMMANDS: readonly Command[] = [
  devCommand,
  nodeStartCommand,
  routeCommand,
  simulateCommand,
  planCommand,
  ...clusterCommands,
];

/** The version in this package's own package.json (kept by changesets), read when asked. */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export function defaultIO(): CommandIO {
  return {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    env: process.env,
    cwd: process.cwd(),
    interactive: process.stdout.isTTY === true,
  };
}

export function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'ringkv: a Riak-style distributed key-value store',
    '',
    'Usage: ringkv <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `ringkv <command> --help` for a command\'s options and an example.',
    '',
  ].join('\n');
}

/** Finds the longest command name that prefixes argv (`node start` before `node`). */
/** The commands whose first word is `word`, as a usage text; undefined when there are none. */
export function groupUsage(word: string): string | undefined {
  const members = COMMANDS.filter((c) => c.name.includes(' ') && c.name.split(' ')[0] === word);
  if (members.length === 0) return undefined;
  const width = Math.max(...members.map((c) => c.name.length));
  return [
    `Usage: ringkv ${word} <subcommand> [options]`,
    '',
    'Subcommands:',
    ...members.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    `Run \`ringkv ${members[0]!.name} --help\` for a subcommand's options and an example.`,
    '',
  ].join('\n');
}

function findCommand(argv: string[]): { command: Command; rest: string[] } | undefined {
  const sorted = [...COMMANDS].sort((a, b) => b.name.split(' ').length - a.name.split(' ').length);
  for (const command of sorted) {
    const words = command.name.split(' ');
    if (words.every((w, i) => argv[i] === w)) return { command, rest: argv.slice(words.length) };
  }
  return undefined;
}

export async function main(argv: string[], io: CommandIO = defaultIO()): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    io.stdout(usage());
    return argv.length === 0 ? 2 : 0;
  }
  if (argv[0] === '--version') {
    io.stdout(`${packageVersion()}\n`);
    return 0;
  }
  const found = findCommand(argv);
  if (!found) {
    // `ringkv node`, `ringkv node --help`: the first word of a group of commands.
    const group = groupUsage(argv[0]!);
    if (group !== undefined) {
      const asked = argv.slice(1).some((a) => a === '--help' || a === '-h');
      if (asked) io.stdout(group);
      else io.stderr(`ringkv: ${JSON.stringify(argv.join(' '))} needs a subcommand\n\n${group}`);
      return asked ? 0 : 2;
    }
    io.stderr(`ringkv: unknown command ${JSON.stringify(argv.join(' '))}\n\n${usage()}`);
    return 2;
  }
  if (found.rest.includes('--help') || found.rest.includes('-h')) {
    io.stdout(found.command.help.endsWith('\n') ? found.command.help : `${found.command.help}\n`);
    return 0;
  }
  try {
    return await found.command.run(found.rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`ringkv ${found.command.name}: ${err.message}\nRun \`ringkv ${found.command.name} --help\` for usage.\n`);
      return 2;
    }
    const e = err as Error;
    io.stderr(`${e?.name ?? 'Error'}: ${e?.message ?? String(err)}\n`);
    return 1;
  }
}
