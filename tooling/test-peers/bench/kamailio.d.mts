// Types of kamailio.mjs (plain ES module so that the benches import it without a build).

export interface KamailioCoreOptions {
  /** listen sockets in order, `proto:host:port` (`'tcp:127.0.0.1:5060'`); at least one */
  listen: readonly string[];
  /** UDP workers (default 1) */
  children?: number;
  /** TCP workers (default `children`) */
  tcpChildren?: number;
  /** log level (default 2) */
  debug?: number;
  /** more core parameters, written `key=value` in this order before the listen lines (`{ enable_tls: 'yes' }`) */
  globals?: Readonly<Record<string, string | number>>;
  /** modules loaded after pv and xlog, names without `.so` (`['sl', 'tls']`) */
  modules?: readonly string[];
}

/** The core header of a test's Kamailio config, up to and with its loadmodule lines; ends with a newline. */
export function kamailioCore(options: KamailioCoreOptions): string;

export interface SiptraceOptions {
  /** the HEP collector's port on 127.0.0.1 */
  port: number;
  transport: 'tcp' | 'udp';
  /** HEP version (default 3) */
  version?: 1 | 2 | 3;
  /** siptrace's hep_capture_id (left at Kamailio's default when absent) */
  captureId?: number;
}

/** siptrace's modparam lines: every message in and out mirrored as HEP (the config loads tm and siptrace). */
export function kamailioSiptraceParams(options: SiptraceOptions): string;

/** request_route: every request but ACK answered `200 Fixed Reply` statelessly. */
export function kamailioStatelessRoute(options?: { logRequests?: boolean }): string;

export interface StatelessOptions {
  port: number;
  /** default 127.0.0.1 */
  host?: string;
  /** peers.md §4(a) load settings: 4+4 workers, 16384 connections, lifetime 3605 */
  load?: boolean;
  /** log each request (off under load) */
  logRequests?: boolean;
  /** log level (default 2) */
  debug?: number;
  /** also mirror every message as HEP with siptrace */
  siptrace?: SiptraceOptions;
}

/** peers recipe (a): TCP and UDP on one port, every request but ACK answered `200 Fixed Reply`. */
export function kamailioStatelessConfig(options: StatelessOptions): string;

/** whether a `kamailio` binary runs */
export function kamailioAvailable(): boolean;

/** The benches' responder: kamailioStatelessConfig with `load`, debug 1, optionally siptrace (HEPv3). */
export function kamailioConfig(port: number, options?: { siptrace?: { port: number; transport: 'tcp' | 'udp' } }): string;

/** Writes kamailioConfig into `dir`, checks it with `kamailio -c`, returns the argv that runs it. */
export function kamailioArgs(dir: string, port: number, options?: { siptrace?: { port: number; transport: 'tcp' | 'udp' } }): string[];
