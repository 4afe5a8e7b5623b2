// A node that joins a cluster without the master runs the agent (and DNS with --discovery): asking
// for a role that would not run there, or leaving the agent out, is refused before anything starts.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { startDaemon } from '../../src/daemon';
import { defaultConfig, type Role } from '../../src/shared/config';
import { silentLogger } from '../../src/shared/logger';

async function refused(t: Test, roles: Role[], message: RegExp): Promise<void> {
  const parent = mkdtempSync(join(tmpdir(), 'corral-join-roles-'));
  t.teardown(() => rmSync(parent, { recursive: true, force: true }));
  const dataDir = join(parent, 'data');
  const config = { ...defaultConfig(false), roles, dataDir, join: ['127.0.0.1:1'], clusterToken: 'ab'.repeat(32) };
  await t.rejects(startDaemon(config, { logger: silentLogger() }), { code: 'CONFIG_INVALID', message });
  t.notOk(existsSync(dataDir), 'nothing started: not even the data dir was made');
}

t.test('--discovery --join without --agent is refused, not turned into an agent', (t) => refused(t, ['discovery'], /add --agent/));
t.test('--cron --join without --master is refused, not dropped', (t) => refused(t, ['agent', 'cron'], /--cron runs beside the master/));
