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

/** Reads, parses and checks a configuration. Throws CfgError. */
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
  return resolveConfig(parseCfg(text, file), opts);
}
