import { after, before } from 'node:test';
import { startPgCluster, withClient, type PgCluster } from '../../../test/support/postgres.js';
import { storeConformance } from '../conformance.js';
import { openPostgresStore } from './postgres-store.js';

// The shared store suite on a throwaway PostgreSQL cluster, a database per test. A dying connection is
// every backend of the test's database ended by the server (pg_terminate_backend), as when PostgreSQL
// restarts or a network path breaks.
let cluster: PgCluster;
before(async () => {
  cluster = await startPgCluster();
});
after(() => cluster.stop());

storeConformance('postgres', async () => {
  const url = await cluster.createDatabase();
  const store = await openPostgresStore(url);
  const database = new URL(url).pathname.slice(1);
  return {
    store,
    close: () => store.close(),
    async breakConnection() {
      await withClient(cluster.url, (c) => c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [database]));
    },
  };
});
