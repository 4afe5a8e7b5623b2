// Who a task runs as. With a root agent: the task's `user`, else the configured unprivileged
// default (`nobody`). Without root the agent cannot switch users, so tasks run as the agent's own
// user and asking for another one is refused. Names resolve once each (cached): /etc/passwd first,
// then `id`, which also sees users from NSS sources (LDAP, sssd).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';

export interface TaskUser {
  name: string;
  uid: number;
  gid: number;
}

export type UserChoice = { user: TaskUser; switchUser: boolean } | { refusal: string };

export class UserResolver {
  private readonly cache = new Map<string, TaskUser | undefined>();
  private readonly self: TaskUser;

  constructor(
    /** Whom tasks without a `user` run as when the agent is root. */
    private readonly defaultUser: string,
    private readonly passwdFile = '/etc/passwd',
  ) {
    const me = userInfo();
    this.self = { name: me.username, uid: me.uid, gid: me.gid };
  }

  get agentIsRoot(): boolean {
    return this.self.uid === 0;
  }

  /** The user a task asking for `requested` runs as, or why it cannot run. */
  choose(requested: string | undefined): UserChoice {
    if (!this.agentIsRoot) {
      if (requested === undefined || requested === this.self.name) return { user: this.self, switchUser: false };
      return { refusal: `Task asks to run as user '${requested}', but the agent runs as '${this.self.name}' without root and cannot switch users` };
    }
    const name = requested ?? this.defaultUser;
    const user = this.lookup(name);
    if (!user) return { refusal: `Task user '${name}' does not exist on this agent` };
    return { user, switchUser: true };
  }

  lookup(name: string): TaskUser | undefined {
    if (this.cache.has(name)) return this.cache.get(name);
    const user = this.fromPasswd(name) ?? this.fromId(name);
    // Bounded: a stream of made-up names must not grow the cache forever.
    if (this.cache.size >= 1000) this.cache.clear();
    this.cache.set(name, user);
    return user;
  }

  private fromPasswd(name: string): TaskUser | undefined {
    let text: string;
    try {
      text = readFileSync(this.passwdFile, 'utf8');
    } catch {
      return undefined;
    }
    for (const line of text.split('\n')) {
      const [user, , uid, gid] = line.split(':');
      if (user === name && uid !== undefined && gid !== undefined) return { name, uid: Number(uid), gid: Number(gid) };
    }
    return undefined;
  }

  private fromId(name: string): TaskUser | undefined {
    // Names are handed to `id` as one argument; a leading '-' would read as an option.
    if (name === '' || name.startsWith('-') || name.includes('\0')) return undefined;
    try {
      const uid = Number(execFileSync('id', ['-u', '--', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
      const gid = Number(execFileSync('id', ['-g', '--', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
      return Number.isInteger(uid) && Number.isInteger(gid) ? { name, uid, gid } : undefined;
    } catch {
      return undefined;
    }
  }
}
