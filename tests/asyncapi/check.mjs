// tests/asyncapi/check.mjs - schemas/asyncapi.yaml, validated and in sync.
//
// Usage: node check.mjs SOURCE_DIR   (run by tests/asyncapi/run.sh)
//
// 1. @asyncapi/parser (with @asyncapi/avro-schema-parser for the payloads)
//    parses the document and resolves its .avsc $refs: any diagnostic of
//    severity error fails.
// 2. In sync with the code and schemas/registry.tsv:
//    - the channel addresses are exactly topic.prefix's default + every
//      topic suffix of common/domain/sr_outbox.c (no missing, no extra);
//    - every .avsc of registry.tsv is the payload of a message, and no
//      payload names a file registry.tsv lacks;
//    - each topic's own message carries the schema sr-gateway's registry
//      gives its subject <topic>-value (common/io/sr_registry.c);
//    - the payload the parser resolved is the .avsc (same record name);
//    - every header the code writes is declared on a message, and only
//      those;
//    - every operation's messages belong to its channel; every channel has
//      a sender and a receiver.
// Prints each failure; exits 1 on any, 0 otherwise.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Parser, fromFile } from '@asyncapi/parser';
import { AvroSchemaParser } from '@asyncapi/avro-schema-parser';

const src = path.resolve(process.argv[2] || '.');
const doc = path.join(src, 'schemas', 'asyncapi.yaml');
const failures = [];
const fail = (m) => { failures.push(m); console.log(`FAIL ${m}`); };
const read = (rel) => readFileSync(path.join(src, rel), 'utf8');

function must(re, text, what) {
  const m = text.match(re);
  if (!m) {
    console.log(`asyncapi check: cannot find ${what}; update check.mjs`);
    process.exit(2);
  }
  return m;
}

// The code's lists.
const outbox = read('common/domain/sr_outbox.c');
const suffixes = [...must(/topic_suffixes\[SR_TOPIC__COUNT\] = \{([^}]*)\}/,
  outbox, 'topic_suffixes in sr_outbox.c')[1]
  .matchAll(/\[SR_TOPIC_([A-Z_]+)\]\s*=\s*"([a-z-]+)"/g)]
  .map((m) => ({ kind: m[1], suffix: m[2] }));
const prefix = must(/"topic\.prefix"[\s\S]*?\.def = "([^"]*)"/,
  read('common/io/sr_conf.c'), 'topic.prefix in sr_conf.c')[1];
const registry = read('schemas/registry.tsv').split('\n')
  .filter((l) => l.trim() && !l.startsWith('#'))
  .map((l) => { const [id, file] = l.split('\t'); return { id: +id, file }; });
const schemaIds = Object.fromEntries([...must(
  /enum sr_schema_id \{([^}]*)\}/, read('common/codec/sr_codec.h'),
  'sr_schema_id_t')[1].matchAll(/SR_SCHEMA_([A-Z_]+) = (\d+)/g)]
  .map((m) => [m[1], +m[2]]));
// A slot's built-in id is its number unless sr_schema_builtin_id() says
// otherwise (a slot with newer versions: commands, the changelog, ...).
for (const m of read('common/codec/sr_codec.c').matchAll(
  /case SR_SCHEMA_([A-Z_]+):\s*return (\d+);/g))
  schemaIds[m[1]] = +m[2];
const topicSchema = Object.fromEntries([...read(
  'common/io/sr_registry.c').matchAll(
  /\{ SR_TOPIC_([A-Z_]+), SR_SCHEMA_([A-Z_]+) \}/g)]
  .map((m) => [m[1], schemaIds[m[2]]]));
if (suffixes.length < 7 || registry.length < 6 ||
    Object.keys(topicSchema).length < 6) {
  console.log('asyncapi check: the code lists look wrong: ' +
    JSON.stringify({ suffixes, registry, topicSchema }));
  process.exit(2);
}

// 1. The parser.
const parser = new Parser();
parser.registerSchemaParser(AvroSchemaParser());
const { document, diagnostics } = await fromFile(parser, doc).parse();
for (const d of diagnostics) {
  const sev = ['error', 'warning', 'info', 'hint'][d.severity] || d.severity;
  if (sev === 'error')
    fail(`parser: ${d.message} at ${JSON.stringify(d.path)}`);
  else
    console.log(`${sev}: ${d.message} at ${JSON.stringify(d.path)}`);
}
if (!document) {
  console.log(`asyncapi check: ${failures.length} failure(s), no document`);
  process.exit(1);
}

