export { TcpMgmError, TcpMgmErrorCodes, RowError, type TcpMgmErrorCode } from './errors.js';
export { parseAttrs, KNOWN_ATTRS, type ParsedAttrs } from './rules/attrs.js';
export { parseCidr, parseIp, type IpWords } from './rules/ip.js';
export {
  compileRow,
  findListener,
  COLUMNS_V1,
  COLUMNS_V2,
  RULE_PROTOS,
  type ColumnName,
  type TcpMgmRow,
  type TcpPath,
  type CompileContext,
} from './rules/rule.js';
export { comparePaths } from './rules/order.js';
export { RuleSet, pathMatches, type PathQuery } from './rules/ruleset.js';
export { compileRules, kernelKeepalive, unappliedAttributes, type CompiledRules, type KernelKeepalive, type SkippedRow } from './rules/compile.js';
export { parseDbUrl, redactDbUrl, DB_MODULES, type DbDriver, type DbTarget } from './db/url.js';
export { tcpMgmCreateSql, versionTableSql, TCP_MGM_COLUMNS, TCP_MGM_TABLE_VERSION } from './db/schema.js';
export { openRuleSource, type RuleSource } from './db/source.js';
export { loadRules, readTable, type LoadOptions, type LoadedRules, type TableRows } from './db/load.js';
export { tcpMgmModule, ruleJson, type TcpMgmApi } from './module/module.js';
export { tcpMgmParamSchema, columnRenames, type TcpMgmParams } from './module/params.js';
