import type { ParamSchema } from '@x/core-conn';

/** The core (global) parameters the server understands, as `name = value`. */
export const globalSchema = {
  log_level: { type: 'int', default: 3, min: -3, max: 4, doc: 'OpenSIPS log level: -3 alert, -2 crit, -1 err, 1 warn, 2 notice, 3 info, 4 debug' },
  route_script: { type: 'string', doc: 'JS module whose named exports are the routes (path relative to the cfg file)' },
  mpath: { type: 'string', doc: 'accepted for compatibility; modules are npm packages, not .so files' },
  tcp_connection_lifetime: { type: 'int', default: 120, min: 0, unit: 's', doc: 'idle lifetime of a connection (default profile)' },
  tcp_connect_timeout: { type: 'int', default: 100, min: 1, unit: 'ms', doc: 'connect timeout of outbound connections' },
  tcp_max_msg_time: { type: 'int', default: 4, min: 0, unit: 's', doc: 'a partial message must complete within this' },
  tcp_max_connections: { type: 'int', default: 2048, min: 1, doc: 'open connections (accepted + outbound); clamped at start-up to what the open-files limit allows' },
  tcp_max_connections_per_ip: { type: 'int', default: 0, min: 0, doc: 'accepted connections one source address may hold at once (0 = no cap); a tcp_mgm rule\'s attrs max_connections_per_ip=N overrides it' },
  tcp_keepalive: { type: 'bool', default: true, doc: 'SO_KEEPALIVE on connections' },
  tcp_keepcount: { type: 'int', default: 0, min: 0, doc: 'keepalive probes before the connection is dropped' },
  tcp_keepidle: { type: 'int', default: 0, min: 0, unit: 's', doc: 'idle time before keepalive probes' },
  tcp_keepinterval: { type: 'int', default: 0, min: 0, unit: 's', doc: 'time between keepalive probes' },
  tcp_accept_aliases: { type: 'int', default: 0, min: 0, max: 2, doc: 'alias mode: 0 off, 1 Via ;alias, 2 always' },
  tcp_socket_backlog: { type: 'int', default: 10, min: 1, doc: 'listen() backlog' },
  tcp_threshold: { type: 'int', default: 0, min: 0, unit: 'µs', doc: 'warn about sends slower than this (0 = off)' },
  tcpthreshold: { type: 'int', min: 0, unit: 'µs', doc: 'alias of tcp_threshold' },
  tcp_no_new_conn_bflag: { type: 'string', doc: 'accepted and ignored (a branch flag name): the route script decides per send' },
  tcp_no_new_conn_rplflag: { type: 'string', doc: 'accepted and ignored (a message flag name): the route script decides per send' },
  tcp_workers: { type: 'int', min: 1, max: 256, doc: 'worker processes (x-server CLI; each serves every socket; the larger of tcp_workers and udp_workers; default: one per core; 1 = one process; x-server --workers wins)' },
  udp_workers: { type: 'int', min: 1, max: 256, doc: 'worker processes: see tcp_workers' },
  children: { type: 'int', min: 1, doc: 'accepted and ignored (udp_workers before 3.0)' },
  log_stderror: { type: 'bool', doc: 'accepted and ignored: logs are pino lines on stdout' },
  stderror_enabled: { type: 'bool', doc: 'accepted and ignored: logs are pino lines on stdout' },
  syslog_enabled: { type: 'bool', doc: 'accepted and ignored: logs are pino lines on stdout' },
  log_facility: { type: 'string', doc: 'accepted and ignored (a syslog facility name): logs are pino lines on stdout' },
  syslog_facility: { type: 'string', doc: 'accepted and ignored (a syslog facility name): logs are pino lines on stdout' },
  log_name: { type: 'string', doc: 'accepted and ignored: logs are pino lines on stdout' },
  syslog_name: { type: 'string', doc: 'accepted and ignored: logs are pino lines on stdout' },
  tcp_threads: { type: 'int', min: 1, doc: 'accepted and ignored: one Node event loop does all the I/O' },
  tcp_parallel_read_on_workers: { type: 'bool', doc: 'accepted and ignored: one Node event loop does all the I/O' },
  xlog_level: { type: 'int', default: 3, min: -3, max: 4, doc: "xlog()'s level; shown and set by MI xlog_level (the route script logs through ctx.log)" },
  open_files_limit: { type: 'int', min: 1, doc: 'RLIMIT_NOFILE (soft and hard) set at start-up, as OpenSIPS' },
  auto_aliases: { type: 'bool', doc: 'accepted and ignored: there is no "myself" check (routing is the JS route script)' },
  dns: { type: 'bool', doc: 'accepted and ignored: no DNS lookups of received Via hosts' },
  rev_dns: { type: 'bool', doc: 'accepted and ignored: no reverse DNS lookups' },
  advertised_address: { type: 'string', doc: 'accepted and ignored: use a socket\'s "as host[:port]"' },
  alias: { type: 'string', doc: 'accepted and ignored: there is no "myself" check (routing is the JS route script)' },
  server_signature: { type: 'bool', default: true, doc: 'add the server_header line to the replies the server sends' },
  server_header: { type: 'string', doc: 'the Server header line of replies (default "Server: x-server (<version> (<arch>/<os>))")' },
  user_agent_header: { type: 'string', doc: 'the User-Agent header line of requests the server generates (it generates none today)' },
} as const satisfies ParamSchema;

