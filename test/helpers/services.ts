/**
 * Throwaway services for fault tests: a private PostgreSQL cluster and a private redis-server,
 * each on a free loopback port, that a test may stop and start at will. Never the shared
 * 5432/6379 ones, which other test files use at the same time.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** A free TCP port on 127.0.0.1 (the OS picks it; released before returning). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const PG_BIN = '/usr/lib/postgresql/15/bin';

/** Why fault tests cannot run here, or null when they can. */
export function faultServicesMissing(): string | null {
  const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
  if (!has('redis-server')) return 'redis-server is not installed';
  if (spawnSync('test', ['-x', `${PG_BIN}/pg_ctl`]).status !== 0) return `${PG_BIN}/pg_ctl is missing`;
  if (spawnSync('id', ['-u', 'postgres']).status !== 0) return 'there is no postgres user to run initdb as';
  return null;
}

function asPostgres(args: string[]): void {
  const isRoot = process.getuid?.() === 0;
  const [cmd, ...rest] = isRoot ? ['runuser', '-u', 'postgres', '--', ...args] : args;
  const r = spawnSync(cmd!, rest, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed: ${r.stderr || r.stdout}`);
}

export interface PrivatePostgres {
  url: string;
  port: number;
  start(): void;
  stop(): void;
  destroy(): void;
}

/** initdb into a temporary directory (as the postgres user), then pg_ctl start on a free port. */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const dir = mkdtempSync(path.join(tmpdir(), 'fault-pg-'));
  chownSync(dir, Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim()), 0);
  const port = await freePort();
  asPostgres([`${PG_BIN}/initdb`, '-D', `${dir}/data`, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const pgctl = (...args: string[]) => asPostgres([`${PG_BIN}/pg_ctl`, '-D', `${dir}/data`, ...args]);
  const start = () =>
    pgctl('-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`, '-l', `${dir}/log`, '-w', 'start');
  start();
  let running = true;
  return {
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    port,
    start: () => {
      start();
      running = true;
    },
    stop: () => {
      pgctl('-m', 'fast', '-w', 'stop');
      running = false;
    },
    destroy: () => {
      if (running) {
        try {
          pgctl('-m', 'immediate', '-w', 'stop');
        } catch {
          /* already gone */
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface PrivateRedis {
  url: string;
  port: number;
  start(): Promise<void>;
  stop(): Promise<void>;
  destroy(): Promise<void>;
}

/** A redis-server child on a free loopback port, no persistence. */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let child: ChildProcess | null = null;
  const start = () =>
    new Promise<void>((resolve, reject) => {
      const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = proc;
      let out = '';
      const onData = (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('Ready to accept connections')) {
          proc.stdout!.off('data', onData);
          proc.stdout!.resume();
          resolve();
        }
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.resume();
      proc.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${out}`)));
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      const proc = child;
      child = null;
      if (!proc || proc.exitCode !== null) return resolve();
      proc.once('exit', () => resolve());
      proc.kill('SIGKILL');
    });
  await start();
  return { url: `redis://127.0.0.1:${port}`, port, start, stop, destroy: stop };
}
