import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import * as bg from '@prisma/schema-engine-wasm/schema_engine_bg';
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils';
const require = createRequire(import.meta.url);
const wasmPath = require.resolve('@prisma/schema-engine-wasm/schema_engine_bg').replace(/\.js$/, '.wasm');
let ready;
export function load() {
  ready ??= (async () => {
    const { instance } = await WebAssembly.instantiate(await readFile(wasmPath), { './schema_engine_bg.js': bg });
    bg.__wbg_set_wasm(instance.exports);
    instance.exports.__wbindgen_start();
    return bg;
  })();
  return ready;
}
export function logging(factory, tag, log = console.log) {
  const wrapQ = (q, t) => new Proxy(q, { get(target, p) {
    const v = target[p];
    if (typeof v !== 'function') return v;
    if (!['queryRaw','executeRaw','executeScript','startTransaction','commit','rollback','dispose'].includes(p)) return v.bind(target);
    return async (...args) => {
      if (p === 'queryRaw' || p === 'executeRaw') log(t, p, args[0].sql.slice(0, 120).replace(/\s+/g,' '));
      else if (p === 'executeScript') log(t, p, args[0].slice(0, 80).replace(/\s+/g,' '));
      else log(t, p);
      const r = await v.apply(target, args);
      if (p === 'startTransaction') return wrapQ(r, t + ':tx');
      return r;
    };
  }});
  return { provider: factory.provider, adapterName: factory.adapterName,
    connect: async () => { log(tag, 'connect'); return wrapQ(await factory.connect(), tag); },
    connectToShadowDb: async () => { log(tag, 'connectToShadowDb'); return wrapQ(await factory.connectToShadowDb(), tag + ':shadow'); } };
}
