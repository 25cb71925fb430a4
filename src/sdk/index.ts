/** The Syncpoint client SDK: the public entry point. */
export { SyncClient, type SyncClientOptions, type SyncSummary, type NoticeOutcome } from './sync-loop.js';
export { PushSubscriber, type PushSubscriberOptions, type PushSocket, type PushStats } from './push.js';
export { openNodeSocket } from './node/websocket.js';
export type { PushMessage, ChangeNotice } from '../protocol/push.js';
export { HttpTransport, RetryableError, RequestRefusedError, type Transport, type Credentials } from './transport.js';
export { recordLocalPut, recordLocalDelete, reapDeleted, type LocalItem, type Replica, type ReplicaTx } from './replica.js';
export { openSqliteReplica } from './node/sqlite-replica.js';
export { openMemoryReplica } from './memory-replica.js';
export type { Collection, CollectionKind } from '../protocol/collections.js';
