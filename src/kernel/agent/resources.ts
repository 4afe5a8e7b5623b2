// What this machine offers: cpus (logical cores), mem (MiB of RAM), disk (MiB of the filesystem
// holding the data dir) and a port range. Explicit values win and skip detection of that field.
import { promises as fsp } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';
import type { Systeminformation } from 'systeminformation';
import type { PortRange, Resources } from '../types';

// Only the three parts of systeminformation the agent uses. Its index loads some forty modules,
// about 7 MB of resident memory a daemon would carry for its whole life for nothing.
/* eslint-disable @typescript-eslint/no-require-imports */
const si = {
  cpu: (): Promise<Systeminformation.CpuData> => (require('systeminformation/lib/cpu') as { cpu(): Promise<Systeminformation.CpuData> }).cpu(),
  mem: (): Promise<Systeminformation.MemData> => (require('systeminformation/lib/memory') as { mem(): Promise<Systeminformation.MemData> }).mem(),
  fsSize: (): Promise<Systeminformation.FsSizeData[]> =>
    (require('systeminformation/lib/filesystem') as { fsSize(): Promise<Systeminformation.FsSizeData[]> }).fsSize(),
};

export interface ResourceOptions {
  /** Cores; undefined = logical core count. */
  cpus?: number;
  /** MiB; undefined = total RAM. */
  memMb?: number;
  /** MiB; undefined = size of the filesystem holding dataDir. */
  diskMb?: number;
  portRange: PortRange;
  dataDir: string;
}

const MIB = 1024 * 1024;

export async function detectResources(opts: ResourceOptions): Promise<Resources> {
  const [cpus, mem, disk] = await Promise.all([
    opts.cpus ?? si.cpu().then((c) => c.cores),
    opts.memMb ?? si.mem().then((m) => Math.floor(m.total / MIB)),
    opts.diskMb ?? detectDiskMb(opts.dataDir),
  ]);
  return { cpus, mem, disk, ports: [{ begin: opts.portRange.begin, end: opts.portRange.end }] };
}

/**
 * The mount point among `mounts` that holds `path`: the longest one that is `path` itself or an
 * ancestor of it (so `/data` holds `/data/x` but not `/database`). Both must be absolute and real.
 */
export function mountHolding(path: string, mounts: readonly string[]): string | undefined {
  let best: string | undefined;
  for (const mount of mounts) {
    const prefix = mount.endsWith(sep) ? mount : mount + sep;
    const holds = path === mount || path.startsWith(prefix);
    if (holds && (best === undefined || mount.length > best.length)) best = mount;
  }
  return best;
}

async function detectDiskMb(dataDir: string): Promise<number> {
  const path = await realExistingPath(dataDir);
  const filesystems = await si.fsSize();
  const mount = mountHolding(
    path,
    filesystems.map((f) => f.mount),
  );
  const fs = filesystems.find((f) => f.mount === mount);
  if (fs) return Math.floor(fs.size / MIB);
  // systeminformation leaves out some filesystem types (e.g. overlay in some containers); statfs
  // answers for any path.
  const stats = await fsp.statfs(path);
  return Math.floor((stats.blocks * stats.bsize) / MIB);
}

/** realpath of dataDir, or of its nearest existing ancestor when it is not created yet. */
async function realExistingPath(dataDir: string): Promise<string> {
  let path = resolve(dataDir);
  for (;;) {
    try {
      return await fsp.realpath(path);
    } catch (err) {
      const parent = dirname(path);
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || parent === path) throw err;
      path = parent;
    }
  }
}
