import { defineConfig } from 'vitest/config';
import { preset } from '@x/config/vitest';

export default defineConfig(preset({ name: 'tracing' }));
