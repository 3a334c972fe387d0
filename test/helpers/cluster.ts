/**
 * Several real server processes (src/main.ts) behind a real nginx (Debian's package), on
 * loopback ports: what an operator runs. nginx is a child of the test with its own -c config and
 * -p prefix in a temporary directory (`daemon off;`); WebSockets are proxied; requests go round
 * robin, with no stickiness. Each instance's JSON log lines are kept for the test to read.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { freePort } from './services.js';
import { RELAXED_LIMITS, TEST_JWT_SECRET } from './app.js';

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export interface Instance {
  index: number;
  port: number;
  /** Direct URL, bypassing nginx. */
  url: string;
  proc: ChildProcess;
  logs: LogLine[];
  /** Resolves when the process has exited, with its exit code. */
  exited: Promise<number | null>;
}

export interface Cluster {
  /** nginx's URL. */
  url: string;
  wsUrl: string;
  instances: Instance[];
  stop(): Promise<void>;
}

export function nginxMissing(): string | null {
  return spawnSync('sh', ['-c', 'command -v nginx']).status === 0 ? null : 'nginx is not installed (apt-get install -y nginx; .ci/run does it)';
}

async function startInstance(index: number, env: Record<string, string>): Promise<Instance> {
  const port = await freePort();
  const dataDir = mkdtempSync(path.join(tmpdir(), `cluster-${index}-`));
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: String(port),
      DATA_DIR: dataDir,
      JWT_SECRET: TEST_JWT_SECRET,
      LOG_LEVEL: 'info',
      GRAPHIQL: 'false',
      // The faults tests' load comes from one address and user: not an attack (see app.ts).
      ...RELAXED_LIMITS,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogLine[] = [];
  let stderr = '';
  proc.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  void exited.finally(() => rmSync(dataDir, { recursive: true, force: true }));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`instance ${index} did not start; stderr: ${stderr}`)), 120_000);
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      let entry: LogLine;
      try {
        entry = JSON.parse(line) as LogLine;
      } catch {
        return;
      }
      logs.push(entry);
      if (typeof entry.url === 'string') {
        clearTimeout(timer);
        resolve(entry.url);
      }
    });
    proc.once('exit', (code) => reject(new Error(`instance ${index} exited (${code}) while starting: ${stderr}`)));
  });
  return { index, port, url, proc, logs, exited };
}

function nginxConfig(dir: string, port: number, upstreams: number[]): string {
  return `
daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  map $http_upgrade $connection_upgrade { default upgrade; '' ''; }
  upstream chat {
${upstreams.map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=5s;`).join('\n')}
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://chat;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header X-Request-Id $request_id;
      proxy_read_timeout 1h;
      # A refused or reset upstream connection is tried on the next instance, POST too: sends
      # are idempotent by clientMessageId, so a retried send is stored once.
      proxy_next_upstream error timeout non_idempotent;
    }
  }
}
`;
}

/** Starts `count` instances sharing `env` (DATABASE_URL, REDIS_URL), then nginx in front. */
export async function startCluster(count: number, env: Record<string, string>): Promise<Cluster> {
  const instances: Instance[] = [];
  // The first applies the migrations; the others then start together.
  instances.push(await startInstance(0, env));
  instances.push(...(await Promise.all(Array.from({ length: count - 1 }, (_, i) => startInstance(i + 1, env)))));
  const dir = mkdtempSync(path.join(tmpdir(), 'nginx-'));
  for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi', 'logs']) mkdirSync(path.join(dir, sub));
  const port = await freePort();
  writeFileSync(path.join(dir, 'nginx.conf'), nginxConfig(dir, port, instances.map((i) => i.port)));
  const nginx = spawn('nginx', ['-c', path.join(dir, 'nginx.conf'), '-p', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let nginxErr = '';
  nginx.stderr!.on('data', (d) => (nginxErr += d));
  const url = `http://127.0.0.1:${port}`;
  // Ready once it answers.
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) break;
    } catch {
      /* not listening yet */
    }
    if (nginx.exitCode !== null || Date.now() > deadline) throw new Error(`nginx did not start: ${nginxErr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    instances,
    async stop() {
      const exits = instances.map((i) => {
        if (i.proc.exitCode === null) i.proc.kill('SIGTERM');
        return i.exited;
      });
      const nginxExit = new Promise((r) => (nginx.exitCode !== null ? r(null) : nginx.once('exit', r)));
      nginx.kill('SIGQUIT');
      await Promise.race([Promise.all([...exits, nginxExit]), new Promise((r) => setTimeout(r, 20_000))]);
      for (const i of instances) if (i.proc.exitCode === null) i.proc.kill('SIGKILL');
      if (nginx.exitCode === null) nginx.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
