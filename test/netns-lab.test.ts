// The network lab of test/helpers/netns.ts: hosts in their own namespaces reach each other over the
// bridge, a cut link cuts them off, nothing can leave a host for an address outside the lab (the
// guard counts and drops it), and clean-up leaves nothing behind, also after a killed run.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { createLab, netnsUnavailableReason, removeStaleLabs, type Lab, type LabHost } from './helpers/netns';

const run = promisify(execFile);
const reason = netnsUnavailableReason();

const ECHO_SERVER = `
const s = require('node:dgram').createSocket('udp4');
s.on('message', (m, r) => s.send(m, r.port, r.address));
s.bind(7000, '0.0.0.0', () => console.log('ready'));
`;

// Sends 'ping' every 100 ms until a reply comes or the deadline passes; prints 'reply', 'timeout' or 'error <code>'.
const ECHO_CLIENT = `
const [host, port, ms] = process.argv.slice(1);
const s = require('node:dgram').createSocket('udp4');
let done = false;
const finish = (what) => { if (done) return; done = true; console.log(what); clearInterval(iv); clearTimeout(to); s.close(); };
s.on('message', () => finish('reply'));
const send = () => s.send('ping', Number(port), host, (e) => e && finish('error ' + e.code));
const iv = setInterval(send, 100);
const to = setTimeout(() => finish('timeout'), Number(ms));
send();
`;

// One datagram to host:port; prints 'sent' or the error code (EPERM when netfilter drops it on output).
const SEND_ONE = `
const [host, port] = process.argv.slice(1);
const s = require('node:dgram').createSocket('udp4');
s.send('hello', Number(port), host, (e) => { console.log(e ? e.code : 'sent'); s.close(); });
`;

async function inHost(host: LabHost, script: string, ...args: string[]): Promise<string> {
  const [cmd, ...prefix] = host.exec;
  const { stdout } = await run(cmd!, [...prefix, process.execPath, '-e', script, ...args], { timeout: 20_000 });
  return stdout.trim();
}

function startEchoServer(t: Test, host: LabHost): Promise<ChildProcess> {
  const [cmd, ...prefix] = host.exec;
  const child = spawn(cmd!, [...prefix, process.execPath, '-e', ECHO_SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve(child));
    child.once('exit', (code) => reject(new Error(`echo server in ${host.name} exited with ${code}`)));
  });
}

const labNamespaces = (lab: Lab) => spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').filter((l) => lab.hosts.some((h) => l.split(' ')[0] === h.ns));
const linkNames = () => (JSON.parse(spawnSync('ip', ['-j', 'link', 'show'], { encoding: 'utf8' }).stdout) as { ifname: string }[]).map((l) => l.ifname);
const rootRoutes = (except: string) =>
  (JSON.parse(spawnSync('ip', ['-j', '-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8' }).stdout) as { dev?: string }[])
    .filter((r) => r.dev !== except)
    .map((r) => JSON.stringify(r))
    .sort();
const rootRuleset = () => spawnSync('nft', ['list', 'ruleset'], { encoding: 'utf8' }).stdout;
const ipForward = () => readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8');

