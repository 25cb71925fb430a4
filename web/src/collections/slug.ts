/**
 * The collection `name` (the handle in DAV URLs and the CLI) the web app makes from a display name,
 * tidy enough to type in a URL or a shell: "Família & Friends" → "familia-friends"; `-2`, `-3`… when it is taken.
 */
export function slugFor(displayName: string, fallback: string, taken: ReadonlySet<string>): string {
  const base =
    displayName
      .normalize('NFKD')
      .replace(/[\u0300-\u036f]/g, '')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 56)
      .replace(/-+$/, '') || fallback;
  if (!taken.has(base)) return base;
  for (let n = 2; ; n++) if (!taken.has(`${base}-${n}`)) return `${base}-${n}`;
}
