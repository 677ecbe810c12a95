#!/usr/bin/env node
import { VERSION } from '../version.js';
import { formatMiError, formatMiResult, miParams } from './mi-args.js';

const HELP = `x-cli ${VERSION}: talk to a running x-server

Usage:
  x-cli [--url URL] [--token TOKEN] [-x] mi <command> [args...]
  x-cli --help | --version

MI arguments follow opensips-cli: if every argument is name=value they are sent as named
params (an object), otherwise as a positional array of strings. get_statistics,
list_statistics and reset_statistics gather their arguments into one array.

  x-cli mi version
  x-cli mi get_statistics core: tcp:
  x-cli mi list_tcp_conns proto=tcp
  x-cli mi tcp:close ipport=tcp:127.0.0.1:40112

Options:
  --url URL   MI endpoint (default: $X_MI_URL or http://127.0.0.1:8888/mi)
  --token T   bearer token for an MI with modparam("mi_http", "auth_token", ...)
              (default: $X_MI_TOKEN; prefer the variable: arguments show in ps)
  -x          accepted for opensips-cli habits (opensips-cli -x mi ...)
`;

async function main(argv: string[]): Promise<number> {
  let url = process.env.X_MI_URL ?? 'http://127.0.0.1:8888/mi';
  let token = process.env.X_MI_TOKEN ?? '';
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (rest.length === 0 && (a === '--help' || a === '-h')) {
      process.stdout.write(HELP);
      return 0;
    }
    if (rest.length === 0 && (a === '--version' || a === '-V')) {
      process.stdout.write(`${VERSION}\n`);
      return 0;
    }
    if (rest.length === 0 && (a === '--url' || a === '-u')) {
      const v = argv[++i];
      if (v === undefined) {
        process.stderr.write('ERROR: --url needs a value\n');
        return 2;
      }
      url = v;
      continue;
    }
    if (rest.length === 0 && a === '--token') {
      const v = argv[++i];
      if (v === undefined) {
        process.stderr.write('ERROR: --token needs a value\n');
        return 2;
      }
      token = v;
      continue;
    }
    if (rest.length === 0 && a.startsWith('--token=')) {
      token = a.slice(8);
      continue;
    }
    if (rest.length === 0 && a.startsWith('--url=')) {
      url = a.slice(6);
      continue;
    }
    // opensips-cli -x mi <cmd>: "execute and exit", which is all x-cli does
    if (rest.length === 0 && a === '-x') continue;
    rest.push(a);
  }
  if (rest[0] !== 'mi' || rest[1] === undefined) {
    process.stderr.write(rest.length === 0 ? HELP : `ERROR: unknown command "${rest.join(' ')}" (expected: mi <command> [args...])\n`);
    return 2;
  }
  const cmd = rest[1];
  const params = miParams(cmd, rest.slice(2));
  const body = JSON.stringify({ jsonrpc: '2.0', method: cmd, params, id: Math.floor(Math.random() * 1e9) });
  let res: Response;
  try {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (token !== '') headers.authorization = `Bearer ${token}`;
    res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(130_000) });
  } catch (err) {
    process.stderr.write(`ERROR: cannot reach MI at ${url}: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}\n`);
    return 1;
  }
  const text = await res.text();
  if (res.status === 401) {
    process.stderr.write(`ERROR: MI at ${url} needs a bearer token (${token === '' ? 'set $X_MI_TOKEN or --token' : 'the token given was refused'})\n`);
    return 1;
  }
  let reply: { result?: unknown; error?: { code: number; message: string; data?: unknown } };
  try {
    reply = JSON.parse(text) as typeof reply;
  } catch {
    process.stderr.write(`ERROR: MI at ${url} answered HTTP ${res.status} with non-JSON: ${text.slice(0, 200)}\n`);
    return 1;
  }
  if (reply.error) {
    process.stderr.write(`${formatMiError(cmd, reply.error)}\n`);
    return 1;
  }
  process.stdout.write(`${formatMiResult(reply.result)}\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    process.stderr.write(`ERROR: ${(err as Error).message}\n`);
    process.exitCode = 1;
  },
);
