// A "lab" of fake machines for tests and benchmarks: each host is a network namespace with its own
// address on a private bridge, so several real nodes (each with its own port space and address)
// can talk over a real, cuttable link without leaving this machine.
//
//   const lab = await createLab(['m1', 'a1', 'a2']);
//   t.teardown(() => lab.cleanup());
//   spawn(lab.hosts[0].exec[0], [...lab.hosts[0].exec.slice(1), process.execPath, 'server.js']);
//
// Layout of a lab with subnet n (10.231.n.0/24):
//   root namespace: bridge `crl<n>br` with the gateway address 10.231.n.254/24, and one veth end
//     `crl<n>v<i>` per host attached to it. Nothing else in the root namespace is touched: no
//     ip_forward, no firewall rule, no route besides the bridge's own connected route. The bridge
//     has no uplink and the root namespace does not forward, so nothing on it can reach any other
//     network.
//   host i: namespace `corral-lab-<n>-<pid>-<name>`, `lo` up, `eth0` (the other veth end) with
//     10.231.n.(i+1)/24, and a default route via the gateway, so that a process trying to reach a
//     public address really emits a packet, which the egress guard then counts and drops.
//
// Egress guard: before any link exists in a namespace, an nftables table (`inet corral_lab_guard`)
// is loaded there that accepts output to `lo`, to the lab hosts' own addresses, and to the gateway
// only as replies (conntrack established/related: the test process in the root namespace may talk
// to a host, a host may not open anything towards the root namespace), and counts and drops
// everything else: other IPv4 destinations (new traffic to the gateway, the subnet's broadcast, any
// public or private address), all IPv6 that does not go to `lo`, and anything forwarded. The counter is
// what forbiddenPackets() reports, so a test can assert that nothing tried to leave. IPv6 is also
// disabled on `eth0` and on the lab's root-side links, so the kernel's own neighbour discovery does
// not show up as forbidden traffic. (Packet sockets bypass netfilter; no node code uses them.)
//
// Clean-up: cleanup() kills every process in the namespaces, deletes the links and namespaces, and
// is idempotent; createLab undoes its half-made state when it fails; a process exit or SIGINT /
// SIGTERM / SIGHUP runs a synchronous clean-up of the labs still open; and createLab starts with
// removeStaleLabs(), which removes the labs of processes that are gone (SIGKILLed runs). Each lab
// owns its subnet through a lock file /run/corral-lab/<n>.owner ("<pid> <start time>").
//
// Needs root, iproute2 (`ip netns`) and nftables (`nft`); netnsAvailable() tells whether they work.
import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';

export interface LabHost {
  /** The name given to createLab. */
  readonly name: string;
  /** The network namespace (`ip netns` name). */
  readonly ns: string;
  /** The host's IPv4 address on the lab's bridge, 10.231.<n>.<i+1>. */
  readonly address: string;
  /** The veth end in the root namespace attached to the bridge (what linkDown/linkUp switch). */
  readonly link: string;
  /** argv prefix that runs a command in the host: `ip netns exec <ns>` (it execs, so the pid and fds carry over). */
  readonly exec: string[];
  /** Cuts the host off the bridge (sets its root-side veth down). */
  linkDown(): Promise<void>;
  /** Reconnects the host. */
  linkUp(): Promise<void>;
  /** Sends `signal` (default SIGKILL) to every process in the namespace and, for SIGKILL, waits until they are gone. */
  killAll(signal?: NodeJS.Signals): Promise<void>;
  /** The pids of the processes in the namespace (`ip netns pids`). */
  pids(): Promise<number[]>;
}

export interface Lab {
  /** The <n> of 10.231.<n>.0/24. */
  readonly subnet: number;
  readonly hosts: LabHost[];
  /** The bridge in the root namespace. */
  readonly bridge: string;
  /**
   * The bridge's address, the hosts' default gateway (10.231.<n>.254): the test process in the root
   * namespace talks to the hosts from it. The guard lets hosts answer it but not open anything to it.
   */
  readonly gateway: string;
  /** The host with this name (throws if there is none). */
  host(name: string): LabHost;
  /** Kills the processes in the namespaces, deletes namespaces, links and the bridge. Idempotent. */
  cleanup(): Promise<void>;
  /** Packets (and IPv4/IPv6 datagrams) that tried to leave a host for a forbidden address, per host name. */
  forbiddenPackets(): Promise<Record<string, number>>;
}

