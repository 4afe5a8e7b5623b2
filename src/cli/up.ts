// `corral up`: starts the enabled roles of this node and runs until SIGTERM or Ctrl-C.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import type * as DaemonModule from '../daemon';
import { VERSION } from '../daemon/version';
import { loadDaemonConfig, ROLES, type Role } from '../shared/config';
import { createLogger } from '../shared/logger';

interface UpOptions {
  listen?: string;
  config?: string;
  portRange?: string;
  hostname?: string;
  logLevel?: string;
  agentCpus?: string;
  agentMem?: string;
  agentDisk?: string;
  attributes?: string;
  dataDir?: string;
  isolation?: string;
  taskUser?: string;
  taskPidsLimit?: string;
  logMaxBytes?: string;
  logKeepFiles?: string;
  fetchCacheBytes?: string;
  join?: string;
  clusterHost?: string;
  clusterPort?: string;
  tokenFile?: string;
  dnsListen?: string;
  dnsDomain?: string;
  dnsTtl?: string;
  dnsUpstreams?: string;
  master?: boolean;
  agent?: boolean;
  init?: boolean;
  cron?: boolean;
  discovery?: boolean;
}

/** Running from a checkout (package.json beside dist/) means dev defaults: data in ./.corral. */
function runningFromCheckout(): boolean {
  return existsSync(join(__dirname, '..', 'package.json'));
}

export function registerUp(program: Command): void {
  program
    .command('up')
    .description('run a Corral node: master, agent, init, cron and discovery in one process unless roles are named')
    .option('--listen <host:port>', 'HTTP API address (default 127.0.0.1:5050)')
    .option('--config <file>', 'JSON config file (default <data-dir>/config.json if present)')
    .option('--port-range <start-end>', 'ports the agent offers to tasks (default 10000-20000)')
    .option('--hostname <name>', 'node name shown for tasks and nodes')
    .option('--log-level <level>', 'trace, debug, info, warn, error or silent')
    .option('--agent-cpus <n>', 'cpus the agent offers (default: detected)')
    .option('--agent-mem <mib>', 'memory the agent offers in MiB (default: detected)')
    .option('--agent-disk <mib>', 'disk the agent offers in MiB (default: detected)')
    .option('--attributes <name=value,...>', 'attributes of this agent for placement constraints, e.g. rack=r1,zone=a (zone/region: @zone/@region)')
    .option('--isolation <backend>', 'task isolation: auto, cgroup2, cgroup1 or posix (default auto)')
    .option('--task-user <name>', 'user of tasks that name none, when running as root (default nobody)')
    .option('--task-pids-limit <n>', 'most processes and threads per task (default 1024)')
    .option('--log-max-bytes <bytes>', 'rotate a task log once larger than this (default 10485760)')
    .option('--log-keep-files <n>', 'rotated files kept per task log (default 5)')
    .option('--fetch-cache-bytes <bytes>', 'size of the artifact fetch cache (default 2147483648)')
    .option('--join <host:port,...>', "masters' cluster addresses to join (port default 49737)")
    .option('--cluster-host <ipv4>', "this node's address for the cluster plane (enables it on a master; on an agent, other agents connect to it directly)")
    .option('--cluster-port <port>', 'UDP port of the cluster DHT node (default 49737 on a master, random on an agent)')
    .option('--token-file <file>', 'file holding the cluster token (or CORRAL_TOKEN)')
    .option('--dns-listen <ip:port>', 'DNS server address, UDP and TCP (default 127.0.0.1:8600; port 0 picks a free one)')
    .option('--dns-domain <domain>', 'DNS zone of services and nodes (default corral)')
    .option('--dns-ttl <seconds>', 'TTL of DNS records (default 5)')
    .option('--dns-upstreams <ip[:port],...>', 'resolvers for names outside the zone (default none: such names are refused)')
    .option('--master', 'run the master role')
    .option('--agent', 'run the agent role')
    .option('--init', 'run the init (service) framework')
    .option('--cron', 'run the cron (job) framework')
    .option('--discovery', 'run service discovery (DNS and lookup API)')
    .action(async (_opts: UpOptions, cmd: Command) => {
      const o = cmd.optsWithGlobals<UpOptions>();
      const roleFlags = ROLES.filter((r: Role) => o[r] === true);
      const config = loadDaemonConfig({
        installed: !runningFromCheckout(),
        roleFlags,
        flags: {
          dataDir: o.dataDir,
          listen: o.listen,
          config: o.config,
          portRange: o.portRange,
          hostname: o.hostname,
          logLevel: o.logLevel,
          agentCpus: o.agentCpus,
          agentMemMb: o.agentMem,
          agentDiskMb: o.agentDisk,
          agentAttributes: o.attributes,
          isolation: o.isolation,
          taskUser: o.taskUser,
          taskPidsLimit: o.taskPidsLimit,
          logMaxBytes: o.logMaxBytes,
          logKeepFiles: o.logKeepFiles,
          fetchCacheBytes: o.fetchCacheBytes,
          join: o.join,
          clusterHost: o.clusterHost,
          clusterPort: o.clusterPort,
          tokenFile: o.tokenFile,
          dnsListen: o.dnsListen,
          dnsDomain: o.dnsDomain,
          dnsTtl: o.dnsTtl,
          dnsUpstreams: o.dnsUpstreams,
        },
      });
      const logger = createLogger({ level: config.logLevel });
      // Loaded here, not at the top: every other command (and --version) would pay for composing the
      // daemon's modules (schemas compiled, roles wired) at start-up.
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- a lazy load, bundled by esbuild
      const { startDaemon } = require('../daemon') as typeof DaemonModule;
      const daemon = await startDaemon(config, { logger });
      const lines = [`Corral ${VERSION} is up`];
      if (daemon.url) lines.push(`  API:          ${daemon.url}`, `  Admin token:  ${daemon.tokenFile}`);
      if (daemon.dnsAddress) lines.push(`  DNS:          ${daemon.dnsAddress}${daemon.url ? '' : '   (a local resolver following the master; no HTTP lookup on an agent)'}`);
      lines.push(`  Data dir:     ${daemon.dataDir}`, `  Roles:        ${config.roles.join(', ')}`);
      if (daemon.joinHint) lines.push(`  Join another machine: ${daemon.joinHint}`);
      lines.push(daemon.url ? 'Try: corral app add examples/hello.json   (Ctrl-C stops Corral)' : 'An agent of a cluster: its master serves the API.   (Ctrl-C stops it)', '');
      process.stdout.write(lines.join('\n'));
      await new Promise<void>((resolve) => {
        const onSignal = (signal: NodeJS.Signals) => {
          logger.info({ event: 'daemon_stopping', signal }, 'stopping');
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          resolve();
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
      });
      await daemon.stop();
      logger.info({ event: 'daemon_stopped' }, 'corral stopped');
      logger.flush();
    });
}
