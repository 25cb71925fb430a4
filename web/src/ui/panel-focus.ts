import { useEffect, useRef } from 'preact/hooks';

/** What the page's detail or editor panel shows: `key` changes whenever another one opens. */
export interface OpenPanel {
  key: string;
  /** The list entry it belongs to; null for a new item. */
  entryId: string | null;
}

/**
 * Keeps keyboard and screen-reader focus on something that exists while a list page opens and closes
 * its detail or editor panel (contacts, notes, tasks). At phone width the list, focused button and all,
 * is hidden while a panel is open, and a panel takes its focused button (Back, Save, Delete) away when
 * it closes; either way focus would fall to <body>. So: when a panel opens, its heading gets focus; when
 * it closes, or its entry is deleted, focus goes back to the entry's button in the list (an element
 * with `data-entry-id`), or to the list's heading if that button is gone. Focus the user has moved
 * elsewhere (the search field, another page element) is left alone.
 *
 * Attach `panelHeading` and `listHeading` to headings with tabIndex={-1}, and `list` to the list.
 */
export function usePanelFocus(open: OpenPanel | null) {
  const list = useRef<HTMLUListElement>(null);
  const listHeading = useRef<HTMLHeadingElement>(null);
  const panelHeading = useRef<HTMLHeadingElement>(null);
  const shown = useRef<OpenPanel | null>(null);
  // Asked for by returnTo: the entry whose button gets focus back, once a render after the request is on the page.
  const returning = useRef<{ entryId: string | null; after: number } | null>(null);
  const renders = useRef(0);
  const render = ++renders.current;

  // Runs after every render, as focus restoring does in device-table.tsx: the elements exist by then.
  useEffect(() => {
    const was = shown.current;
    shown.current = open;
    if (open && open.key !== was?.key) {
      returning.current = null;
      panelHeading.current?.focus();
      return;
    }
    const request = returning.current;
    // Preact runs an earlier render's pending effects before the next render: that one acts on it.
    if (request && request.after >= render) return;
    returning.current = null;
    const target = request ?? (!open && was ? { entryId: was.entryId } : null);
    if (!target) return;
    const active = document.activeElement;
    if (active && active !== document.body && active.isConnected) return;
    const button = target.entryId === null ? null : list.current?.querySelector<HTMLElement>(`[data-entry-id="${CSS.escape(target.entryId)}"]`);
    (button ?? listHeading.current)?.focus();
  });

  return {
    list,
    listHeading,
    panelHeading,
    /**
     * Call just before the change that closes the panel or removes an entry: focus, if lost, then goes
     * to `entryId`'s button (a saved new item's, say) instead of the one the panel showed.
     */
    returnTo(entryId: string | null) {
      returning.current = { entryId, after: renders.current };
    },
  };
}
