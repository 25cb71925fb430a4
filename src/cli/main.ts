#!/usr/bin/env node
import { Command } from 'commander';
import { registerImportCommand } from './import.js';
import { registerMigrateCommand } from './migrate.js';
import { registerServeCommand } from './serve.js';
import { registerSyncCommand } from './sync.js';
import { registerTokenCommands } from './token.js';
import { registerUpstreamCommands } from './upstream.js';
import { registerUserCommands } from './user.js';
import { registerWatchCommand } from './watch.js';

// Each command loads what its work needs when it runs (dynamic imports in its action), so one command,
// or --help, does not load the server, the store and the SDK together.
const program = new Command('syncpoint').description('Syncpoint: sync server, client and admin tool').showHelpAfterError();
registerServeCommand(program);
registerUserCommands(program);
registerTokenCommands(program);
registerSyncCommand(program);
registerImportCommand(program);
registerWatchCommand(program);
registerMigrateCommand(program);
registerUpstreamCommands(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`syncpoint: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
