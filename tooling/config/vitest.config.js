import { defineConfig } from 'vitest/config';
import { preset } from './vitest.js';

export default defineConfig(preset({ name: 'config', include: ['test/**/*.test.js'] }));
