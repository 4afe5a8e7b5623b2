// The single executable for tests (dist/corral-linux-x64): built once by whichever test file needs
// it first, rebuilt only when a source it is made of is newer. Test files run in parallel, so the
// build holds a lock directory (with the builder's pid, so a killed run does not block the next).
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './corral-process';

export const BINARY = join(ROOT, 'dist', 'corral-linux-x64');
const LOCK = join(ROOT, 'dist', '.build-binary.lock');
/** What the binary is made of: a change to any of these makes it stale. */
const INPUTS = ['src', 'scripts', 'native', 'packages-universe', 'package.json', 'package-lock.json'];

function newestMtime(path: string): number {
  let st;
  try {
    st = statSync(path);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const name of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, name)));
  return newest;
}

function fresh(): boolean {
  try {
    const built = statSync(BINARY).mtimeMs;
    return INPUTS.every((p) => newestMtime(join(ROOT, p)) <= built);
  } catch {
    return false;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Takes the lock, waiting for another builder; a lock whose owner died is taken over. */
async function lock(): Promise<void> {
  mkdirSync(join(ROOT, 'dist'), { recursive: true });
  for (;;) {
    try {
      mkdirSync(LOCK);
      writeFileSync(join(LOCK, 'pid'), String(process.pid));
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let owner = NaN;
    try {
      owner = Number(readFileSync(join(LOCK, 'pid'), 'utf8'));
    } catch {
      // being written, or released meanwhile
    }
    if (Number.isInteger(owner) && !alive(owner)) rmSync(LOCK, { recursive: true, force: true });
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** dist/corral-linux-x64, built (npm run build:binary) unless it is newer than its sources. */
export async function ensureBinary(): Promise<string> {
  if (fresh()) return BINARY;
  await lock();
  try {
    if (fresh()) return BINARY;
    await new Promise<void>((resolve, reject) => {
      execFile(process.execPath, [join(ROOT, 'scripts', 'build-binary.mjs')], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024, timeout: 300_000 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`build-binary failed: ${err.message}\n${stdout}\n${stderr}`));
        else resolve();
      });
    });
    return BINARY;
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}
