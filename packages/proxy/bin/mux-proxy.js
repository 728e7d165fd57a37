#!/usr/bin/env node
// Installed as a bin before the build runs. The program is one CommonJS file,
// dist/mux-proxy.cjs (scripts/bundle-proxy.mjs), so a proxy starts without
// Node's ESM loader.
require('../dist/mux-proxy.cjs');
