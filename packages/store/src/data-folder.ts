/**
 * The checks around a node's data folder that LMDB itself does not make. LMDB lets several
 * processes open one environment at once (that is a feature for readers); two ringkv nodes on
 * one folder would each keep their own per-bucket queues and pending writes and so interleave
 * writes unserialised. A lock file names the process that holds the folder:
 *
 *   <folder>/ringkv.lock = "<pid> <process start time> <host>\n"
 *
 * created with O_EXCL. A lock whose process is gone (its pid absent, or reused by a process
 * that started at another time) is stale and taken over, so a node killed with SIGKILL
 * restarts without help.
 */
import { accessSync, closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { DataFolderError } from './errors.js';

export const LOCK_FILE = 'ringkv.lock';

export interface FolderLock {
  release(): void;
}

/** Creates the folder if needed and checks that this process can write there. */
export function prepareFolder(path: string): void {
  try {
    mkdirSync(path, { recursive: true });
  } catch (err) {
    throw new DataFolderError(`cannot create data folder ${path}: ${reason(err)}`, { cause: err });
  }
  if (!statSync(path).isDirectory()) throw new DataFolderError(`data folder ${path} is not a folder`);
  try {
    accessSync(path, constants.W_OK);
    // access() says yes to root whatever the mode, and knows nothing of read-only mounts or
    // immutable folders: create and remove a file to be sure.
    const probe = join(path, `.ringkv-write-probe-${process.pid}`);
    closeSync(openSync(probe, 'w'));
    rmSync(probe);
  } catch (err) {
    throw new DataFolderError(`data folder ${path} is not writable (${reason(err)}); give this user write access or choose another folder (--data-dir / storage.path)`, { cause: err });
  }
}

/** Takes the folder's lock or fails with a {@link DataFolderError} naming the holder. */
export function lockFolder(path: string): FolderLock {
  const file = join(path, LOCK_FILE);
  const mine = `${process.pid} ${startTime(process.pid) ?? 0} ${hostname()}\n`;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, mine);
      closeSync(fd);
      return {
        release() {
          try {
            if (readFileSync(file, 'utf8') === mine) rmSync(file);
          } catch {
            // already gone
          }
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new DataFolderError(`cannot create the lock file ${file}: ${reason(err)}`, { cause: err });
      }
    }
    const held = readHolder(file);
    if (held && isAlive(held)) {
      throw new DataFolderError(
        `data folder ${path} is in use by process ${held.pid}${held.host ? ` on ${held.host}` : ''} (lock file ${file}); stop that node first, or give this one another folder (--data-dir / storage.path)`,
      );
    }
    // Stale: move it aside under a name of our own (atomic), then try O_EXCL again.
    try {
      renameSync(file, `${file}.stale-${process.pid}`);
      rmSync(`${file}.stale-${process.pid}`, { force: true });
    } catch {
      // someone else moved it first; retry
    }
  }
  throw new DataFolderError(`cannot take the lock file ${file}: another process keeps taking it`);
}

interface Holder {
  pid: number;
  start: number;
  host: string;
}

function readHolder(file: string): Holder | undefined {
  try {
    const [pid, start, host] = readFileSync(file, 'utf8').trim().split(' ');
    const p = Number(pid);
    if (!Number.isInteger(p) || p <= 0) return undefined;
    return { pid: p, start: Number(start) || 0, host: host ?? '' };
  } catch {
    return undefined;
  }
}

function isAlive(h: Holder): boolean {
  // A lock written on another host (a shared file system) cannot be checked: respect it.
  if (h.host && h.host !== hostname()) return true;
  if (h.pid === process.pid) return true;
  try {
    process.kill(h.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const now = startTime(h.pid);
  // Same pid, other start time: the pid was reused after the holder died.
  return !(h.start && now !== undefined && now !== h.start);
}

/** The process's start time in clock ticks since boot (Linux /proc), to tell a reused pid apart. */
function startTime(pid: number): number | undefined {
  const stat = `/proc/${pid}/stat`;
  if (!existsSync(stat)) return undefined;
  try {
    const text = readFileSync(stat, 'utf8');
    // Field 22; the command name (field 2) is in parentheses and may hold spaces.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return Number(fields[19]);
  } catch {
    return undefined;
  }
}

function reason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e?.code ? `${e.code}: ${e.message}` : String((e as Error)?.message ?? err);
}
