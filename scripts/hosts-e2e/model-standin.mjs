// A scripted stand-in for the two model APIs the hosts talk to, on 127.0.0.1:
// Anthropic's Messages API (Claude Code, ANTHROPIC_BASE_URL) and the Gemini
// API (Gemini CLI, GOOGLE_GEMINI_BASE_URL). It plays one conversation per
// host: asked anything with the MCP echo tool on offer, it calls that tool
// with the message it was given (first loading the tool's schema through
// Claude Code's ToolSearch when the tool is deferred), and once the tool's
// result comes back it answers with a text quoting that result. It never
// writes "Echo: ..." itself: the text can only come from the real server.
//
// `newRound(prefix)` starts new conversations; host H is asked to echo
// `${prefix}-H`. `hold()` makes the first turn of each conversation wait until `release()`,
// so that both hosts sit connected to their MCP servers at the same time.
// Both APIs stream (SSE) when asked to, as the hosts do.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';

/** What one host's conversation did, for the report. */
function newSession(host) {
  return {
    host,
    requests: 0,
    /** The echo tool's name as the host spells it (found in the request). */
    echoTool: undefined,
    /** The MCP tool names the host offered the model, on any turn. */
    mcpTools: [],
    /** Those it offered on its first turn. */
    firstTurnTools: [],
    heldAt: undefined,
    /** The text of the echo tool's result, as the host sent it back. */
    toolResult: undefined,
    finalText: undefined,
    /** Why the conversation could not go as scripted. */
    problem: undefined,
    /** Tool calls the stand-in asked for, in order. */
    calls: [],
  };
}

