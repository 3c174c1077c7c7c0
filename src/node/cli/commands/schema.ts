import { specJsonSchema } from '../../build/spec.js';
import { defineCommand } from '../command.js';

export const command = defineCommand({
  name: 'schema',
  summary: 'print the JSON Schema of build spec files (for editors)',
  description:
    'Print the JSON Schema that build specs (YAML or JSON) are checked against, so editors can complete and ' +
    'check them: save it and point the file at it, e.g. with a ' +
    "'# yaml-language-server: $schema=tinyimage.schema.json' comment.",
  options: {},
  examples: ['tinyimage schema > tinyimage.schema.json'],
  async run({ ctx }) {
    ctx.stdout.write(JSON.stringify(specJsonSchema(), null, 2) + '\n');
  },
});
