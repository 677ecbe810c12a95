import { resolve } from 'node:path';
import { CfgError, CfgErrorCodes } from '../errors.js';
import { parseCfg, readCfgFile } from './parser.js';
import { resolveConfig, type ResolveOptions, type ResolvedConfig } from './resolve.js';

export interface ConfigSource {
  /** path of the cfg file */
  configFile?: string;
  /** cfg text; relative paths in it resolve against `configName`'s directory (default: cwd) */
  configText?: string;
  configName?: string;
}

/**
 * Reads, parses and checks a configuration. Throws a CfgError; when a file has several errors,
 * one CfgError lists them all (`errors`): the statements that parse are still checked, so a
 * syntax error and an unknown parameter further down show in the same run.
 */
export async function loadConfig(src: ConfigSource, opts: ResolveOptions = {}): Promise<ResolvedConfig> {
  let text: string;
  let file: string;
  if (src.configText !== undefined) {
    text = src.configText;
    file = resolve(src.configName ?? 'inline.cfg');
  } else if (src.configFile !== undefined) {
    file = resolve(src.configFile);
    try {
      text = readCfgFile(file);
    } catch (err) {
      throw new CfgError(CfgErrorCodes.FILE, undefined, `cannot read config file "${src.configFile}": ${(err as Error).message}`, { cause: err });
    }
  } else {
    throw new CfgError(CfgErrorCodes.FILE, undefined, 'give configFile or configText');
  }
  const errors: CfgError[] = [];
  const parsed = parseCfg(text, file, { errors });
  try {
    const cfg = await resolveConfig(parsed, opts);
    if (errors.length === 0) return cfg;
  } catch (err) {
    if (!(err instanceof CfgError)) throw err;
    for (const e of err.errors) if (!errors.includes(e)) errors.push(e);
  }
  // in file order (the main file, then its includes as read), by line and column; placeless last
  const fileRank = (e: CfgError): number => {
    const i = e.where ? parsed.files.indexOf(e.where.file) : -1;
    return i < 0 ? parsed.files.length : i;
  };
  errors.sort((a, b) => fileRank(a) - fileRank(b) || (a.where?.line ?? 0) - (b.where?.line ?? 0) || (a.where?.col ?? 0) - (b.where?.col ?? 0));
  throw CfgError.all(errors);
}
