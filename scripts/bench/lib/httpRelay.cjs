// The simplest possible Streamable HTTP bridge to one stdio server: each
// POST body goes to the child as one line, and the child's answer to it goes
// back as a plain JSON body. It keeps no sessions, parses each line once to
// match answers to POSTs, and drops whatever the child says unasked. The
// `http-relay` reference target puts one in front of a server: the latency
// floor of any design that serves a stdio server over HTTP from one process,
// as muxd's HTTP front does, with the same SDK client on the other side.
'use strict';
const { spawn } = require('node:child_process');
const { createServer } = require('node:http');

const [port, command, ...args] = process.argv.slice(2);
const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] });
child.once('exit', (code) => process.exit(code ?? 1));

/** Open POSTs by the JSON text of their request id. */
const pending = new Map();
let buffered = '';
child.stdout.setEncoding('utf8');
child.stdout.on('data', (chunk) => {
  buffered += chunk;
  let newline;
  while ((newline = buffered.indexOf('\n')) >= 0) {
    const line = buffered.slice(0, newline);
    buffered = buffered.slice(newline + 1);
    let message;
    try {
      message = JSON.parse(line);
    } catch {
      continue;
    }
    const key = JSON.stringify(message.id);
    const res = pending.get(key);
    if (!res || message.method !== undefined) continue;
    pending.delete(key);
    res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'relay' });
    res.end(line);
  }
});

createServer((req, res) => {
  if (req.method !== 'POST') {
    res.writeHead(405).end();
    return;
  }
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    let message;
    try {
      message = JSON.parse(body);
    } catch {
      res.writeHead(400).end();
      return;
    }
    if (message.id !== undefined && message.method !== undefined) pending.set(JSON.stringify(message.id), res);
    else res.writeHead(202).end();
    child.stdin.write(`${body}\n`);
  });
}).listen(Number(port), '127.0.0.1');
