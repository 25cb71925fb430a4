import { Option, type Command } from 'commander';
import type { TableCheck } from '../store/migrate-to-postgres.js';

/** Exit codes of `syncpoint migrate` (docs/operations.md § Moving from SQLite): 1 a failure or a mismatch, 2 a target that is not empty. */
const targetNotEmptyExit = 2;

function printChecks(checks: TableCheck[]): boolean {
  const width = Math.max(...checks.map((c) => c.table.length));
  for (const c of checks) {
    const verdict = c.ok ? 'ok' : `MISMATCH (target ${c.targetRows} rows, checksum ${c.targetSum})`;
    process.stdout.write(`${c.table.padEnd(width)}  ${String(c.sourceRows).padStart(9)} rows  checksum ${c.sourceSum}  ${verdict}\n`);
  }
  return checks.every((c) => c.ok);
}

export function registerMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('copy an installation from SQLite (a data directory) into an empty PostgreSQL database, sync state included; stop the server first')
    .requiredOption('--from <dir>', 'the data directory to copy from (read only)')
    .requiredOption('--to <url>', 'the postgres:// URL of an empty database')
    .option('--verify-only', 'copy nothing: compare the rows and checksums of every table on both sides')
    .addOption(new Option('--batch-rows <n>', 'rows per batch (for tests)').argParser((v) => Number.parseInt(v, 10)).hideHelp())
    .action(async (opts: { from: string; to: string; verifyOnly?: boolean; batchRows?: number }) => {
      const { databaseFile } = await import('../server/open-store.js');
      const { migrateToPostgres, TargetNotEmptyError, verifyMigration } = await import('../store/migrate-to-postgres.js');
      const from = databaseFile(opts.from);
      const log = (line: string) => process.stderr.write(`${line}\n`);
      let checks: TableCheck[];
      try {
        checks = opts.verifyOnly ? await verifyMigration({ from, to: opts.to }) : await migrateToPostgres({ from, to: opts.to, log, ...(opts.batchRows ? { batchRows: opts.batchRows } : {}) });
      } catch (err) {
        if (!(err instanceof TargetNotEmptyError)) throw err;
        process.stderr.write(`syncpoint: ${err.message}\n`);
        process.exit(targetNotEmptyExit);
      }
      if (!printChecks(checks)) {
        process.stderr.write('syncpoint: the target differs from the source (see MISMATCH above)\n');
        process.exit(1);
      }
      process.stderr.write(opts.verifyOnly ? 'the target matches the source\n' : 'migrated: every table matches; start `syncpoint serve --database URL`\n');
    });
}
