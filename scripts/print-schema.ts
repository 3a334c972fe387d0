// Writes schema.graphql from the Pothos schema (npm run schema:print).
import { writeFileSync } from 'node:fs';
import { printSchemaSDL } from '../src/graphql/schema.js';

writeFileSync(new URL('../schema.graphql', import.meta.url), printSchemaSDL());
console.log('schema.graphql written');