t.test('a three-host lab: reachability, a cut link, the egress guard, clean-up', { skip: reason && `no network lab here: ${reason}` }, async (t) => {
  const before = { routes: rootRoutes(''), ruleset: rootRuleset(), forward: ipForward() };
  const lab = await createLab(['h1', 'h2', 'h3']);
  t.teardown(() => lab.cleanup());
  const [h1, h2, h3] = lab.hosts as [LabHost, LabHost, LabHost];
  t.comment(`lab 10.231.${lab.subnet}.0/24 on ${lab.bridge}: ${lab.hosts.map((h) => `${h.name}=${h.address} (${h.ns})`).join(', ')}`);

  t.test('layout', async (t) => {
    t.equal(h1.address, `10.231.${lab.subnet}.1`);
    t.equal(h3.address, `10.231.${lab.subnet}.3`);
    t.equal(lab.gateway, `10.231.${lab.subnet}.254`);
    t.ok(lab.bridge.length <= 15 && lab.hosts.every((h) => h.link.length <= 15), 'link names fit IFNAMSIZ');
    t.same(labNamespaces(lab).length, 3, 'three namespaces');
    const links = linkNames();
    t.ok(links.includes(lab.bridge) && lab.hosts.every((h) => links.includes(h.link)), 'bridge and veth ends in the root namespace');
    const inNs = JSON.parse((await run('ip', ['-n', h2.ns, '-j', '-4', 'addr', 'show', 'eth0'])).stdout) as { addr_info: { local: string }[] }[];
    t.equal(inNs[0]?.addr_info[0]?.local, h2.address, 'eth0 in the namespace has the host address');
    const route = (await run('ip', ['-n', h2.ns, 'route', 'show', 'default'])).stdout;
    t.match(route, `default via ${lab.gateway} dev eth0`, 'default route via the gateway');
    t.equal(lab.host('h3'), h3);
    t.throws(() => lab.host('nope'));
  });

  t.test('the root namespace is unchanged apart from the bridge and the veth ends', async (t) => {
    t.same(rootRoutes(lab.bridge), before.routes, 'no route besides the bridge’s own');
    t.equal(rootRuleset(), before.ruleset, 'root nftables ruleset untouched');
    t.equal(ipForward(), before.forward, 'ip_forward untouched');
  });

  t.test('hosts reach each other; linkDown cuts a host off, linkUp restores it', async (t) => {
    const server = await startEchoServer(t, h1);
    t.ok((await h1.pids()).includes(server.pid!), '`ip netns exec` execs: the spawned pid is the process in the namespace');
    t.same(await h2.pids(), [], 'nothing runs in h2');
    t.equal(await inHost(h2, ECHO_CLIENT, h1.address, '7000', '5000'), 'reply', 'h2 → h1');
    t.equal(await inHost(h3, ECHO_CLIENT, h1.address, '7000', '5000'), 'reply', 'h3 → h1');
    const fromRoot = await run(process.execPath, ['-e', ECHO_CLIENT, h1.address, '7000', '5000'], { timeout: 20_000 });
    t.equal(fromRoot.stdout.trim(), 'reply', 'the test process (root namespace) → h1, and h1 may answer it through the gateway');

    await h1.linkDown();
    t.equal(await inHost(h2, ECHO_CLIENT, h1.address, '7000', '1500'), 'timeout', 'h2 cannot reach h1 with its link down');
    t.equal(await inHost(h1, ECHO_CLIENT, '127.0.0.1', '7000', '1500'), 'reply', 'h1 still reaches itself over loopback');
    await h1.linkUp();
    t.equal(await inHost(h2, ECHO_CLIENT, h1.address, '7000', '10000'), 'reply', 'h2 reaches h1 again after linkUp');

    const exited = new Promise((r) => server.once('exit', r));
    await h1.killAll();
    await exited;
    t.same(await h1.pids(), [], 'killAll emptied h1');
  });

  t.test('well-behaved traffic is not counted; a datagram to a public address is dropped and counted', async (t) => {
    t.same(await lab.forbiddenPackets(), { h1: 0, h2: 0, h3: 0 }, 'nothing forbidden after the lab-internal traffic and the answers to the root namespace');
    // 192.0.2.1 is TEST-NET-1; the guard drops it in h3 before it leaves, so sendto fails with EPERM.
    t.equal(await inHost(h3, SEND_ONE, '192.0.2.1', '9'), 'EPERM', 'the send to 192.0.2.1 is refused');
    let counts = await lab.forbiddenPackets();
    t.ok(counts.h3! >= 1, `h3 counted ${counts.h3} forbidden packet(s)`);
    t.same([counts.h1, counts.h2], [0, 0], 'the other hosts sent nothing forbidden');
    // The gateway lives in the root namespace: a host may answer it, not send to it first.
    t.equal(await inHost(h2, SEND_ONE, lab.gateway, '9'), 'EPERM', 'the send to the gateway is refused');
    counts = await lab.forbiddenPackets();
    t.ok(counts.h2! >= 1, `h2 counted ${counts.h2} forbidden packet(s)`);
    t.equal(counts.h1, 0);
    t.equal(await inHost(h2, SEND_ONE, h3.address, '9'), 'sent', 'a send to another lab host goes out');
  });

  t.test('cleanup removes every namespace and link, and is idempotent', async (t) => {
    spawn(h3.exec[0]!, [...h3.exec.slice(1), 'sleep', '600'], { stdio: 'ignore', detached: true }).unref();
    for (let i = 0; i < 50 && (await h3.pids()).length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    const pids = await h3.pids();
    t.equal(pids.length, 1, 'a process runs in h3');
    await lab.cleanup();
    await lab.cleanup();
    t.same(labNamespaces(lab), [], 'no namespace left');
    const links = linkNames();
    t.same(links.filter((l) => l === lab.bridge || lab.hosts.some((h) => h.link === l)), [], 'no link left');
    t.notOk(existsSync(`/run/corral-lab/${lab.subnet}.owner`), 'subnet lock released');
    t.notOk(pids.some((p) => existsSync(`/proc/${p}`)), 'the process in h3 was killed');
  });
});

t.test('removeStaleLabs removes what a killed run left behind', { skip: reason && `no network lab here: ${reason}` }, async (t) => {
  // Fake the leftovers of a SIGKILLed run by hand: a lock file naming a dead process, a namespace
  // with a process in it, a bridge and a veth end of that subnet.
  const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
  const deadPid = Number(dead.stdout.trim());
  let n = ((process.pid + 125) % 250) + 1;
  while (existsSync(`/run/corral-lab/${n}.owner`) || linkNames().includes(`crl${n}br`)) n = (n % 250) + 1;
  const ns = `corral-lab-${n}-${deadPid}-x`;
  const cleanupByHand = () => {
    spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' })
      .stdout.split(/\s+/)
      .filter(Boolean)
      .forEach((p) => spawnSync('kill', ['-9', p]));
    for (const l of [`crl${n}v0`, `crl${n}br`]) spawnSync('ip', ['link', 'delete', l], { stdio: 'ignore' });
    spawnSync('ip', ['netns', 'delete', ns], { stdio: 'ignore' });
  };
  t.teardown(cleanupByHand);
  spawnSync('mkdir', ['-p', '/run/corral-lab']);
  writeFileSync(`/run/corral-lab/${n}.owner`, `${deadPid} 1`);
  await run('ip', ['link', 'add', 'name', `crl${n}br`, 'type', 'bridge']);
  await run('ip', ['netns', 'add', ns]);
  await run('ip', ['link', 'add', `crl${n}v0`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
  const sleeper = spawn('ip', ['netns', 'exec', ns, 'sleep', '600'], { stdio: 'ignore' });
  const sleeperGone = new Promise((r) => sleeper.once('exit', r));

  await removeStaleLabs();
  await sleeperGone;
  t.notOk(spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.includes(ns), 'stale namespace removed');
  t.same(linkNames().filter((l) => l.startsWith(`crl${n}`) && /^crl\d+(br|v\d+)$/.test(l)), [], 'stale links removed');
  t.notOk(existsSync(`/run/corral-lab/${n}.owner`), 'stale lock removed');
  t.equal(sleeper.signalCode, 'SIGKILL', 'the process in the stale namespace was killed');

  // A live lab is left alone.
  const lab = await createLab(['only']);
  t.teardown(() => lab.cleanup());
  await removeStaleLabs();
  t.ok(linkNames().includes(lab.bridge), 'a live lab survives removeStaleLabs');
  t.same((await lab.forbiddenPackets()).only, 0);
});
