import type { ParamDef, ParamSchema } from '@x/core-conn';
import { parseDbUrl } from '../db/url.js';
import { COLUMNS_V1, type ColumnName } from '../rules/rule.js';

/** tcp_mgm's modparams after validation. */
export interface TcpMgmParams {
  db_url?: string;
  db_table: string;
  /** `<column>_col` renames, by canonical column name (only those set) */
  [col: `${string}_col`]: string | undefined;
}

const ident = (v: string): string | undefined => (/^[A-Za-z_][A-Za-z0-9_$]*$/.test(v) ? undefined : 'must be a plain SQL identifier (letters, digits, _)');

const colParams: Record<string, ParamDef> = {};
for (const c of COLUMNS_V1) {
  colParams[`${c}_col`] = { type: 'string', doc: `name of the ${c} column${c === 'parallel_read' ? ' (version-1 tables)' : ''} (default "${c}")`, validate: ident };
}

export const tcpMgmParamSchema = {
  db_url: {
    type: 'string',
    doc: 'the rules database (mandatory): sqlite:///abs/path.db (relative: to the cfg file; created with the table when missing), postgres://user:pass@host[:port]/db, mysql://user:pass@host[:port]/db',
    validate: (v: string) => {
      try {
        parseDbUrl(v);
        return undefined;
      } catch (err) {
        return (err as Error).message;
      }
    },
  },
  db_table: { type: 'string', default: 'tcp_mgm', doc: 'the rules table', validate: ident },
  ...colParams,
  direction_col: { type: 'string', doc: 'obsolete (OpenSIPS still lists it and shifts the other *_col params by one); accepted, logged, no effect', validate: ident },
} as const satisfies ParamSchema;

/** The column renames the params ask for: canonical name -> name in the table. */
export function columnRenames(p: TcpMgmParams): Partial<Record<ColumnName, string>> {
  const out: Partial<Record<ColumnName, string>> = {};
  for (const c of COLUMNS_V1) {
    const v = p[`${c}_col`];
    if (typeof v === 'string') out[c] = v;
  }
  return out;
}
