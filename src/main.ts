// Entry of the `corral` binary (the bundler adds the `#!/usr/bin/env node` line).
import { runCli } from './cli/index';

void runCli(process.argv).then((code) => {
  process.exitCode = code;
});
