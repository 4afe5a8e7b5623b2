// Health kills: an instance past its check's maxConsecutiveFailures is killed, the longest-failing
// first, but at most a quarter of the app (at least one) per minute, so a dependency outage that
// fails every instance at once cannot take the whole app down.
import t from 'tap';
import { DEFAULT_HEALTH_KILL_POLICY, HealthKillLedger, healthKillBudget, planHealthKills } from '../../src/init/health-kills';
import type { AppDefinition, AppTask } from '../../src/init/types';
import type { HealthCheckResult, TaskState } from '../../src/kernel/types';

const NOW = Date.UTC(2026, 0, 1);
const app = (instances: number, maxConsecutiveFailures = 3): AppDefinition =>
  ({ id: '/web', instances, healthChecks: [{ protocol: 'HTTP', portIndex: 0, maxConsecutiveFailures }] }) as unknown as AppDefinition;
const result = (consecutiveFailures: number): HealthCheckResult => ({ alive: consecutiveFailures === 0, consecutiveFailures });
const task = (id: string, failures: number, state: TaskState = 'TASK_RUNNING', more: Partial<AppTask> = {}): AppTask =>
  ({ taskId: id, appId: '/web', agentId: 'a1', host: 'h', ports: [], servicePorts: [], state, stagedAt: Number(id.replace(/\D/g, '')) || 0, killRequested: false, healthCheckResults: [result(failures)], ...more }) as AppTask;

t.test('planHealthKills', async (t) => {
  t.same(planHealthKills(app(4), [task('t1', 0), task('t2', 2)], [], NOW), { kill: [], held: [] }, 'below the limit: nothing');
  t.same(planHealthKills(app(4), [task('t1', 3), task('t2', 0)], [], NOW), { kill: ['t1'], held: [] }, 'at the limit: killed');
  t.same(planHealthKills(app(4, 0), [task('t1', 50)], [], NOW), { kill: [], held: [] }, 'maxConsecutiveFailures 0: never');
  t.same(planHealthKills(app(4), [task('t1', 9, 'TASK_STAGING'), task('t2', 9, 'TASK_RUNNING', { killRequested: true })], [], NOW), { kill: [], held: [] }, 'only running instances not already being killed');
  t.same(planHealthKills(app(4), [task('t1', 3), task('t2', 7), task('t3', 4), task('t4', 5)], [], NOW), { kill: ['t2'], held: ['t4', 't3', 't1'] }, 'all failing (a dependency is down): one of 4 per window, the longest-failing first');
  t.same(planHealthKills(app(8), [task('t1', 3), task('t2', 3), task('t3', 3)], [], NOW), { kill: ['t1', 't2'], held: ['t3'] }, 'a quarter of 8: two per window; ties oldest first');
  t.same(planHealthKills(app(8), [task('t1', 3), task('t2', 3)], [NOW - 10_000], NOW), { kill: ['t1'], held: ['t2'] }, 'a kill within the window counts');
  t.same(planHealthKills(app(8), [task('t1', 3), task('t2', 3)], [NOW - 10_000, NOW - 20_000], NOW), { kill: [], held: ['t1', 't2'] }, 'the window is used up');
  t.same(planHealthKills(app(8), [task('t1', 3), task('t2', 3)], [NOW - DEFAULT_HEALTH_KILL_POLICY.windowMs, NOW - 70_000], NOW), { kill: ['t1', 't2'], held: [] }, 'kills older than the window no longer count');
  const twoChecks = { ...app(4), healthChecks: [{ protocol: 'HTTP', portIndex: 0, maxConsecutiveFailures: 3 }, { protocol: 'TCP', portIndex: 0, maxConsecutiveFailures: 10 }] } as unknown as AppDefinition;
  t.same(planHealthKills(twoChecks, [task('t1', 0, 'TASK_RUNNING', { healthCheckResults: [result(0), result(10)] })], [], NOW).kill, ['t1'], 'any check at its own limit');
  t.same(planHealthKills(app(4), [task('t1', 0, 'TASK_RUNNING', { healthCheckResults: undefined })], [], NOW).kill, [], 'no results yet: nothing');
});

t.test('healthKillBudget: a quarter of the instances, at least one', async (t) => {
  t.same([1, 2, 4, 7, 8, 100].map((n) => healthKillBudget(app(n))), [1, 1, 1, 1, 2, 25]);
  t.equal(healthKillBudget(app(10), { windowMs: 1000, fraction: 1 }), 10, 'the policy can allow all');
});

t.test('HealthKillLedger: remembers its kills per app for the window', async (t) => {
  const ledger = new HealthKillLedger();
  const failing = [task('t1', 3), task('t2', 3), task('t3', 3)];
  t.same(ledger.decide(app(8), failing, NOW), { kill: ['t1', 't2'], held: ['t3'] });
  t.ok(ledger.recent(NOW + 1000), 'kills within the window');
  t.same(ledger.decide(app(8), [task('t3', 3)], NOW + 1000), { kill: [], held: ['t3'] }, 'the window is used up by the kills it made');
  t.same(ledger.decide(app(8), [task('t3', 3)], NOW + DEFAULT_HEALTH_KILL_POLICY.windowMs), { kill: ['t3'], held: [] }, 'and frees up after it');
  t.notOk(ledger.recent(NOW + 3 * DEFAULT_HEALTH_KILL_POLICY.windowMs), 'nothing recent once every kill is older than the window');
});
