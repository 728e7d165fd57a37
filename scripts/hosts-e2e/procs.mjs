// Reading /proc: the processes of one scratch HOME (found by the HOME in
// their environment, so another user's or another test's copies of the same
// servers on this machine are never counted or touched), their parents and
// command lines. Linux only.
import { readdirSync, readFileSync } from 'node:fs';

function read(path) {
  try {
    return readFileSync(path);
  } catch {
    return undefined;
  }
}

/** Every process whose environment has HOME=home: { pid, ppid, argv }. */
export function processesOfHome(home) {
  const wanted = `\0HOME=${home}\0`;
  const found = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const environ = read(`/proc/${entry}/environ`);
    if (!environ || !`\0${environ.toString('latin1')}\0`.includes(wanted)) continue;
    const info = processInfo(Number(entry));
    if (info) found.push(info);
  }
  return found;
}

/** { pid, ppid, argv } of one process, or undefined when it is gone (or a zombie with no command line). */
export function processInfo(pid) {
  const stat = read(`/proc/${pid}/stat`)?.toString('utf8');
  const cmdline = read(`/proc/${pid}/cmdline`)?.toString('utf8');
  if (!stat || !cmdline) return undefined;
  // The command name (field 2) is in parentheses and may hold spaces: the fields after the last ')' are plain.
  const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { pid, ppid: Number(after[1]), state: after[0], argv: cmdline.split('\0').filter((part) => part !== '') };
}

/** The chain of ancestors of `pid` (nearest first), up to init. */
export function ancestors(pid) {
  const chain = [];
  let current = processInfo(pid);
  while (current && current.ppid > 1 && chain.length < 64) {
    const parent = processInfo(current.ppid);
    if (!parent) break;
    chain.push(parent);
    current = parent;
  }
  return chain;
}

export function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}
