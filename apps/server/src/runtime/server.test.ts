import { mkdtempSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { ConnectionInfo, Module, RouteCaller } from '@x/core-conn';
import { packHep } from '@x/proto-hep';
import { describe, expect, it } from 'vitest';
import type { PackageImporter } from '../config/catalog.js';
import { handleRpc } from '../mi/jsonrpc.js';
import { checkConfig, startServer } from './server.js';

const quiet = () => new Writable({ write(_c, _e, cb) { cb(); } });

function fakes(events: string[], failInit?: string): PackageImporter {
  const mod = (name: string, dependsOn: string[] = []): Module => ({
    name,
    params: { level: { type: 'int', default: 1, doc: '' } },
    dependsOn,
    init(ctx, params) {
      if (name === failInit) throw new Error('boom');
      events.push(`init ${name} level=${String(params.level)} deps=${dependsOn.map((d) => (ctx.modules.has(d) ? d : `!${d}`)).join(',')}`);
      return {
        api: { name },
        mi: [{ name: `${name}:hello`, recipes: [[]], handler: () => `hello from ${name}` }],
        destroy: () => { events.push(`destroy ${name}`); },
      };
    },
  });
  // tracing is loaded first but depends on tcp_mgm: init order must put tcp_mgm first
  return async (pkg) => {
    if (pkg === '@x/tracing') return { m: mod('tracing', ['tcp_mgm']) };
    if (pkg === '@x/tcp-mgm') return { m: mod('tcp_mgm') };
    throw new Error(`no ${pkg}`);
  };
}

describe('startServer lifecycle', () => {
  it('inits in dependency order, serves module MI commands, destroys in reverse order', async () => {
    const events: string[] = [];
    const s = await startServer({
      configText: 'loadmodule "tracing.so"\nloadmodule "tcp_mgm.so"\nmodparam(".*", "level", 7)\n',
      importer: fakes(events),
      logDestination: quiet(),
    });
    expect(events).toEqual(['init tcp_mgm level=7 deps=', 'init tracing level=7 deps=tcp_mgm']);
    const r = JSON.parse((await handleRpc(s.mi, '{"jsonrpc":"2.0","method":"tracing:hello","id":1}')).body) as { result: string };
    expect(r.result).toBe('hello from tracing');
    const amb = JSON.parse((await handleRpc(s.mi, '{"jsonrpc":"2.0","method":"hello","id":1}')).body) as { error: { data: string } };
    expect(amb.error.data).toBe('supported names: tcp_mgm:hello, tracing:hello');
    await s.stop();
    expect(events.slice(2)).toEqual(['destroy tracing', 'destroy tcp_mgm']);
  });

  it('a failing init names the module and its loadmodule line, and destroys what started', async () => {
    const events: string[] = [];
    await expect(
      startServer({ configText: '\nloadmodule "tcp_mgm.so"\nloadmodule "tracing.so"\n', configName: 'f.cfg', importer: fakes(events, 'tracing'), logDestination: quiet() }),
    ).rejects.toThrow(/f\.cfg:3:1: module "tracing" failed to initialise: boom$/);
    expect(events).toEqual(['init tcp_mgm level=1 deps=', 'destroy tcp_mgm']);
  });

  it('an httpd port in use is a CfgError at its modparam, and what started is destroyed', async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    const port = (busy.address() as { port: number }).port;
    const events: string[] = [];
    try {
      const err = await startServer({
        configText: `loadmodule "tcp_mgm.so"\nloadmodule "httpd.so"\nmodparam("httpd", "port", ${port})\n`,
        configName: 'h.cfg',
        importer: fakes(events),
        logDestination: quiet(),
      }).then(() => undefined, (e: unknown) => e as { code: string; message: string });
      expect(err?.code).toBe('ERR_CFG_BAD_SOCKET');
      expect(err?.message).toMatch(new RegExp(`h\\.cfg:3:27: httpd cannot listen on 127\\.0\\.0\\.1:${port}: listen EADDRINUSE`));
      expect(events).toEqual(['init tcp_mgm level=1 deps=', 'destroy tcp_mgm']);
    } finally {
      await new Promise((r) => busy.close(r));
    }
  });

  it('filter routes named by modparams run through the module RouteCaller with a typed context', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'x-server-routes-'));
    writeFileSync(join(dir, 'routes.mjs'), [
      'export function tf(ctx) { if (ctx.si === "10.0.0.9") ctx.drop(); return `${ctx.route} ${ctx.si}:${ctx.sp} ${ctx.proto} ${ctx.socket} ${ctx.message}`; }',
      'export async function atf(ctx) { await new Promise((r) => setTimeout(r, 5)); if (ctx.message === "drop") ctx.drop(); return "kept"; }',
      'export function bad() { throw new Error("route bug"); }',
      'export async function abad() { throw new Error("async route bug"); }',
    ].join('\n'));
    let routes: RouteCaller | undefined;
    const tracer: Module = {
      name: 'tracing',
      params: { filter: { type: 'string', doc: '' }, async_filter_route: { type: 'string', doc: '' } },
      routes: (p) => (typeof p.async_filter_route === 'string' ? [{ name: p.async_filter_route, param: 'async_filter_route' }] : []),
      init(ctx) {
        routes = ctx.routes;
        return {};
      },
    };
    const s = await startServer({
      configText: 'route_script = "./routes.mjs"\nloadmodule "tracing.so"\nmodparam("tracing", "async_filter_route", "atf")\n',
      configName: join(dir, 'x.cfg'),
      importer: async () => ({ tracer }),
      logDestination: quiet(),
    });
    try {
      const conn = { remote: { host: '10.0.0.5', port: 40112 }, local: { host: '127.0.0.1', port: 5060 }, proto: 'tcp', listener: { address: { host: '127.0.0.1', port: 5060 }, proto: 'tcp' } };
      expect(routes!('tf', { message: 'm1', connection: conn as unknown as ConnectionInfo })).toBe('tf 10.0.0.5:40112 tcp tcp:127.0.0.1:5060 m1');
      expect(routes!('tf', { message: 'm2', remote: { host: '10.0.0.9', port: 9 }, proto: 'hep_udp' })).toBe(false);
      await expect(routes!('atf', { message: 'keep' })).resolves.toBe('kept');
      await expect(routes!('atf', { message: 'drop' })).resolves.toBe(false);
      expect(routes!('bad', { message: undefined })).toBeUndefined();
      await expect(routes!('abad', { message: undefined })).resolves.toBeUndefined();
      expect(routes!('not_exported', { message: undefined })).toBeUndefined();
      expect(s.stats.get('server:route_runs')!.value()).toBe(6);
    } finally {
      await s.stop();
    }
  });

  it('a modparam naming a route without any route_script is an error at its value', async () => {
    const tracer: Module = { name: 'tracing', params: { trace_filter_route: { type: 'string', doc: '' } }, routes: (p) => [{ name: typeof p.trace_filter_route === 'string' ? p.trace_filter_route : '', param: 'trace_filter_route' }], init: () => ({}) };
    await expect(
      startServer({ configText: 'loadmodule "tracing.so"\n modparam("tracing", "trace_filter_route", "tf")\n', configName: 'r.cfg', importer: async () => ({ tracer }), logDestination: quiet() }),
    ).rejects.toThrow(/r\.cfg:2:44: tracing: parameter "trace_filter_route" names route "tf", but no route_script = "\.\.\." is set$/);
  });

  it('maps the core tcp_* globals onto the engine default profile', async () => {
    const s = await startServer({
      configText: [
        'tcp_connection_lifetime = 600', 'tcp_connect_timeout = 250', 'tcp_max_msg_time = 7', 'tcp_keepalive = no',
        'tcp_keepcount = 3', 'tcp_keepidle = 30', 'tcp_keepinterval = 5', 'tcp_accept_aliases = 1', 'tcpthreshold = 1500',
      ].join('\n'),
      logDestination: quiet(),
    });
    try {
      expect(s.engine.defaultProfile).toMatchObject({
        id: 0, conLifetime: 600, connectTimeout: 250, msgReadTimeout: 7, keepalive: false, keepcount: 3, keepidle: 30, keepinterval: 5, aliasMode: 1, sendThreshold: 1500,
      });
    } finally {
      await s.stop();
    }
  });

  it('tcp_max_connections bounds the connections proto_tcp accepts', async () => {
    const s = await startServer({ configText: 'tcp_max_connections = 1\nsocket = tcp:127.0.0.1:0\nloadmodule "proto_tcp.so"\n', logDestination: quiet() });
    const socks: Array<ReturnType<typeof connect>> = [];
    try {
      const port = s.listeners[0]!.address.port;
      const open = async (): Promise<ReturnType<typeof connect>> => {
        const c = connect(port, '127.0.0.1');
        c.on('error', () => {});
        socks.push(c);
        await new Promise<void>((r) => c.once('connect', () => r()));
        return c;
      };
      const first = await open();
      for (let i = 0; i < 100 && s.engine.connections().length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(s.engine.connections()).toHaveLength(1);
      const second = await open();
      await new Promise<void>((r) => second.once('close', () => r()));
      expect(s.stats.get('tcp:rejected')!.value()).toBe(1);
      expect(first.destroyed).toBe(false);
      expect(s.engine.connections()).toHaveLength(1);
    } finally {
      for (const c of socks) c.destroy();
      await s.stop();
    }
  });

  it('a dependency cycle is an error at the loadmodule that closes it, before any init', async () => {
    let inits = 0;
    const mod = (name: string, dep: string): Module => ({ name, params: {}, dependsOn: [dep], init: () => { inits++; return {}; } });
    const importer: PackageImporter = async (pkg) => (pkg === '@x/tracing' ? { m: mod('tracing', 'tcp_mgm') } : { m: mod('tcp_mgm', 'tracing') });
    await expect(startServer({ configText: 'loadmodule "tracing.so"\nloadmodule "tcp_mgm.so"\n', configName: 'c.cfg', importer, logDestination: quiet() }))
      .rejects.toThrow(/c\.cfg:1:1: dependency cycle: tracing -> tcp_mgm -> tracing$/);
    expect(inits).toBe(0);
    await expect(checkConfig({ configText: 'loadmodule "tracing.so"\nloadmodule "tcp_mgm.so"\n', configName: 'c.cfg' }, { importer }))
      .rejects.toThrow(/c\.cfg:1:1: dependency cycle: tracing -> tcp_mgm -> tracing$/);
  });

  it('a reload whose cfg is broken names file:line:col and keeps the running log_level and routes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'x-server-reload-'));
    const cfgFile = join(dir, 'x.cfg');
    writeFileSync(join(dir, 'routes.mjs'), 'export function request() {}\n');
    writeFileSync(cfgFile, 'log_level = 2\nroute_script = "./routes.mjs"\n');
    const s = await startServer({ configFile: cfgFile, logDestination: quiet() });
    try {
      writeFileSync(cfgFile, 'log_level = 4\nroute_script = "./routes.mjs"\n  tcp_keepalive = "maybe"\n');
      await expect(s.reload()).rejects.toThrow(`${cfgFile}:3:19: core: parameter "tcp_keepalive" expects 0 or 1, got "maybe"`);
      expect(s.logger.level()).toBe(2);
      const r = JSON.parse((await handleRpc(s.mi, '{"jsonrpc":"2.0","method":"reload","id":1}')).body) as { error: { code: number; data: string } };
      expect(r.error.code).toBe(-32000);
      expect(r.error.data).toContain(`${cfgFile}:3:19:`);
      writeFileSync(join(dir, 'routes.mjs'), 'export function request() {}\nexport function reply() {}\n');
      writeFileSync(cfgFile, 'log_level = 4\nroute_script = "./routes.mjs"\n');
      expect(await s.reload()).toMatchObject({ log_level: 4, routes: ['request', 'reply'] });
      expect(s.logger.level()).toBe(4);
    } finally {
      await s.stop();
    }
  });

  it('a udp hep_id without a hep_udp socket stops start-up at the hep_id; a tcp one starts', async () => {
    const cfg = 'socket = hep_tcp:127.0.0.1:0\n\nloadmodule "proto_hep.so"\nmodparam("proto_hep", "hep_id", "[h1] 127.0.0.1:9; transport=udp")\n';
    const err = await startServer({ configText: cfg, configName: 'h.cfg', logDestination: quiet() }).then(() => undefined, (e: unknown) => e as { code: string; message: string });
    expect(err?.code).toBe('ERR_CFG_MODULE_REFUSED');
    expect(err?.message).toMatch(/h\.cfg:4:33: proto_hep: hep_id \[h1\] sends over udp: it needs a hep_udp socket to send from/);
    const ok = await startServer({ configText: cfg.replace('transport=udp', 'transport=tcp'), configName: 'h.cfg', logDestination: quiet() });
    await ok.stop();
  });

  it('a HEP packet no `hep` route takes is counted dropped, as OpenSIPS does; with a `hep` route it is not', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'x-server-hep-'));
    const send = async (routes: string | undefined): Promise<{ received: number; dropped: number; seen: number }> => {
      writeFileSync(join(dir, 'routes.mjs'), routes ?? '');
      const cfgFile = join(dir, 'x.cfg');
      writeFileSync(cfgFile, `socket = hep_udp:127.0.0.1:0\nloadmodule "proto_hep.so"\n${routes === undefined ? '' : 'route_script = "./routes.mjs"\n'}`);
      const s = await startServer({ configFile: cfgFile, logDestination: quiet() });
      const sock = createSocket('udp4');
      try {
        const port = s.listeners[0]!.address.port;
        const pkt = packHep({ host: '10.0.0.1', port: 5060 }, { host: '10.0.0.2', port: 5060 }, 'udp', Buffer.from('OPTIONS sip:a SIP/2.0\r\n\r\n'));
        for (let i = 0; i < 3; i++) await new Promise<void>((r, j) => sock.send(pkt, port, '127.0.0.1', (e) => (e ? j(e) : r())));
        const received = (): number => s.stats.get('proto_hep:hep_received')!.value();
        for (let t = 0; t < 200 && received() < 3; t++) await new Promise((r) => setTimeout(r, 10));
        const g = globalThis as { __hepSeen?: number };
        return { received: received(), dropped: s.stats.get('proto_hep:hep_dropped')!.value(), seen: g.__hepSeen ?? 0 };
      } finally {
        sock.close();
        await s.stop();
      }
    };
    expect(await send(undefined)).toEqual({ received: 3, dropped: 3, seen: 0 });
    expect(await send('export function request() {}\n')).toEqual({ received: 3, dropped: 3, seen: 0 });
    expect(await send('export function hep() { globalThis.__hepSeen = (globalThis.__hepSeen ?? 0) + 1; }\n')).toEqual({ received: 3, dropped: 0, seen: 3 });
  });

  it("a module instance's listening() hook runs once the sockets are bound, with all the listeners; its error stops start-up at the loadmodule", async () => {
    const seen: number[] = [];
    const checker = (fail: boolean): Module => ({
      name: 'tracing',
      params: {},
      init: (ctx) => ({
        listening(listeners) {
          seen.push(listeners.length, ctx.engine.listeners().length);
          if (fail) throw new Error('needs a tcp socket');
        },
      }),
    });
    const cfg = 'socket = tcp:127.0.0.1:0\nloadmodule "proto_tcp.so"\n loadmodule "tracing.so"\n';
    const importer = (fail: boolean): PackageImporter => async (pkg) => (pkg === '@x/tracing' ? { checker: checker(fail) } : import(pkg) as Promise<Record<string, unknown>>);
    await expect(startServer({ configText: cfg, configName: 'k.cfg', importer: importer(true), logDestination: quiet() })).rejects.toThrow(/k\.cfg:3:2: tracing: needs a tcp socket$/);
    const ok = await startServer({ configText: cfg, configName: 'k.cfg', importer: importer(false), logDestination: quiet() });
    await ok.stop();
    expect(seen).toEqual([1, 1, 1, 1]);
  });
});