export interface LabOptions {
  /** The <n> in 10.231.<n>.0/24 (1..250). Default: derived from the pid, moving on to the next free one. */
  subnet?: number;
}

const NS_PREFIX = 'corral-lab-';
const LINK_RE = /^crl(\d+)(?:br|v\d+)$/;
const NS_RE = /^corral-lab-(\d+)-/;
const PROBE_RE = /^corral-lab-probe-(\d+)$/;
const LOCK_DIR = '/run/corral-lab';
const GUARD_TABLE = 'corral_lab_guard';
const MAX_HOSTS = 253;
const HOST_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;

// ---------------------------------------------------------------------------------------------
// Commands

function run(cmd: string, args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** Like run(), but a failure is ignored (used for clean-up of things that may already be gone). */
async function tryRun(cmd: string, args: readonly string[]): Promise<void> {
  await run(cmd, args).catch(() => undefined);
}

function runSync(cmd: string, args: readonly string[]): { ok: boolean; stdout: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
  return { ok: r.status === 0, stdout: r.stdout ?? '' };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Availability

let availability: string | undefined | null = null;

/**
 * Why labs cannot be made here (not root, no `ip netns`, no `nft`, namespaces not permitted), or
 * undefined when they can. Probes once by creating and deleting a namespace with a guard table.
 */
export function netnsUnavailableReason(): string | undefined {
  if (availability !== null) return availability;
  availability = probe();
  return availability;
}

/** Root, `ip netns` and `nft` all work (tests skip otherwise; see netnsUnavailableReason()). */
export function netnsAvailable(): boolean {
  return netnsUnavailableReason() === undefined;
}

function probe(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'network namespaces need root (not running as uid 0)';
  if (!runSync('ip', ['-V']).ok) return 'iproute2 (`ip`) is not installed';
  if (!runSync('nft', ['--version']).ok) return 'nftables (`nft`) is not installed (apt-get install nftables); the lab egress guard needs it';
  const ns = `${NS_PREFIX}probe-${process.pid}`;
  try {
    if (!runSync('ip', ['netns', 'add', ns]).ok) return '`ip netns add` failed (no permission to create network namespaces?)';
    const nft = spawnSync('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: `table inet ${GUARD_TABLE} { }\n`, encoding: 'utf8', timeout: 10_000 });
    if (nft.status !== 0) return `nft cannot load a table in a network namespace: ${(nft.stderr ?? '').trim()}`;
    return undefined;
  } finally {
    runSync('ip', ['netns', 'delete', ns]);
  }
}

// ---------------------------------------------------------------------------------------------
// Ownership and stale labs

function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]; // field 22, starttime
  } catch {
    return undefined;
  }
}

const OWNER = `${process.pid} ${startTimeOf(process.pid) ?? '0'}`;

function ownerAlive(owner: string): boolean {
  const [pid, start] = owner.trim().split(' ');
  return pid !== undefined && /^\d+$/.test(pid) && startTimeOf(Number(pid)) === start;
}

const lockFile = (n: number) => `${LOCK_DIR}/${n}.owner`;

function readLock(n: number): string | undefined {
  try {
    return readFileSync(lockFile(n), 'utf8');
  } catch {
    return undefined;
  }
}