/** Globals accepted for compatibility and not acted upon, with the reason given in the start-up note. */
export const IGNORED_GLOBALS: Readonly<Record<string, string>> = {
  mpath: 'modules are npm packages',
  tcp_threads: 'one Node event loop does all the I/O',
  children: 'one Node event loop does all the I/O',
  tcp_no_new_conn_bflag: 'flags belong to the script; routes decide per send',
  tcp_no_new_conn_rplflag: 'flags belong to the script; routes decide per send',
  log_stderror: 'logs are pino lines on stdout (--pretty for humans)',
  stderror_enabled: 'logs are pino lines on stdout (--pretty for humans)',
  syslog_enabled: 'logs are pino lines on stdout (--pretty for humans)',
  log_facility: 'logs are pino lines on stdout (--pretty for humans)',
  syslog_facility: 'logs are pino lines on stdout (--pretty for humans)',
  log_name: 'logs are pino lines on stdout (--pretty for humans)',
  syslog_name: 'logs are pino lines on stdout (--pretty for humans)',
  tcp_parallel_read_on_workers: 'one Node event loop does all the I/O',
  auto_aliases: 'there is no "myself" check: routing is the JS route script',
  alias: 'there is no "myself" check: routing is the JS route script',
  dns: 'x-server does no DNS lookup of Via hosts (received is set when the host is not the source IP)',
  rev_dns: 'x-server does no reverse DNS lookup',
  advertised_address: 'set the advertised address per socket with "as host[:port]"',
  user_agent_header: 'x-server generates no SIP requests of its own (replies carry server_header)',
};

/** The typed globals after validation. */
export interface Globals {
  log_level: number;
  route_script?: string;
  mpath?: string;
  tcp_connection_lifetime: number;
  tcp_connect_timeout: number;
  tcp_max_msg_time: number;
  tcp_max_connections: number;
  tcp_max_connections_per_ip: number;
  tcp_keepalive: boolean;
  tcp_keepcount: number;
  tcp_keepidle: number;
  tcp_keepinterval: number;
  tcp_accept_aliases: number;
  tcp_socket_backlog: number;
  tcp_threshold: number;
  tcpthreshold?: number;
  tcp_no_new_conn_bflag?: string;
  tcp_no_new_conn_rplflag?: string;
  tcp_workers?: number;
  udp_workers?: number;
  children?: number;
  log_stderror?: boolean;
  stderror_enabled?: boolean;
  syslog_enabled?: boolean;
  log_facility?: string;
  syslog_facility?: string;
  log_name?: string;
  syslog_name?: string;
  tcp_threads?: number;
  tcp_parallel_read_on_workers?: boolean;
  xlog_level: number;
  open_files_limit?: number;
  auto_aliases?: boolean;
  dns?: boolean;
  rev_dns?: boolean;
  advertised_address?: string;
  alias?: string;
  server_signature: boolean;
  server_header?: string;
  user_agent_header?: string;
}
