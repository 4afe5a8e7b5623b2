// Prometheus service discovery end to end: a real Prometheus (Debian's package) on loopback,
// configured with nothing but Corral's HTTP SD URL, scrapes the Corral node's /metrics and an app
// that opted in with CORRAL_METRICS_PORT_INDEX, as its own /api/v1/targets shows. Nodes and tasks
// are two jobs on the same URL (`?kind=`): only the node job carries the API token.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { removeEmptyCorralCgroups, startCorral, waitFor, type RunningCorral } from '../helpers/corral-process';

const dir = mkdtempSync(join(tmpdir(), 'corral-prometheus-'));
let corral: RunningCorral | undefined;
let prometheus: ChildProcess | undefined;
t.teardown(async () => {
  if (prometheus && prometheus.exitCode === null) {
    const exited = new Promise((r) => prometheus!.once('exit', r));
    prometheus.kill('SIGTERM');
    await exited;
  }
  await corral?.stop();
  rmSync(dir, { recursive: true, force: true });
  removeEmptyCorralCgroups();
});

async function freeTcpPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  await new Promise<void>((r) => server.close(() => r()));
  return typeof address === 'object' && address ? address.port : 0;
}

// A task serving one metric in Prometheus's text format on $PORT0.
const METRICS_APP = `python3 -c '
import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"# TYPE hello_requests_total counter\\nhello_requests_total 42\\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.HTTPServer(("0.0.0.0", int(os.environ["PORT0"])), H).serve_forever()
'`;

interface Target {
  labels: Record<string, string>;
  scrapePool: string;
  health: string;
  lastError: string;
}

t.test('Prometheus finds and scrapes the node and an opted-in app through Corral HTTP SD', async (t) => {
  corral = await startCorral(join(dir, 'data'));
  const api = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(`${corral!.url}${path}`, { ...init, headers: { authorization: `Bearer ${corral!.token}`, 'content-type': 'application/json' } });
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return res.json();
  };
  await api('/v2/apps', { method: 'POST', body: JSON.stringify({ id: '/metered', cmd: METRICS_APP, cpus: 0.05, mem: 64, instances: 1, portDefinitions: [{ port: 0 }], labels: { CORRAL_METRICS_PORT_INDEX: '0' } }) });
  await api('/v2/apps', { method: 'POST', body: JSON.stringify({ id: '/quiet', cmd: 'sleep 600', cpus: 0.05, mem: 16, instances: 1 }) });

  // The token alone (Prometheus sends the file's bytes as they are).
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, corral.token, { mode: 0o600 });
  const sd = `${corral.url}/api/v1/discovery/prometheus`;
  const config = `global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: corral-nodes
    authorization:
      type: Bearer
      credentials_file: ${tokenFile}
    http_sd_configs:
      - url: '${sd}?kind=node'
        refresh_interval: 1s
        authorization:
          type: Bearer
          credentials_file: ${tokenFile}
  - job_name: corral-tasks
    http_sd_configs:
      - url: '${sd}?kind=task'
        refresh_interval: 1s
        authorization:
          type: Bearer
          credentials_file: ${tokenFile}
`;
  writeFileSync(join(dir, 'prometheus.yml'), config);
  const port = await freeTcpPort();
  let log = '';
  prometheus = spawn('/usr/bin/prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
  prometheus.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  prometheus.stderr!.on('data', (d: Buffer) => (log += d.toString()));

  const targets = await waitFor('both targets up in Prometheus', 60_000, async () => {
    if (prometheus!.exitCode !== null) return Promise.reject(new Error(`prometheus exited: ${log}`));
    const res = (await (await fetch(`http://127.0.0.1:${port}/api/v1/targets`)).json()) as { data: { activeTargets: Target[] } };
    const active = res.data.activeTargets;
    const up = (pool: string) => active.find((x) => x.scrapePool === pool && x.health === 'up');
    return up('corral-nodes') && up('corral-tasks') ? active : undefined;
  }).catch((err: Error) => {
    throw new Error(`${err.message}\nprometheus log:\n${log}`);
  });
  const node = targets.find((x) => x.scrapePool === 'corral-nodes')!;
  const app = targets.find((x) => x.scrapePool === 'corral-tasks')!;
  t.equal(targets.filter((x) => x.scrapePool === 'corral-tasks').length, 1, 'only the app that opted in');
  t.match(node.labels, { corral_kind: 'node', node: /\S/ });
  t.match(app.labels, { corral_kind: 'task', app: '/metered', task: /^metered\./, node: /\S/ });

  // And the values made it in.
  const sample = await waitFor('the app metric in Prometheus', 20_000, async () => {
    const res = (await (await fetch(`http://127.0.0.1:${port}/api/v1/query?query=hello_requests_total`)).json()) as { data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
    return res.data.result[0];
  });
  t.equal(sample.value[1], '42');
  t.equal(sample.metric.app, '/metered');
  const own = (await (await fetch(`http://127.0.0.1:${port}/api/v1/query?query=up{job="corral-nodes"}`)).json()) as { data: { result: Array<{ value: [number, string] }> } };
  t.equal(own.data.result[0]?.value[1], '1', "Corral's own /metrics scraped with the token");
});
