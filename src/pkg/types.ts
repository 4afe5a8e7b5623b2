// Domain types of the package manager: Universe packages (packaging versions 3.0 and 4.0), the
// repositories they come from, and what an install leaves behind. Shapes follow DC/OS Universe and
// Cosmos so existing packages and clients carry over; Corral's additions are marked.

/** Corral's extension of package.json: what a host must have to run the package. */
export interface CorralExtension {
  requires?: {
    /** Executables that must be on an agent's PATH (e.g. `redis-server`). */
    commands?: string[];
  };
}

/** package.json of one revision (the metadata; templates and schemas live beside it). */
export interface PackageMetadata {
  packagingVersion: '3.0' | '4.0';
  name: string;
  version: string;
  maintainer: string;
  description: string;
  tags: string[];
  scm?: string;
  website?: string;
  framework?: boolean;
  preInstallNotes?: string;
  postInstallNotes?: string;
  postUninstallNotes?: string;
  selected?: boolean;
  licenses?: Array<{ name: string; url: string }>;
  minDcosReleaseVersion?: string;
  hasKnownIssues?: boolean;
  lastUpdated?: number;
  /** 4.0 only. */
  upgradesFrom?: string[];
  downgradesTo?: string[];
  corral?: CorralExtension;
}

/** One revision of a package: `packages/<L>/<name>/<rev>/` in a repository, or one entry of a repo index. */
export interface PackageRevision {
  metadata: PackageMetadata;
  /** The revision directory's number (Universe's releaseVersion); higher is newer. */
  releaseVersion: number;
  /** config.json: a JSON Schema for the install options (may be absent). */
  config?: Record<string, unknown>;
  /** resource.json (assets, images, cli); merged into the rendering view as `resource`. */
  resource?: Record<string, unknown>;
  /** marathon.json.mustache: renders to a Marathon app definition. */
  marathonTemplate?: string;
  /** chronos.json.mustache (Corral's extension): renders to a Chronos job. */
  chronosTemplate?: string;
}

/** A repository as Cosmos lists it; earlier in the list means higher priority. */
export interface RepositoryRef {
  name: string;
  /** `builtin:packages-universe`, an http(s) URL of a repo index, or a local path (directory or index file). */
  uri: string;
}

/** A revision found in a repository, with where it came from. */
export interface ResolvedPackage {
  revision: PackageRevision;
  repository: RepositoryRef;
}

/** A Chronos job definition as rendered from a package (validated loosely; cron owns the full rules). */
export interface ChronosJob {
  name: string;
  command: string;
  [field: string]: unknown;
}

/**
 * Where job packages go: the cron framework (issue 6) once the daemon connects it. Both calls throw
 * a CorralError on failure; `add` must leave nothing behind when it throws.
 */
export interface JobInstaller {
  add(job: ChronosJob): Promise<void>;
  remove(name: string): Promise<void>;
}

/** What an agent tells the package manager about itself (from the master's view). */
export interface AgentCapabilities {
  hostname: string;
  /** Executables on the agent's PATH; undefined when the agent does not say (an older agent). */
  commands: readonly string[] | undefined;
  /** False while the agent is unreachable or draining: nothing new goes there. */
  available: boolean;
}

/** A job installed from a package: kept by pkg, since a Chronos job has no labels. */
export interface InstalledJob {
  jobName: string;
  packageName: string;
  packageVersion: string;
  source: string;
  /** The user's options, as given. */
  options: Record<string, unknown>;
  /** The app installed with it, if the package has both. */
  appId?: string;
}

/** Labels Cosmos sets on every app it installs (and reads back for `package list`). */
export const PACKAGE_LABELS = {
  name: 'DCOS_PACKAGE_NAME',
  version: 'DCOS_PACKAGE_VERSION',
  source: 'DCOS_PACKAGE_SOURCE',
  options: 'DCOS_PACKAGE_OPTIONS',
  definition: 'DCOS_PACKAGE_DEFINITION',
} as const;
