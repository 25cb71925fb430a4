/**
 * The records the hub hands to faces and push. They are the store's rows; faces and push name them from
 * here because they reach the hub and never the store (docs/architecture.md § Layers).
 */
export type { AppTokenRow, BusMessage, CollectionRow, ConflictRow, ItemRow, PushChannelRow, PushTicketRow, AuthFailureRow } from '../store/store.js';
