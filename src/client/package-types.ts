// Cosmos's package API shapes (POST /package/*), as the client sees them (docs/api.md, Packages).

export interface PackageSummary {
  name: string;
  currentVersion: string;
  /** version → releaseVersion */
  versions: Record<string, string>;
  description: string;
  framework: boolean;
  tags: string[];
  selected: boolean;
  /** Corral: the repository it comes from. */
  repository?: string;
}

/** A package revision as a repo index holds it (templates base64-encoded). */
export interface PackageDescription {
  packagingVersion: string;
  name: string;
  version: string;
  releaseVersion: number;
  maintainer: string;
  description: string;
  tags: string[];
  website?: string;
  preInstallNotes?: string;
  postInstallNotes?: string;
  postUninstallNotes?: string;
  config?: Record<string, unknown>;
  resource?: Record<string, unknown>;
  marathon?: { v2AppMustacheTemplate: string };
  chronos?: { v1JobMustacheTemplate: string };
  corral?: { requires?: { commands?: string[] } };
  [field: string]: unknown;
}

export interface PackageRequest {
  packageName: string;
  packageVersion?: string;
  options?: Record<string, unknown>;
  appId?: string;
}

export interface PackageRenderResponse {
  marathonJson?: Record<string, unknown>;
  chronosJson?: Record<string, unknown>;
}

export interface PackageInstallResponse {
  packageName: string;
  packageVersion: string;
  appId?: string;
  jobName?: string;
  deploymentId?: string;
  preInstallNotes?: string;
  postInstallNotes?: string;
}

export interface PackageUninstallResponse {
  results: Array<{ packageName: string; appId?: string; jobName?: string; packageVersion: string; postUninstallNotes?: string }>;
}

export interface InstalledPackageList {
  packages: Array<{ appId: string | null; jobName?: string; packageInformation: { packageDefinition: { name: string; version: string; [field: string]: unknown }; resourceDefinition?: Record<string, unknown> } }>;
}

export interface RepositoryList {
  repositories: Array<{ name: string; uri: string }>;
}
