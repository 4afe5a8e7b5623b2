// Facts stamped into the binary at build time by scripts/bundle.mjs (esbuild `define`).
// Under tap or ts-node nothing is stamped, so every read is guarded with `typeof`.

declare const __CORRAL_COMMIT__: string | undefined;

/** The git commit the binary was built from: 'unknown' when built outside git, 'dev' when unbundled. */
export function buildCommit(): string {
  return typeof __CORRAL_COMMIT__ === 'string' ? __CORRAL_COMMIT__ : 'dev';
}
