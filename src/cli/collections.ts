import type { Collection, CollectionKind } from '../protocol/collections.js';
import type { Transport } from '../sdk/transport.js';

/**
 * Find the account's collection by name, or create it. `kind` is what the caller asked for (checked
 * against an existing collection); `fallbackKind` is only used to create one.
 */
export async function resolveCollection(transport: Transport, name: string, kind: CollectionKind | undefined, fallbackKind: CollectionKind): Promise<Collection> {
  const existing = (await transport.listCollections()).find((c) => c.name === name);
  if (existing) {
    if (kind && existing.kind !== kind) throw new Error(`collection ${name} holds ${existing.kind}, not ${kind}`);
    return existing;
  }
  return transport.createCollection({ name, kind: kind ?? fallbackKind });
}
