// Unpacking fetched archives. Each archive is unpacked into an empty staging directory, vetted, and
// only then merged into its destination, so a bad archive leaves nothing behind and the unpacker
// never writes through a symlink an earlier artifact left in the sandbox.
// Relies on the system `tar` (GNU tar, which detects gzip/bzip2/xz itself given `gzip`, `bzip2`,
// `xz`) and `unzip`; plain `.gz` files are inflated with node's zlib.
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream, promises as fsp } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';

export type ArchiveKind = 'tar' | 'zip' | 'gzip';

/** Name endings that are unpacked, longest first so `.tar.gz` wins over `.gz`. */
const ENDINGS: ReadonlyArray<readonly [string, ArchiveKind]> = [
  ['.tar.bz2', 'tar'], ['.tar.gz', 'tar'], ['.tar.xz', 'tar'], ['.tbz2', 'tar'], ['.tgz', 'tar'],
  ['.txz', 'tar'], ['.tar', 'tar'], ['.zip', 'zip'], ['.gz', 'gzip'],
];

/** How a file of this name is unpacked, and its name without the ending; undefined: kept as is. */
export function archiveKind(name: string): { kind: ArchiveKind; stem: string } | undefined {
  const lower = name.toLowerCase();
  const hit = ENDINGS.find(([ending]) => lower.endsWith(ending) && lower.length > ending.length);
  return hit && { kind: hit[1], stem: name.slice(0, name.length - hit[0].length) };
}

/** The first archive member name that is absolute or climbs with `..`, if any. */
export function unsafeMember(names: readonly string[]): string | undefined {
  return names.find((n) => n.startsWith('/') || /^[A-Za-z]:/.test(n) || n.split(/[/\\]/).includes('..'));
}

/**
 * Unpacks `archive` into the empty directory `staging`, then vets what came out (see vetTree).
 * Throws an Error whose message says what failed, for the caller to wrap with the URI.
 */
export async function unpack(archive: string, kind: ArchiveKind, stem: string, staging: string, signal: AbortSignal, owner?: { uid: number; gid: number }): Promise<void> {
  if (kind === 'gzip') {
    try {
      await pipeline(createReadStream(archive), createGunzip(), createWriteStream(join(staging, stem), { mode: 0o644 }), { signal });
    } catch (err) {
      if (signal.aborted) throw err;
      throw new Error(`bad archive: not a valid gzip file (${(err as Error).message})`);
    }
  } else {
    const listing = kind === 'tar' ? await run('tar', ['-t', '-f', archive], signal) : await run('unzip', ['-Z1', archive], signal);
    const bad = unsafeMember(listing.split('\n').filter((l) => l !== ''));
    if (bad !== undefined) throw new Error(`unsafe path: archive member '${bad}' would land outside the sandbox`);
    if (kind === 'tar') await run('tar', ['-x', '-f', archive, '-C', staging, '--no-same-owner'], signal);
    else await run('unzip', ['-q', '-o', archive, '-d', staging], signal);
  }
  await vetTree(staging, staging, owner);
}

/**
 * Refuses devices, fifos and sockets (root could otherwise unpack a raw disk node into a task's
 * reach) and symlinks that point outside the unpacked tree; clears setuid/setgid bits; chowns
 * every entry to `owner` without following symlinks.
 */
async function vetTree(root: string, dir: string, owner: { uid: number; gid: number } | undefined): Promise<void> {
  for (const name of await fsp.readdir(dir)) {
    const path = join(dir, name);
    const st = await fsp.lstat(path);
    const member = relative(root, path);
    if (st.isSymbolicLink()) {
      const target = await fsp.readlink(path);
      const to = relative(root, resolve(dirname(path), target));
      if (isAbsolute(target) || to === '..' || to.startsWith(`..${sep}`)) {
        throw new Error(`unsafe path: archive member '${member}' is a symlink to '${target}', outside the sandbox`);
      }
    } else if (st.isDirectory()) {
      await vetTree(root, path, owner);
    } else if (!st.isFile()) {
      throw new Error(`unsafe path: archive member '${member}' is a device, fifo or socket`);
    }
    if (!st.isSymbolicLink() && (st.mode & 0o6000) !== 0) await fsp.chmod(path, st.mode & 0o1777);
    if (owner) await fsp.lchown(path, owner.uid, owner.gid);
  }
}

/**
 * Moves everything under `src` into `dst`, merging directories and replacing other entries, the
 * way `tar -x` over an existing tree would. Uses lstat, so a symlink in `dst` is replaced rather
 * than followed.
 */
export async function mergeInto(src: string, dst: string): Promise<void> {
  for (const name of await fsp.readdir(src)) {
    const from = join(src, name);
    const to = join(dst, name);
    const [a, b] = await Promise.all([fsp.lstat(from), fsp.lstat(to).catch(() => undefined)]);
    if (a.isDirectory() && b?.isDirectory()) {
      await mergeInto(from, to);
      continue;
    }
    if (b) await fsp.rm(to, { recursive: true, force: true });
    await fsp.rename(from, to);
  }
}

/** Runs a command to completion and returns its stdout; the error names the command and its stderr. */
function run(cmd: string, args: string[], signal: AbortSignal): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], signal });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-2000)));
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') reject(new Error(`the '${cmd}' command is not installed on this agent (install it to unpack archives)`));
      else reject(e);
    });
    child.on('close', (code, sig) => {
      if (code === 0) return resolvePromise(out);
      const why = err.trim().split('\n').slice(-3).join('; ') || 'no error output';
      reject(new Error(`bad archive: '${cmd} ${args[0]}' exited with ${code ?? sig}: ${why}`));
    });
  });
}
