import config from '@x/config/eslint';
export default config;