/** Takes subnet n for this process; false if someone holds it. */
function claim(n: number): boolean {
  mkdirSync(LOCK_DIR, { recursive: true });
  try {
    writeFileSync(lockFile(n), OWNER, { flag: 'wx' });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

function release(n: number, owner: string): void {
  if (readLock(n) !== owner) return;
  try {
    unlinkSync(lockFile(n));
  } catch {
    // already gone
  }
}

function listNamespaces(): string[] {
  try {
    return readdirSync('/run/netns');
  } catch {
    return [];
  }
}

async function listLinks(): Promise<string[]> {
  const out = await run('ip', ['-j', 'link', 'show']);
  return (JSON.parse(out) as { ifname: string }[]).map((l) => l.ifname);
}

/** Kills everything in a namespace (SIGKILL) and waits until it is empty (at most ~5 s). */
async function emptyNamespace(ns: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const pids = await nsPids(ns);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await sleep(100);
  }
}

async function nsPids(ns: string): Promise<number[]> {
  const out = await run('ip', ['netns', 'pids', ns]).catch(() => '');
  return out
    .split(/\s+/)
    .filter((s) => /^\d+$/.test(s))
    .map(Number);
}

/** Removes every object of subnet n: processes and namespaces `corral-lab-<n>-*`, links `crl<n>*`. */
async function removeSubnet(n: number, links: readonly string[]): Promise<void> {
  const spaces = listNamespaces().filter((ns) => NS_RE.exec(ns)?.[1] === String(n));
  for (const ns of spaces) await emptyNamespace(ns);
  for (const link of links) if (LINK_RE.exec(link)?.[1] === String(n)) await tryRun('ip', ['link', 'delete', link]);
  for (const ns of spaces) await tryRun('ip', ['netns', 'delete', ns]);
}

/**
 * Removes what labs of processes that no longer exist left behind (a SIGKILLed test run): their
 * namespaces (and the processes in them), links and lock files. Labs of live processes are left alone.
 */
export async function removeStaleLabs(): Promise<void> {
  const links = await listLinks().catch(() => [] as string[]);
  const subnets = new Set<number>();
  for (const l of links) {
    const m = LINK_RE.exec(l);
    if (m) subnets.add(Number(m[1]));
  }
  for (const ns of listNamespaces()) {
    const m = NS_RE.exec(ns);
    if (m) subnets.add(Number(m[1]));
    const probe = PROBE_RE.exec(ns);
    if (probe && startTimeOf(Number(probe[1])) === undefined) await tryRun('ip', ['netns', 'delete', ns]);
  }
  let locks: string[] = [];
  try {
    locks = readdirSync(LOCK_DIR);
  } catch {
    // none yet
  }
  for (const f of locks) {
    const m = /^(\d+)\.owner$/.exec(f);
    if (m) subnets.add(Number(m[1]));
  }
  for (const n of subnets) {
    const owner = readLock(n);
    if (owner !== undefined && ownerAlive(owner)) continue;
    if (owner === undefined) {
      // Objects without a lock: a lab torn down halfway. Take the lock while removing them so a new
      // lab cannot be created on this subnet meanwhile.
      if (!claim(n)) continue;
      try {
        await removeSubnet(n, links);
      } finally {
        release(n, OWNER);
      }
    } else {
      await removeSubnet(n, links);
      release(n, owner);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Labs

const openLabs = new Map<number, () => void>(); // subnet → synchronous clean-up
let exitHooked = false;

function cleanupAllSync(): void {
  for (const fn of [...openLabs.values()]) fn();
}

function onSignal(signal: NodeJS.Signals): void {
  cleanupAllSync();
  process.removeListener(signal, onSignal);
  process.kill(process.pid, signal); // die of it as if we had not been listening (or let the other listeners handle it)
}

function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', cleanupAllSync);
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, onSignal);
}

function unhookExit(): void {
  if (!exitHooked || openLabs.size > 0) return;
  exitHooked = false;
  process.removeListener('exit', cleanupAllSync);
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.removeListener(s, onSignal);
}

function subnetTaken(n: number, rootAddrs: readonly string[]): boolean {
  return rootAddrs.some((a) => a.startsWith(`10.231.${n}.`));
}

async function rootIPv4Addresses(): Promise<string[]> {
  const out = await run('ip', ['-j', '-4', 'addr', 'show']);
  const ifs = JSON.parse(out) as { addr_info?: { local?: string }[] }[];
  const routes = JSON.parse(await run('ip', ['-j', '-4', 'route', 'show', 'table', 'all'])) as { dst?: string }[];
  return [...ifs.flatMap((i) => (i.addr_info ?? []).map((a) => a.local ?? '')), ...routes.map((r) => r.dst ?? '')];
}

function guardRules(addresses: readonly string[], gateway: string): string {
  // Priority filter (0), after conntrack (-200), so `ct state` is known.
  return `table inet ${GUARD_TABLE} {
  counter forbidden { }
  chain output {
    type filter hook output priority filter; policy accept;
    oif "lo" accept
    meta nfproto ipv4 ip daddr { ${addresses.join(', ')} } accept
    meta nfproto ipv4 ip daddr ${gateway} ct state established,related accept
    counter name "forbidden" drop
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    counter name "forbidden" drop
  }
}
`;
}

async function disableIPv6(path: string, ns?: string): Promise<void> {
  // The file does not exist when the kernel has no IPv6: nothing to disable then.
  if (ns === undefined) {
    try {
      writeFileSync(path, '1');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    return;
  }
  await run('ip', ['netns', 'exec', ns, 'sh', '-c', `[ ! -e ${path} ] || echo 1 > ${path}`]);
}

/**
 * Creates a lab with one host per name (namespace, veth to the lab's bridge, address
 * 10.231.<n>.<i+1>, egress guard). Register `lab.cleanup()` with t.teardown. Removes stale labs
 * first; on failure removes what it had made and rethrows.
 */
export async function createLab(names: readonly string[], opts: LabOptions = {}): Promise<Lab> {
  const reason = netnsUnavailableReason();
  if (reason !== undefined) throw new Error(`cannot create a network lab: ${reason}`);
  if (names.length === 0 || names.length > MAX_HOSTS) throw new Error(`a lab has 1..${MAX_HOSTS} hosts (got ${names.length})`);
  for (const name of names) if (!HOST_NAME_RE.test(name)) throw new Error(`bad lab host name '${name}' (letters, digits, - and _, up to 32)`);
  if (new Set(names).size !== names.length) throw new Error(`lab host names must be unique: ${names.join(', ')}`);
  if (opts.subnet !== undefined && !(Number.isInteger(opts.subnet) && opts.subnet >= 1 && opts.subnet <= 250)) throw new Error(`subnet must be 1..250 (got ${opts.subnet})`);

  await removeStaleLabs();
  const rootAddrs = await rootIPv4Addresses();
  let n: number | undefined;
  const first = opts.subnet ?? (process.pid % 250) + 1;
  for (let k = 0; k < (opts.subnet === undefined ? 250 : 1); k++) {
    const candidate = ((first - 1 + k) % 250) + 1;
    if (!subnetTaken(candidate, rootAddrs) && claim(candidate)) {
      n = candidate;
      break;
    }
  }
  if (n === undefined) throw new Error(opts.subnet === undefined ? 'no free lab subnet in 10.231.1-250.0/24' : `lab subnet 10.231.${opts.subnet}.0/24 is in use`);
  const subnet = n;

  const bridge = `crl${subnet}br`;
  const gateway = `10.231.${subnet}.254`;
  const addresses = names.map((_, i) => `10.231.${subnet}.${i + 1}`);
  const nsOf = (name: string) => `${NS_PREFIX}${subnet}-${process.pid}-${name}`;
  const linkOf = (i: number) => `crl${subnet}v${i}`;

  let cleaned: Promise<void> | undefined;
  const cleanupSync = () => {
    // Used at process exit / on a signal: no event loop to wait on.
    for (const name of names) {
      const ns = nsOf(name);
      for (let i = 0; i < 20; i++) {
        const pids = runSync('ip', ['netns', 'pids', ns]).stdout.split(/\s+/).filter((s) => /^\d+$/.test(s));
        if (pids.length === 0) break;
        for (const pid of pids) {
          try {
            process.kill(Number(pid), 'SIGKILL');
          } catch {
            // gone
          }
        }
        spawnSync('sleep', ['0.05']);
      }
    }
    names.forEach((_, i) => runSync('ip', ['link', 'delete', linkOf(i)]));
    runSync('ip', ['link', 'delete', bridge]);
    for (const name of names) runSync('ip', ['netns', 'delete', nsOf(name)]);
    release(subnet, OWNER);
    openLabs.delete(subnet);
  };
  const cleanup = (): Promise<void> => {
    cleaned ??= (async () => {
      for (const name of names) await emptyNamespace(nsOf(name));
      for (let i = 0; i < names.length; i++) await tryRun('ip', ['link', 'delete', linkOf(i)]);
      await tryRun('ip', ['link', 'delete', bridge]);
      for (const name of names) await tryRun('ip', ['netns', 'delete', nsOf(name)]);
      release(subnet, OWNER);
      openLabs.delete(subnet);
      unhookExit();
    })();
    return cleaned;
  };
  openLabs.set(subnet, cleanupSync);
  hookExit();

  try {
    await run('ip', ['link', 'add', 'name', bridge, 'type', 'bridge']);
    await disableIPv6(`/proc/sys/net/ipv6/conf/${bridge}/disable_ipv6`);
    await run('ip', ['addr', 'add', `${gateway}/24`, 'dev', bridge]);
    await run('ip', ['link', 'set', bridge, 'up']);
    for (const [i, name] of names.entries()) {
      const ns = nsOf(name);
      await run('ip', ['netns', 'add', ns]);
      // The guard first: from here on nothing can leave this namespace for a forbidden address.
      await run('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], guardRules(addresses, gateway));
      await disableIPv6('/proc/sys/net/ipv6/conf/default/disable_ipv6', ns);
      await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      await run('ip', ['link', 'add', linkOf(i), 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      await disableIPv6(`/proc/sys/net/ipv6/conf/${linkOf(i)}/disable_ipv6`);
      await run('ip', ['link', 'set', linkOf(i), 'master', bridge, 'up']);
      await run('ip', ['-n', ns, 'addr', 'add', `${addresses[i]}/24`, 'dev', 'eth0']);
      await run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
      await run('ip', ['-n', ns, 'route', 'add', 'default', 'via', gateway]);
    }
  } catch (err) {
    await cleanup();
    throw err;
  }

  const hosts: LabHost[] = names.map((name, i) => {
    const ns = nsOf(name);
    const link = linkOf(i);
    return {
      name,
      ns,
      address: addresses[i]!,
      link,
      exec: ['ip', 'netns', 'exec', ns],
      linkDown: async () => void (await run('ip', ['link', 'set', link, 'down'])),
      linkUp: async () => void (await run('ip', ['link', 'set', link, 'up'])),
      pids: () => nsPids(ns),
      killAll: async (signal: NodeJS.Signals = 'SIGKILL') => {
        if (signal === 'SIGKILL') return emptyNamespace(ns);
        for (const pid of await nsPids(ns)) {
          try {
            process.kill(pid, signal);
          } catch {
            // gone
          }
        }
      },
    };
  });

  return {
    subnet,
    hosts,
    bridge,
    gateway,
    host: (name) => {
      const h = hosts.find((x) => x.name === name);
      if (h === undefined) throw new Error(`no lab host '${name}' (hosts: ${names.join(', ')})`);
      return h;
    },
    cleanup,
    forbiddenPackets: async () => {
      const counts: Record<string, number> = {};
      for (const h of hosts) {
        const out = await run('ip', ['netns', 'exec', h.ns, 'nft', '-j', 'list', 'counter', 'inet', GUARD_TABLE, 'forbidden']);
        const entry = (JSON.parse(out) as { nftables: { counter?: { packets: number } }[] }).nftables.find((e) => e.counter !== undefined);
        if (entry?.counter === undefined) throw new Error(`no guard counter in ${h.ns}: ${out}`);
        counts[h.name] = entry.counter.packets;
      }
      return counts;
    },
  };
}
