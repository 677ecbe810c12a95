import { describe, expect, it } from 'vitest';
import { MiError } from '@x/core-conn';
import { TraceSwitch, traceMiCommand, type TracedModule } from './switch.js';

function call(module: TracedModule, sw: TraceSwitch, params: Record<string, unknown>): unknown {
  try {
    return traceMiCommand(module, sw).handler(params);
  } catch (e) {
    if (e instanceof MiError) return { code: e.code, message: e.message, data: e.data };
    throw e;
  }
}
const HINT = "trace_mode should be 'on' or 'off'";

describe('MI trace commands (tracing.md §2)', () => {
  it('names, legacy aliases, recipes', () => {
    const sw = new TraceSwitch();
    expect(traceMiCommand('proto_tcp', sw)).toMatchObject({ name: 'tcp:trace', aliases: ['tcp_trace'], recipes: [[], ['trace_mode']] });
    expect(traceMiCommand('proto_bins', sw)).toMatchObject({ name: 'bins:trace', aliases: ['tls_trace'] });
    expect(traceMiCommand('proto_msrp', sw)).toMatchObject({ name: 'msrp:trace', aliases: ['msrp_trace'] });
  });

  it.each([
    ['proto_tcp', 'TCP tracing'],
    ['proto_tls', 'TLS tracing'],
    ['proto_bins', 'BINS tracing'],
    ['proto_msrp', 'MSRP tracing'],
  ] as const)('%s without params shows the switch under "%s"', (m, key) => {
    const sw = new TraceSwitch(false);
    expect(call(m, sw, {})).toEqual({ [key]: 'off' });
    sw.on = true;
    expect(call(m, sw, {})).toEqual({ [key]: 'on' });
  });

  it.each(['proto_tcp', 'proto_tls', 'proto_bins'] as const)('%s: the first two or three bytes decide, case-insensitively', (m) => {
    const sw = new TraceSwitch(false);
    for (const [v, on] of [['on', true], ['OFF', false], ['On', true], ['onwards', true], ['offline', false], ['oN', true], ['oFf', false]] as const) {
      expect(call(m, sw, { trace_mode: v })).toBe('OK');
      expect(sw.on).toBe(on);
    }
  });

  it('proto_tcp: anything else is -32602 Invalid params, the switch unchanged', () => {
    const sw = new TraceSwitch(true);
    for (const v of ['of', 'o', '', 'yes', '1', 'no', ' on']) expect(call('proto_tcp', sw, { trace_mode: v })).toEqual({ code: -32602, message: 'Invalid params', data: HINT });
    expect(call('proto_tcp', sw, { trace_mode: 1 })).toEqual({ code: -32602, message: 'Invalid params', data: HINT });
    expect(sw.on).toBe(true);
  });

  it.each(['proto_bins', 'proto_tls'] as const)('%s: anything else is 500 Bad parameter value (proto_tls.c, proto_bins.c)', (m) => {
    const sw = new TraceSwitch(false);
    expect(call(m, sw, { trace_mode: 'yes' })).toEqual({ code: 500, message: 'Bad parameter value', data: HINT });
    expect(sw.on).toBe(false);
  });

  it('names: tls:trace and bins:trace share the legacy alias tls_trace (OpenSIPS 4.0; ambiguous when both are loaded)', () => {
    expect([traceMiCommand('proto_tls', new TraceSwitch()), traceMiCommand('proto_bins', new TraceSwitch())].map((c) => [c.name, c.aliases])).toEqual([
      ['tls:trace', ['tls_trace']],
      ['bins:trace', ['tls_trace']],
    ]);
  });

  it('proto_msrp: "on" and "off" only, length checked; only two bytes of "off" are compared (OpenSIPS)', () => {
    const sw = new TraceSwitch(false);
    expect(call('proto_msrp', sw, { trace_mode: 'ON' })).toBe('OK');
    expect(sw.on).toBe(true);
    expect(call('proto_msrp', sw, { trace_mode: 'Off' })).toBe('OK');
    expect(sw.on).toBe(false);
    sw.on = true;
    expect(call('proto_msrp', sw, { trace_mode: 'ofx' })).toBe('OK');
    expect(sw.on).toBe(false);
    for (const v of ['onwards', 'offline', 'o', 'of', '']) expect(call('proto_msrp', sw, { trace_mode: v })).toEqual({ code: -32602, message: 'Invalid params', data: HINT });
  });

  it('a trace_mode that is neither string nor number: Bad type (get_mi_string_param)', () => {
    for (const m of ['proto_tcp', 'proto_tls', 'proto_bins', 'proto_msrp'] as const) {
      expect(call(m, new TraceSwitch(), { trace_mode: true })).toEqual({ code: -32602, message: 'Invalid params', data: "Bad type for parameter 'trace_mode'" });
      expect(call(m, new TraceSwitch(), { trace_mode: null })).toEqual({ code: -32602, message: 'Invalid params', data: "Bad type for parameter 'trace_mode'" });
    }
  });
});
