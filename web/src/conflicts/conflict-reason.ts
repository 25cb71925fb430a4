import type { Conflict } from '../../../src/protocol/conflicts.js';

/**
 * Why a version lost, in words (docs/protocol.md §13.4). `name` turns a device id into its name; an
 * absent device is the server itself, whose versions are merges and restores.
 */
export function describeReason(conflict: Conflict, name: (deviceId: string) => string): string {
  const lost = conflict.lostBy ? name(conflict.lostBy) : 'the server (a merged or restored version)';
  const won = conflict.wonBy ? name(conflict.wonBy) : 'the server';
  switch (conflict.reason) {
    case 'priority':
      return `${capitalize(lost)} and ${won} changed this item at the same time; ${won} comes first in the device priority, so its version was kept.`;
    case 'deletedElsewhere':
      return `${capitalize(lost)} changed this item after ${won} had deleted it, so the item stayed deleted.`;
    case 'deleteLost':
      return `${capitalize(won)} deleted this item while ${lost} changed it; the delete came first in the device priority.`;
    case 'restore':
      return 'This version was replaced when an earlier version was restored.';
  }
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
