import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

export interface Resource<T> {
  data: T | undefined;
  /** The last load's failure; cleared by the next success. */
  error: string | null;
  reload: () => Promise<void>;
  /** Take a value the server sent back from an action, without another round trip. */
  set: (data: T) => void;
}

/**
 * Loads `load()` now, after every `reload()`, and every `refreshMs` while the tab is visible. An answer
 * that arrives after a newer request was started is dropped, so a slow poll cannot undo an action.
 */
export function useResource<T>(load: () => Promise<T>, refreshMs?: number): Resource<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const latest = useRef(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  const reload = useCallback(async () => {
    const ticket = ++latest.current;
    try {
      const value = await loadRef.current();
      if (ticket !== latest.current) return;
      setData(value);
      setError(null);
    } catch (err) {
      if (ticket === latest.current) setError((err as Error).message);
    }
  }, []);

  const set = useCallback((value: T) => {
    latest.current++;
    setData(value);
    setError(null);
  }, []);

  useEffect(() => {
    void reload();
    if (refreshMs === undefined) return;
    const timer = setInterval(() => {
      if (!document.hidden) void reload();
    }, refreshMs);
    return () => clearInterval(timer);
  }, [reload, refreshMs]);

  return { data, error, reload, set };
}
