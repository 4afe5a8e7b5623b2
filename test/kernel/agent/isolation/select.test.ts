// selectIsolator: auto picks cgroup v1 on this machine, cgroup v2 where a unified hierarchy can
// delegate the controllers (a fake tree here), posix where neither works; a forced backend that
// cannot work fails with CONFIG_INVALID saying why.
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../../../src/shared/logger';
import { Cgroup1Isolator, Cgroup2Isolator, PosixIsolator, selectIsolator, type IsolationChoice } from '../../../../src/kernel/agent/isolation';
import { removeCgroupTree, uniqueParent } from './helpers/launch';

const logger = silentLogger();

function tempRoot(t: Test, controllers?: string): string {
  const root = mkdtempSync(join(tmpdir(), 'corral-select-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  if (controllers !== undefined) writeFileSync(join(root, 'cgroup.controllers'), controllers);
  return root;
}

t.test('auto picks cgroup1 on this machine', async (t) => {
  const parent = uniqueParent();
  const iso = await selectIsolator({ parent, logger });
  t.teardown(async () => {
    if (iso instanceof Cgroup1Isolator) for (const dir of iso.parentDirs()) await removeCgroupTree(dir);
  });
  t.equal(iso.name, 'cgroup1');
  t.ok(iso instanceof Cgroup1Isolator);
});

t.test('forcing cgroup2 here fails with CONFIG_INVALID that says why', async (t) => {
  await t.rejects(selectIsolator({ force: 'cgroup2', logger }), {
    code: 'CONFIG_INVALID',
    message: /\/sys\/fs\/cgroup is not a unified cgroup hierarchy .*use cgroup1/,
  });
  await t.rejects(selectIsolator({ force: 'cgroup2', cgroupRoot: '/sys/fs/cgroup/unified', logger }), { code: 'CONFIG_INVALID', message: /lacks the cpu, memory, pids controller/ });
});

t.test('auto picks cgroup2 where the unified hierarchy delegates cpu, memory and pids', async (t) => {
  const iso = await selectIsolator({ cgroupRoot: tempRoot(t, 'cpu memory pids'), logger });
  t.ok(iso instanceof Cgroup2Isolator);
});

t.test('auto falls back to posix where no cgroup hierarchy is usable', async (t) => {
  t.ok((await selectIsolator({ cgroupRoot: tempRoot(t), logger })) instanceof PosixIsolator);
  t.ok((await selectIsolator({ cgroupRoot: tempRoot(t, 'cpu pids'), logger })) instanceof PosixIsolator, 'v2 without memory');
});

t.test('forced backends', async (t) => {
  t.ok((await selectIsolator({ force: 'posix', logger })) instanceof PosixIsolator);
  await t.rejects(selectIsolator({ force: 'cgroup1', cgroupRoot: tempRoot(t), logger }), { code: 'CONFIG_INVALID', message: /no memory hierarchy/ });
  await t.rejects(selectIsolator({ force: 'lxc' as IsolationChoice, logger }), { code: 'CONFIG_INVALID', message: /Unknown isolation 'lxc'/ });
});
