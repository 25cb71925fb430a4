/** Token ranges as push echoes them: sorted and disjoint (protocol/push.ts mergeRanges). */
export type TokenRanges = ReadonlyArray<{ from: number; to: number }>;

/** The span one query reads for `ranges`: from the first range's start to the last one's end. */
export function spanOf(ranges: TokenRanges): { from: number; to: number } | undefined {
  const first = ranges[0];
  const last = ranges[ranges.length - 1];
  return first && last ? { from: first.from, to: last.to } : undefined;
}

/**
 * The rows of the span, in token order, that fall inside one of the ranges: one walk of the rows against
 * the ranges, so a backend reads the span in one query and does no work per range.
 */
export function* withinRanges<R extends { token: number }>(rows: Iterable<R>, ranges: TokenRanges): Generator<R> {
  let i = 0;
  for (const r of rows) {
    while (i < ranges.length && (ranges[i] as { to: number }).to < r.token) i++;
    if (i === ranges.length) return;
    if (r.token >= (ranges[i] as { from: number }).from) yield r;
  }
}
