/** The logging surface ringkv components take as a dependency. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

const noop = () => {};
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };

/** Plain lines on stderr (stdout stays free for command output). */
export function consoleLogger(prefix = ''): Logger {
  const write = (level: string) => (message: string, fields?: Record<string, unknown>) => {
    const extra = fields && Object.keys(fields).length ? ` ${JSON.stringify(fields)}` : '';
    process.stderr.write(`${prefix}${level === 'info' ? '' : `[${level}] `}${message}${extra}\n`);
  };
  return { debug: process.env.RINGKV_DEBUG ? write('debug') : noop, info: write('info'), warn: write('warn'), error: write('error') };
}
