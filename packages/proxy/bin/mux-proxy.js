#!/usr/bin/env node
// Installed as a bin before the build runs; the program is in dist/.
import '../dist/main.js';