describe('SIP replies sent by route scripts', () => {
  const optionsVia = (via: string): string =>
    `OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: ${via}\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: sh-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`;
  async function replyTo(globals: string, via: string): Promise<{ text: string; port: number }> {
    const dir = mkdtempSync(join(tmpdir(), 'x-reply-'));
    writeFileSync(join(dir, 'r.mjs'), 'export function request(ctx) { return ctx.reply(200, "OK"); }\n');
    const s = await startServer({ configText: `${globals}\nroute_script = "./r.mjs"\nsocket = tcp:127.0.0.1:0\nloadmodule "proto_tcp.so"\n`, configName: join(dir, 'x.cfg'), logDestination: quiet() });
    try {
      const port = s.listeners[0]!.address.port;
      return await new Promise((resolve, reject) => {
        let local = 0;
        const c = connect(port, '127.0.0.1', () => {
          local = c.localPort!;
          c.write(optionsVia(via));
        });
        let text = '';
        c.setEncoding('latin1');
        c.on('data', (d: string) => {
          text += d;
          if (text.includes('\r\n\r\n')) {
            c.destroy();
            resolve({ text, port: local });
          }
        });
        c.once('error', reject);
      });
    } finally {
      await s.stop();
    }
  }

  it('carry server_header after CSeq (default "Server: x-server (<version> (<arch>/<os>))"), none with server_signature = 0', async () => {
    const def = await replyTo('', 'SIP/2.0/TCP 127.0.0.1;branch=z9hG4bK1');
    expect(def.text).toMatch(new RegExp(`\\r\\nCSeq: 1 OPTIONS\\r\\nServer: x-server \\(\\d+\\.\\d+\\.\\d+[^ ]* \\(${process.arch}/${process.platform}\\)\\)\\r\\nContent-Length: 0\\r\\n\\r\\n$`));
    const custom = await replyTo('server_header = "Server: My Proxy 1.0"', 'SIP/2.0/TCP 127.0.0.1;branch=z9hG4bK1');
    expect(custom.text).toContain('\r\nServer: My Proxy 1.0\r\nContent-Length: 0\r\n');
    const off = await replyTo('server_signature = no', 'SIP/2.0/TCP 127.0.0.1;branch=z9hG4bK1');
    expect(off.text).not.toMatch(/\r\nServer:/i);
  });

  it('set received and rport in the top Via (RFC 3581)', async () => {
    const r = await replyTo('', 'SIP/2.0/TCP 192.0.2.44:5070;branch=z9hG4bK2;rport');
    expect(r.text).toContain(`\r\nVia: SIP/2.0/TCP 192.0.2.44:5070;received=127.0.0.1;branch=z9hG4bK2;rport=${r.port}\r\n`);
  });
});