export async function startModelStandIn({ log = () => {} } = {}) {
  const sessions = new Map();
  let prefix = 'unset';
  /** What each host is asked to echo: unique per round and host, so a result names who asked. */
  const messageFor = (host) => `${prefix}-${host}`;
  let gate = { open: true, promise: Promise.resolve(), resolve: () => {} };
  let onChange = () => {};

  const session = (host) => {
    if (!sessions.has(host)) sessions.set(host, newSession(host));
    return sessions.get(host);
  };

  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      let body = {};
      try {
        body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
      } catch {
        return sendJson(res, 400, { error: { message: 'stand-in: body is not JSON' } });
      }
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const route = url.pathname.startsWith('/v1/messages') ? anthropic : /^\/v1(beta|alpha)?\/models\//.test(url.pathname) ? gemini : undefined;
      if (!route) return sendJson(res, 404, { error: { message: `stand-in: no route for ${req.method} ${url.pathname}` } });
      route(url, body, res).catch((error) => {
        log(`stand-in error: ${error.stack ?? error}`);
        if (!res.headersSent) sendJson(res, 500, { error: { message: String(error) } });
        else res.end();
      });
    });
  });

  /** Waits at the gate; records that the host got there. */
  async function waitAtGate(s) {
    if (gate.open) return;
    s.heldAt = Date.now();
    onChange();
    await gate.promise;
  }

  // ---- Anthropic Messages API -------------------------------------------------

  async function anthropic(url, body, res) {
    if (url.pathname.endsWith('/count_tokens')) return sendJson(res, 200, { input_tokens: 1000 });
    const s = session('claude');
    s.requests++;
    const toolNames = (body.tools ?? []).map((tool) => tool?.name).filter((name) => typeof name === 'string');
    const text = JSON.stringify(body.messages ?? []);
    const offered = [...new Set([...toolNames.filter((name) => name.startsWith('mcp__')), ...(text.match(/mcp__[A-Za-z0-9_-]+/g) ?? [])])];
    const last = (body.messages ?? []).at(-1);
    const results = Array.isArray(last?.content) ? last.content.filter((block) => block?.type === 'tool_result') : [];
    const isMain = toolNames.includes('ToolSearch') || offered.length > 0 || toolNames.length > 3;
    s.mcpTools = [...new Set([...s.mcpTools, ...offered])];

    const echoResult = results.find((block) => String(block.tool_use_id).startsWith('toolu_echo_'));
    if (echoResult) {
      const resultText = textOf(echoResult.content);
      s.toolResult = resultText;
      const echoed = /Echo: [^\n"]*/.exec(resultText)?.[0];
      s.finalText = echoed ? `The everything server answered: ${echoed}` : `The echo tool gave no echo: ${resultText.slice(0, 300)}`;
      if (echoResult.is_error) s.problem = `the echo tool failed: ${resultText.slice(0, 300)}`;
      onChange();
      return anthropicReply(res, body, [{ type: 'text', text: s.finalText }], 'end_turn');
    }
    const searchResult = results.find((block) => String(block.tool_use_id).startsWith('toolu_search_'));
    if (searchResult) {
      const found = textOf(searchResult.content);
      if (!found.includes(`"${s.echoTool}"`)) {
        s.problem = `ToolSearch did not find ${s.echoTool}: ${found.slice(0, 300)}`;
        onChange();
        return anthropicReply(res, body, [{ type: 'text', text: 'The echo tool could not be found.' }], 'end_turn');
      }
      return anthropicReply(res, body, [toolUse('toolu_echo_', s.echoTool, { message: messageFor('claude') }, s)], 'tool_use');
    }
    if (results.length > 0) {
      s.problem = `unexpected tool result: ${JSON.stringify(results).slice(0, 300)}`;
      onChange();
      return anthropicReply(res, body, [{ type: 'text', text: 'Unexpected tool result.' }], 'end_turn');
    }
    if (!isMain) return anthropicReply(res, body, [{ type: 'text', text: 'ok' }], 'end_turn');

    s.firstTurnTools = offered;
    s.echoTool = offered.find((name) => /^mcp__everything__echo$/.test(name));
    if (!s.echoTool && !toolNames.includes('ToolSearch')) {
      s.problem = `Claude Code offered no everything echo tool and no ToolSearch (MCP tools offered: ${offered.join(', ') || 'none'})`;
      await waitAtGate(s);
      onChange();
      return anthropicReply(res, body, [{ type: 'text', text: 'No echo tool was offered.' }], 'end_turn');
    }
    // Not listed yet (Claude Code connects MCP servers in the background and adds their tools as they come):
    // search for it, as a model asked to use it would.
    s.echoTool ??= 'mcp__everything__echo';
    await waitAtGate(s);
    // A deferred tool (only its name in the prompt) is loaded through ToolSearch first, as the model would.
    if (!toolNames.includes(s.echoTool) && toolNames.includes('ToolSearch')) {
      return anthropicReply(res, body, [toolUse('toolu_search_', 'ToolSearch', { query: `select:${s.echoTool}` }, s)], 'tool_use');
    }
    return anthropicReply(res, body, [toolUse('toolu_echo_', s.echoTool, { message: messageFor('claude') }, s)], 'tool_use');
  }

  function toolUse(prefix, name, input, s) {
    s.calls.push(name);
    onChange();
    return { type: 'tool_use', id: `${prefix}${randomUUID().replaceAll('-', '').slice(0, 20)}`, name, input };
  }

  function anthropicReply(res, body, content, stopReason) {
    const id = `msg_standin_${randomUUID().replaceAll('-', '').slice(0, 20)}`;
    const model = body.model ?? 'stand-in';
    const usage = { input_tokens: 100, output_tokens: 20, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
    if (!body.stream) {
      return sendJson(res, 200, { id, type: 'message', role: 'assistant', model, content, stop_reason: stopReason, stop_sequence: null, usage });
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'request-id': id });
    const event = (type, data) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
    event('message_start', { message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 } } });
    event('ping', {});
    content.forEach((block, index) => {
      if (block.type === 'text') {
        event('content_block_start', { index, content_block: { type: 'text', text: '' } });
        event('content_block_delta', { index, delta: { type: 'text_delta', text: block.text } });
      } else {
        event('content_block_start', { index, content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} } });
        event('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: JSON.stringify(block.input) } });
      }
      event('content_block_stop', { index });
    });
    event('message_delta', { delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: 20 } });
    event('message_stop', {});
    res.end();
  }

  // ---- Gemini API -------------------------------------------------------------

  async function gemini(url, body, res) {
    const [, model = 'stand-in', method = ''] = /\/models\/([^:]+):(\w+)/.exec(url.pathname) ?? [];
    if (method === 'countTokens') return sendJson(res, 200, { totalTokens: 1000 });
    const stream = method === 'streamGenerateContent';
    const config = body.generationConfig ?? {};
    const schema = config.responseJsonSchema ?? config.responseSchema;
    // Side calls (routing, next-speaker checks...) ask for JSON: give the least answer the schema allows.
    if (schema) return geminiReply(res, stream, model, [{ text: JSON.stringify(fillSchema(schema)) }]);
    const s = session('gemini');
    s.requests++;
    const declarations = (body.tools ?? []).flatMap((tool) => tool?.functionDeclarations ?? []).map((fn) => fn?.name).filter((name) => typeof name === 'string');
    const responses = (body.contents ?? []).at(-1)?.parts?.filter((part) => part?.functionResponse) ?? [];
    const echoResponse = responses.find((part) => part.functionResponse.name === s.echoTool);
    if (echoResponse) {
      const resultText = JSON.stringify(echoResponse.functionResponse.response ?? {});
      s.toolResult = resultText;
      const echoed = /Echo: [^\n"\\]*/.exec(resultText)?.[0];
      s.finalText = echoed ? `The everything server answered: ${echoed}` : `The echo tool gave no echo: ${resultText.slice(0, 300)}`;
      onChange();
      return geminiReply(res, stream, model, [{ text: s.finalText }]);
    }
    if (responses.length > 0) {
      s.problem = `unexpected function response: ${JSON.stringify(responses).slice(0, 300)}`;
      onChange();
      return geminiReply(res, stream, model, [{ text: 'Unexpected function response.' }]);
    }
    if (declarations.length === 0) return geminiReply(res, stream, model, [{ text: 'ok' }]);
    s.mcpTools = declarations.filter((name) => name.startsWith('mcp_'));
    s.firstTurnTools = s.mcpTools;
    s.echoTool = declarations.find((name) => /everything.*echo$/.test(name));
    if (!s.echoTool) {
      s.problem = `Gemini CLI offered no everything echo tool (MCP tools offered: ${s.mcpTools.join(', ') || 'none'})`;
      await waitAtGate(s);
      onChange();
      return geminiReply(res, stream, model, [{ text: 'No echo tool was offered.' }]);
    }
    await waitAtGate(s);
    s.calls.push(s.echoTool);
    onChange();
    return geminiReply(res, stream, model, [{ functionCall: { name: s.echoTool, args: { message: messageFor('gemini') } } }]);
  }

  function geminiReply(res, stream, model, parts) {
    const chunk = {
      candidates: [{ content: { role: 'model', parts }, finishReason: 'STOP', index: 0 }],
      usageMetadata: { promptTokenCount: 100, candidatesTokenCount: 20, totalTokenCount: 120 },
      modelVersion: model,
      responseId: randomUUID(),
    };
    if (!stream) return sendJson(res, 200, chunk);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write(`data: ${JSON.stringify(chunk)}\r\n\r\n`);
    res.end();
  }

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();

  return {
    url: `http://127.0.0.1:${port}`,
    /** Starts a new conversation for every host, asking them to echo `text`. */
    newRound(text) {
      prefix = text;
      sessions.clear();
    },
    messageFor,
    session,
    sessions,
    hold() {
      let resolve;
      const promise = new Promise((done) => (resolve = done));
      gate = { open: false, promise, resolve };
    },
    release() {
      gate.open = true;
      gate.resolve();
    },
    /** Resolves once `ready()` is true (checked on every change and every 250 ms), or at the deadline. */
    async waitUntil(ready, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (!ready() && Date.now() < deadline) {
        await new Promise((resolve) => {
          const timer = setTimeout(resolve, 250);
          onChange = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        onChange = () => {};
      }
      return ready();
    },
    close() {
      this.release();
      server.closeAllConnections?.();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The text of a tool_result's content: a string, or text blocks. */
function textOf(content) {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((block) => (typeof block === 'string' ? block : block?.type === 'text' ? block.text : JSON.stringify(block))).join('\n');
  return JSON.stringify(content ?? '');
}

/** The smallest value a (Gemini or JSON) schema accepts; an enum with "user" in it answers "user" (the next-speaker check: stop). */
function fillSchema(schema) {
  if (!schema || typeof schema !== 'object') return null;
  if (Array.isArray(schema.enum) && schema.enum.length) return schema.enum.includes('user') ? 'user' : schema.enum[0];
  const type = String(Array.isArray(schema.type) ? schema.type[0] : (schema.type ?? (schema.properties ? 'object' : 'string'))).toLowerCase();
  switch (type) {
    case 'object': {
      const out = {};
      const required = schema.required ?? Object.keys(schema.properties ?? {});
      for (const key of required) out[key] = fillSchema(schema.properties?.[key]);
      return out;
    }
    case 'array':
      return [];
    case 'integer':
    case 'number':
      return schema.minimum ?? 1;
    case 'boolean':
      return false;
    default:
      return 'ok';
  }
}
