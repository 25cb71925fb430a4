/**
 * The Syncpoint client SDK: the public entry point (`syncpoint/sdk`). It runs in a browser as well as in
 * Node: nothing it reaches imports a Node module. What needs Node (a replica in a SQLite file, a push
 * socket on the `ws` package) is the other entry, `syncpoint/sdk/node` (./node/index.ts).
 */
export { SyncClient, type SyncClientOptions, type SyncSummary, type NoticeOutcome } from './sync-loop.js';
export { PushSubscriber, type PushSubscriberOptions, type PushSocket, type PushStats } from './push.js';
export type { PushMessage, ChangeNotice } from '../protocol/push.js';
export { HttpTransport, RetryableError, RequestRefusedError, type Transport, type Credentials } from './transport.js';
export { recordLocalPut, recordLocalDelete, recordMoved, reapDeleted, type LocalItem, type Replica, type ReplicaTx } from './replica.js';
export { openMemoryReplica } from './memory-replica.js';
export type { Collection, CollectionKind } from '../protocol/collections.js';
export type { MailSent, SendMailRequest } from '../protocol/mail-send.js';
export type { MoveMessage, MovedMessage } from '../protocol/mail.js';
