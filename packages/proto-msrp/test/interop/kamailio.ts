import { kamailioCore, makeTempDir, writeKamailioTlsConfig } from '@x/test-peers';

/** Ports of the MSRP interop tests (peers need a known port). */
export const RANGE: readonly [number, number] = [18500, 18999];

/**
 * peers.md §4(d): Kamailio's msrp relay on TCP and TLS, no digest. SEND/REPORT with more
 * than one hop (or a session found in the connection map) are answered 200 (not REPORT) and
 * relayed; AUTH saves the connection map entry, which answers 200 with Use-Path.
 */
export function kamailioMsrpConfig(tcpPort: number, tlsPort: number, pem: { cert: string; key: string }): string {
  const dir = makeTempDir('x-kam-tls-');
  const tlsCfg = writeKamailioTlsConfig(dir, pem);
  const core = kamailioCore({
    children: 2,
    globals: { enable_tls: 'yes', tcp_accept_no_cl: 'yes', tcp_connection_lifetime: 1810 },
    listen: [`tcp:127.0.0.1:${tcpPort}`, `tls:127.0.0.1:${tlsPort}`],
    modules: ['sl', 'cfgutils', 'tls', 'msrp'],
  });
  return `${core}
modparam("tls", "config", "${tlsCfg}")
modparam("msrp", "cmap_size", 8)
modparam("msrp", "auth_min_expires", 60)
modparam("msrp", "auth_max_expires", 3600)
modparam("msrp", "use_path_addr", "127.0.0.1:${tcpPort}")

request_route {
  sl_send_reply("403", "No SIP here");
  exit;
}

event_route[msrp:frame-in] {
  if (msrp_is_reply()) {
    msrp_relay();
    exit;
  }
  if ($msrp(method) == "AUTH") {
    if ($msrp(nexthops) > 0) {
      msrp_relay();
      exit;
    }
    msrp_cmap_save();
    exit;
  }
  if ($msrp(method) == "SEND" || $msrp(method) == "REPORT") {
    if ($msrp(nexthops) > 1 || msrp_cmap_lookup()) {
      if ($msrp(method) != "REPORT") {
        msrp_reply("200", "OK");
      }
      msrp_relay();
      exit;
    }
    msrp_reply("481", "Session-does-not-exist");
    exit;
  }
  msrp_reply("501", "Request-method-not-understood");
  exit;
}
`;
}
