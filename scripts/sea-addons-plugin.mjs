// esbuild plugin for the single executable's bundle (scripts/build-binary.mjs → bundle.mjs --sea).
// Inside a SEA, `require` loads built-in modules only, so the native addon packages cannot stay
// external as they do in dist/corral.js. Their JavaScript is bundled like any other package, and
// the one place in each that loads its `.node` file is replaced by a call to the embedded-asset
// loader (src/shared/sea-assets.ts), which writes the addon to a hash-keyed cache directory once
// and loads it with process.dlopen:
//
//   better-sqlite3  lib/database.js: require('bindings')('better_sqlite3.node')
//   sodium-native   binding.js:      require.addon('.', __filename)   (require-addon)
//   udx-native      binding.js:      require.addon('.', __filename)   (require-addon)
//
// Patching the resolution of these two loaders — not the packages' code — keeps every other line
// of the packages as published. A new native package fails the build (its loader is not mapped)
// rather than failing at run time.
import { createRequire } from 'node:module';
import { join, sep } from 'node:path';

/** Package → the SEA asset key of its addon (and the file the build embeds under that key). */
export const SEA_ADDONS = {
  'better-sqlite3': { asset: 'better_sqlite3.node', file: 'node_modules/better-sqlite3/build/Release/better_sqlite3.node' },
  'sodium-native': { asset: 'sodium-native.node', file: 'node_modules/sodium-native/prebuilds/linux-x64/sodium-native.node' },
  'udx-native': { asset: 'udx-native.node', file: 'node_modules/udx-native/prebuilds/linux-x64/udx-native.node' },
};

const PACKAGE_RE = new RegExp(`^(${Object.keys(SEA_ADDONS).join('|')})(/.*)?$`);
const nm = `${sep}node_modules${sep}`;

/** The package directory `file` lies in (the last node_modules segment), or undefined. */
function packageOf(file) {
  const at = file.lastIndexOf(nm);
  if (at < 0) return undefined;
  const rest = file.slice(at + nm.length).split(sep);
  return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
}

/** @param {{ root: string }} opts the repository root (where src/shared/sea-assets.ts lives) */
export function seaAddonsPlugin({ root }) {
  const loader = join(root, 'src', 'shared', 'sea-assets.ts');
  const requireFromRoot = createRequire(join(root, 'package.json'));
  const stub = (asset, call) => ({
    contents: `const { loadEmbeddedAddon } = require(${JSON.stringify(loader)});\nmodule.exports = ${call ? `() => loadEmbeddedAddon(${JSON.stringify(asset)})` : `loadEmbeddedAddon(${JSON.stringify(asset)})`};\n`,
    resolveDir: root,
    loader: 'js',
  });
  return {
    name: 'sea-addons',
    setup(b) {
      // The addon packages themselves: resolved here (Node's rules, like esbuild's for platform
      // node), so the plugin that keeps native packages external in dist/corral.js never sees them.
      b.onResolve({ filter: PACKAGE_RE }, (args) => {
        const from = args.importer ? createRequire(args.importer) : requireFromRoot;
        return { path: from.resolve(args.path) };
      });
      // better-sqlite3's loader.
      b.onResolve({ filter: /^bindings$/ }, (args) => {
        const pkg = packageOf(args.importer);
        if (pkg !== 'better-sqlite3') return { errors: [{ text: `sea-addons: '${pkg}' loads a native addon through 'bindings'; map it in scripts/sea-addons-plugin.mjs` }] };
        return { path: 'better-sqlite3', namespace: 'sea-addon-call' };
      });
      // sodium-native's and udx-native's binding.js (the only users of require-addon).
      b.onLoad({ filter: /[\\/]binding\.js$/ }, (args) => {
        const pkg = packageOf(args.path);
        if (pkg === undefined || !(pkg in SEA_ADDONS) || args.path !== join(root, 'node_modules', pkg, 'binding.js')) return undefined;
        return stub(SEA_ADDONS[pkg].asset, false);
      });
      b.onResolve({ filter: /^(require-addon|node-gyp-build|node-gyp-build-optional-packages)$/ }, (args) => ({
        errors: [{ text: `sea-addons: '${packageOf(args.importer) ?? args.importer}' loads a native addon through '${args.path}'; map it in scripts/sea-addons-plugin.mjs` }],
      }));
      b.onLoad({ filter: /.*/, namespace: 'sea-addon-call' }, (args) => stub(SEA_ADDONS[args.path].asset, true));
    },
  };
}
