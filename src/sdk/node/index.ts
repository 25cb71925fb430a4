/**
 * The SDK's Node-only entry (`syncpoint/sdk/node`): a replica kept in a SQLite file (better-sqlite3) and
 * a push socket on the `ws` package. The browser-safe rest is `syncpoint/sdk` (../index.ts).
 */
export { openSqliteReplica } from './sqlite-replica.js';
export { openNodeSocket } from './websocket.js';
