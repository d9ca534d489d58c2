/** The shape of one `ringkv` subcommand. Each lives in its own file under commands/. */
export interface CommandIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Record<string, string | undefined>;
  cwd: string;
  /** stdout is a terminal: live displays redraw in place. @default false */
  interactive?: boolean;
}

export interface Command {
  /** `node start`, `route`, `dev`, ... */
  readonly name: string;
  /** One line for `ringkv --help`. */
  readonly summary: string;
  /** Full `--help` text, with an example. */
  readonly help: string;
  /** Runs the command; resolves to the process exit code. */
  run(argv: string[], io: CommandIO): Promise<number>;
}

/** Thrown for bad command-line usage: printed with the command's help hint, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}
