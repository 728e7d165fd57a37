/**
 * One raw POST to muxd's HTTP front, as a host that keeps no standalone GET
 * stream sends it: for tests that need to hold a session by its id alone.
 */
import { request } from 'node:http';

export interface PostResult {
  /** The Mcp-Session-Id the answer carried, if any. */
  session: string | undefined;
  /** The JSON-RPC answer, from a JSON body or the SSE stream; undefined when there was none (202). */
  answer: Record<string, unknown> | undefined;
}

/** POSTs `message` to `url` with the bearer `token`, in `session` when given. */
export function postMessage(url: string, token: string, message: object, session?: string): Promise<PostResult> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };
    if (session) headers['Mcp-Session-Id'] = session;
    const req = request(new URL(url), { method: 'POST', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        const data = text.split('\n').filter((line) => line.startsWith('data: ')).map((line) => line.slice(6)).find((line) => line.includes('"id"'));
        const body = res.headers['content-type']?.startsWith('application/json') ? text : data;
        resolve({ session: res.headers['mcp-session-id'] as string | undefined, answer: body ? (JSON.parse(body) as Record<string, unknown>) : undefined });
      });
    });
    req.on('error', reject);
    req.end(JSON.stringify(message));
  });
}
