import { spawn } from 'node:child_process';
import { startPgCluster, testPostgresEnv } from './postgres.js';

/**
 * `node dist/test/support/with-postgres.js COMMAND ARGS…` runs the command with a throwaway PostgreSQL
 * cluster (support/postgres.ts) named in SYNCPOINT_TEST_POSTGRES, so every test server it starts
 * (support/server.ts) stores its data in a database of its own there; the cluster is removed after.
 */
const [command, ...args] = process.argv.slice(2);
if (!command) {
  process.stderr.write('usage: with-postgres.js COMMAND [ARGS…]\n');
  process.exit(2);
}
const cluster = await startPgCluster();
let code = 1;
try {
  code = await new Promise<number>((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'inherit', env: { ...process.env, [testPostgresEnv]: cluster.url } });
    child.on('error', reject);
    child.on('exit', (status, signal) => resolve(status ?? (signal ? 1 : 0)));
  });
} finally {
  cluster.stop();
}
process.exit(code);
