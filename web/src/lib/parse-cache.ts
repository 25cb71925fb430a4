/**
 * A parser that remembers: each distinct text is parsed once, and later calls with the same text
 * answer from a cache of at most `max` texts, the least recently used dropped first. List pages
 * re-render on every push notice and sync status change; with this, only items whose text changed
 * are parsed again. Callers share the cached results, so they must treat them as read-only.
 *
 * A text the parser refuses is remembered too: the same error is thrown again without re-parsing.
 * Above `max` distinct texts in one pass the oldest are parsed again on the next pass, as without a cache.
 */
export function memoByText<T>(parse: (text: string) => T, max = 5000): (text: string) => T {
  // A Map iterates in insertion order: re-inserting on each hit keeps the least recently used first.
  const cache = new Map<string, { value: T } | { error: unknown }>();
  return (text) => {
    let hit = cache.get(text);
    if (hit) {
      cache.delete(text);
    } else {
      try {
        hit = { value: parse(text) };
      } catch (error) {
        hit = { error };
      }
      if (cache.size >= max) {
        const oldest = cache.keys().next();
        if (!oldest.done) cache.delete(oldest.value);
      }
    }
    cache.set(text, hit);
    if ('error' in hit) throw hit.error;
    return hit.value;
  };
}
