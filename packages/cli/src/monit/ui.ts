/**
 * React and ink, loaded when monit starts rather than imported: muxctl is
 * bundled into one file for npm, where a static import of them would load
 * both (most of a second) for every muxctl command, and ink would decide
 * at load time, from CI=..., not to draw live.
 */
export interface Ui {
  react: typeof import('react');
  ink: typeof import('ink');
}

let loaded: Ui | undefined;

/** Loads React and ink once; call before rendering anything of monit's. */
export async function loadUi(): Promise<Ui> {
  if (!loaded) {
    const [react, ink] = await Promise.all([import('react'), import('ink')]);
    loaded = { react, ink };
  }
  return loaded;
}

/** React and ink, once `loadUi()` has loaded them. Throws before that (a bug in monit). */
export function ui(): Ui {
  if (!loaded) throw new Error('monit drew before loading React and ink (loadUi)');
  return loaded;
}
