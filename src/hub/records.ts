/**
 * The records the hub hands to faces. They are the store's rows; faces name them from here because
 * faces reach the hub and never the store (docs/architecture.md § Layers).
 */
export type { AppTokenRow, CollectionRow, ConflictRow } from '../store/store.js';
