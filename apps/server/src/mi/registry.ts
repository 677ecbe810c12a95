import { ConfigError, ErrorCodes, type MiCommand } from '@x/core-conn';

/** A result the JSON-RPC layer splices in as-is (tcp:list repeats the "Alias port" key, which a JS object cannot). */
export class RawJson {
  constructor(readonly json: string) {}
  toJSON(): unknown {
    return JSON.parse(this.json) as unknown;
  }
}

export type Lookup =
  | { ok: true; cmd: MiCommand }
  | { ok: false; code: -32601 | -32001; message: string; data?: string };

/**
 * The MI command table with OpenSIPS 4.0's lookup: an exact `module:cmd`; else a unique local
 * part; else an alias (every local name and every legacy alias). Several candidates -> ambiguous.
 */
export class MiRegistry {
  private readonly byName = new Map<string, MiCommand>();

  add(cmd: MiCommand): void {
    if (!/^[\w.-]+:[\w.-]+$/.test(cmd.name)) throw new ConfigError(ErrorCodes.INVALID_OPTION, `MI command name "${cmd.name}" is not module:cmd`);
    if (this.byName.has(cmd.name)) throw new ConfigError(ErrorCodes.INVALID_OPTION, `MI command "${cmd.name}" registered twice`);
    this.byName.set(cmd.name, cmd);
  }

  remove(name: string): void {
    this.byName.delete(name);
  }

  list(): MiCommand[] {
    return [...this.byName.values()];
  }

  lookup(method: string): Lookup {
    const exact = this.byName.get(method);
    if (exact) return { ok: true, cmd: exact };
    if (!method.includes(':')) {
      const local = this.list().filter((c) => c.name.slice(c.name.indexOf(':') + 1) === method);
      if (local.length === 1) return { ok: true, cmd: local[0]! };
      if (local.length > 1) return ambiguous(local);
      const aliased = this.list().filter((c) => c.aliases?.includes(method));
      if (aliased.length === 1) return { ok: true, cmd: aliased[0]! };
      if (aliased.length > 1) return ambiguous(aliased);
    }
    return { ok: false, code: -32601, message: 'Method not found' };
  }
}

function ambiguous(cmds: MiCommand[]): Lookup {
  return { ok: false, code: -32001, message: 'Method ambiguous', data: `supported names: ${cmds.map((c) => c.name).sort().join(', ')}` };
}
