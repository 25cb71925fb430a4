import { versionTokensOf } from './workload.js';

/**
 * Who saw what: the causal past of every item version, which is what tells a replaced version from a
 * lost one. Every user edit writes a version number no other edit uses into one property, so a stored
 * version is a set of edits. A version replaced by a write whose author knew all of its edits was
 * superseded; one replaced by a write made without some of them was lost, unless the server kept it as
 * a conflict record.
 *
 *   - A user's edit knew the version the device held when the user made it (the workload reports it),
 *     and everything that version knew. A re-added record knew what the user last saw of it there.
 *   - A version the server wrote itself (a property merge) or any other text no user typed is judged by
 *     its content alone, never by what the code under test says it did: every edit version it carries
 *     (each property value names the user edit that introduced it) and everything those edits knew.
 *     A merge that drops or overrides another device's edit therefore does not count as having seen it.
 *   - A user's delete knew the version the device held when the user deleted it.
 */
export class Causality {
  /** A user edit's version -> the versions the device held when the user made it. */
  private readonly parents = new Map<string, readonly string[]>();
  /** Edit version token (vN) -> the user edit that introduced it. */
  private readonly introducedBy = new Map<string, string>();
  /** Version -> the user edits it was made knowing. */
  private readonly pasts = new Map<string, ReadonlySet<string>>();
  /** Device -> local id -> the version its user deleted. */
  private readonly deleted = new Map<string, Map<string, string>>();

  recordEdit(data: string, seen: readonly string[]): void {
    if (this.parents.has(data)) return;
    this.parents.set(data, seen);
    for (const token of versionTokensOf(data)) if (!this.introducedBy.has(token)) this.introducedBy.set(token, data);
  }

  recordDelete(deviceId: string, localId: string, data: string): void {
    const mine = this.deleted.get(deviceId) ?? new Map<string, string>();
    this.deleted.set(deviceId, mine);
    mine.set(localId, data);
  }

  /** The version `deviceId`'s user deleted as local item `localId`, if the user did. */
  deletedVersion(deviceId: string, localId: string): string | undefined {
    return this.deleted.get(deviceId)?.get(localId);
  }

  /**
   * Every user edit `data` was made knowing: the edit versions it carries and those every version it
   * was made from carried. A version is a set of edits (a merge is nothing but a combination of them).
   */
  editsKnownBy(data: string): ReadonlySet<string> {
    const known = this.pasts.get(data);
    if (known) return known;
    const edits = new Set(versionTokensOf(data));
    // Set before the parents are visited: a phone's views can repeat (an occurrence moved and moved
    // back), so the parent links can form a cycle, which adds nothing.
    this.pasts.set(data, edits);
    const parents = this.parents.get(data) ?? [...edits].map((t) => this.introducedBy.get(t)).filter((v): v is string => v !== undefined && v !== data);
    for (const parent of parents) for (const edit of this.editsKnownBy(parent)) edits.add(edit);
    this.pasts.set(data, edits);
    return edits;
  }

  /** Whether a write of `later` (a version; for a delete, the version its user deleted) was made knowing every edit in `earlier`. */
  knew(later: string, earlier: string): boolean {
    const known = this.editsKnownBy(later);
    return versionTokensOf(earlier).every((edit) => known.has(edit));
  }
}
