/**
 * Memory while a 25 MB file uploads: the server runs in a child process (`node --import tsx
 * src/main.ts`, embedded database, default limits), and its resident set size is sampled from
 * /proc every 10 ms before (the baseline) and during each upload. A server that buffered the file
 * whole would grow by at least its size; one that streams grows by a few buffers.
 *
 *   npx tsx bench/upload-memory.ts        (also run by `npm run bench`)
 *
 * With DATABASE_URL set, the server uses a fresh database on that PostgreSQL (dropped after), which
 * keeps the embedded database's own memory (PGlite, hundreds of MB that it grows and returns at its
 * own pace) out of the figure; without it, the server runs on PGlite and the baseline is noisier.
 *
 * Prints a table and writes bench/results/upload-memory.json. Linux only (reads /proc).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';
import { BENCH_LIMITS, scratchDatabase } from './lib.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MB = 1024 * 1024;

function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

function crc32(buf: Buffer): number {
  let crc = ~0;
  for (const byte of buf) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return ~crc >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])));
  return Buffer.concat([head, data, crc]);
}

/** A real PNG of random pixels (it does not compress), just under the 25 MB limit. */
function bigPng(side: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(side, 0);
  ihdr.writeUInt32BE(side, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const rows = Buffer.alloc((side * 3 + 1) * side);
  for (let y = 0; y < side; y++) randomBytes(side * 3).copy(rows, y * (side * 3 + 1) + 1);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(rows, { level: 0 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

async function startServer(
  dataDir: string,
  databaseUrl: string | undefined,
  env: Record<string, string>,
): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'info',
      GRAPHIQL: 'false',
      DATABASE_URL: databaseUrl ?? '',
      REDIS_URL: '',
      JWT_SECRET: 'bench-secret-that-is-long-enough-0123456789abcdef',
      ...BENCH_LIMITS,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => reject(new Error('the server did not start within 60 s')), 60_000);
    child.once('exit', (code) => reject(new Error(`the server exited with ${code}`)));
    child.stdout!.on('data', (data: Buffer) => {
      buffered += data.toString();
      for (const line of buffered.split('\n')) {
        const match = /"url":"(http:[^"]+)"/.exec(line);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      }
      buffered = buffered.slice(buffered.lastIndexOf('\n') + 1);
    });
  });
  return { child, url };
}

async function gql<T>(url: string, query: string, variables: Record<string, unknown>, token?: string): Promise<T> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data: T; errors?: unknown };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

const SEND = `mutation ($input: SendAttachmentInput!) {
  sendAttachment(input: $input) { __typename ... on Message { attachments { size contentType width height } } ... on Error { message } }
}`;

async function uploadOnce(url: string, token: string, conversationId: string, file: Buffer, name: string): Promise<unknown> {
  const form = new FormData();
  form.set('operations', JSON.stringify({ query: SEND, variables: { input: { conversationId, files: [null] } } }));
  form.set('map', JSON.stringify({ 0: ['variables.input.files.0'] }));
  form.set('0', new Blob([new Uint8Array(file)], { type: 'image/png' }), name);
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'apollo-require-preflight': 'true' },
    body: form,
  });
  const body = (await res.json()) as { data?: { sendAttachment: { __typename: string } } };
  if (body.data?.sendAttachment.__typename !== 'Message') throw new Error(`upload failed: ${JSON.stringify(body)}`);
  return body.data.sendAttachment;
}

