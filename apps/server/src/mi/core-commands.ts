import { isIP } from 'node:net';
import { MiError, tcpListJson, toTcpListEntry, type Engine, type MiCommand, type Stat, type StatsRegistry } from '@x/core-conn';
import { MiParamError } from './jsonrpc.js';
import { RawJson, type MiRegistry } from './registry.js';

export interface CoreMiDeps {
  engine: Engine;
  stats: StatsRegistry;
  registry: MiRegistry;
  version: string;
  startedAt: number;
  getLogLevel(): number;
  setLogLevel(level: number): void;
  /** stop the server (after the reply is written) */
  kill(): void;
  /** reload what can be reloaded; returns what was */
  reload(): Promise<Record<string, unknown>>;
}

/** Protocol names tcp:list accepts besides the registered ones (OpenSIPS knows them even when not loaded). */
const KNOWN_PROTOS = ['udp', 'tcp', 'tls', 'sctp', 'ws', 'wss', 'bin', 'bins', 'hep_udp', 'hep_tcp', 'hep_tls', 'msrp', 'msrps', 'smpp', 'ipsec'];

/** C's ctime() without the newline: "Tue Nov 24 10:35:05 2026" (local time). */
export function ctime(ms: number): string {
  const d = new Date(ms);
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${days[d.getDay()]!} ${months[d.getMonth()]!} ${String(d.getDate()).padStart(2, ' ')} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${d.getFullYear()}`;
}

function statNames(v: unknown, param: string): string[] {
  if (typeof v === 'string') return v.split(/\s+/).filter((s) => s !== '');
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  throw new MiParamError(`Bad parameter "${param}": expected an array of statistic names`);
}

/** `all`, `group:` or a name with or without its group (names are unique), as statistics:get. */
export function selectStats(stats: StatsRegistry, items: string[]): Stat[] {
  const all = stats.all();
  const out = new Map<string, Stat>();
  for (const item of items) {
    for (const s of all) {
      const full = `${s.group}:${s.name}`;
      if (item === 'all' || (item.endsWith(':') && s.group === item.slice(0, -1)) || item === full || item === s.name) out.set(full, s);
    }
  }
  return [...out.values()];
}

function intParam(v: unknown, name: string): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n)) throw new MiParamError(`Bad parameter "${name}": expected an integer, got ${JSON.stringify(v)}`);
  return n;
}

function parseIpPort(text: string): { proto?: string; host: string; port: number } | undefined {
  let rest = text.trim();
  let proto: string | undefined;
  const m = /^([a-z_]+):(.*)$/i.exec(rest);
  if (m && isIP(m[1]!) === 0 && !/^\d+$/.test(m[1]!)) {
    proto = m[1]!.toLowerCase();
    rest = m[2]!;
  }
  const v6 = /^\[([^\]]+)\]:(\d{1,5})$/.exec(rest);
  const v4 = /^([^:[\]]+):(\d{1,5})$/.exec(rest);
  const hp = v6 ?? v4;
  if (!hp || isIP(hp[1]!) === 0) return undefined;
  const port = Number(hp[2]);
  if (port > 65535) return undefined;
  return proto === undefined ? { host: hp[1]!.toLowerCase(), port } : { proto, host: hp[1]!.toLowerCase(), port };
}

/** The core MI commands (mi-and-config.md §5, sip-tcp.md §11) plus core:reload. */
export function coreCommands(d: CoreMiDeps): MiCommand[] {
  const tcpList = (proto: unknown): RawJson | null => {
    let filter: string | undefined;
    if (proto !== undefined) {
      if (typeof proto !== 'string') throw new MiError(400, 'Bad protocol');
      const p = proto.toLowerCase();
      if (p !== 'any') {
        if (!KNOWN_PROTOS.includes(p) && !d.engine.protocol(p)) throw new MiError(400, 'Bad protocol');
        filter = p;
      }
    }
    const streamListeners = d.engine.listeners().filter((l) => l.transport !== 'udp');
    if (streamListeners.length === 0) return null;
    const conns = d.engine.connections(filter);
    return new RawJson(tcpListJson(conns.map(toTcpListEntry)));
  };

  return [
    {
      name: 'core:version', aliases: ['version'], recipes: [[]], doc: 'server version',
      handler: () => ({ Server: `x-server (${d.version} (${process.arch}/${process.platform}))` }),
    },
    {
      name: 'core:uptime', aliases: ['uptime'], recipes: [[]], doc: 'start time and uptime',
      handler: () => {
        const now = Date.now();
        return { Now: ctime(now), 'Up since': ctime(d.startedAt), 'Up time': `${Math.floor((now - d.startedAt) / 1000)} [sec]` };
      },
    },
    {
      name: 'core:ps', aliases: ['ps'], recipes: [[]], doc: 'processes (one Node process)',
      handler: () => ({ Processes: [{ ID: 0, PID: process.pid, Type: 'main' }] }),
    },
    {
      name: 'core:which', aliases: ['which'], recipes: [[], ['command']], doc: 'list MI commands, or the parameter sets of one',
      handler: (p) => {
        if (p.command === undefined) return d.registry.list().map((c) => c.name).sort();
        if (typeof p.command !== 'string') throw new MiParamError('Bad parameter "command": expected a string');
        const found = d.registry.lookup(p.command);
        if (!found.ok) throw new MiError(404, 'unknown MI command');
        return found.cmd.recipes;
      },
    },
    {
      name: 'core:log_level', aliases: ['log_level'], recipes: [[], ['level'], ['level', 'pid']], doc: 'show or set the log level (-3 alert .. 4 debug)',
      handler: (p) => {
        if (p.level === undefined) return { Processes: [{ PID: process.pid, 'Log level': d.getLogLevel(), Type: 'main' }] };
        const level = intParam(p.level, 'level');
        if (level < -3 || level > 4) throw new MiParamError(`Bad parameter "level": expected -3..4, got ${level}`);
        if (p.pid !== undefined && intParam(p.pid, 'pid') !== process.pid) throw new MiError(404, 'Process not found');
        d.setLogLevel(level);
        return { 'New global log level': level };
      },
    },
    {
      name: 'core:kill', aliases: ['kill'], recipes: [[]], doc: 'graceful shutdown',
      handler: () => {
        setImmediate(() => d.kill());
        return 'OK';
      },
    },
    {
      name: 'core:reload', aliases: ['reload'], recipes: [[]], doc: 'reload log_level and the route script from the cfg file (as SIGHUP)',
      handler: () => d.reload(),
    },
    {
      name: 'tcp:list', aliases: ['list_tcp_conns'], recipes: [[], ['proto']], doc: 'TCP-based connections',
      handler: (p) => tcpList(p.proto),
    },
    {
      name: 'tcp:close', recipes: [['ipport']], doc: 'close a connection by id or [proto:]ip:port',
      handler: (p) => {
        const v = typeof p.ipport === 'number' ? String(p.ipport) : p.ipport;
        if (typeof v !== 'string') throw new MiError(400, 'Bad tcp connection');
        if (/^\d+$/.test(v.trim())) return d.engine.close(Number(v), 'Closed by MI') ? 'OK' : null;
        const a = parseIpPort(v);
        if (!a) throw new MiError(400, 'Bad tcp connection');
        const conn = d.engine.connections(a.proto).find((c) => c.remote.host === a.host && (c.remote.port === a.port || c.aliases.includes(a.port)));
        if (!conn) return null;
        return d.engine.close(conn.id, 'Closed by MI') ? 'OK' : null;
      },
    },
    {
      name: 'statistics:get', aliases: ['get_statistics'], recipes: [['statistics']], doc: 'values of statistics: all, group: or names',
      handler: (p) => {
        const sel = selectStats(d.stats, statNames(p.statistics, 'statistics'));
        if (sel.length === 0) throw new MiError(404, 'Statistics Not Found');
        return Object.fromEntries(sel.map((s) => [`${s.group}:${s.name}`, s.value()]));
      },
    },
    {
      name: 'statistics:list', aliases: ['list_statistics'], recipes: [[], ['statistics']], doc: 'statistics and their kind',
      handler: (p) => {
        const sel = p.statistics === undefined ? d.stats.all() : selectStats(d.stats, statNames(p.statistics, 'statistics'));
        if (sel.length === 0) throw new MiError(404, 'Statistics Not Found');
        return Object.fromEntries(sel.map((s) => [`${s.group}:${s.name}`, s.kind]));
      },
    },
    {
      name: 'statistics:reset', aliases: ['reset_statistics'], recipes: [['statistics']], doc: 'reset incremental statistics',
      handler: (p) => {
        const sel = selectStats(d.stats, statNames(p.statistics, 'statistics'));
        if (sel.length === 0) throw new MiError(404, 'Statistics Not Found');
        for (const s of sel) if (s.kind === 'incremental') s.reset();
        return 'OK';
      },
    },
  ];
}
