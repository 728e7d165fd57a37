// The simplest possible stdio bridge: runs its arguments as a child and
// copies bytes both ways, reading nothing. Two of these in front of a server
// are the `relays` reference target: the latency floor of any design that
// puts two processes between a host and its server, as mux-proxy and muxd do.
const { spawn } = require('node:child_process');

const [command, ...args] = process.argv.slice(2);
const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] });
process.stdin.pipe(child.stdin);
child.stdout.pipe(process.stdout);
child.once('exit', (code) => process.exit(code ?? 1));