/** Samples the child's RSS every `everyMs` while `work` runs. */
async function sampled<T>(pid: number, work: () => Promise<T>, everyMs = 10): Promise<{ result: T; samples: number[]; ms: number }> {
  const samples: number[] = [rssOf(pid)];
  const timer = setInterval(() => samples.push(rssOf(pid)), everyMs);
  const started = performance.now();
  try {
    const result = await work();
    return { result, samples, ms: performance.now() - started };
  } finally {
    clearInterval(timer);
    samples.push(rssOf(pid));
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mb = (n: number) => `${(n / MB).toFixed(1)} MB`;

interface Run {
  baseline: number;
  peak: number;
  growth: number;
  ms: number;
}

/** One server, `uploads` uploads of a PNG `side` pixels square, each measured against the idle RSS before it. */
async function measure(side: number, uploads: number, env: Record<string, string>): Promise<{ fileBytes: number; database: string; runs: Run[] }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'bench-upload-'));
  const database = await scratchDatabase('bench_upload');
  const { child, url } = await startServer(dataDir, database?.url, env);
  try {
    const pid = child.pid!;
    const suffix = `${process.pid}-${Date.now()}`;
    const signUp = `mutation ($input: SignUpInput!) { signUp(input: $input) { ... on AuthPayload { accessToken user { id } } } }`;
    type SignUp = { signUp: { accessToken: string; user: { id: string } } };
    const a = (await gql<SignUp>(url, signUp, { input: { email: `a-${suffix}@example.com`, password: 'password-123', displayName: 'A' } })).signUp;
    const b = (await gql<SignUp>(url, signUp, { input: { email: `b-${suffix}@example.com`, password: 'password-123', displayName: 'B' } })).signUp;
    const ws = await gql<{ createWorkspace: { id: string } }>(url, `mutation { createWorkspace(input: { name: "Bench" }) { ... on Workspace { id } } }`, {}, a.accessToken);
    await gql(url, `mutation ($input: AddWorkspaceMemberInput!) { addWorkspaceMember(input: $input) { __typename } }`, {
      input: { workspaceId: ws.createWorkspace.id, email: `b-${suffix}@example.com`, role: 'CLIENT' },
    }, a.accessToken);
    const thread = await gql<{ openDirectThread: { id: string } }>(
      url,
      `mutation ($w: ID!, $u: ID!) { openDirectThread(workspaceId: $w, userId: $u) { ... on Thread { id } } }`,
      { w: ws.createWorkspace.id, u: b.user.id },
      a.accessToken,
    );
    const conversationId = thread.openDirectThread.id;

    // Warm up every code path once with a small file, so the baseline includes loaded modules.
    await uploadOnce(url, a.accessToken, conversationId, bigPng(64), 'warm-up.png');
    await new Promise((r) => setTimeout(r, 1000));

    const file = bigPng(side);
    const runs: Run[] = [];
    for (let i = 0; i < uploads; i++) {
      const idle = await sampled(pid, () => new Promise((r) => setTimeout(r, 500)));
      const baseline = median(idle.samples);
      const during = await sampled(pid, () => uploadOnce(url, a.accessToken, conversationId, file, `big-${i}.png`));
      const peak = Math.max(...during.samples);
      runs.push({ baseline, peak, growth: peak - baseline, ms: during.ms });
    }
    return { fileBytes: file.length, database: database ? 'postgresql' : 'pglite', runs };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
    await database?.drop();
  }
}

export async function runUploadMemoryBench(options: { uploads?: number } = {}): Promise<Record<string, unknown>> {
  const uploads = options.uploads ?? 3;
  // 2950 x 2950 RGB: 24.9 MB, just under the 25 MB default limit.
  const atLimit = await measure(2950, uploads, {});
  // The control: four times the bytes (limit raised for it). Streaming grows by about the same;
  // buffering would grow four times as much.
  const control = await measure(5900, 1, { UPLOAD_MAX_FILE_BYTES: String(128 * MB) });
  const maxGrowth = Math.max(...atLimit.runs.map((r) => r.growth));
  const report = {
    bench: 'upload-memory',
    at: new Date().toISOString(),
    database: atLimit.database,
    node: process.version,
    fileBytes: atLimit.fileBytes,
    uploads: atLimit.runs.map((r) => ({ baselineRss: r.baseline, peakRss: r.peak, growth: r.growth, ms: Math.round(r.ms) })),
    maxGrowth,
    control: { fileBytes: control.fileBytes, growth: control.runs[0]!.growth, ms: Math.round(control.runs[0]!.ms) },
  };
  console.log(`\nupload memory: server RSS (on ${report.database}) while one PNG uploads, sampled every 10 ms`);
  console.log('file         baseline RSS  peak RSS  growth    time');
  const row = (label: string, r: Run) =>
    console.log(`${label.padEnd(12)} ${mb(r.baseline).padStart(12)} ${mb(r.peak).padStart(9)} ${mb(r.growth).padStart(8)} ${`${Math.round(r.ms)} ms`.padStart(8)}`);
  atLimit.runs.forEach((r) => row(mb(atLimit.fileBytes), r));
  row(`${mb(control.fileBytes)}*`, control.runs[0]!);
  console.log(`* control, with UPLOAD_MAX_FILE_BYTES raised to 128 MB`);
  console.log(
    `largest growth for the ${mb(atLimit.fileBytes)} file: ${mb(maxGrowth)} (${((maxGrowth / atLimit.fileBytes) * 100).toFixed(0)}% of its size); ` +
      `for the ${mb(control.fileBytes)} control: ${mb(report.control.growth)}\n`,
  );
  const out = path.join(root, 'bench', 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'upload-memory.json'), `${JSON.stringify(report, null, 2)}\n`);
  return report;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runUploadMemoryBench().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
