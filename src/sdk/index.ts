/** The Syncpoint client SDK: the public entry point. */
export { SyncClient, type SyncClientOptions, type SyncSummary } from './sync-loop.js';
export { HttpTransport, RetryableError, RequestRefusedError, type Transport, type Credentials } from './transport.js';
export { recordLocalPut, recordLocalDelete, reapDeleted, type LocalItem, type Replica, type ReplicaTx } from './replica.js';
export { openSqliteReplica } from './node/sqlite-replica.js';
export { openMemoryReplica } from './memory-replica.js';
export type { Collection, CollectionKind } from '../protocol/collections.js';
