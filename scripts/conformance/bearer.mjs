// Preloaded (node --import) into the conformance suite when it runs against
// muxd: the suite has no option for request headers, and muxd requires a
// bearer token. Adds `Authorization: Bearer $MUXD_CONFORMANCE_TOKEN` to every
// request to $MUXD_CONFORMANCE_ORIGIN, through the global undici dispatcher
// that both fetch and undici.request use. Host and Origin are left as the
// suite sends them, so dns-rebinding-protection still tests muxd's checks.
import { Agent, setGlobalDispatcher } from 'undici';

const token = process.env.MUXD_CONFORMANCE_TOKEN;
const origin = process.env.MUXD_CONFORMANCE_ORIGIN;
if (!token || !origin) throw new Error('bearer.mjs needs MUXD_CONFORMANCE_TOKEN and MUXD_CONFORMANCE_ORIGIN');

function withAuthorization(headers) {
  const value = `Bearer ${token}`;
  if (headers === undefined || headers === null) return { authorization: value };
  if (Array.isArray(headers)) {
    // Either a flat [name, value, ...] list or a list of [name, value] pairs.
    return typeof headers[0] === 'string' || headers.length === 0 ? [...headers, 'authorization', value] : [...headers, ['authorization', value]];
  }
  if (typeof headers[Symbol.iterator] === 'function') return [...headers, ['authorization', value]];
  return { ...headers, authorization: value };
}

const addBearer = (dispatch) => (options, handler) =>
  dispatch(String(options.origin) === origin ? { ...options, headers: withAuthorization(options.headers) } : options, handler);

setGlobalDispatcher(new Agent().compose(addBearer));
