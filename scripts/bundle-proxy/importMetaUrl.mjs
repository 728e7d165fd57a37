// Injected into the mux-proxy bundle (scripts/bundle-proxy.mjs), where
// import.meta.url stands for this: the bundle's own file URL. CommonJS output
// has no import.meta, and mux-proxy finds the @muxd/daemon it starts from it.
export const importMetaUrl = require('node:url').pathToFileURL(__filename).href;
