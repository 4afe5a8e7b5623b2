// Naming rules: how task, framework and node names become DNS labels (RFC 1123 host labels), and
// the names of the zone. Mesos-DNS's rule for task names is kept: a task's name with every `.`
// turned into `-`. init names a task after its app id without the leading `/` and with `/` as `.`,
// so `/shop/web` is `shop-web.<framework>.<domain>` (Mesos-DNS under Marathon reversed the segments:
// `web-shop`; Corral keeps them in the app id's order).

const MAX_LABEL = 63;

/**
 * One DNS label from any text: lower case, every character other than `a-z 0-9 -` becomes `-`,
 * runs of `-` collapse, no leading or trailing `-`, at most 63 characters. Empty when nothing is left.
 */
export function toLabel(text: string): string {
  const label = text
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^-+/, '')
    .slice(0, MAX_LABEL)
    .replace(/-+$/, '');
  return label;
}

/** The label of a task: its name (init: the app id's segments joined with `.`) with `.` as `-`. */
export function taskLabel(taskName: string): string {
  return toLabel(taskName);
}

/** The label of a node: its hostname as one label (`node-1.example.com` → `node-1-example-com`). */
export function nodeLabel(hostname: string): string {
  return toLabel(hostname);
}

/** A configured domain: one or more labels, lower case, no trailing dot; undefined when not valid. */
export function normalizeDomain(raw: string): string | undefined {
  const domain = raw.trim().toLowerCase().replace(/\.$/, '');
  if (domain === '' || domain.length > 200) return undefined;
  const labels = domain.split('.');
  return labels.every((l) => /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(l)) ? domain : undefined;
}

/** Whether `name` (lower case, no trailing dot) is `domain` or below it. */
export function inZone(name: string, domain: string): boolean {
  return name === domain || (name.length > domain.length && name.endsWith(domain) && name.charCodeAt(name.length - domain.length - 1) === 46);
}

/** `name` made lower case and without its trailing dot, as the catalog keys names. */
export function canonicalName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function isIpv4(text: string): boolean {
  return IPV4.test(text);
}

/** The zone's fixed names. */
export function zoneNames(domain: string) {
  return {
    ns: `ns1.${domain}`,
    hostmaster: `hostmaster.${domain}`,
    leader: `leader.${domain}`,
    leaderSrv: `_leader._tcp.${domain}`,
    master: `master.${domain}`,
    master0: `master0.${domain}`,
    agent: `agent.${domain}`,
    /** Mesos-DNS's name for every agent. */
    slave: `slave.${domain}`,
    node: (label: string) => `${label}.node.${domain}`,
    task: (task: string, framework: string) => `${task}.${framework}.${domain}`,
    srv: (task: string, framework: string, proto: 'tcp' | 'udp' = 'tcp') => `_${task}._${proto}.${framework}.${domain}`,
  };
}