// 2. In sync.
const want = new Set(suffixes.map((s) => prefix + s.suffix));
const channels = document.channels().all();
const got = new Set(channels.map((c) => c.address()));
for (const a of want) if (!got.has(a)) fail(`no channel for topic ${a}`);
for (const a of got) if (!want.has(a)) fail(`channel ${a} is no topic`);
if (got.size !== channels.length) fail('two channels share an address');

// The .avsc files as written in the source (the parser replaces $refs).
const srcText = readFileSync(doc, 'utf8');
const refd = new Set([...srcText.matchAll(/\$ref: '\.\/([a-z0-9_.]+\.avsc)'/g)]
  .map((m) => m[1]));
const files = new Set(registry.map((r) => r.file));
for (const f of files) if (!refd.has(f)) fail(`${f} (registry.tsv) is no payload`);
for (const f of refd) if (!files.has(f)) fail(`${f} is not in registry.tsv`);

const fileOf = Object.fromEntries(registry.map((r) => [r.id, r.file]));
const avscName = (f) => {
  const j = JSON.parse(read(path.join('schemas', f)));
  return `${j.namespace}.${j.name}`;
};
for (const { kind, suffix } of suffixes) {
  const ch = channels.find((c) => c.address() === prefix + suffix);
  if (!ch) continue;
  const id = topicSchema[kind];
  const msgs = ch.messages().all();
  if (id === undefined) {
    // dlq: the original bytes, no schema of ours
    for (const m of msgs)
      if (m.schemaFormat().includes('avro'))
        fail(`${ch.address()} has no schema, yet ${m.id()} has an Avro payload`);
    continue;
  }
  const names = msgs.filter((m) => m.schemaFormat().includes('avro'))
    .map((m) => {
      // the Avro text the parser resolved, before its conversion
      const j = m.payload()?.json() || {};
      const p = j['x-parser-original-payload']?.schema ||
                j['x-parser-original-payload'] || {};
      return p.namespace ? `${p.namespace}.${p.name}` : p.name;
    });
  const wantName = avscName(fileOf[id]);
  if (!names.includes(wantName))
    fail(`${ch.address()}: no message with ${fileOf[id]} (${wantName}), ` +
         `the registry's ${ch.address()}-value; has ${names}`);
  for (const m of msgs)
    if (!m.schemaFormat().startsWith('application/vnd.apache.avro;version='))
      fail(`${ch.address()} ${m.id()}: schemaFormat ${m.schemaFormat()}`);
}

// Every header the code writes (sr_outrec_add_header() literals and the
// *_HEADER names of common/ and workers/) is declared on a message, and no
// message declares one the code never writes.
const { readdirSync } = await import('node:fs');
const codeHeaders = new Set();
for (const dir of ['common', 'workers']) {
  for (const f of readdirSync(path.join(src, dir), { recursive: true })) {
    if (!/\.[ch]$/.test(f)) continue;
    const t = read(path.join(dir, f));
    for (const m of t.matchAll(/sr_outrec_add_header\([^,]+,\s*"([^"]+)"/g))
      codeHeaders.add(m[1]);
    for (const m of t.matchAll(/#define \w+_HEADER "([^"]+)"/g))
      codeHeaders.add(m[1]);
  }
}
if (!codeHeaders.has('ce_id') || !codeHeaders.has('sr_dlq_topic')) {
  console.log('asyncapi check: cannot find the headers in the code; ' +
              `update check.mjs: ${[...codeHeaders]}`);
  process.exit(2);
}
const docHeaders = new Set(document.messages().all().flatMap((m) =>
  Object.keys(m.headers()?.json()?.properties || {})));
for (const h of codeHeaders)
  if (!docHeaders.has(h)) fail(`header ${h} (written by the code) is on no message`);
for (const h of docHeaders)
  if (!codeHeaders.has(h)) fail(`header ${h} is declared, the code never writes it`);

for (const ch of channels) {
  const ops = ch.operations().all();
  if (!ops.some((o) => o.action() === 'send'))
    fail(`${ch.address()}: nobody sends`);
  if (!ops.some((o) => o.action() === 'receive'))
    fail(`${ch.address()}: nobody receives`);
}
for (const op of document.operations().all()) {
  const ids = new Set(op.channels().all().flatMap((c) =>
    c.messages().all().map((m) => m.id())));
  for (const m of op.messages().all())
    if (!ids.has(m.id())) fail(`operation ${op.id()}: message ${m.id()} ` +
                               'is not of its channel');
}

if (failures.length) {
  console.log(`asyncapi check: ${failures.length} failure(s)`);
  process.exit(1);
}
console.log(`asyncapi check: OK: ${channels.length} channels (${[...got]
  .join(', ')}), ${refd.size} .avsc payloads = registry.tsv, ` +
  `${document.operations().all().length} operations; parsed by ` +
  '@asyncapi/parser with the Avro schema parser');
