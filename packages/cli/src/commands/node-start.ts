/**
 * `ringkv node start --config <file>`: runs one node until SIGINT or SIGTERM, then drains
 * (stops taking calls, lets in-flight ones answer, closes the connection) and exits 0.
 */
import { ConfigError, consoleLogger, loadConfig, redactNatsUrl } from '@ringkv/core';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { NATS_FLAGS, NATS_FLAGS_HELP, natsOverrides } from '../nats-flags.js';
import { startNodeFromConfig } from '../node-runtime.js';

export const nodeStartCommand: Command = {
  name: 'node start',
  summary: 'run one node from a config file until SIGINT/SIGTERM',
  help: `Usage: ringkv node start --config <file> [--node <name>] [--nats <url>] [--nats-... <file>] [--data-dir <dir>]

Runs one ringkv node in this process: connects to NATS (config "nats.url", or the
NATS_URL environment variable), serves calls addressed to the node, and runs the
roles the config gives it (storage, server). Prints "node <name> ready ..." on stderr
once it serves, and on a "storage:" line where its data is and how much it holds.
Storage defaults to LMDB in data/<node name> under the working directory (config
"storage.path", or --data-dir); a write is answered once it is on disk. On SIGINT or SIGTERM it stops taking calls, lets the ones in flight
answer, disconnects and exits 0; a second signal exits at once with code 1.

Configuration layers: default.json and <NODE_ENV>.json from the config folder, then
the file, then the environment (RINGKV_NODE, NATS_URL, NATS_USER, NATS_PASSWORD,
NATS_TOKEN, NATS_NKEY, NATS_CREDS, NATS_CA, NATS_CERT, NATS_KEY, PORT), then these
options. A node whose NATS credentials are refused exits at once (code 1), saying how
it authenticated but never the secret (docs/security.md).

Options:
  --config <file>   the node's config file (JSON)
  --node <name>     the node's name (overrides "node" in the config)
  --data-dir <dir>  keep this node's data (LMDB) in <dir> (overrides storage.path)

${NATS_FLAGS_HELP}

Example:
  NATS_URL=nats://127.0.0.1:4222 ringkv node start --config config/foo.json
`,
  async run(argv, io) {
    let values;
    try {
      ({ values } = parseArgs({
        args: argv,
        options: { config: { type: 'string' }, node: { type: 'string' }, ...NATS_FLAGS, 'data-dir': { type: 'string' } },
        allowPositionals: false,
      }));
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const overrides: Record<string, unknown> = {};
    if (values.node) overrides.node = values.node;
    const nats = natsOverrides(values);
    if (nats) overrides.nats = nats;
    if (values['data-dir']) overrides.storage = { backend: 'lmdb', path: resolve(io.cwd, values['data-dir']) };
    const config = loadConfig({
      ...(values.config ? { file: values.config } : { configDir: `${io.cwd}/config` }),
      env: io.env,
      overrides,
    });
    const name = config.node ?? '';
    const logger = consoleLogger(`[${name}] `);
    if (config.strategy === 'ring' && name !== '' && !config.ring.members.includes(name)) {
      logger.warn(`${name} is not in its own ring.members (${config.ring.members.join(', ')}): it will own no part of the ring, only route calls to the members`);
    }
    const running = await startNodeFromConfig(config, { ...(values.config ? { configFile: values.config } : { baseDir: io.cwd }), logger }).catch(
      (err: unknown) => {
        if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
          throw new ConfigError(
            `the text server's port ${config.server.port} (host ${config.server.host}) is in use by another process: pick another one with the PORT environment variable or "server.port" in the config, e.g. PORT=4041 ringkv node start ...`,
            { cause: err },
          );
        }
        throw err;
      },
    );
    const where = config.transport === 'nats' ? `nats ${redactNatsUrl(config.nats.url)}` : 'in-process';
    io.stderr(
      `node ${running.node.name} ready (transport ${where}; ${running.node.strategy().describe()}; roles ${config.roles.join(', ')}${running.serverPort !== undefined ? `; port ${running.serverPort}` : ''}${running.httpPort !== undefined ? `; http port ${running.httpPort}` : ''})\n`,
    );

    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGINT', () => resolve('SIGINT'));
      process.once('SIGTERM', () => resolve('SIGTERM'));
    });
    const force = () => {
      io.stderr(`node ${name}: second signal, exiting without draining\n`);
      process.exit(1);
    };
    process.once('SIGINT', force);
    process.once('SIGTERM', force);
    io.stderr(`node ${name} stopping (${signal}): draining\n`);
    await running.stop();
    io.stderr(`node ${name} stopped\n`);
    process.off('SIGINT', force);
    process.off('SIGTERM', force);
    return 0;
  },
};
