export * from './codec/index.js';
export { TransactionTable, type Transaction, type TransactionTableOptions } from './transactions.js';
