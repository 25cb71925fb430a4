/** The top of a bar chart's axis: the largest count rounded up to 1, 2 or 5 times a power of ten. */
export function axisMax(counts: readonly number[]): number {
  const largest = Math.max(1, ...counts);
  const power = 10 ** Math.floor(Math.log10(largest));
  for (const step of [1, 2, 5, 10]) if (step * power >= largest) return step * power;
  return 10 * power;
}

/** A one-sentence reading of a daily series, for people who cannot see the bars. */
export function describeSeries(seriesName: string, days: readonly string[], counts: readonly number[]): string {
  if (days.length === 0) return `Changes per day, ${seriesName}: no data.`;
  const total = counts.reduce((sum, n) => sum + n, 0);
  const range = `${days[0]} to ${days[days.length - 1]} (UTC)`;
  if (total === 0) return `Changes per day, ${seriesName}, ${range}: no changes.`;
  let busiest = 0;
  counts.forEach((n, i) => {
    if (n > (counts[busiest] ?? 0)) busiest = i;
  });
  const plural = (n: number) => (n === 1 ? '1 change' : `${n} changes`);
  return `Changes per day, ${seriesName}, ${range}: ${plural(total)} in total; busiest day ${days[busiest]} with ${plural(counts[busiest] ?? 0)}.`;
}
