// A small package for tests, in the Universe layout, written to a temp dir or kept in memory.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const DEMO_PACKAGE = {
  packagingVersion: '4.0',
  name: 'demo',
  version: '1.0.0',
  maintainer: 'tests',
  description: 'A demo service for tests',
  tags: ['demo', 'test'],
  postInstallNotes: 'demo is up',
  postUninstallNotes: 'demo is gone',
  corral: { requires: { commands: ['sh'] } },
};

export const DEMO_CONFIG = {
  type: 'object',
  properties: {
    service: {
      type: 'object',
      properties: { name: { type: 'string', default: 'demo' }, instances: { type: 'integer', default: 1, minimum: 0 } },
      additionalProperties: false,
    },
    demo: {
      type: 'object',
      properties: { port: { type: 'integer', default: 0, minimum: 0, maximum: 65535 }, greeting: { type: 'string', default: 'hi & <bye>' } },
      required: ['greeting'],
    },
  },
  additionalProperties: false,
};

export const DEMO_TEMPLATE = `{
  "id": "{{service.name}}",
  "cmd": "echo '{{demo.greeting}}' && sleep 1000",
  "instances": {{service.instances}},
  "cpus": 0.1,
  "mem": 32,
  "portDefinitions": [{"port": {{demo.port}}, "name": "http"}],
  "labels": {"custom": "yes"}
}
`;

export const JOB_TEMPLATE = `{"name": "{{job.name}}", "command": "echo {{job.word}}", "schedule": "R/2026-01-01T00:00:00Z/PT1H"}
`;

/** Files of a repository holding demo 1.0.0 (rev 0), demo 1.1.0 (rev 1) and the job package `demo-job`. */
export function demoRepoFiles(overrides: Record<string, string> = {}): Record<string, string> {
  const files: Record<string, string> = {
    'packages/D/demo/0/package.json': JSON.stringify(DEMO_PACKAGE),
    'packages/D/demo/0/config.json': JSON.stringify(DEMO_CONFIG),
    'packages/D/demo/0/resource.json': JSON.stringify({ assets: { uris: { x: 'http://example.invalid/x' } } }),
    'packages/D/demo/0/marathon.json.mustache': DEMO_TEMPLATE,
    'packages/D/demo/1/package.json': JSON.stringify({ ...DEMO_PACKAGE, version: '1.1.0' }),
    'packages/D/demo/1/config.json': JSON.stringify(DEMO_CONFIG),
    'packages/D/demo/1/marathon.json.mustache': DEMO_TEMPLATE,
    'packages/D/demo-job/0/package.json': JSON.stringify({ ...DEMO_PACKAGE, name: 'demo-job', description: 'A demo job', corral: undefined }),
    'packages/D/demo-job/0/config.json': JSON.stringify({ type: 'object', properties: { job: { type: 'object', properties: { name: { type: 'string', default: 'demo-job' }, word: { type: 'string', default: 'tick' } } } } }),
    'packages/D/demo-job/0/chronos.json.mustache': JOB_TEMPLATE,
    ...overrides,
  };
  return Object.fromEntries(Object.entries(files).filter(([, v]) => v !== undefined));
}

/** Writes `files` under `dir`. */
export function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
}
