// Adding services to muxd's own config: existing entries and comments stay.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { resolveConfig } from '@muxd/config';
import { parse as parseYaml } from 'yaml';
import { NEW_CONFIG_HEADER, addServices, parseMuxConfig } from '../src/muxConfigFile.js';
import type { NewService } from '../src/muxConfigFile.js';

const EXAMPLE = readFileSync(fileURLToPath(new URL('../../../muxd.config.yaml', import.meta.url)), 'utf8');

const ADDED: NewService[] = [
  { name: 'github', spec: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-github'], env: { GITHUB_PERSONAL_ACCESS_TOKEN: '${input:github_token}' } } },
  { name: 'fetch', spec: { command: 'uvx', args: ['mcp-server-fetch'], env: {}, cwd: '/srv/fetch' } },
];

describe('addServices', () => {
  test('YAML: new services are spliced in at the end of services; every existing byte stays', () => {
    const config = parseMuxConfig('/etc/muxd/config.yaml', EXAMPLE);
    assert.deepEqual([...config.services.keys()], ['everything', 'memory']);
    assert.equal(config.services.get('memory')?.env['MEMORY_FILE_PATH'], '${MUXD_EXAMPLE_MEMORY:-/tmp/muxd-example-memory.jsonl}', 'read as written, not expanded');
    const after = addServices(config, ADDED);
    const insertedAt = EXAMPLE.length;
    assert.equal(after.slice(0, insertedAt), EXAMPLE, 'the example ends with the services map: everything before is unchanged');
    assert.equal(
      after.slice(insertedAt),
      '  github:\n    command: npx\n    args: [-y, "@modelcontextprotocol/server-github"]\n    env:\n      GITHUB_PERSONAL_ACCESS_TOKEN: ${input:github_token}\n  fetch:\n    command: uvx\n    args: [mcp-server-fetch]\n    cwd: /srv/fetch\n',
    );
    // muxd loads it (host variables stay text: muxd does not expand ${input:...}).
    const loaded = resolveConfig(parseYaml(after), '/etc/muxd/config.yaml', {});
    assert.equal(loaded.services.get('github')?.env['GITHUB_PERSONAL_ACCESS_TOKEN'], '${input:github_token}');
  });

  test('YAML: services in the middle of the file, with a trailing comment, keep the rest in place', () => {
    const text = '# mine\nservices:\n  a:\n    command: x   # aligned\n  # more to come\n\nlogs:\n  keep: 3 # three\n';
    const after = addServices(parseMuxConfig('/c.yaml', text), [ADDED[1] as NewService]);
    assert.equal(after, '# mine\nservices:\n  a:\n    command: x   # aligned\n  fetch:\n    command: uvx\n    args: [mcp-server-fetch]\n    cwd: /srv/fetch\n  # more to come\n\nlogs:\n  keep: 3 # three\n');
  });

  test('YAML: a file without services gets the section appended; a new file gets a header', () => {
    assert.equal(addServices(parseMuxConfig('/c.yaml', 'logs:\n  keep: 3'), [{ name: 'a', spec: { command: 'x', args: [], env: {} } }]), 'logs:\n  keep: 3\nservices:\n  a:\n    command: x\n');
    const created = addServices({ ...parseMuxConfig('/c.yaml', ''), exists: false }, [{ name: 'a', spec: { command: 'x', args: [], env: {} } }]);
    assert.equal(created, `${NEW_CONFIG_HEADER}services:\n  a:\n    command: x\n`);
  });

  test('YAML: a flow-style services map is rendered again with its comments', () => {
    const after = addServices(parseMuxConfig('/c.yaml', '# keep me\nservices: {a: {command: x}} # and me\n'), [{ name: 'b', spec: { command: 'y', args: [], env: {} } }]);
    assert.match(after, /# keep me/);
    assert.match(after, /# and me/);
    assert.deepEqual(Object.keys((parseYaml(after) as { services: object }).services), ['a', 'b']);
  });

  test('JSON and TOML configs get the services too', () => {
    const json = addServices(parseMuxConfig('/c.json', '{\n  "services": {\n    "a": { "command": "x" }\n  }\n}\n'), [ADDED[0] as NewService]);
    assert.deepEqual(Object.keys((JSON.parse(json) as { services: object }).services), ['a', 'github']);
    assert.equal(json, `{\n  "services": {\n    "a": { "command": "x" },\n    "github": {\n      "command": "npx",\n      "args": [\n        "-y",\n        "@modelcontextprotocol/server-github"\n      ],\n      "env": {\n        "GITHUB_PERSONAL_ACCESS_TOKEN": "\${input:github_token}"\n      }\n    }\n  }\n}\n`);
    const toml = addServices(parseMuxConfig('/c.toml', '# mine\n[services.a]\ncommand = "x"\n'), [ADDED[1] as NewService]);
    assert.equal(toml, '# mine\n[services.a]\ncommand = "x"\n\n[services.fetch]\ncommand = "uvx"\nargs = [ "mcp-server-fetch" ]\ncwd = "/srv/fetch"\n');
  });

  test('a JavaScript config is refused', () => {
    assert.throws(() => addServices(parseMuxConfig('/c.mjs', 'export default {}'), [ADDED[1] as NewService]), /JavaScript/);
  });
});

describe('parseMuxConfig', () => {
  test('a service named __proto__ is read as a service in JSON, YAML and TOML, not taken for a prototype', () => {
    const texts: Array<[string, string]> = [
      ['/c/muxd.config.json', '{ "services": { "__proto__": { "command": "a" }, "b": { "command": "b", "env": { "__proto__": "p" } } } }'],
      ['/c/muxd.config.yaml', 'services:\n  __proto__:\n    command: a\n  b:\n    command: b\n    env:\n      __proto__: p\n'],
      ['/c/muxd.config.toml', '[services.__proto__]\ncommand = "a"\n\n[services.b]\ncommand = "b"\nenv = { __proto__ = "p" }\n'],
    ];
    for (const [path, text] of texts) {
      const config = parseMuxConfig(path, text);
      assert.deepEqual([...config.services.keys()], ['__proto__', 'b'], path);
      assert.deepEqual(Object.entries(config.services.get('b')?.env ?? {}), [['__proto__', 'p']], path);
    }
  });
});
