// The native batch UDP socket (native/corral-udp.c, built into dist/corral-udp.node by
// scripts/build-native.mjs): what it exports and where to find it (udp-transport.ts uses it).
// Without a C compiler at build time there is no addon and the server uses Node's dgram instead.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { embeddedAssetPath } from '../shared/sea-assets';

export const UDP_ADDON = 'corral-udp.node';

export interface UdpStats {
  /** Datagrams read. */
  received: number;
  /** Replies handed to the kernel. */
  answered: number;
  /** Datagrams too large to read whole, and replies the kernel did not take (full send buffer). */
  dropped: number;
}

/** What native/corral-udp.c exports (its header comment has the contract). */
export interface UdpAddon {
  UdpSocket: new (host: string, port: number, onBatch: (count: number) => (Buffer | undefined)[]) => UdpAddonSocket;
  /** Datagrams per batch. */
  BATCH: number;
  /** Bytes per datagram in `data`: larger datagrams are dropped. */
  SLOT: number;
}

export interface UdpAddonSocket {
  readonly port: number;
  /** BATCH × SLOT bytes, reused by every batch: datagram i at i × SLOT. */
  readonly data: Buffer;
  /** Datagram i's length, -1 when it was too large and dropped. */
  readonly lengths: Int32Array;
  close(onClosed?: () => void): void;
  /** During the batch call only: datagram i's source, opaque. */
  peer(index: number): Buffer;
  sendTo(packet: Buffer, peer: Buffer): boolean;
  stats(): UdpStats;
}

/** Next to the bundle (dist/corral.js), or dist/ of the checkout when running from sources. */
const CANDIDATES = [join(__dirname, UDP_ADDON), resolve(__dirname, '..', '..', 'dist', UDP_ADDON)];

/** The single executable carries the addon as an asset: its extracted copy, else the files above. */
function defaultCandidates(): string[] {
  try {
    const embedded = embeddedAssetPath(UDP_ADDON);
    if (embedded !== undefined) return [embedded];
  } catch {
    // no writable cache directory: dgram still works
  }
  return CANDIDATES;
}

let loaded: UdpAddon | null | undefined;

/** The addon, loaded once; undefined when it is not built (or does not load: another platform). */
export function loadUdpAddon(candidates?: string[]): UdpAddon | undefined {
  if (loaded !== undefined && candidates === undefined) return loaded ?? undefined;
  let found: UdpAddon | undefined;
  for (const path of candidates ?? defaultCandidates()) {
    if (!existsSync(path)) continue;
    try {
      const mod = { exports: {} as UdpAddon };
      process.dlopen(mod, path);
      found = mod.exports;
      break;
    } catch {
      // built for another Node ABI or machine: try the next, else dgram
    }
  }
  if (candidates === undefined) loaded = found ?? null;
  return found;
}
