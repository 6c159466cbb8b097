/* One small state store per page: the state is a plain object, `set` merges a patch and
 * tells every subscriber which keys changed. Modules read with `get()`; nothing else keeps
 * shared state. */

export function createStore(initial) {
  let state = Object.assign({}, initial);
  const listeners = new Set();
  return {
    get: () => state,
    set(patch) {
      const changed = Object.keys(patch).filter((key) => state[key] !== patch[key]);
      if (!changed.length) return;
      state = Object.assign({}, state, patch);
      for (const listener of listeners) listener(state, new Set(changed));
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
