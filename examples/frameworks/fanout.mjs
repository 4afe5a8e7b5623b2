#!/usr/bin/env node
// fanout: a complete Corral framework in one file. It runs as its own process, subscribes to a
// running `corral up` over HTTP with the SDK, fans N work items out as tasks (each computes a sum
// of squares with the shell and prints one line), acknowledges their status updates, reads each
// finished task's stdout through the API, prints the results in order and tears itself down.
//
//   npm run build && node examples/frameworks/fanout.mjs [N]
//
// The API is found through CORRAL_URL and CORRAL_TOKEN, or else ./.corral (the data dir of `npm start`).
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { fits, httpTransport, isTerminal, subtractResources } from '../../dist/sdk.js';

const items = Number(process.argv[2] ?? 8);
const TASK_RESOURCES = { cpus: 0.1, mem: 32, disk: 0, ports: [] };
const TIMEOUT_MS = 120_000;

function endpoint() {
  const dir = '.corral';
  const read = (file) => readFileSync(`${dir}/${file}`, 'utf8');
  const url = process.env.CORRAL_URL ?? JSON.parse(read('api.json')).url;
  const token = process.env.CORRAL_TOKEN ?? read('admin.token').trim();
  return { url, token };
}

/** Work item i: the sum of the squares of 1..i*100, computed by the task with sh arithmetic. */
function taskFor(run, i) {
  const script = `n=$((${i} * 100)); s=0; k=1; while [ $k -le $n ]; do s=$((s + k * k)); k=$((k + 1)); done; echo "item ${i}: sum of squares 1..$n = $s"`;
  return {
    taskId: `fanout-${run}-${i}`,
    name: `fanout-${i}`,
    resources: TASK_RESOURCES,
    command: { shell: true, value: script, environment: {} },
    labels: { example: 'fanout', run },
  };
}

async function main() {
  const { url, token } = endpoint();
  const run = randomUUID().slice(0, 8);
  const pending = Array.from({ length: items }, (_, k) => k + 1);
  const launched = new Map(); // taskId -> item
  const results = new Map(); // item -> line
  let conn;
  let finish;
  const done = new Promise((resolve, reject) => {
    finish = { resolve, reject };
    setTimeout(() => reject(new Error(`timed out after ${TIMEOUT_MS / 1000} s`)), TIMEOUT_MS).unref();
  });
  const fail = (err) => finish.reject(err instanceof Error ? err : new Error(String(err)));

  async function readStdout(taskId) {
    const res = await fetch(`${url}/api/v1/tasks/${encodeURIComponent(taskId)}/logs`, { headers: { authorization: `Bearer ${token}` } });
    if (!res.ok) throw new Error(`reading the log of ${taskId}: HTTP ${res.status} ${await res.text()}`);
    return (await res.text()).trim();
  }

  async function offers(list) {
    for (const offer of list) {
      const tasks = [];
      let left = offer.resources;
      while (pending.length > 0 && fits(TASK_RESOURCES, left)) {
        const item = pending.shift();
        const task = taskFor(run, item);
        launched.set(task.taskId, item);
        tasks.push(task);
        left = subtractResources(left, TASK_RESOURCES);
      }
      if (tasks.length > 0) await conn.accept([offer.id], [{ type: 'LAUNCH', tasks }], { refuseSeconds: 1 });
      else await conn.decline([offer.id], { refuseSeconds: 60 });
      if (tasks.length > 0) console.error(`fanout: launched ${tasks.length} task(s) on ${offer.hostname}`);
    }
    if (pending.length === 0) await conn.suppress(); // everything is out: no more offers, please
  }

  async function update(status) {
    await conn.acknowledge(status);
    const item = launched.get(status.taskId);
    if (item === undefined || results.has(item) || !isTerminal(status.state)) return;
    const line = status.state === 'TASK_FINISHED' ? await readStdout(status.taskId) : `item ${item}: ${status.state} ${status.message ?? ''}`.trim();
    results.set(item, { line, ok: status.state === 'TASK_FINISHED' });
    if (results.size === items) finish.resolve();
  }

  const transport = httpTransport({ url, token });
  conn = await transport.subscribe(
    { name: 'fanout', failoverTimeoutSeconds: 60 },
    {
      offers: (list) => offers(list).catch(fail),
      rescind: () => undefined, // an offer we had not used yet: nothing to undo
      update: (status) => update(status).catch(fail),
      error: (message) => fail(new Error(`the master dropped the framework: ${message}`)),
      disconnected: (reason) => fail(new Error(`lost the connection: ${reason}`)),
    },
  );
  console.error(`fanout: framework ${conn.frameworkId} subscribed to ${url}; ${items} item(s)`);
  try {
    await done;
  } finally {
    await conn.teardown().catch(() => undefined);
  }
  for (let i = 1; i <= items; i++) console.log(results.get(i).line);
  const failed = [...results.values()].filter((r) => !r.ok).length;
  console.error(`fanout: ${items - failed} of ${items} item(s) finished`);
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => (process.exitCode = code),
  (err) => {
    console.error(`fanout: ${err.message}`);
    process.exitCode = 1;
  },
);
