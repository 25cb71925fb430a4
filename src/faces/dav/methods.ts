/**
 * Which methods each kind of DAV resource answers (docs/dav.md § Methods). OPTIONS advertises exactly
 * these in `Allow`, and any other method gets 405 with the same `Allow` (RFC 9110 §15.5.6), so a
 * client never learns of a method that would fail.
 */
export type ResourceKind = 'root' | 'principals' | 'principal' | 'home' | 'collection' | 'item';

const readOnly = ['OPTIONS', 'PROPFIND'];
const allowed: Record<ResourceKind, string[]> = {
  root: readOnly,
  principals: readOnly,
  principal: readOnly,
  home: readOnly,
  collection: ['OPTIONS', 'PROPFIND', 'PROPPATCH', 'REPORT', 'DELETE'],
  item: ['OPTIONS', 'GET', 'HEAD', 'PUT', 'DELETE', 'PROPFIND'],
};

/** A collection path that names no collection yet: it can only be made. */
const unmade = ['OPTIONS', 'MKCOL', 'MKCALENDAR'];

/** The methods a resource of this kind answers; `exists` matters for collections only. */
export function allowedMethods(kind: ResourceKind, exists = true): string[] {
  return kind === 'collection' && !exists ? unmade : allowed[kind];
}

export const allowHeader = (methods: string[]) => methods.join(', ');
