import { useEffect } from "react";
import { useLocation } from "react-router-dom";

/** Applies `typed` once the typing pauses for `delayMs`, unless it is what is applied already. A search still
 * pending when the person follows a link is dropped: pages load lazily, so the old page stays mounted while
 * the next one loads, and applying it then would pull the person back to the page they left. */
export function useSearchAsTyped(typed: string, applied: string, apply: (value: string) => void, delayMs = 300) {
  const { pathname } = useLocation();
  useEffect(() => {
    const value = typed.trim();
    if (value === applied) return;
    const timer = window.setTimeout(() => {
      if (window.location.pathname === pathname) apply(value);
    }, delayMs);
    return () => window.clearTimeout(timer);
    // Only a change of the typed text starts a new wait.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [typed]);
}
