/**
 * The device ids after moving `id` to `index`. The list order is the priority order (first wins a
 * conflict), so dropping a device onto another gives it that device's place, whichever way it moved.
 */
export function moveTo(order: readonly string[], id: string, index: number): string[] {
  const from = order.indexOf(id);
  if (from < 0) return [...order];
  const rest = order.filter((other) => other !== id);
  const to = Math.max(0, Math.min(index, rest.length));
  return [...rest.slice(0, to), id, ...rest.slice(to)];
}
